import { describe, expect, it } from 'vitest';
import { ConfigError, DEFAULTS, parseConfig, type RawConfig } from '../../lib/config.js';
import { CERTIFICATE_ARN, SIGNATURE_SECRET_ARN } from './support.js';

function problemsOf(raw: RawConfig): readonly string[] {
  try {
    parseConfig(raw);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return (error as ConfigError).problems;
  }
  throw new Error(`expected ${JSON.stringify(raw)} to be rejected`);
}

describe('parseConfig', () => {
  it('fills every default when context is empty', () => {
    const config = parseConfig({});
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
    expect(config.tls).toBeUndefined();
    expect(config.objectLock).toBeUndefined();
    expect(config.signatureSecretArn).toBeUndefined();
  });

  it('accepts the string spellings that `-c key=value` produces', () => {
    const config = parseConfig({
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
    [{ taskCpu: 300 }, 'taskCpu must be one of 256, 512, 1024, 2048, 4096, got 300'],
    [
      { taskCpu: 256, taskMemoryMiB: 4096 },
      'taskMemoryMiB must be 512 to 2048 in steps of 512 for taskCpu 256, got 4096',
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

  it('reports every bad key at once, in one error', () => {
    expect(() => parseConfig({ sampleRate: 1, minTasks: 0, logLevel: 'loud' })).toThrow(
      /invalid configuration:\n {2}- sampleRate must be .*got 1\n {2}- minTasks must be .*got 0\n {2}- logLevel must be .*got "loud"/,
    );
  });

  it('allows keeping recordings forever and skipping transitions', () => {
    const config = parseConfig({ retentionDays: 0, infrequentAccessAfterDays: 0, glacierAfterDays: 0 });
    expect(config).toMatchObject({ retentionDays: 0, infrequentAccessAfterDays: 0, glacierAfterDays: 0 });
    expect(
      parseConfig({ infrequentAccessAfterDays: 0, glacierAfterDays: 1, retentionDays: 2 }).glacierAfterDays,
    ).toBe(1);
  });
});
