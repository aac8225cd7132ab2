import { Match, type Template } from 'aws-cdk-lib/assertions';
import { beforeAll, describe, expect, it } from 'vitest';
import { OutputNames } from '../../common/contract.js';
import { StackConfigError } from '../../lib/config.js';
import { resourcesOf, synthRecorderStack } from '../../test-support/stack-synth.js';

function recordingsBucket(template: Template): Record<string, unknown> {
  const buckets = resourcesOf(template, 'AWS::S3::Bucket').filter(([, p]) => p.VersioningConfiguration);
  expect(buckets).toHaveLength(1);
  return buckets[0]![1];
}

describe('recordings index (recordingsIndex context key)', () => {
  it('is absent by default: no metadata tables, no workgroup, no index outputs', () => {
    const { template } = synthRecorderStack();
    expect(recordingsBucket(template).MetadataConfiguration).toBeUndefined();
    template.resourceCountIs('AWS::Athena::WorkGroup', 0);
    const outputs = Object.keys(template.toJSON().Outputs);
    expect(outputs).not.toContain(OutputNames.recordingsIndexWorkGroup);
    expect(outputs).not.toContain(OutputNames.recordingsIndexDatabase);
  });

  it('refuses a value that is not true or false', () => {
    expect(() => synthRecorderStack({ context: { recordingsIndex: 'yes' } })).toThrow(StackConfigError);
    expect(() => synthRecorderStack({ context: { recordingsIndex: 'yes' } })).toThrow(
      /recordingsIndex must be true or false, got "yes"/,
    );
  });

  describe('when on', () => {
    let template: Template;
    beforeAll(() => {
      template = synthRecorderStack({ context: { recordingsIndex: 'true' } }).template;
    });

    it('gives the recordings bucket S3 Metadata: journal with record expiration, inventory enabled', () => {
      expect(recordingsBucket(template).MetadataConfiguration).toEqual({
        JournalTableConfiguration: {
          RecordExpiration: { Expiration: 'ENABLED', Days: 7 },
          EncryptionConfiguration: { SseAlgorithm: 'AES256' },
        },
        InventoryTableConfiguration: {
          ConfigurationState: 'ENABLED',
          EncryptionConfiguration: { SseAlgorithm: 'AES256' },
        },
      });
    });

    it('adds an Athena workgroup that enforces encrypted results in its own bucket and a scan cutoff', () => {
      const [[, workGroup]] = resourcesOf(template, 'AWS::Athena::WorkGroup') as [
        [string, { WorkGroupConfiguration: Record<string, unknown> }],
      ];
      const configuration = workGroup.WorkGroupConfiguration;
      expect(configuration.EnforceWorkGroupConfiguration).toBe(true);
      expect(configuration.BytesScannedCutoffPerQuery).toBe(10 * 1024 ** 3);
      expect(configuration.ResultConfiguration).toMatchObject({
        EncryptionConfiguration: { EncryptionOption: 'SSE_S3' },
      });
      const location = JSON.stringify(
        (configuration.ResultConfiguration as { OutputLocation: unknown }).OutputLocation,
      );
      const resultsBucketId = resourcesOf(template, 'AWS::S3::Bucket')
        .map(([id]) => id)
        .find((id) => id.startsWith('RecordingsIndexQueryResults'));
      expect(resultsBucketId).toBeDefined();
      expect(location).toContain(resultsBucketId);
    });

    it('keeps query results in an encrypted, private, TLS-only bucket that expires them', () => {
      const [[id, bucket]] = resourcesOf(template, 'AWS::S3::Bucket').filter(([id]) =>
        id.startsWith('RecordingsIndexQueryResults'),
      ) as [[string, Record<string, unknown>]];
      expect(bucket).toMatchObject({
        BucketEncryption: {
          ServerSideEncryptionConfiguration: [{ ServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' } }],
        },
        PublicAccessBlockConfiguration: { BlockPublicAcls: true, RestrictPublicBuckets: true },
        LifecycleConfiguration: {
          Rules: [{ Id: 'expire-query-results', ExpirationInDays: 7, Status: 'Enabled' }],
        },
        LoggingConfiguration: { LogFilePrefix: 's3-access-athena-results/' },
      });
      template.hasResourceProperties('AWS::S3::BucketPolicy', {
        Bucket: { Ref: id },
        PolicyDocument: {
          Statement: Match.arrayWith([
            Match.objectLike({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
          ]),
        },
      });
    });

    it('names the workgroup, catalog and database in the outputs the console reads', () => {
      const outputs = template.toJSON().Outputs;
      const workGroupId = resourcesOf(template, 'AWS::Athena::WorkGroup')[0]![0];
      expect(outputs[OutputNames.recordingsIndexWorkGroup].Value).toEqual({ Ref: workGroupId });
      expect(outputs[OutputNames.recordingsIndexCatalog].Value).toBe('s3tablescatalog/aws-s3');
      const database = JSON.stringify(outputs[OutputNames.recordingsIndexDatabase].Value);
      const bucketId = resourcesOf(template, 'AWS::S3::Bucket').find(
        ([, p]) => p.VersioningConfiguration,
      )![0];
      expect(database).toContain('"b_"');
      expect(database).toContain(`{"Ref":"${bucketId}"}`);
    });
  });
});
