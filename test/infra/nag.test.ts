import { Stack, Validations } from 'aws-cdk-lib';
import { Bucket } from 'aws-cdk-lib/aws-s3';
import { AwsSolutionsChecks } from 'cdk-nag';
import type { IConstruct } from 'constructs';
import { describe, expect, it } from 'vitest';
import { CERTIFICATE_ARN, SIGNATURE_SECRET_ARN, synthRecorderStack } from '../../test-support/stack-synth.js';

function findings(stack: Stack): string[] {
  const report = new AwsSolutionsChecks().validateScope(stack);
  return report.violations.flatMap((v) =>
    v.violatingResources.map(
      (r) => `${v.ruleName} at ${r.constructPath ?? r.resourceLogicalId}: ${v.description}`,
    ),
  );
}

/** Every acknowledgement in the tree: rule id → reason. */
function acknowledgements(scope: IConstruct): { path: string; id: string; reason: string }[] {
  return scope.node.findAll().flatMap((c) =>
    c.node.metadata
      .filter((m) => m.type === Validations.ACKNOWLEDGED_RULES_METADATA_KEY)
      .flatMap((m) =>
        Object.entries(m.data as Record<string, string>).map(([id, reason]) => ({
          path: c.node.path,
          id,
          reason,
        })),
      ),
  );
}

describe('cdk-nag AwsSolutions checks', () => {
  const variants = {
    default: {},
    'fully configured (wss, DNS, KMS, Object Lock, signature secret)': {
      certificateArn: CERTIFICATE_ARN,
      domainName: 'rec.example.com',
      hostedZoneId: 'Z0123456789ABCDEFGHIJ',
      hostedZoneName: 'example.com',
      signatureSecretArn: SIGNATURE_SECRET_ARN,
      bucketEncryption: 'kms',
      objectLockMode: 'governance',
      objectLockRetentionDays: '365',
      alarmEmail: 'oncall@example.com',
      recordingsIndex: 'true',
    },
  };

  for (const [name, context] of Object.entries(variants)) {
    it(`leaves no unacknowledged finding: ${name}`, () => {
      const { stack } = synthRecorderStack({ context });
      expect(findings(stack)).toEqual([]);

      // (The CDK itself acknowledges CloudFormation-Validate::W3010 on every stack that reads its AZs.)
      const acks = acknowledgements(stack).filter((a) => a.id.includes('AwsSolutions-'));
      expect(acks.length).toBeGreaterThan(0);
      for (const ack of acks) {
        // A reason says why this resource is fine, not just that it is.
        expect(ack.reason.length, `${ack.id} at ${ack.path}`).toBeGreaterThan(60);
        // Rules are acknowledged on the resource they concern, never blanket-wide on the stack.
        expect(ack.path, ack.id).not.toBe('CallRecorder');
      }
    });
  }

  it('still finds problems (the check is live, not vacuous)', () => {
    const stack = new Stack(undefined, 'Probe');
    new Bucket(stack, 'Unlogged');
    expect(findings(stack).some((f) => f.startsWith('AwsSolutions-S1 at Probe/Unlogged/Resource'))).toBe(
      true,
    );
  });
});
