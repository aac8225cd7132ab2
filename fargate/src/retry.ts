import { setTimeout as sleep } from 'node:timers/promises';
import { PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { S3_RETRY_DEADLINE_SECONDS } from '../../common/contract.js';
import { describeS3Error, s3HttpStatus } from '../../common/s3-errors.js';
import type { S3Attempts } from '../../common/s3-objects.js';

/** How S3 calls are retried. The audio stays on the scratch disk meanwhile, so waiting costs nothing. */
export interface RetryPolicy {
  /** First back-off delay. @default 200 */
  readonly baseDelayMs?: number;
  /** Longest back-off delay. @default 5000 */
  readonly maxDelayMs?: number;
  /** Give up once this long has passed since the first attempt. @default 600000 (10 minutes) */
  readonly deadlineMs?: number;
  /** Abort one attempt that takes longer than this (a stalled connection). @default 60000 */
  readonly attemptTimeoutMs?: number;
}

/** An operation still failing when its retry deadline passed; `cause` is the last error. */
export class RetryDeadlineError extends Error {
  constructor(
    readonly operation: string,
    readonly attempts: number,
    options: { cause: unknown },
  ) {
    super(
      `${operation} still failing after ${attempts} attempts: ${describeS3Error(options.cause)}`,
      options,
    );
    this.name = 'RetryDeadlineError';
  }
}

/**
 * Client errors that waiting will not cure (bad request, access denied, no such bucket or upload).
 * Everything else (5xx, throttling, timeouts, refused or dropped connections) is retried.
 */
export function isRetryableS3Error(error: unknown): boolean {
  const status = s3HttpStatus(error);
  if (status === undefined) return true;
  // A conditional write raced by another write to the key: S3 says to send it again (the answer
  // is then 412 or success): https://docs.aws.amazon.com/AmazonS3/latest/userguide/conditional-writes.html
  if (status === 409 && (error as { name?: string }).name === 'ConditionalRequestConflict') return true;
  return status >= 500 || status === 408 || status === 429;
}

/** The HTTP status of an S3 error, also through a `RetryDeadlineError` that gave up on one. */
export function httpStatusOf(error: unknown): number | undefined {
  const status = s3HttpStatus(error);
  if (status !== undefined) return status;
  return error instanceof RetryDeadlineError ? httpStatusOf(error.cause) : undefined;
}

/**
 * Runs `attempt` until it succeeds, backing off exponentially with full jitter. Each attempt gets
 * an AbortSignal that fires after `attemptTimeoutMs`, so a stalled request is retried too.
 */
export async function withRetry<T>(
  operation: string,
  attempt: (signal: AbortSignal) => Promise<T>,
  policy: RetryPolicy = {},
  onRetry?: (error: unknown, attempt: number, delayMs: number) => void,
): Promise<T> {
  const baseDelayMs = policy.baseDelayMs ?? 200;
  const maxDelayMs = policy.maxDelayMs ?? 5000;
  const deadline = Date.now() + (policy.deadlineMs ?? S3_RETRY_DEADLINE_SECONDS * 1000);
  const attemptTimeoutMs = policy.attemptTimeoutMs ?? 60_000;
  for (let attempts = 1; ; attempts++) {
    try {
      return await attempt(AbortSignal.timeout(attemptTimeoutMs));
    } catch (error) {
      const delayMs = Math.round(Math.random() * Math.min(maxDelayMs, baseDelayMs * 2 ** (attempts - 1)));
      if (!isRetryableS3Error(error) || Date.now() + delayMs > deadline) {
        throw new RetryDeadlineError(operation, attempts, { cause: error });
      }
      onRetry?.(error, attempts, delayMs);
      await sleep(delayMs);
    }
  }
}

/** The shared S3 helpers' requests (`common/s3-objects.ts`), each retried under `policy`. */
export function retrying(policy?: RetryPolicy): S3Attempts {
  return (operation, request) => withRetry(operation, request, policy);
}

/**
 * SigV4 signs a body held in memory by hashing it (SHA-256) unless the request says
 * `x-amz-content-sha256: UNSIGNED-PAYLOAD`, which S3 accepts in place of the hash
 * (https://docs.aws.amazon.com/AmazonS3/latest/API/sig-v4-header-based-auth.html). Checkpoints
 * carry every byte of every call's audio, already hashed once as it is spooled; TLS protects them
 * on the way, and on AWS the SDK's default CRC32 checksum, which S3 verifies, still goes with them.
 */
function unsignedPayload(command: PutObjectCommand): PutObjectCommand {
  command.middlewareStack.add(
    (next) => async (args) => {
      const request = args.request as { headers?: Record<string, string> };
      if (request.headers) request.headers['x-amz-content-sha256'] = 'UNSIGNED-PAYLOAD';
      return next(args);
    },
    { step: 'build', name: 'unsignedPayload' },
  );
  return command;
}

/**
 * PutObject of a body held in memory, retried: every attempt sends the same bytes. (A stream body
 * needs a fresh stream per attempt instead; see the WAV uploads.)
 */
export async function putObjectWithRetry(
  s3: S3Client,
  bucket: string,
  key: string,
  body: Uint8Array | string,
  contentType: string,
  policy?: RetryPolicy,
  options: { readonly createOnly?: boolean; readonly unsignedPayload?: boolean } = {},
): Promise<void> {
  await withRetry(
    `PutObject ${key}`,
    (abortSignal) => {
      const command = new PutObjectCommand({
        Bucket: bucket,
        Key: key,
        Body: body,
        ContentType: contentType,
        // createOnly: S3 answers 412 instead of writing over an object at the key.
        ...(options.createOnly ? { IfNoneMatch: '*' } : {}),
      });
      return s3.send(options.unsignedPayload ? unsignedPayload(command) : command, { abortSignal });
    },
    policy,
  );
}
