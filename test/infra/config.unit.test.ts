import { Aws } from 'aws-cdk-lib';
import { describe, expect, it } from 'vitest';
import { DEFAULTS, parseConfig, type RawConfig, StackConfigError } from '../../lib/config.js';
import { CERTIFICATE_ARN, SIGNATURE_SECRET_ARN } from '../../test-support/stack-synth.js';

function problemsOf(raw: RawConfig): readonly string[] {
  try {
    parseConfig(raw);
  } catch (error) {
    expect(error).toBeInstanceOf(StackConfigError);
    return (error as StackConfigError).problems;
  }
  throw new Error(`expected ${JSON.stringify(raw)} to be rejected`);
}

/** The least a deployment needs: the Vonage signature secret. */
const signed = { signatureSecretArn: SIGNATURE_SECRET_ARN };

describe('parseConfig', () => {
  it('stops without a signature secret, naming the key, how to create it, and the trial opt-in', () => {
    const problems = problemsOf({});
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatch(/^signatureSecretArn is required/);
    expect(problems[0]).toContain('aws secretsmanager create-secret');
    expect(problems[0]).toContain('file://');
    expect(problems[0]).toContain('allowUnsignedWebhooks=true');
  });

  it('runs unsigned only when asked to, and not both ways at once', () => {
    expect(parseConfig({ allowUnsignedWebhooks: 'true' })).toMatchObject({ allowUnsignedWebhooks: true });
    expect(parseConfig({ allowUnsignedWebhooks: 'true' }).signatureSecretArn).toBeUndefined();
    expect(problemsOf({ ...signed, allowUnsignedWebhooks: true })).toEqual([
      'allowUnsignedWebhooks=true and signatureSecretArn are both set: drop one',
    ]);
    expect(problemsOf({ allowUnsignedWebhooks: 'yes' })).toContain(
      'allowUnsignedWebhooks must be true or false, got "yes"',
    );
  });

  it('fills every default when context holds only the signature secret', () => {
    const config = parseConfig(signed);
    expect(config).toMatchObject({
      greetingText: DEFAULTS.greetingText,
      greetingLanguage: 'en-US',
      sampleRate: 16000,
      maxCallSeconds: 7200,
      retentionDays: 365,
      infrequentAccessAfterDays: 30,
      glacierAfterDays: 90,
      bucketEncryption: 's3',
      minTasks: 1,
      maxTasks: 4,
      drainSeconds: 100,
      logRetentionDays: 30,
      logLevel: 'INFO',
    });
    // Derived from the task size by the construct (lib/capacity.ts).
    expect(config.callsPerTask).toBeUndefined();
    expect(config.maxCallsPerTask).toBeUndefined();
    expect(config.tls).toBeUndefined();
    expect(config.objectLock).toBeUndefined();
    expect(config.allowUnsignedWebhooks).toBe(false);
    expect(config.allowPlaintextAudio).toBe(false);
  });

  it('accepts the string spellings that `-c key=value` produces', () => {
    const config = parseConfig({
      ...signed,
      allowPlaintextAudio: 'false',
      sampleRate: '8000',
      retentionDays: '0',
      minTasks: '2',
      maxTasks: '6',
      logLevel: 'debug',
      bucketEncryption: 'KMS',
      objectLockMode: 'Compliance',
      objectLockRetentionDays: '2555',
    });
    expect(config).toMatchObject({
      sampleRate: 8000,
      retentionDays: 0,
      minTasks: 2,
      maxTasks: 6,
      logLevel: 'DEBUG',
      bucketEncryption: 'kms',
      objectLock: { mode: 'compliance', days: 2555 },
    });
  });

  it('takes TLS, DNS and the signature secret together', () => {
    const config = parseConfig({
      certificateArn: CERTIFICATE_ARN,
      domainName: 'rec.example.com',
      hostedZoneId: 'Z0123456789ABCDEFGHIJ',
      hostedZoneName: 'example.com',
      signatureSecretArn: SIGNATURE_SECRET_ARN,
    });
    expect(config.tls).toEqual({
      certificateArn: CERTIFICATE_ARN,
      domainName: 'rec.example.com',
      hostedZone: { id: 'Z0123456789ABCDEFGHIJ', name: 'example.com' },
    });
    expect(config.signatureSecretArn).toBe(SIGNATURE_SECRET_ARN);
  });

  it.each([
    [{ sampleRate: 44100 }, 'sampleRate must be one of 8000, 16000, 24000, got 44100'],
    [{ sampleRate: 'fast' }, 'sampleRate must be one of 8000, 16000, 24000, got "fast"'],
    [{ maxCallSeconds: 9000 }, 'maxCallSeconds must be a whole number from 60 to 7200, got 9000'],
    [{ retentionDays: -1 }, 'retentionDays must be a whole number from 0 to 36500, got -1'],
    [{ retentionDays: 1.5 }, 'retentionDays must be a whole number from 0 to 36500, got 1.5'],
    [
      { retentionDays: 60 },
      'retentionDays must be 0 (keep forever) or more than the last storage-class transition (90 days), got 60',
    ],
    [
      { infrequentAccessAfterDays: 10 },
      'infrequentAccessAfterDays must be 0 (no transition) or at least 30 (an s3 minimum), got 10',
    ],
    [
      { glacierAfterDays: 45 },
      'glacierAfterDays must be at least 30 days after infrequentAccessAfterDays (30), got 45',
    ],
    [{ greetingText: '   ' }, 'greetingText must be 1 to 1500 characters, got "   "'],
    [{ greetingText: 'x'.repeat(1501) }, undefined],
    [{ greetingLanguage: 'english' }, 'greetingLanguage must be a language tag such as en-US, got "english"'],
    [{ minTasks: 0 }, 'minTasks must be a whole number from 1 to 100, got 0'],
    [{ minTasks: 3, maxTasks: 2 }, 'maxTasks (2) must be at least minTasks (3)'],
    [{ taskCpu: 300 }, 'taskCpu must be one of 256, 512, 1024, 2048, 4096, 8192, 16384, got 300'],
    [
      { taskCpu: 256, taskMemoryMiB: 4096 },
      'taskMemoryMiB must be 512, 1024, 2048 for taskCpu 256, got 4096',
    ],
    [
      { taskCpu: 256, taskMemoryMiB: 1536 },
      'taskMemoryMiB must be 512, 1024, 2048 for taskCpu 256, got 1536',
    ],
    [
      { taskCpu: 8192, taskMemoryMiB: 18432 },
      'taskMemoryMiB must be 16384 to 61440 in steps of 4096 for taskCpu 8192, got 18432',
    ],
    [{ drainSeconds: 200 }, 'drainSeconds must be a whole number from 5 to 110, got 200'],
    [{ maxCallsPerTask: 0 }, 'maxCallsPerTask must be a whole number from 1 to 10000, got 0'],
    [{ maxCallsPerTask: 10, callsPerTask: 20 }, 'callsPerTask (20) must be at most maxCallsPerTask (10)'],
    [{ bucketEncryption: 'aes' }, 'bucketEncryption must be one of s3, kms, got "aes"'],
    [
      { objectLockMode: 'forever', objectLockRetentionDays: 30 },
      'objectLockMode must be one of governance, compliance, got "forever"',
    ],
    [
      { objectLockMode: 'governance' },
      'objectLockRetentionDays is required when objectLockMode is "governance"',
    ],
    [
      { objectLockRetentionDays: 30 },
      'objectLockRetentionDays is set (30) but objectLockMode is not; set objectLockMode to governance or compliance',
    ],
    [
      { objectLockMode: 'compliance', objectLockRetentionDays: 2555 },
      'retentionDays (365) must be 0 or at least objectLockRetentionDays (2555): locked recordings cannot expire earlier',
    ],
    [{ certificateArn: CERTIFICATE_ARN }, undefined],
    [
      { certificateArn: 'my-cert', domainName: 'rec.example.com' },
      'certificateArn must be an acm certificate arn, got "my-cert"',
    ],
    [
      { certificateArn: CERTIFICATE_ARN, domainName: 'Rec.Example.com' },
      'domainName must be a lowercase dns name such as rec.example.com, got "Rec.Example.com"',
    ],
    [
      {
        certificateArn: CERTIFICATE_ARN,
        domainName: 'rec.example.com',
        hostedZoneId: 'Z0123456789',
        hostedZoneName: 'other.org',
      },
      'domainName "rec.example.com" is not inside hostedZoneName "other.org"',
    ],
    [
      { signatureSecretArn: 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:vonage/signature' },
      'signatureSecretArn must be a complete secrets manager secret arn (with its 6-character suffix), got "arn:aws:secretsmanager:eu-west-1:123456789012:secret:vonage/signature"',
    ],
    [{ logRetentionDays: 10 }, undefined],
    [{ logLevel: 'verbose' }, 'logLevel must be one of DEBUG, INFO, WARN, ERROR, got "verbose"'],
  ] as [RawConfig, string | undefined][])('rejects %j, naming the key and the value', (raw, expected) => {
    const problems = problemsOf(raw);
    const key = Object.keys(raw).at(-1)!;
    expect(problems.length).toBeGreaterThan(0);
    if (expected) expect(problems).toContain(expected);
    // Every message names a key it concerns; messages are lowercase at the start like other CDK errors.
    expect(problems.some((p) => p.includes(key) || Object.keys(raw).some((k) => p.includes(k)))).toBe(true);
  });

  it('accepts exactly the Fargate cpu/memory pairs AWS lists, and no other', () => {
    // AWS's table (MiB), transcribed from
    // https://docs.aws.amazon.com/AmazonECS/latest/developerguide/task-cpu-memory-error.html
    const gib = (from: number, to: number, step: number) =>
      Array.from({ length: (to - from) / step + 1 }, (_, i) => (from + i * step) * 1024);
    const allowed: Record<number, number[]> = {
      256: [512, 1024, 2048],
      512: gib(1, 4, 1),
      1024: gib(2, 8, 1),
      2048: gib(4, 16, 1),
      4096: gib(8, 30, 1),
      8192: gib(16, 60, 4),
      16384: gib(32, 120, 8),
    };
    for (const [cpu, memories] of Object.entries(allowed)) {
      for (let memory = 512; memory <= 122880; memory += 512) {
        const accepted = (() => {
          try {
            parseConfig({ ...signed, taskCpu: cpu, taskMemoryMiB: memory });
            return true;
          } catch {
            return false;
          }
        })();
        expect(accepted, `taskCpu ${cpu} with taskMemoryMiB ${memory}`).toBe(memories.includes(memory));
      }
    }
  });

  describe('ARNs outside the stack region', () => {
    const usEast1Certificate = CERTIFICATE_ARN.replace(':eu-west-1:', ':us-east-1:');
    const usEast1Secret = SIGNATURE_SECRET_ARN.replace(':eu-west-1:', ':us-east-1:');

    it('rejects a certificate or secret from another region, naming the key and both regions', () => {
      const problems = (() => {
        try {
          parseConfig(
            {
              certificateArn: usEast1Certificate,
              domainName: 'rec.example.com',
              signatureSecretArn: usEast1Secret,
            },
            { region: 'eu-west-1' },
          );
        } catch (error) {
          return (error as StackConfigError).problems;
        }
        throw new Error('expected ARNs from us-east-1 to be rejected for a stack in eu-west-1');
      })();
      expect(problems).toEqual([
        'certificateArn is in region us-east-1 but the stack deploys to eu-west-1; request or import the certificate in eu-west-1',
        'signatureSecretArn is in region us-east-1 but the stack deploys to eu-west-1; create the secret in eu-west-1 (or a replica there)',
      ]);
    });

    it('accepts them in the stack region', () => {
      const config = parseConfig(
        {
          certificateArn: CERTIFICATE_ARN,
          domainName: 'rec.example.com',
          signatureSecretArn: SIGNATURE_SECRET_ARN,
        },
        { region: 'eu-west-1' },
      );
      expect(config.tls?.certificateArn).toBe(CERTIFICATE_ARN);
      expect(config.signatureSecretArn).toBe(SIGNATURE_SECRET_ARN);
    });

    it.each([
      ['no region', undefined],
      ['an unresolved region token', Aws.REGION],
    ])('skips the check when synth knows %s', (_, region) => {
      const config = parseConfig(
        {
          certificateArn: usEast1Certificate,
          domainName: 'rec.example.com',
          signatureSecretArn: usEast1Secret,
        },
        { region },
      );
      expect(config.tls?.certificateArn).toBe(usEast1Certificate);
      expect(config.signatureSecretArn).toBe(usEast1Secret);
    });
  });

  describe('the recorder endpoint', () => {
    it('is CloudFront by default; plain ws:// only when asked, and never together with a certificate', () => {
      expect(parseConfig(signed).allowPlaintextAudio).toBe(false);
      expect(parseConfig({ ...signed, allowPlaintextAudio: 'true' }).allowPlaintextAudio).toBe(true);
      expect(
        problemsOf({
          ...signed,
          allowPlaintextAudio: true,
          certificateArn: CERTIFICATE_ARN,
          domainName: 'rec.example.com',
        }),
      ).toEqual(['allowPlaintextAudio=true and certificateArn/domainName are both set: drop one']);
      expect(problemsOf({ ...signed, allowPlaintextAudio: 'maybe' })).toEqual([
        'allowPlaintextAudio must be true or false, got "maybe"',
      ]);
    });

    it('stops in a region without CloudFront VPC origins, naming the alternatives, unless another endpoint is chosen', () => {
      const secret = SIGNATURE_SECRET_ARN.replace(':eu-west-1:', ':us-gov-west-1:').replace(
        'arn:aws:',
        'arn:aws-us-gov:',
      );
      let problems: readonly string[] = [];
      try {
        parseConfig({ signatureSecretArn: secret }, { region: 'us-gov-west-1' });
      } catch (error) {
        problems = (error as StackConfigError).problems;
      }
      expect(problems).toEqual([
        'the default recorder endpoint (wss:// through a CloudFront VPC origin) is not available in us-gov-west-1; set certificateArn and domainName (wss:// at the load balancer), or deploy to a region that has VPC origins',
      ]);
      expect(
        parseConfig({ signatureSecretArn: secret, allowPlaintextAudio: true }, { region: 'us-gov-west-1' })
          .allowPlaintextAudio,
      ).toBe(true);
      expect(parseConfig(signed, { region: 'eu-west-1' }).tls).toBeUndefined();
    });
  });

  it('reports every bad key at once, in one error', () => {
    expect(() => parseConfig({ ...signed, sampleRate: 1, minTasks: 0, logLevel: 'loud' })).toThrow(
      /invalid configuration:\n {2}- sampleRate must be .*got 1\n {2}- minTasks must be .*got 0\n {2}- logLevel must be .*got "loud"/,
    );
  });

  it('allows keeping recordings forever and skipping transitions', () => {
    const config = parseConfig({
      ...signed,
      retentionDays: 0,
      infrequentAccessAfterDays: 0,
      glacierAfterDays: 0,
    });
    expect(config).toMatchObject({ retentionDays: 0, infrequentAccessAfterDays: 0, glacierAfterDays: 0 });
    expect(
      parseConfig({ ...signed, infrequentAccessAfterDays: 0, glacierAfterDays: 1, retentionDays: 2 })
        .glacierAfterDays,
    ).toBe(1);
  });
});
