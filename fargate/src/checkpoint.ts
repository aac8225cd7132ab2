import { performance } from 'node:perf_hooks';
import type { Logger } from '@aws-lambda-powertools/logger';
import {
  DeleteObjectsCommand,
  ListObjectsCommand,
  type ObjectIdentifier,
  PutObjectCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import { checkpointKey, inflightCallKey, inflightPrefix } from '../../common/recording-keys.js';
import type { CallIdentity } from '../../common/recording-metadata.js';
import { type RetryPolicy, type TransferLimiter, withRetry } from './retry.js';
import type { AudioSpool } from './spool.js';

/**
 * What a sweeper needs to store a call whose recorder vanished with its disk:
 * `inflight/<uuid>/call.json`.
 */
export interface InflightCall {
  readonly schemaVersion: 1;
  readonly identity: CallIdentity;
  /** The `websocket:connected` frame's other headers. */
  readonly headers: Record<string, unknown>;
  /** The recording's key. */
  readonly key: string;
  /** The call's multipart upload, once created (a sweeper aborts it). */
  readonly uploadId: string | null;
}

/** A checkpoint or an `inflight/` clean-up that failed; the call itself goes on. */
export class CheckpointError extends Error {
  constructor(message: string, options?: { cause: unknown }) {
    super(message, options);
    this.name = 'CheckpointError';
  }
}

/**
 * One checkpoint object holds at most this much audio (33 s at 16 kHz), so catching up after an
 * S3 outage goes in bounded buffers: the checkpoint limiter's pooled buffers are this size.
 */
export const MAX_CHECKPOINT_BYTES = 1024 * 1024;

/** A failing checkpoint gives up after this long; the next batch on disk starts a new attempt. */
const CHECKPOINT_DEADLINE_MS = 60_000;

/** Removing a stored call's checkpoints gives up after this long (leftovers are swept later). */
const FINISH_DEADLINE_MS = 10_000;

export interface CallCheckpointerOptions {
  readonly s3: S3Client;
  readonly bucket: string;
  readonly spool: AudioSpool;
  readonly call: InflightCall;
  /** Checkpoint once this long has passed since the last one began... */
  readonly intervalMs: number;
  /** ...or once this much audio is waiting (the interval's worth). */
  readonly intervalBytes: number;
  /** Bounds checkpoint buffers across all calls (shared by every call of the process). */
  readonly limiter: TransferLimiter;
  readonly retry?: RetryPolicy;
  readonly logger: Logger;
  /** Told of each checkpoint or clean-up given up on (for a metric). */
  readonly onFailed?: (error: CheckpointError) => void;
  /**
   * The first audio checkpoint comes after this fraction of the interval, so calls that start
   * together (a campaign, a reconnect storm) do not checkpoint in lockstep ever after: their PUTs
   * would arrive as one burst every interval and stall frame intake. Earlier, never later, so the
   * loss bound holds. @default random in [0.5, 1)
   */
  readonly firstCheckpointFraction?: number;
}

/**
 * Copies a live call's audio to S3 as it reaches the spool file, so a crash that takes the task's
 * disk with it loses at most one interval (plus the batch not yet on disk): `inflight/<uuid>/`
 * holds `call.json` and one `<offset>.pcm` object per checkpoint, each the PCM spooled since the
 * previous one, read back from the file (memory stays one bounded buffer, inside the limiter).
 *
 * Checkpoints run one at a time per call in the background, never in the way of frames or of the
 * recording's own upload, and a failure is logged and counted, never fatal to the call: the
 * spool file still holds everything. Once the recording is stored, `finish` deletes them.
 */
export class CallCheckpointer {
  /** Bytes of the spool file safely in S3. */
  #checkpointed = 0;
  #lastStartedAt = performance.now();
  #callStored = false;
  #call: InflightCall;
  #running: Promise<void> | undefined;
  #stopped = false;
  /** Set once `finish` removed the checkpoints: a PUT landing later removes its own. */
  #finished = false;
  /** The offset of every checkpoint stored, for the clean-up (numbers: a few KiB for a 2-hour call). */
  readonly #offsets: number[] = [];

  readonly #firstFraction: number;

  constructor(private readonly options: CallCheckpointerOptions) {
    if (!(options.intervalMs > 0) || !(options.intervalBytes > 0)) {
      throw new RangeError('checkpoint interval must be positive');
    }
    this.#call = options.call;
    this.#firstFraction = Math.min(
      1,
      Math.max(0.1, options.firstCheckpointFraction ?? 0.5 + Math.random() * 0.5),
    );
  }

  /** Audio bytes in S3 so far. */
  get checkpointedBytes(): number {
    return this.#checkpointed;
  }

  #log(): { callUuid: string } {
    return { callUuid: this.#call.identity.uuid };
  }

  /** Stores `call.json` now, so the first audio checkpoint does not wait for it. */
  start(): void {
    this.#kick();
  }

  /** The call's multipart upload was created: `call.json` names it, for a sweeper to abort. */
  setUploadId(uploadId: string): void {
    this.#call = { ...this.#call, uploadId };
    this.#callStored = false;
  }

  /** Called after each batch reaches the disk: checkpoints once an interval's worth is waiting. */
  progress(storedBytes: number): void {
    if (this.#stopped || this.#running || storedBytes <= this.#checkpointed) return;
    const waiting = storedBytes - this.#checkpointed;
    const elapsed = performance.now() - this.#lastStartedAt;
    const scale = this.#offsets.length === 0 ? this.#firstFraction : 1;
    if (waiting < this.options.intervalBytes * scale && elapsed < this.options.intervalMs * scale) return;
    this.#kick();
  }

  #kick(): void {
    if (this.#stopped || this.#running) return;
    this.#running = this.#run()
      .catch((error: unknown) => {
        // Stopped at hangup: the spool file may have been closed under a queued checkpoint.
        if (this.#stopped) return;
        const failure =
          error instanceof CheckpointError
            ? error
            : new CheckpointError(`checkpoint failed: ${(error as Error).message}`, { cause: error });
        this.options.logger.warn('checkpointing audio to S3 failed; the call goes on', {
          ...this.#log(),
          checkpointedBytes: this.#checkpointed,
          error: failure,
        });
        this.options.onFailed?.(failure);
      })
      .finally(() => {
        this.#running = undefined;
      });
  }

  #policy(): RetryPolicy {
    const deadlineMs = Math.min(
      this.options.retry?.deadlineMs ?? CHECKPOINT_DEADLINE_MS,
      CHECKPOINT_DEADLINE_MS,
    );
    return { ...this.options.retry, deadlineMs };
  }

  /** PUTs `length` bytes that `fill` writes into the buffer it is lent. */
  async #put(
    key: string,
    length: number,
    fill: (buffer: Buffer) => Promise<void>,
    contentType: string,
  ): Promise<void> {
    const { s3, bucket, limiter } = this.options;
    await withRetry(
      `PutObject ${key}`,
      (abortSignal) =>
        // Filled inside the limiter slot, in one of its reused buffers: only `concurrency`
        // checkpoint buffers ever exist, and a checkpoint leaves no garbage behind.
        limiter.runWithBuffer(false, length, async (data) => {
          await fill(data);
          await s3.send(
            new PutObjectCommand({
              Bucket: bucket,
              Key: key,
              Body: data,
              ContentLength: data.length,
              ContentType: contentType,
            }),
            { abortSignal },
          );
        }),
      this.#policy(),
    );
  }

  async #run(): Promise<void> {
    const uuid = this.#call.identity.uuid;
    if (!this.#callStored) {
      const call = this.#call;
      const json = Buffer.from(`${JSON.stringify(call)}\n`);
      await this.#put(
        inflightCallKey(uuid),
        json.length,
        async (buffer) => void json.copy(buffer),
        'application/json',
      );
      // A newer upload id may have arrived meanwhile; then it goes up next time.
      if (call === this.#call) this.#callStored = true;
      if (this.#finished) await this.#deleteLate([inflightCallKey(uuid)]);
    }
    const { spool } = this.options;
    while (!this.#stopped && spool.storedBytes > this.#checkpointed) {
      const offset = this.#checkpointed;
      // The range is fixed before the first attempt: a retried PUT of the same key carries the
      // same bytes, so an attempt that lands late cannot leave a shorter object behind.
      const end = Math.min(spool.storedBytes, offset + MAX_CHECKPOINT_BYTES);
      const key = checkpointKey(uuid, offset);
      this.#lastStartedAt = performance.now();
      await this.#put(
        key,
        end - offset,
        (buffer) => spool.readInto(buffer, 0, offset, buffer.length),
        'application/octet-stream',
      );
      this.#checkpointed = end;
      this.#offsets.push(offset);
      if (this.#finished) await this.#deleteLate([key]);
      // Caught up unless the outage left more than one object's worth waiting.
      if (end - offset < MAX_CHECKPOINT_BYTES) return;
    }
  }

  /** A PUT that landed after `finish` removed the rest. */
  async #deleteLate(keys: string[]): Promise<void> {
    await deleteKeys(this.options.s3, this.options.bucket, keys, this.#policy()).catch((error: unknown) =>
      this.options.logger.warn('removing a late checkpoint failed; a sweeper or the lifecycle rule will', {
        ...this.#log(),
        keys,
        error,
      }),
    );
  }

  /**
   * Stops checkpointing (at hangup: the spool file is about to be uploaded, then removed) and keeps
   * what is in S3 until `finish`; without `finish` (the recording could not be stored) a sweeper
   * takes the checkpoints.
   */
  stop(): void {
    this.#stopped = true;
  }

  /**
   * The recording is stored: stops checkpointing and deletes the call's `inflight/` objects.
   * Never throws; a failed delete is logged (a sweeper, or the bucket's lifecycle rule, removes
   * them later, and a sweeper never replaces a stored recording).
   */
  async finish(): Promise<void> {
    this.#stopped = true;
    this.#finished = true;
    const uuid = this.#call.identity.uuid;
    const keys = [inflightCallKey(uuid), ...this.#offsets.map((offset) => checkpointKey(uuid, offset))];
    try {
      // Kept short: a stored call waits on this before counting as done (a drain waits for it).
      await deleteKeys(this.options.s3, this.options.bucket, keys, {
        ...this.options.retry,
        deadlineMs: FINISH_DEADLINE_MS,
      });
    } catch (error) {
      const failure = new CheckpointError(`removing ${keys.length} inflight objects failed`, {
        cause: error,
      });
      this.options.logger.warn('removing the call checkpoints failed; a sweeper or the lifecycle rule will', {
        ...this.#log(),
        error: failure,
      });
      this.options.onFailed?.(failure);
    }
  }
}

/** Deletes keys, up to 1000 per request; a key that could not be deleted fails the whole call. */
export async function deleteKeys(
  s3: S3Client,
  bucket: string,
  keys: readonly string[],
  retry?: RetryPolicy,
): Promise<void> {
  for (let start = 0; start < keys.length; start += 1000) {
    const objects: ObjectIdentifier[] = keys.slice(start, start + 1000).map((Key) => ({ Key }));
    const result = await withRetry(
      `DeleteObjects ${objects.length} keys`,
      (abortSignal) =>
        s3.send(new DeleteObjectsCommand({ Bucket: bucket, Delete: { Objects: objects, Quiet: true } }), {
          abortSignal,
        }),
      retry,
    );
    const failed = result.Errors ?? [];
    if (failed.length > 0) {
      throw new CheckpointError(
        `DeleteObjects left ${failed.length} keys, e.g. ${failed[0]?.Key}: ${failed[0]?.Code} ${failed[0]?.Message}`,
      );
    }
  }
}

/** One object of a listing. */
export interface ListedObject {
  readonly key: string;
  readonly size: number;
  readonly lastModified: Date | undefined;
}

/**
 * Every object under a prefix, a page at a time. ListObjects (v1) with `Marker`: the local S3
 * server (s3rver 3.7) cannot page ListObjectsV2 under Node's OpenSSL 3 (its continuation tokens
 * use DES), so v2 would stop at 1000 keys locally; S3 lists the same keys either way.
 */
export async function* listObjects(
  s3: S3Client,
  bucket: string,
  prefix: string,
  retry?: RetryPolicy,
): AsyncGenerator<ListedObject> {
  let marker: string | undefined;
  for (;;) {
    const page = await withRetry(
      `ListObjects ${prefix}`,
      (abortSignal) =>
        s3.send(
          new ListObjectsCommand({ Bucket: bucket, Prefix: prefix, ...(marker ? { Marker: marker } : {}) }),
          { abortSignal },
        ),
      retry,
    );
    const contents = page.Contents ?? [];
    for (const object of contents) {
      if (object.Key) yield { key: object.Key, size: object.Size ?? 0, lastModified: object.LastModified };
    }
    // Without a delimiter S3 sends no NextMarker: the last key is the next page's marker.
    const last = page.NextMarker ?? contents.at(-1)?.Key;
    if (!page.IsTruncated || !last) return;
    marker = last;
  }
}

/** Deletes everything a call has under `inflight/` (after its recording was stored some other way). */
export async function deleteInflight(
  s3: S3Client,
  bucket: string,
  callUuid: string,
  retry?: RetryPolicy,
): Promise<number> {
  const keys: string[] = [];
  for await (const object of listObjects(s3, bucket, inflightPrefix(callUuid), retry)) keys.push(object.key);
  await deleteKeys(s3, bucket, keys, retry);
  return keys.length;
}
