import { App, Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { beforeAll, describe, expect, it } from 'vitest';
import { RecordingsBucket } from '../../lib/constructs/recordings-bucket.js';
import {
  asArray,
  checkpointBucketId,
  policyStatements,
  resourcesOf,
  synthRecorderStack,
} from '../../test-support/stack-synth.js';

type Rule = Record<string, unknown> & { Id: string };

function recordingsBucket(template: Template): [string, Record<string, unknown>] {
  // The recordings bucket is the versioned one; the access-log bucket is not.
  const buckets = resourcesOf(template, 'AWS::S3::Bucket').filter(([, p]) => p.VersioningConfiguration);
  expect(buckets).toHaveLength(1);
  return buckets[0]!;
}

function rules(template: Template): Rule[] {
  const [, props] = recordingsBucket(template);
  return (props.LifecycleConfiguration as { Rules: Rule[] }).Rules;
}

function rule(template: Template, id: string): Rule | undefined {
  return rules(template).find((r) => r.Id === id);
}

describe('RecordingsBucket in the default stack', () => {
  let template: Template;
  let bucketId: string;
  beforeAll(() => {
    template = synthRecorderStack().template;
    bucketId = recordingsBucket(template)[0];
  });

  it('encrypts with S3-managed keys, blocks public access, versions and enforces bucket ownership', () => {
    template.hasResourceProperties('AWS::S3::Bucket', {
      BucketEncryption: {
        ServerSideEncryptionConfiguration: [{ ServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' } }],
      },
      PublicAccessBlockConfiguration: {
        BlockPublicAcls: true,
        BlockPublicPolicy: true,
        IgnorePublicAcls: true,
        RestrictPublicBuckets: true,
      },
      VersioningConfiguration: { Status: 'Enabled' },
      OwnershipControls: { Rules: [{ ObjectOwnership: 'BucketOwnerEnforced' }] },
    });
  });

  it('is kept when the stack is deleted or the bucket replaced', () => {
    const bucket = template.toJSON().Resources[bucketId];
    expect(bucket.DeletionPolicy).toBe('Retain');
    expect(bucket.UpdateReplacePolicy).toBe('Retain');
  });

  it('denies any request without TLS', () => {
    template.hasResourceProperties('AWS::S3::BucketPolicy', {
      Bucket: { Ref: bucketId },
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({
            Effect: 'Deny',
            Principal: { AWS: '*' },
            Action: 's3:*',
            Condition: { Bool: { 'aws:SecureTransport': 'false' } },
          }),
        ]),
      },
    });
  });

  it('refuses any write under recordings/ that could replace an object: PutObject or CompleteMultipartUpload without If-None-Match', () => {
    template.hasResourceProperties('AWS::S3::BucketPolicy', {
      Bucket: { Ref: bucketId },
      PolicyDocument: {
        Statement: Match.arrayWith([
          {
            Sid: 'DenyOverwritingRecordings',
            Effect: 'Deny',
            Principal: { AWS: '*' },
            Action: 's3:PutObject',
            Resource: { 'Fn::Join': ['', [{ 'Fn::GetAtt': [bucketId, 'Arn'] }, '/recordings/*']] },
            // CreateMultipartUpload and UploadPart (ObjectCreationOperation false) stay allowed.
            Condition: {
              Null: { 's3:if-none-match': 'true' },
              Bool: { 's3:ObjectCreationOperation': 'true' },
            },
          },
        ]),
      },
    });
  });

  it("keeps live calls' checkpoints in a bucket of their own: private, TLS-only, access-logged, unversioned, expiring after 7 days", () => {
    const checkpointsId = checkpointBucketId(template);
    const checkpoints = template.toJSON().Resources[checkpointsId];
    expect(checkpoints.DeletionPolicy).toBe('Retain');
    expect(checkpoints.Properties.VersioningConfiguration).toBeUndefined();
    expect(checkpoints.Properties).toMatchObject({
      BucketEncryption: {
        ServerSideEncryptionConfiguration: [{ ServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' } }],
      },
      PublicAccessBlockConfiguration: {
        BlockPublicAcls: true,
        BlockPublicPolicy: true,
        IgnorePublicAcls: true,
        RestrictPublicBuckets: true,
      },
      OwnershipControls: { Rules: [{ ObjectOwnership: 'BucketOwnerEnforced' }] },
      LoggingConfiguration: {
        DestinationBucketName: {
          Ref: (
            recordingsBucket(template)[1].LoggingConfiguration as { DestinationBucketName: { Ref: string } }
          ).DestinationBucketName.Ref,
        },
        LogFilePrefix: 's3-access-checkpoints/',
      },
      LifecycleConfiguration: {
        Rules: [
          {
            Id: 'checkpoints-expiry',
            Status: 'Enabled',
            ExpirationInDays: 7,
            AbortIncompleteMultipartUpload: { DaysAfterInitiation: 1 },
          },
        ],
      },
    });
    template.hasResourceProperties('AWS::S3::BucketPolicy', {
      Bucket: { Ref: checkpointsId },
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
        ]),
      },
    });
  });

  it('sends server access logs to a separate, private, TLS-only, retained log bucket', () => {
    const [, props] = recordingsBucket(template);
    const logging = props.LoggingConfiguration as {
      DestinationBucketName: { Ref: string };
      LogFilePrefix: string;
    };
    expect(logging.LogFilePrefix).toBe('s3-access/');
    const logBucketId = logging.DestinationBucketName.Ref;
    expect(logBucketId).not.toBe(bucketId);
    const logBucket = template.toJSON().Resources[logBucketId];
    expect(logBucket.DeletionPolicy).toBe('Retain');
    expect(logBucket.Properties).toMatchObject({
      BucketEncryption: {
        ServerSideEncryptionConfiguration: [{ ServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' } }],
      },
      PublicAccessBlockConfiguration: { BlockPublicAcls: true, RestrictPublicBuckets: true },
      LifecycleConfiguration: {
        Rules: [
          expect.objectContaining({ ExpirationInDays: 365, Status: 'Enabled' }),
          // The load balancer's logs carry each call's token in its URL: kept two weeks, not a year.
          { Id: 'expire-load-balancer-logs', Prefix: 'alb/', ExpirationInDays: 14, Status: 'Enabled' },
        ],
      },
    });
    template.hasResourceProperties('AWS::S3::BucketPolicy', {
      Bucket: { Ref: logBucketId },
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
          Match.objectLike({
            Effect: 'Allow',
            Principal: { Service: 'logging.s3.amazonaws.com' },
            Action: 's3:PutObject',
          }),
        ]),
      },
    });
  });

  it('turns on EventBridge notifications', () => {
    template.hasResourceProperties('Custom::S3BucketNotifications', {
      BucketName: { Ref: bucketId },
      NotificationConfiguration: { EventBridgeConfiguration: {} },
    });
  });

  it('moves large recordings to Standard-IA after 30 days and Glacier Flexible Retrieval after 90', () => {
    expect(rule(template, 'recordings-tiering')).toEqual({
      Id: 'recordings-tiering',
      Status: 'Enabled',
      Prefix: 'recordings/',
      ObjectSizeGreaterThan: 128 * 1024,
      Transitions: [
        { StorageClass: 'STANDARD_IA', TransitionInDays: 30 },
        { StorageClass: 'GLACIER', TransitionInDays: 90 },
      ],
    });
  });

  it('expires recordings and events after the 365-day retention period', () => {
    expect(rule(template, 'recordings-retention')).toEqual({
      Id: 'recordings-retention',
      Status: 'Enabled',
      Prefix: 'recordings/',
      ExpirationInDays: 365,
    });
    expect(rule(template, 'events-retention')).toEqual({
      Id: 'events-retention',
      Status: 'Enabled',
      Prefix: 'events/',
      ExpirationInDays: 365,
    });
  });

  it('expires leftover call checkpoints (inflight/) after 7 days, and their deleted versions after 1', () => {
    expect(rule(template, 'inflight-cleanup')).toEqual({
      Id: 'inflight-cleanup',
      Status: 'Enabled',
      Prefix: 'inflight/',
      ExpirationInDays: 7,
      NoncurrentVersionExpiration: { NoncurrentDays: 1 },
    });
  });

  it('expires noncurrent versions after 30 days and aborts incomplete multipart uploads after 1 day', () => {
    expect(rule(template, 'bucket-hygiene')).toEqual({
      Id: 'bucket-hygiene',
      Status: 'Enabled',
      AbortIncompleteMultipartUpload: { DaysAfterInitiation: 1 },
      NoncurrentVersionExpiration: { NoncurrentDays: 30 },
      ExpiredObjectDeleteMarker: true,
    });
  });

  it('has no Object Lock and no KMS key by default', () => {
    const [, props] = recordingsBucket(template);
    expect(props.ObjectLockEnabled).toBeUndefined();
    expect(props.ObjectLockConfiguration).toBeUndefined();
    expect(recordingsKeys(template)).toEqual({});
  });
});

describe('RecordingsBucket for a regulated deployment', () => {
  let template: Template;
  beforeAll(() => {
    template = synthRecorderStack({
      context: {
        retentionDays: '0',
        infrequentAccessAfterDays: '0',
        glacierAfterDays: '180',
        noncurrentVersionExpirationDays: '7',
        bucketEncryption: 'kms',
        objectLockMode: 'compliance',
        objectLockRetentionDays: '2555',
      },
    }).template;
  });

  it('keeps recordings forever when retentionDays is 0: no expiration rule but the checkpoints’ safety net', () => {
    expect(rule(template, 'recordings-retention')).toBeUndefined();
    expect(rule(template, 'events-retention')).toBeUndefined();
    const expiring = rules(template).filter((r) => 'ExpirationInDays' in r || 'ExpirationDate' in r);
    expect(expiring.map((r) => [r.Id, r.Prefix])).toEqual([['inflight-cleanup', 'inflight/']]);
  });

  it('skips the Standard-IA transition when its days are 0', () => {
    expect(rule(template, 'recordings-tiering')?.Transitions).toEqual([
      { StorageClass: 'GLACIER', TransitionInDays: 180 },
    ]);
    expect(rule(template, 'bucket-hygiene')?.NoncurrentVersionExpiration).toEqual({ NoncurrentDays: 7 });
  });

  it('locks objects in compliance mode for the configured days', () => {
    const [, props] = recordingsBucket(template);
    expect(props.ObjectLockEnabled).toBe(true);
    expect(props.ObjectLockConfiguration).toEqual({
      ObjectLockEnabled: 'Enabled',
      Rule: { DefaultRetention: { Mode: 'COMPLIANCE', Days: 2555 } },
    });
  });

  it('does not lock the checkpoints: their bucket has no Object Lock, no versioning, and the same KMS key', () => {
    const checkpoints = template.toJSON().Resources[checkpointBucketId(template)].Properties;
    expect(checkpoints.ObjectLockEnabled).toBeUndefined();
    expect(checkpoints.ObjectLockConfiguration).toBeUndefined();
    expect(checkpoints.VersioningConfiguration).toBeUndefined();
    expect(checkpoints.BucketEncryption).toEqual(recordingsBucket(template)[1].BucketEncryption);
    // The recorder is told to put them there.
    template.hasResourceProperties('AWS::ECS::TaskDefinition', {
      ContainerDefinitions: [
        Match.objectLike({
          Environment: Match.arrayWith([
            { Name: 'CHECKPOINT_BUCKET', Value: { Ref: checkpointBucketId(template) } },
          ]),
        }),
      ],
    });
  });

  it('encrypts with a retained, rotating customer-managed KMS key and an S3 Bucket Key', () => {
    const keys = recordingsKeys(template);
    const [keyId, key] = Object.entries(keys)[0]!;
    expect(Object.keys(keys)).toHaveLength(1);
    expect(key.Properties.EnableKeyRotation).toBe(true);
    expect(key.DeletionPolicy).toBe('Retain');
    const [, props] = recordingsBucket(template);
    expect(props.BucketEncryption).toEqual({
      ServerSideEncryptionConfiguration: [
        {
          BucketKeyEnabled: true,
          ServerSideEncryptionByDefault: {
            SSEAlgorithm: 'aws:kms',
            KMSMasterKeyID: { 'Fn::GetAtt': [keyId, 'Arn'] },
          },
        },
      ],
    });
  });

  it('lets the writers (and only they) use the key: the Lambda to encrypt, the recorder for multipart, the reconciler to read', () => {
    const [keyId] = Object.keys(recordingsKeys(template));
    const kmsStatements = policyStatements(template).filter((s) =>
      asArray(s.statement.Action as string | string[]).some((a) => a.startsWith('kms:')),
    );
    const byRole = (prefix: string) =>
      kmsStatements.filter((s) => s.policy.startsWith(prefix)).map((s) => s.statement);
    expect(byRole('Webhooks')).toEqual([
      { Effect: 'Allow', Action: 'kms:GenerateDataKey', Resource: { 'Fn::GetAtt': [keyId, 'Arn'] } },
    ]);
    expect(byRole('RecorderTaskDefinitionTaskRole')).toEqual([
      {
        Effect: 'Allow',
        Action: ['kms:Decrypt', 'kms:GenerateDataKey'],
        Resource: { 'Fn::GetAtt': [keyId, 'Arn'] },
      },
    ]);
    // The reconciler reads recordings and events to check them: decrypt only.
    expect(byRole('Reconciler')).toEqual([
      { Effect: 'Allow', Action: 'kms:Decrypt', Resource: { 'Fn::GetAtt': [keyId, 'Arn'] } },
    ]);
    const keyUsers = ['Webhooks', 'RecorderTaskDefinitionTaskRole', 'Reconciler'];
    expect(kmsStatements.map((s) => s.policy).every((p) => keyUsers.some((u) => p.startsWith(u)))).toBe(true);
  });
});

describe('RecordingsBucket construct', () => {
  it('locks objects in governance mode when asked', () => {
    // The log bucket relies on this cdk.json flag (log delivery by bucket policy, no ACLs).
    const stack = new Stack(
      new App({
        builtinCloudFormationValidation: false,
        context: { '@aws-cdk/aws-s3:serverAccessLogsUseBucketPolicy': true },
      }),
    );
    new RecordingsBucket(stack, 'Recordings', { objectLock: { mode: 'governance', days: 30 } });
    Template.fromStack(stack).hasResourceProperties('AWS::S3::Bucket', {
      ObjectLockEnabled: true,
      ObjectLockConfiguration: {
        ObjectLockEnabled: 'Enabled',
        Rule: { DefaultRetention: { Mode: 'GOVERNANCE', Days: 30 } },
      },
    });
  });
});

/** The stack's KMS keys other than the alarm topic's (which `operations.test.ts` covers). */
function recordingsKeys(template: Template): ReturnType<Template['findResources']> {
  return Object.fromEntries(
    Object.entries(template.findResources('AWS::KMS::Key')).filter(([id]) => !id.startsWith('Operations')),
  );
}
