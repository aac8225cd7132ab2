/**
 * The container's configuration, read once from the environment at start. Every problem names
 * the variable, so a bad task definition fails fast with a clear log line.
 */

import {
  DEFAULT_MAX_CALL_SECONDS,
  MAX_CALL_SECONDS_LIMIT,
  RECORDER_PORT,
  RecorderEnv,
} from '../../common/contract.js';

export interface RecorderEnvironment {
  readonly port: number;
  readonly host: string;
  readonly bucket: string;
  /** Where live calls' checkpoints go (`inflight/`); the recordings bucket unless set. */
  readonly checkpointBucket: string;
  /** The per-call token key: by value (local runs) or by Secrets Manager ARN (AWS). */
  readonly callTokenSecret: SecretReference;
  /** Vonage's signature secret; when set, every handshake must carry Vonage's signed JWT. */
  readonly vonageSignatureSecret: SecretReference | undefined;
  /** Oldest handshake JWT accepted, in seconds. */
  readonly signatureMaxAgeSeconds: number;
  /** Custom S3 endpoint (local S3 server); absent on AWS. */
  readonly s3Endpoint: string | undefined;
  readonly region: string | undefined;
  readonly scratchDir: string;
  readonly drainTimeoutMs: number;
  /** The orchestrator's SIGTERM → SIGKILL time: the process exits just before it, drained or not. */
  readonly stopTimeoutMs: number;
  readonly idleTimeoutMs: number;
  readonly maxCallSeconds: number;
  /** Most calls at once (open or finalizing); the upgrade over it gets 503. */
  readonly maxCalls: number;
  /** Sustained audio speed allowed (audio seconds per wall second); 0 turns the limit off. */
  readonly maxAudioSpeed: number;
  /** Audio seconds a sender may run ahead of real time before the speed limit applies. */
  readonly audioBurstSeconds: number;
  /** Most audio (seconds) a crash may lose: a live call's S3 checkpoint interval; 0 turns them off. */
  readonly checkpointSeconds: number;
  /** A task whose `inflight/` objects are all this old is taken as stopped by the sweeper. */
  readonly inflightStaleSeconds: number;
  /**
   * Where recording events go: an EventBridge bus (name or ARN; the stack always sets one), a
   * JSON-lines file (local runs, benchmarks), or nowhere when neither is set.
   */
  readonly recordingEvents: RecordingEventsTarget;
  readonly logLevel: string;
}

/**
 * A secret given by value (`NAME`) or, on AWS, by Secrets Manager ARN (`NAME_ARN`): then the
 * recorder reads it itself, with its previous version, so a rotation needs no new deployment.
 */
export type SecretReference = { readonly value: string } | { readonly arn: string };

export type RecordingEventsTarget =
  | { readonly eventBusName: string }
  | { readonly file: string }
  | { readonly off: true };

/** A missing or malformed environment variable. */
export class RecorderEnvironmentError extends Error {
  constructor(
    readonly variable: string,
    problem: string,
  ) {
    super(`${variable} ${problem}`);
    this.name = 'RecorderEnvironmentError';
  }
}

type Env = Readonly<Record<string, string | undefined>>;

function required(env: Env, name: string): string {
  const value = env[name]?.trim();
  if (!value) throw new RecorderEnvironmentError(name, 'is required');
  return value;
}

const SECRET_ARN = /^arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:\d{12}:secret:\S+$/;

function secretReference(env: Env, name: string, minLength: number): SecretReference | undefined {
  const value = env[name]?.trim();
  const arn = env[`${name}_ARN`]?.trim();
  if (value && arn) throw new RecorderEnvironmentError(name, `and ${name}_ARN are both set; set one`);
  if (arn) {
    if (!SECRET_ARN.test(arn))
      throw new RecorderEnvironmentError(`${name}_ARN`, 'must be a secrets manager secret arn');
    return { arn };
  }
  if (!value) return undefined;
  if (value.length < minLength)
    throw new RecorderEnvironmentError(name, `must be at least ${minLength} characters`);
  return { value };
}

function wholeNumber(env: Env, name: string, fallback: number, min: number, max: number): number {
  const raw = env[name]?.trim();
  if (raw === undefined || raw === '') return fallback;
  if (!/^\d+$/.test(raw))
    throw new RecorderEnvironmentError(name, `must be a whole number, got ${JSON.stringify(raw)}`);
  const value = Number(raw);
  if (value < min || value > max)
    throw new RecorderEnvironmentError(name, `must be between ${min} and ${max}, got ${value}`);
  return value;
}

function decimal(
  env: Env,
  name: string,
  fallback: number,
  check: (value: number) => boolean,
  what: string,
): number {
  const raw = env[name]?.trim();
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!/^\d+(\.\d+)?$/.test(raw) || !check(value))
    throw new RecorderEnvironmentError(name, `must be ${what}, got ${JSON.stringify(raw)}`);
  return value;
}

/** PutEvents takes a bus name (1-256 of `[/\.\-_A-Za-z0-9]`) or a bus ARN. */
const EVENT_BUS_NAME =
  /^([/.\-_A-Za-z0-9]{1,256}|arn:aws[a-z-]*:events:[a-z0-9-]+:\d{12}:event-bus\/[/.\-_A-Za-z0-9]{1,256})$/;

function recordingEvents(env: Env): RecordingEventsTarget {
  const bus = env[RecorderEnv.eventBusName]?.trim();
  const file = env[RecorderEnv.eventsFile]?.trim();
  if (bus && file) {
    throw new RecorderEnvironmentError(
      RecorderEnv.eventsFile,
      `cannot be set with ${RecorderEnv.eventBusName}: events go to one place`,
    );
  }
  if (file) return { file };
  if (!bus) return { off: true };
  if (!EVENT_BUS_NAME.test(bus)) {
    throw new RecorderEnvironmentError(
      RecorderEnv.eventBusName,
      `must be an EventBridge bus name or ARN, got ${JSON.stringify(bus)}`,
    );
  }
  return { eventBusName: bus };
}

const LOG_LEVELS = ['TRACE', 'DEBUG', 'INFO', 'WARN', 'ERROR', 'CRITICAL', 'SILENT'];

/** Reads the recorder's settings from `env` (see fargate/README.md for the list). */
export function loadRecorderEnvironment(env: Env = process.env): RecorderEnvironment {
  const callTokenSecret = secretReference(env, RecorderEnv.callTokenSecret, 32);
  if (!callTokenSecret)
    throw new RecorderEnvironmentError(
      RecorderEnv.callTokenSecret,
      `or ${RecorderEnv.callTokenSecretArn} is required`,
    );
  const vonageSignatureSecret = secretReference(env, RecorderEnv.vonageSignatureSecret, 1);
  const s3Endpoint = env[RecorderEnv.s3Endpoint]?.trim() || undefined;
  if (s3Endpoint !== undefined && !/^https?:\/\/[^/]+/.test(s3Endpoint)) {
    throw new RecorderEnvironmentError(
      'S3_ENDPOINT',
      `must be an http(s) URL, got ${JSON.stringify(s3Endpoint)}`,
    );
  }
  const logLevel = (env[RecorderEnv.logLevel] ?? env.POWERTOOLS_LOG_LEVEL ?? 'INFO').trim().toUpperCase();
  if (!LOG_LEVELS.includes(logLevel)) {
    throw new RecorderEnvironmentError(
      RecorderEnv.logLevel,
      `must be one of ${LOG_LEVELS.join(', ')}, got ${JSON.stringify(logLevel)}`,
    );
  }
  const idleTimeoutSeconds = wholeNumber(env, RecorderEnv.idleTimeoutSeconds, 30, 1, 3600);
  const checkpointSeconds = wholeNumber(env, RecorderEnv.checkpointSeconds, 10, 0, 300);
  // A running task with calls writes a checkpoint batch or its heartbeat every interval, so three
  // missed intervals mean it is gone; the idle timeout on top is a margin for a slow PUT.
  const inflightStaleSeconds = wholeNumber(
    env,
    RecorderEnv.inflightStaleSeconds,
    3 * checkpointSeconds + idleTimeoutSeconds,
    1,
    86_400,
  );
  if (inflightStaleSeconds < 2 * checkpointSeconds) {
    throw new RecorderEnvironmentError(
      RecorderEnv.inflightStaleSeconds,
      `must be at least twice CHECKPOINT_SECONDS (${checkpointSeconds}), got ${inflightStaleSeconds}`,
    );
  }
  const drainTimeoutSeconds = wholeNumber(env, RecorderEnv.drainTimeoutSeconds, 100, 0, 110);
  const stopTimeoutSeconds = wholeNumber(env, RecorderEnv.stopTimeoutSeconds, 120, 2, 86_400);
  if (drainTimeoutSeconds >= stopTimeoutSeconds) {
    throw new RecorderEnvironmentError(
      RecorderEnv.drainTimeoutSeconds,
      `must be less than STOP_TIMEOUT_SECONDS (${stopTimeoutSeconds}), got ${drainTimeoutSeconds}`,
    );
  }
  const bucket = required(env, RecorderEnv.recordingsBucket);
  return {
    // 0 picks a free port (tests).
    port: wholeNumber(env, RecorderEnv.port, RECORDER_PORT, 0, 65535),
    host: env[RecorderEnv.host]?.trim() || '0.0.0.0',
    bucket,
    checkpointBucket: env[RecorderEnv.checkpointBucket]?.trim() || bucket,
    callTokenSecret,
    vonageSignatureSecret,
    signatureMaxAgeSeconds: wholeNumber(env, RecorderEnv.signatureMaxAgeSeconds, 300, 10, 3600),
    s3Endpoint,
    region: env.AWS_REGION?.trim() || undefined,
    scratchDir: env[RecorderEnv.scratchDir]?.trim() || '/scratch',
    // Fargate stops a task 120 s after SIGTERM: the drain must end before, finalization included.
    drainTimeoutMs: drainTimeoutSeconds * 1000,
    stopTimeoutMs: stopTimeoutSeconds * 1000,
    idleTimeoutMs: idleTimeoutSeconds * 1000,
    maxCallSeconds: wholeNumber(
      env,
      RecorderEnv.maxCallSeconds,
      DEFAULT_MAX_CALL_SECONDS,
      1,
      MAX_CALL_SECONDS_LIMIT,
    ),
    // The stack sets it from the task size (lib/capacity.ts); 500 is what one core was measured to carry.
    maxCalls: wholeNumber(env, RecorderEnv.maxCalls, 500, 1, 100_000),
    maxAudioSpeed: decimal(
      env,
      RecorderEnv.maxAudioSpeed,
      1.25,
      (v) => v === 0 || v >= 1,
      '0 (off) or a number of at least 1',
    ),
    audioBurstSeconds: wholeNumber(env, RecorderEnv.audioBurstSeconds, 120, 1, 7200),
    checkpointSeconds,
    inflightStaleSeconds,
    recordingEvents: recordingEvents(env),
    logLevel,
  };
}
