/**
 * The stack's configuration: every key the app reads from cdk.json context (or `-c key=value`),
 * its default, and the one validation pass that turns raw context into typed values.
 *
 * Context given on the command line always arrives as a string, so numbers and booleans are
 * accepted either as JSON values or as their string spelling.
 */

import { Token } from 'aws-cdk-lib';
import { type SampleRate, SUPPORTED_SAMPLE_RATES } from '../common/audio-format.js';
import { DEFAULT_MAX_CALL_SECONDS, MAX_CALL_SECONDS_LIMIT } from '../common/contract.js';
import { VPC_ORIGIN_REGIONS } from './vpc-origin-regions.js';

/** Log retention periods CloudWatch Logs accepts (days). */
export const LOG_RETENTION_DAYS = [
  1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653,
] as const;

export const LOG_LEVELS = ['DEBUG', 'INFO', 'WARN', 'ERROR'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

export type BucketEncryptionChoice = 's3' | 'kms';
export type ObjectLockMode = 'governance' | 'compliance';

type FargateMemory =
  | { readonly only: readonly number[] }
  | { readonly min: number; readonly max: number; readonly step: number };

/**
 * Fargate task sizes: vCPU units and the memory (MiB) each allows; any other pair fails at deploy.
 * 8192 and 16384 need Linux platform 1.4.0, which the recorder's ARM64 tasks need anyway (its
 * service runs on LATEST, i.e. 1.4.0). Sources:
 * https://docs.aws.amazon.com/AmazonECS/latest/developerguide/task-cpu-memory-error.html and
 * https://docs.aws.amazon.com/AmazonECS/latest/developerguide/ecs-arm64.html
 */
const FARGATE_MEMORY: Record<number, FargateMemory> = {
  256: { only: [512, 1024, 2048] },
  512: { min: 1024, max: 4096, step: 1024 },
  1024: { min: 2048, max: 8192, step: 1024 },
  2048: { min: 4096, max: 16384, step: 1024 },
  4096: { min: 8192, max: 30720, step: 1024 },
  8192: { min: 16384, max: 61440, step: 4096 },
  16384: { min: 32768, max: 122880, step: 8192 },
};
/** Fargate task vCPU units, smallest first. */
const FARGATE_CPUS = [256, 512, 1024, 2048, 4096, 8192, 16384] as const;

/** Validated configuration for {@link RecorderStack}. */
export interface StackConfig {
  /** What callers hear before recording starts. */
  readonly greetingText: string;
  /** Vonage text-to-speech language (BCP-47, e.g. `en-US`). */
  readonly greetingLanguage: string;
  /** Vonage text-to-speech voice style (a number per language). */
  readonly greetingStyle: number;
  /** Audio sample rate requested from Vonage, in Hz. */
  readonly sampleRate: SampleRate;
  /** Longest call the recorder accepts, in seconds (Vonage's own limit is 7200). */
  readonly maxCallSeconds: number;
  /** How long a per-call websocket token stays valid after the answer webhook signs it. */
  readonly callTokenTtlSeconds: number;
  /**
   * Complete ARN of a Secrets Manager secret holding the Vonage signature secret. Required unless
   * `allowUnsignedWebhooks` is set: without it anyone who finds the answer URL can mint call
   * tokens and stream audio into the bucket.
   */
  readonly signatureSecretArn?: string;
  /** Trial opt-in: no signature secret, so webhooks and websockets are not checked against Vonage. */
  readonly allowUnsignedWebhooks: boolean;
  /**
   * Trial opt-in: serve the recorder on plain `ws://` at an internet-facing load balancer (call audio
   * unencrypted). Without it and without `tls`, the recorder is `wss://` through CloudFront.
   */
  readonly allowPlaintextAudio: boolean;
  /** Oldest signed webhook accepted, in seconds (the JWT `iat` age). */
  readonly signatureMaxAgeSeconds: number;
  /** Days to keep recordings and events; 0 keeps them forever. */
  readonly retentionDays: number;
  /** Days before recordings move to S3 Standard-IA; 0 skips this transition. */
  readonly infrequentAccessAfterDays: number;
  /** Days before recordings move to S3 Glacier Flexible Retrieval; 0 skips this transition. */
  readonly glacierAfterDays: number;
  /** Days a replaced or deleted object version is kept before it expires. */
  readonly noncurrentVersionExpirationDays: number;
  /** Days to keep S3 server access logs and ALB access logs. */
  readonly accessLogRetentionDays: number;
  /** Bucket encryption: S3-managed keys, or a customer-managed KMS key created by the stack. */
  readonly bucketEncryption: BucketEncryptionChoice;
  /** Object Lock default retention for regulated users; absent = Object Lock off. */
  readonly objectLock?: { readonly mode: ObjectLockMode; readonly days: number };
  /** Fewest recorder tasks kept running (at least 1, so a call never waits for a cold start). */
  readonly minTasks: number;
  /** Most recorder tasks auto scaling may run. */
  readonly maxTasks: number;
  /**
   * Target concurrent calls per recorder task; auto scaling tracks the average against it.
   * Absent = 60% of the per-task call cap (lib/capacity.ts, `defaultCallsPerTask`).
   */
  readonly callsPerTask?: number;
  /** Most calls one task takes (its `MAX_CALLS`); absent = derived from the task size (lib/capacity.ts). */
  readonly maxCallsPerTask?: number;
  /** Recorder task vCPU units (256, 512, 1024, 2048, 4096, 8192, 16384). */
  readonly taskCpu: number;
  /** Recorder task memory in MiB; must suit `taskCpu`. */
  readonly taskMemoryMiB: number;
  /** Seconds a stopping recorder lets calls finish before it closes them; also the ALB deregistration delay. */
  readonly drainSeconds: number;
  /** TLS at the load balancer with the user's own name: both set, or neither (then CloudFront serves wss://). */
  readonly tls?: {
    readonly certificateArn: string;
    readonly domainName: string;
    /** Route 53 zone in which to create the alias record, if the stack should manage DNS. */
    readonly hostedZone?: { readonly id: string; readonly name: string };
  };
  /** API Gateway steady-state request rate limit (requests per second). */
  readonly apiRateLimit: number;
  /** API Gateway burst limit (requests). */
  readonly apiBurstLimit: number;
  /** Days to keep Lambda, recorder, API access and VPC flow logs in CloudWatch Logs. */
  readonly logRetentionDays: number;
  /** Log level for the Lambda and the recorder. */
  readonly logLevel: LogLevel;
  /** An address the alarm topic e-mails (it must confirm the subscription); absent = no subscription. */
  readonly alarmEmail?: string;
  /** S3 Metadata tables on the recordings bucket and an Athena workgroup to search them (billed). */
  readonly recordingsIndex: boolean;
}

/** Default for every optional key; what a deploy without context gets. */
export const DEFAULTS = {
  greetingText: 'This call is recorded.',
  greetingLanguage: 'en-US',
  greetingStyle: 0,
  sampleRate: 16000,
  maxCallSeconds: DEFAULT_MAX_CALL_SECONDS,
  callTokenTtlSeconds: 300,
  signatureMaxAgeSeconds: 300,
  retentionDays: 365,
  infrequentAccessAfterDays: 30,
  glacierAfterDays: 90,
  noncurrentVersionExpirationDays: 30,
  accessLogRetentionDays: 365,
  bucketEncryption: 's3',
  minTasks: 1,
  maxTasks: 4,
  taskCpu: 512,
  taskMemoryMiB: 1024,
  drainSeconds: 100,
  apiRateLimit: 50,
  apiBurstLimit: 100,
  logRetentionDays: 30,
  logLevel: 'INFO',
} as const;

/** Every context key the app reads. */
export const CONFIG_KEYS = [
  'greetingText',
  'greetingLanguage',
  'greetingStyle',
  'sampleRate',
  'maxCallSeconds',
  'callTokenTtlSeconds',
  'signatureSecretArn',
  'allowUnsignedWebhooks',
  'allowPlaintextAudio',
  'signatureMaxAgeSeconds',
  'retentionDays',
  'infrequentAccessAfterDays',
  'glacierAfterDays',
  'noncurrentVersionExpirationDays',
  'accessLogRetentionDays',
  'bucketEncryption',
  'objectLockMode',
  'objectLockRetentionDays',
  'minTasks',
  'maxTasks',
  'callsPerTask',
  'maxCallsPerTask',
  'taskCpu',
  'taskMemoryMiB',
  'drainSeconds',
  'certificateArn',
  'domainName',
  'hostedZoneId',
  'hostedZoneName',
  'apiRateLimit',
  'apiBurstLimit',
  'logRetentionDays',
  'logLevel',
  'alarmEmail',
  'recordingsIndex',
] as const;
export type ConfigKey = (typeof CONFIG_KEYS)[number];

/** Raw context values, as read from cdk.json or `-c`. */
export type RawConfig = Partial<Record<ConfigKey, unknown>>;

/** Thrown when context holds a bad value; the message lists every bad key at once. */
export class StackConfigError extends Error {
  constructor(readonly problems: readonly string[]) {
    super(`invalid configuration:\n  - ${problems.join('\n  - ')}`);
    this.name = 'StackConfigError';
  }
}

const CERTIFICATE_ARN = /^arn:aws[a-z-]*:acm:[a-z0-9-]+:\d{12}:certificate\/[A-Za-z0-9-]+$/;
// A complete secret ARN ends in the 6-character suffix Secrets Manager adds; grants need it exact.
const SECRET_ARN =
  /^arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:\d{12}:secret:[A-Za-z0-9/_+=.@-]+-[A-Za-z0-9]{6}$/;
const DOMAIN_NAME = /^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$/;
const HOSTED_ZONE_ID = /^Z[A-Z0-9]{1,31}$/;
const LANGUAGE = /^[a-z]{2,3}(-[A-Za-z]{2,4})?$/;
// One plain address (no display name, no list): SNS takes exactly one per e-mail subscription.
const EMAIL_ADDRESS =
  /^(?=.{3,254}$)[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63}$/;
/** Vonage's talk action reads at most this many characters. */
const MAX_GREETING_CHARS = 1500;

function show(value: unknown): string {
  return JSON.stringify(value) ?? String(value);
}

/** Collects problems so one failed synth reports every bad key, not just the first. */
class Reader {
  readonly problems: string[] = [];

  constructor(readonly raw: RawConfig) {}

  has(key: ConfigKey): boolean {
    const value = this.raw[key];
    return value !== undefined && value !== null && value !== '';
  }

  integer(key: ConfigKey, fallback: number, min: number, max: number): number {
    const value = this.raw[key];
    if (value === undefined || value === null || value === '') return fallback;
    const parsed =
      typeof value === 'number' ? value : typeof value === 'string' ? Number(value.trim()) : Number.NaN;
    if (!Number.isInteger(parsed) || parsed < min || parsed > max) {
      this.problems.push(`${key} must be a whole number from ${min} to ${max}, got ${show(value)}`);
      return fallback;
    }
    return parsed;
  }

  string(key: ConfigKey, fallback: string): string;
  string(key: ConfigKey): string | undefined;
  string(key: ConfigKey, fallback?: string): string | undefined {
    const value = this.raw[key];
    if (value === undefined || value === null || value === '') return fallback;
    if (typeof value !== 'string') {
      this.problems.push(`${key} must be a string, got ${show(value)}`);
      return fallback;
    }
    return value;
  }

  oneOf<T extends string | number>(
    key: ConfigKey,
    allowed: readonly T[],
    fallback: T,
    normalize?: (v: string) => string,
  ): T {
    const value = this.raw[key];
    if (value === undefined || value === null || value === '') return fallback;
    const candidate =
      typeof allowed[0] === 'number' && typeof value === 'string'
        ? Number(value)
        : typeof value === 'string' && normalize
          ? normalize(value)
          : value;
    if (!(allowed as readonly unknown[]).includes(candidate)) {
      this.problems.push(`${key} must be one of ${allowed.join(', ')}, got ${show(value)}`);
      return fallback;
    }
    return candidate as T;
  }

  boolean(key: ConfigKey): boolean {
    const value = this.raw[key];
    if (value === undefined || value === null || value === '' || value === false || value === 'false')
      return false;
    if (value === true || value === 'true') return true;
    this.problems.push(`${key} must be true or false, got ${show(value)}`);
    return false;
  }

  matching(key: ConfigKey, pattern: RegExp, what: string): string | undefined {
    const value = this.string(key);
    if (value !== undefined && !pattern.test(value)) {
      this.problems.push(`${key} must be ${what}, got ${show(value)}`);
      return undefined;
    }
    return value;
  }

  problem(message: string): void {
    this.problems.push(message);
  }
}

/** Where the stack deploys, as far as synth knows it. */
export interface DeployTarget {
  /** The stack's region; undefined or an unresolved token (an environment-agnostic synth) skips the region checks. */
  readonly region?: string;
}

type Section<K extends keyof StackConfig> = Pick<StackConfig, K>;

/** What the caller hears and how long a call may last. */
function readCall(
  r: Reader,
): Section<'greetingText' | 'greetingLanguage' | 'greetingStyle' | 'sampleRate' | 'maxCallSeconds'> {
  const greetingText = r.string('greetingText', DEFAULTS.greetingText).trim();
  if (greetingText === '' || greetingText.length > MAX_GREETING_CHARS) {
    r.problem(`greetingText must be 1 to ${MAX_GREETING_CHARS} characters, got ${show(r.raw.greetingText)}`);
  }
  return {
    greetingText,
    greetingLanguage:
      r.matching('greetingLanguage', LANGUAGE, 'a language tag such as en-US') ?? DEFAULTS.greetingLanguage,
    greetingStyle: r.integer('greetingStyle', DEFAULTS.greetingStyle, 0, 99),
    sampleRate: r.oneOf('sampleRate', SUPPORTED_SAMPLE_RATES, DEFAULTS.sampleRate),
    maxCallSeconds: r.integer('maxCallSeconds', DEFAULTS.maxCallSeconds, 60, MAX_CALL_SECONDS_LIMIT),
  };
}

const SIGNATURE_SECRET_REQUIRED =
  'signatureSecretArn is required: it lets the stack check that webhooks and websocket handshakes come from Vonage. ' +
  'Store your Vonage signature secret (Dashboard → API settings) in Secrets Manager, reading it from a file rather than the command line: ' +
  '`aws secretsmanager create-secret --name vonage-signature-secret --secret-string file://signature-secret.txt`, ' +
  'then pass the ARN it prints: `-c signatureSecretArn=arn:aws:secretsmanager:…`. ' +
  'For a trial without it, set allowUnsignedWebhooks=true (anyone who finds the answer URL can then stream audio into the bucket)';

/** Who may start a call: the per-call token and Vonage's signature. */
function readSigning(
  r: Reader,
): Section<
  'callTokenTtlSeconds' | 'signatureSecretArn' | 'allowUnsignedWebhooks' | 'signatureMaxAgeSeconds'
> {
  const callTokenTtlSeconds = r.integer('callTokenTtlSeconds', DEFAULTS.callTokenTtlSeconds, 30, 3600);
  const signatureSecretArn = r.matching(
    'signatureSecretArn',
    SECRET_ARN,
    'a complete secrets manager secret arn (with its 6-character suffix)',
  );
  const allowUnsignedWebhooks = r.boolean('allowUnsignedWebhooks');
  if (!r.has('signatureSecretArn') && !allowUnsignedWebhooks) r.problem(SIGNATURE_SECRET_REQUIRED);
  if (signatureSecretArn && allowUnsignedWebhooks) {
    r.problem('allowUnsignedWebhooks=true and signatureSecretArn are both set: drop one');
  }
  return {
    callTokenTtlSeconds,
    ...(signatureSecretArn ? { signatureSecretArn } : {}),
    allowUnsignedWebhooks,
    signatureMaxAgeSeconds: r.integer('signatureMaxAgeSeconds', DEFAULTS.signatureMaxAgeSeconds, 10, 3600),
  };
}

/** How long recordings are kept, in which storage class, and how they are encrypted. */
function readStorage(
  r: Reader,
): Section<
  | 'retentionDays'
  | 'infrequentAccessAfterDays'
  | 'glacierAfterDays'
  | 'noncurrentVersionExpirationDays'
  | 'accessLogRetentionDays'
  | 'bucketEncryption'
  | 'objectLock'
> {
  const retentionDays = r.integer('retentionDays', DEFAULTS.retentionDays, 0, 36500);
  const infrequentAccessAfterDays = r.integer(
    'infrequentAccessAfterDays',
    DEFAULTS.infrequentAccessAfterDays,
    0,
    36500,
  );
  const glacierAfterDays = r.integer('glacierAfterDays', DEFAULTS.glacierAfterDays, 0, 36500);
  // S3 refuses these lifecycle rules at deploy time; catching them here fails in seconds, not minutes.
  if (infrequentAccessAfterDays > 0 && infrequentAccessAfterDays < 30) {
    r.problem(
      `infrequentAccessAfterDays must be 0 (no transition) or at least 30 (an s3 minimum), got ${infrequentAccessAfterDays}`,
    );
  }
  if (
    infrequentAccessAfterDays > 0 &&
    glacierAfterDays > 0 &&
    glacierAfterDays < infrequentAccessAfterDays + 30
  ) {
    r.problem(
      `glacierAfterDays must be at least 30 days after infrequentAccessAfterDays (${infrequentAccessAfterDays}), got ${glacierAfterDays}`,
    );
  }
  const lastTransition = Math.max(infrequentAccessAfterDays, glacierAfterDays);
  if (retentionDays > 0 && retentionDays <= lastTransition) {
    r.problem(
      `retentionDays must be 0 (keep forever) or more than the last storage-class transition (${lastTransition} days), got ${retentionDays}`,
    );
  }
  const objectLock = readObjectLock(r, retentionDays);
  return {
    retentionDays,
    infrequentAccessAfterDays,
    glacierAfterDays,
    noncurrentVersionExpirationDays: r.integer(
      'noncurrentVersionExpirationDays',
      DEFAULTS.noncurrentVersionExpirationDays,
      1,
      36500,
    ),
    accessLogRetentionDays: r.integer('accessLogRetentionDays', DEFAULTS.accessLogRetentionDays, 1, 36500),
    bucketEncryption: r.oneOf<BucketEncryptionChoice>(
      'bucketEncryption',
      ['s3', 'kms'],
      DEFAULTS.bucketEncryption,
      (v) => v.toLowerCase(),
    ),
    ...(objectLock ? { objectLock } : {}),
  };
}

/** Object Lock: both keys or neither, and no retention shorter than the lock. */
function readObjectLock(r: Reader, retentionDays: number): StackConfig['objectLock'] {
  if (!r.has('objectLockMode')) {
    if (r.has('objectLockRetentionDays')) {
      r.problem(
        `objectLockRetentionDays is set (${show(r.raw.objectLockRetentionDays)}) but objectLockMode is not; set objectLockMode to governance or compliance`,
      );
    }
    return undefined;
  }
  const mode = r.oneOf<ObjectLockMode | 'none'>('objectLockMode', ['governance', 'compliance'], 'none', (v) =>
    v.toLowerCase(),
  );
  if (!r.has('objectLockRetentionDays')) {
    r.problem(`objectLockRetentionDays is required when objectLockMode is ${show(r.raw.objectLockMode)}`);
    return undefined;
  }
  const days = r.integer('objectLockRetentionDays', 1, 1, 36500);
  if (retentionDays > 0 && retentionDays < days) {
    r.problem(
      `retentionDays (${retentionDays}) must be 0 or at least objectLockRetentionDays (${days}): locked recordings cannot expire earlier`,
    );
  }
  return mode === 'none' ? undefined : { mode, days };
}

/** The recorder tasks: how many, how big, how many calls each. */
function readTasks(
  r: Reader,
): Section<
  'minTasks' | 'maxTasks' | 'callsPerTask' | 'maxCallsPerTask' | 'taskCpu' | 'taskMemoryMiB' | 'drainSeconds'
> {
  const minTasks = r.integer('minTasks', DEFAULTS.minTasks, 1, 100);
  const maxTasks = r.integer('maxTasks', DEFAULTS.maxTasks, 1, 100);
  if (maxTasks < minTasks) r.problem(`maxTasks (${maxTasks}) must be at least minTasks (${minTasks})`);
  // Both default from the task size (lib/capacity.ts); the fallback values are never used.
  const callsPerTask = r.has('callsPerTask') ? r.integer('callsPerTask', 1, 1, 1000) : undefined;
  const maxCallsPerTask = r.has('maxCallsPerTask') ? r.integer('maxCallsPerTask', 1, 1, 10_000) : undefined;
  if (callsPerTask !== undefined && maxCallsPerTask !== undefined && callsPerTask > maxCallsPerTask) {
    r.problem(`callsPerTask (${callsPerTask}) must be at most maxCallsPerTask (${maxCallsPerTask})`);
  }
  const taskCpu = r.oneOf<number>('taskCpu', FARGATE_CPUS, DEFAULTS.taskCpu);
  const taskMemoryMiB = r.integer('taskMemoryMiB', DEFAULTS.taskMemoryMiB, 512, 122880);
  checkFargateSize(r, taskCpu, taskMemoryMiB);
  return {
    minTasks,
    maxTasks,
    ...(callsPerTask !== undefined ? { callsPerTask } : {}),
    ...(maxCallsPerTask !== undefined ? { maxCallsPerTask } : {}),
    taskCpu,
    taskMemoryMiB,
    // Fargate allows at most 120 s between SIGTERM and SIGKILL; the recorder needs the rest to upload.
    drainSeconds: r.integer('drainSeconds', DEFAULTS.drainSeconds, 5, 110),
  };
}

function checkFargateSize(r: Reader, taskCpu: number, taskMemoryMiB: number): void {
  const memory = FARGATE_MEMORY[taskCpu];
  if (memory && 'only' in memory && !memory.only.includes(taskMemoryMiB)) {
    r.problem(`taskMemoryMiB must be ${memory.only.join(', ')} for taskCpu ${taskCpu}, got ${taskMemoryMiB}`);
  } else if (
    memory &&
    'step' in memory &&
    (taskMemoryMiB < memory.min ||
      taskMemoryMiB > memory.max ||
      (taskMemoryMiB - memory.min) % memory.step !== 0)
  ) {
    r.problem(
      `taskMemoryMiB must be ${memory.min} to ${memory.max} in steps of ${memory.step} for taskCpu ${taskCpu}, got ${taskMemoryMiB}`,
    );
  }
}

/** How Vonage reaches the recorder: CloudFront by default, a certificate of the user's, or plaintext. */
function readEndpoint(r: Reader): Section<'tls' | 'allowPlaintextAudio'> {
  const allowPlaintextAudio = r.boolean('allowPlaintextAudio');
  const certificateArn = r.matching('certificateArn', CERTIFICATE_ARN, 'an acm certificate arn');
  const domainName = r.matching('domainName', DOMAIN_NAME, 'a lowercase dns name such as rec.example.com');
  if (r.has('certificateArn') !== r.has('domainName')) {
    r.problem(
      `certificateArn and domainName go together (wss needs both), got certificateArn=${show(r.raw.certificateArn)} domainName=${show(r.raw.domainName)}`,
    );
  }
  const hostedZoneId = r.matching(
    'hostedZoneId',
    HOSTED_ZONE_ID,
    'a route 53 hosted zone id such as Z0123456789ABC',
  );
  const hostedZoneName = r.matching(
    'hostedZoneName',
    DOMAIN_NAME,
    'a lowercase dns zone name such as example.com',
  );
  if (r.has('hostedZoneId') !== r.has('hostedZoneName')) {
    r.problem(
      `hostedZoneId and hostedZoneName go together, got hostedZoneId=${show(r.raw.hostedZoneId)} hostedZoneName=${show(r.raw.hostedZoneName)}`,
    );
  }
  if (r.has('hostedZoneId') && !r.has('domainName')) {
    r.problem(
      `hostedZoneId needs domainName and certificateArn, got hostedZoneId=${show(r.raw.hostedZoneId)}`,
    );
  }
  if (
    domainName &&
    hostedZoneName &&
    domainName !== hostedZoneName &&
    !domainName.endsWith(`.${hostedZoneName}`)
  ) {
    r.problem(`domainName ${show(domainName)} is not inside hostedZoneName ${show(hostedZoneName)}`);
  }
  if (allowPlaintextAudio && r.has('certificateArn')) {
    r.problem('allowPlaintextAudio=true and certificateArn/domainName are both set: drop one');
  }
  if (!certificateArn || !domainName) return { allowPlaintextAudio };
  return {
    allowPlaintextAudio,
    tls: {
      certificateArn,
      domainName,
      ...(hostedZoneId && hostedZoneName ? { hostedZone: { id: hostedZoneId, name: hostedZoneName } } : {}),
    },
  };
}

/** Webhook throttling, logs, and who hears of alarms. */
function readOperations(
  r: Reader,
): Section<'apiRateLimit' | 'apiBurstLimit' | 'logRetentionDays' | 'logLevel' | 'alarmEmail'> {
  const alarmEmail = r.matching('alarmEmail', EMAIL_ADDRESS, 'one e-mail address such as ops@example.com');
  return {
    apiRateLimit: r.integer('apiRateLimit', DEFAULTS.apiRateLimit, 1, 10000),
    apiBurstLimit: r.integer('apiBurstLimit', DEFAULTS.apiBurstLimit, 1, 5000),
    logRetentionDays: r.oneOf('logRetentionDays', LOG_RETENTION_DAYS, DEFAULTS.logRetentionDays),
    logLevel: r.oneOf<LogLevel>('logLevel', LOG_LEVELS, DEFAULTS.logLevel, (v) => v.toUpperCase()),
    ...(alarmEmail ? { alarmEmail } : {}),
  };
}

/**
 * What only the region decides. A load balancer takes ACM certificates from its own region only
 * (https://docs.aws.amazon.com/acm/latest/userguide/acm-regions.html), and the webhooks Lambda's
 * SDK sends GetSecretValue to its own region whatever region the ARN names
 * (https://github.com/aws/aws-sdk-js-v3/issues/7278): either would fail only after deploy.
 */
function checkRegion(
  r: Reader,
  config: Pick<StackConfig, 'tls' | 'signatureSecretArn' | 'allowPlaintextAudio'>,
  region: string | undefined,
): void {
  if (region === undefined || Token.isUnresolved(region)) return;
  const regional = [
    ['certificateArn', config.tls?.certificateArn, `request or import the certificate in ${region}`],
    ['signatureSecretArn', config.signatureSecretArn, `create the secret in ${region} (or a replica there)`],
  ] as const;
  for (const [key, arn, remedy] of regional) {
    const arnRegion = arn?.split(':')[3];
    if (arnRegion !== undefined && arnRegion !== region) {
      r.problem(`${key} is in region ${arnRegion} but the stack deploys to ${region}; ${remedy}`);
    }
  }
  if (!r.has('certificateArn') && !config.allowPlaintextAudio && !VPC_ORIGIN_REGIONS.has(region)) {
    r.problem(
      `the default recorder endpoint (wss:// through a CloudFront VPC origin) is not available in ${region}; ` +
        'set certificateArn and domainName (wss:// at the load balancer), or deploy to a region that has VPC origins',
    );
  }
}

/**
 * Validates raw context and fills in defaults, one section at a time; every problem is collected
 * so one failed synth names them all.
 *
 * @throws {StackConfigError} naming each bad key and the value it was given.
 */
export function parseConfig(raw: RawConfig, target: DeployTarget = {}): StackConfig {
  const r = new Reader(raw);
  const config: StackConfig = {
    ...readCall(r),
    ...readSigning(r),
    ...readStorage(r),
    ...readTasks(r),
    ...readEndpoint(r),
    ...readOperations(r),
    recordingsIndex: r.boolean('recordingsIndex'),
  };
  checkRegion(r, config, target.region);
  if (r.problems.length > 0) throw new StackConfigError(r.problems);
  return config;
}
