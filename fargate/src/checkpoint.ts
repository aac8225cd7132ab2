import { performance } from 'node:perf_hooks';
import type { Logger } from '@aws-lambda-powertools/logger';
import type { S3Client } from '@aws-sdk/client-s3';
import { checkpointBatchKey, inflightTaskPrefix, taskAliveKey } from '../../common/recording-keys.js';
import type { CallIdentity } from '../../common/recording-metadata.js';
import { describeS3Error } from '../../common/s3-errors.js';
import { deleteKeys, listObjects } from '../../common/s3-objects.js';
import { putObjectWithRetry, type RetryPolicy, retrying } from './retry.js';
import type { AudioSpool } from './spool.js';
import type { TransferLimiter } from './transfer-limiter.js';

/** What a sweeper needs to store a call whose recorder vanished with its disk. */
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

/** One call's share of a batch. */
export interface BatchEntry {
  readonly uuid: string;
  /** Where this audio starts in the call's PCM, in bytes. */
  readonly offset: number;
  /** Bytes of audio; 0 when the entry only carries `call`. */
  readonly length: number;
  /** Where the audio starts in the batch, counted from the byte after the index line. */
  readonly at: number;
  /** The call's identity: in its first batch, and again whenever it changes (the upload id). */
  readonly call?: InflightCall;
}

/** The first line of a batch object. */
export interface BatchIndex {
  readonly format: 'checkpoint-batch';
  readonly version: 1;
  readonly taskId: string;
  readonly seq: number;
  readonly writtenAt: string;
  readonly entries: readonly BatchEntry[];
}

/** A checkpoint or an `inflight/` clean-up that failed; the calls themselves go on. */
export class CheckpointError extends Error {
  constructor(message: string, options?: { cause: unknown }) {
    super(message, options);
    this.name = 'CheckpointError';
  }
}

/**
 * One call's audio in one batch is at most this much (33 s at 16 kHz): after an S3 outage a call
 * catches up a bounded piece per batch.
 */
export const MAX_SEGMENT_BYTES = 1024 * 1024;

/**
 * A batch object (index and audio) is at most this much; more due audio goes in further batches
 * of the same tick. The checkpoint limiter's pooled buffers are this size.
 */
export const MAX_BATCH_BYTES = 4 * 1024 * 1024;

/** A failing batch gives up after this long; its calls go in a later batch. */
const CHECKPOINT_DEADLINE_MS = 60_000;

/** Removing stored calls' batches gives up after this long (leftovers are swept later). */
const DELETE_DEADLINE_MS = 10_000;

/**
 * Index bytes an entry may take besides its `call`: the uuid (at most 128), three numbers and the
 * JSON punctuation; an upper bound, so the index always fits the room kept for it.
 */
const ENTRY_INDEX_BYTES = 256;
const INDEX_FRAME_BYTES = 512;

export interface CheckpointStoreOptions {
  readonly s3: S3Client;
  readonly bucket: string;
  /** Names this process's objects (`inflight/<taskId>/`): the recorder's task id. */
  readonly taskId: string;
  /**
   * The checkpoint interval: a call's audio goes to S3 about this often, and a task whose calls
   * are quiet still writes its heartbeat this often.
   */
  readonly intervalMs: number;
  /** How often due calls are gathered into batches. @default a tenth of the interval, 100..1000 ms */
  readonly tickMs?: number;
  /** Bounds batch buffers (`bufferBytes` should be MAX_BATCH_BYTES): its concurrency is batches in flight. */
  readonly limiter: TransferLimiter;
  readonly retry?: RetryPolicy;
  readonly logger: Logger;
  /** Told of each batch or clean-up given up on (for a metric). */
  readonly onFailed?: (error: CheckpointError) => void;
}

export interface CallCheckpointOptions {
  readonly call: InflightCall;
  readonly spool: AudioSpool;
  /** The call is due once this long has passed since its last checkpoint began... */
  readonly intervalMs: number;
  /** ...or once this much audio is waiting (the interval's worth). */
  readonly intervalBytes: number;
  /**
   * The first audio checkpoint comes after this fraction of the interval, so calls that start
   * together (a campaign, a reconnect storm) are not due in the same tick ever after: batches stay
   * even instead of one large one every interval. Earlier, never later, so the loss bound holds.
   * @default random in [0.5, 1)
   */
  readonly firstCheckpointFraction?: number;
}

interface Batch {
  readonly key: string;
  /** Calls with data (or identity) in this batch: it is deleted once all are stored. */
  readonly members: Set<CallCheckpoint>;
  inFlight: boolean;
}

/** A batch being gathered: its entries, the room kept for its index line, and its audio bytes. */
interface PlannedBatch {
  readonly entries: PlannedEntry[];
  room: number;
  audioBytes: number;
}

function newPlannedBatch(): PlannedBatch {
  return { entries: [], room: INDEX_FRAME_BYTES, audioBytes: 0 };
}

interface PlannedEntry {
  readonly checkpoint: CallCheckpoint;
  readonly offset: number;
  readonly length: number;
  /** The identity, when it is due, and its JSON (for its size, and to tell whether it changed). */
  readonly call: InflightCall | undefined;
  readonly callJson: string | undefined;
}

/**
 * Copies live calls' audio to S3 as it reaches their spool files, so a crash that takes the task's
 * disk with it loses at most one interval (plus the spool batch not yet on disk).
 *
 * Every tick, the calls due (an interval's worth of audio waiting, or an interval since their last
 * checkpoint) go together in one object, `inflight/<taskId>/<seq>.batch`: a JSON index line
 * (`BatchIndex`), then each call's new audio. One PUT carries many calls, so the request rate follows
 * the audio rate, not the number of calls: at 2000 calls at 16 kHz (64 MB of audio a second),
 * about 16 PUTs a second of 4 MiB instead of 200 (each costs ~2 ms of CPU in the SDK, and is billed).
 *
 * A call's identity rides in its first batch (and again when its upload id changes). A batch is
 * deleted once every call in it is stored. A task with live calls but nothing due writes
 * `alive.json` every interval, so a sweeper can tell a stopped task (newest object stale) from a
 * quiet one. Batches run in the background, at most the limiter's concurrency at once, a call in
 * at most one of them; a failure is logged and counted, never fatal to a call: its spool file
 * still holds everything, and the next tick sends the same range again.
 */
export class CheckpointStore {
  readonly taskId: string;
  readonly tickMs: number;
  readonly #calls = new Set<CallCheckpoint>();
  readonly #batches = new Map<number, Batch>();
  #seq = 0;
  /** When the last batch or heartbeat began: a heartbeat is due an interval later. */
  #lastWriteAt = performance.now();
  #beating = false;
  #timer: NodeJS.Timeout | undefined;
  readonly #pendingDeletes: string[] = [];
  #deleting: Promise<void> | undefined;
  #closed = false;

  constructor(private readonly options: CheckpointStoreOptions) {
    if (!(options.intervalMs > 0)) throw new RangeError('checkpoint interval must be positive');
    this.taskId = options.taskId;
    // Validates the id now rather than at the first batch.
    inflightTaskPrefix(this.taskId);
    this.tickMs = options.tickMs ?? Math.min(1000, Math.max(100, options.intervalMs / 10));
  }

  /** Starts checkpointing a call: its identity goes in the next batch. */
  open(options: CallCheckpointOptions): CallCheckpoint {
    if (!(options.intervalMs > 0) || !(options.intervalBytes > 0)) {
      throw new RangeError('checkpoint interval must be positive');
    }
    const checkpoint = new CallCheckpoint(options, (done) => this.#release(done));
    this.#calls.add(checkpoint);
    if (!this.#timer && !this.#closed) {
      this.#timer = setInterval(() => this.#tick(), this.tickMs);
      this.#timer.unref();
    }
    return checkpoint;
  }

  #tick(): void {
    if (this.#closed) return;
    const now = performance.now();
    let batch = newPlannedBatch();
    for (const checkpoint of this.#calls) {
      const entry = checkpoint.plan(now);
      if (!entry) continue;
      const room = ENTRY_INDEX_BYTES + Buffer.byteLength(entry.callJson ?? '');
      if (batch.entries.length > 0 && batch.room + batch.audioBytes + room + entry.length > MAX_BATCH_BYTES) {
        this.#send(batch);
        batch = newPlannedBatch();
      }
      checkpoint.inFlight = true;
      if (entry.length > 0) checkpoint.lastStartedAt = now;
      batch.entries.push(entry);
      batch.room += room;
      batch.audioBytes += entry.length;
    }
    if (batch.entries.length > 0) this.#send(batch);
    else if (this.#calls.size > 0 && now - this.#lastWriteAt >= this.options.intervalMs) this.#beat(now);
    if (this.#pendingDeletes.length > 0 && !this.#deleting) this.#deletePending();
  }

  #send(planned: PlannedBatch): void {
    const { entries } = planned;
    const seq = ++this.#seq;
    const batch: Batch = {
      key: checkpointBatchKey(this.taskId, seq),
      members: new Set(entries.map((entry) => entry.checkpoint)),
      inFlight: true,
    };
    this.#batches.set(seq, batch);
    // Membership starts before the PUT: an attempt reported failed may still have landed, and
    // then it too must go once its calls are stored.
    for (const entry of entries) entry.checkpoint.batches.add(seq);
    this.#lastWriteAt = performance.now();
    this.#put(seq, batch.key, planned)
      .catch((error: unknown) => {
        const failure =
          error instanceof CheckpointError
            ? error
            : new CheckpointError(`checkpoint batch failed: ${describeS3Error(error)}`, { cause: error });
        this.options.logger.warn('checkpointing audio to S3 failed; the calls go on', {
          key: batch.key,
          calls: entries.length,
          error: failure,
        });
        this.options.onFailed?.(failure);
      })
      .finally(() => {
        for (const entry of entries) entry.checkpoint.inFlight = false;
        batch.inFlight = false;
        this.#collect(seq);
      });
  }

  async #put(seq: number, key: string, planned: PlannedBatch): Promise<void> {
    const { s3, bucket, limiter } = this.options;
    const { room, audioBytes } = planned;
    // Filled inside the limiter slot, in one of its reused buffers: the audio goes after room
    // kept for the index, which is then written just before it, so the body is one buffer.
    await limiter.runWithBuffer(false, room + audioBytes, async (buffer) => {
      const entries: BatchEntry[] = [];
      const sent: PlannedEntry[] = [];
      let at = 0;
      for (const entry of planned.entries) {
        let length = entry.length;
        if (length > 0) {
          try {
            await entry.checkpoint.spool.readInto(buffer, room + at, entry.offset, length);
          } catch (error) {
            // Stored or given up on meanwhile (its spool file closed), or a disk error: no more of
            // this call's audio can be read. Its identity, if due, still goes (a sweeper then at
            // least knows the call), and so do the other calls.
            entry.checkpoint.markUnreadable();
            if (!entry.checkpoint.stopped) {
              this.options.logger.warn(
                'reading audio for a checkpoint failed; the call goes on unprotected',
                {
                  callUuid: entry.checkpoint.uuid,
                  error,
                },
              );
            }
            length = 0;
          }
        }
        if (length === 0 && entry.call === undefined) continue;
        entries.push({
          uuid: entry.checkpoint.uuid,
          offset: entry.offset,
          length,
          at,
          ...(entry.call === undefined ? {} : { call: entry.call }),
        });
        sent.push(length === entry.length ? entry : { ...entry, length });
        at += length;
      }
      if (entries.length === 0) return;
      const index: BatchIndex = {
        format: 'checkpoint-batch',
        version: 1,
        taskId: this.taskId,
        seq,
        writtenAt: new Date().toISOString(),
        entries,
      };
      const line = Buffer.from(`${JSON.stringify(index)}\n`);
      let body: Buffer;
      if (line.length <= room) {
        line.copy(buffer, room - line.length);
        body = buffer.subarray(room - line.length, room + at);
      } else {
        // Not expected (the room is an upper bound); correct anyway, at the cost of a copy.
        body = Buffer.concat([line, buffer.subarray(room, room + at)]);
      }
      await putObjectWithRetry(
        s3,
        bucket,
        key,
        body,
        'application/octet-stream',
        this.#policy(CHECKPOINT_DEADLINE_MS),
        { unsignedPayload: true },
      );
      for (const entry of sent) entry.checkpoint.confirm(entry.offset + entry.length, entry.callJson);
    });
  }

  #policy(deadlineMs: number): RetryPolicy {
    return {
      ...this.options.retry,
      deadlineMs: Math.min(this.options.retry?.deadlineMs ?? deadlineMs, deadlineMs),
    };
  }

  /** `alive.json`: the task is running and has calls, though none had audio due. */
  #beat(now: number): void {
    if (this.#beating) return;
    this.#beating = true;
    this.#lastWriteAt = now;
    const { s3, bucket } = this.options;
    const body = JSON.stringify({
      taskId: this.taskId,
      calls: this.#calls.size,
      at: new Date().toISOString(),
    });
    putObjectWithRetry(
      s3,
      bucket,
      taskAliveKey(this.taskId),
      body,
      'application/json',
      this.#policy(this.options.intervalMs),
    )
      .catch((error: unknown) => this.options.logger.warn('writing the task heartbeat failed', { error }))
      .finally(() => {
        this.#beating = false;
      });
  }

  /** A call is stored: the batches holding only stored calls can go. */
  #release(checkpoint: CallCheckpoint): void {
    this.#calls.delete(checkpoint);
    for (const seq of checkpoint.batches) {
      this.#batches.get(seq)?.members.delete(checkpoint);
      this.#collect(seq);
    }
    checkpoint.batches.clear();
  }

  #collect(seq: number): void {
    const batch = this.#batches.get(seq);
    if (!batch || batch.inFlight || batch.members.size > 0) return;
    this.#batches.delete(seq);
    this.#pendingDeletes.push(batch.key);
  }

  #deletePending(): void {
    const keys = this.#pendingDeletes.splice(0, 1000);
    this.#deleting = deleteKeys(
      this.options.s3,
      this.options.bucket,
      keys,
      retrying(this.#policy(DELETE_DEADLINE_MS)),
    )
      .catch((error: unknown) => {
        const failure = new CheckpointError(`removing ${keys.length} checkpoint batches failed`, {
          cause: error,
        });
        this.options.logger.warn(
          "removing stored calls' checkpoints failed; a sweeper or the lifecycle rule will",
          {
            error: failure,
          },
        );
        this.options.onFailed?.(failure);
      })
      .finally(() => {
        this.#deleting = undefined;
      });
  }

  /**
   * Stops batching, then removes what stored calls left (and the heartbeat). Batches of calls not
   * stored stay: with the disk gone they are what a sweeper recovers. A batch PUT still in flight
   * is not waited for; if it lands, a sweeper removes it (its calls are stored).
   */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    clearInterval(this.#timer);
    await this.#deleting;
    this.#pendingDeletes.push(taskAliveKey(this.taskId));
    while (this.#pendingDeletes.length > 0) {
      this.#deletePending();
      await this.#deleting;
    }
  }
}

/**
 * One call's checkpoints, from `CheckpointStore.open`. The store reads its audio from the spool
 * file every tick it is due; the call reports hangup (`stop`) and its stored recording (`finish`).
 */
export class CallCheckpoint {
  /** Bytes of the spool file safely in S3. */
  #checkpointed = 0;
  #call: InflightCall;
  #callJson: string;
  /** The identity (or a newer upload id) is not yet in a stored batch. */
  #identityPending = true;
  #stopped = false;
  #unreadable = false;
  readonly #waiters: ((caughtUp: boolean) => void)[] = [];
  readonly #firstFraction: number;
  /** Set by the store: when this call's last audio checkpoint began. */
  lastStartedAt = performance.now();
  /** Set by the store while a batch holding this call is being written. */
  inFlight = false;
  /** Sequence numbers of the batches that may hold this call's data. */
  readonly batches = new Set<number>();

  constructor(
    private readonly options: CallCheckpointOptions,
    private readonly release: (checkpoint: CallCheckpoint) => void,
  ) {
    this.#call = options.call;
    this.#callJson = JSON.stringify(this.#call);
    this.#firstFraction = Math.min(
      1,
      Math.max(0.1, options.firstCheckpointFraction ?? 0.5 + Math.random() * 0.5),
    );
  }

  get uuid(): string {
    return this.#call.identity.uuid;
  }

  get spool(): AudioSpool {
    return this.options.spool;
  }

  get stopped(): boolean {
    return this.#stopped;
  }

  /** Audio bytes in S3 so far. */
  get checkpointedBytes(): number {
    return this.#checkpointed;
  }

  /** The call's multipart upload was created: the next batch names it, for a sweeper to abort. */
  setUploadId(uploadId: string): void {
    this.#call = { ...this.#call, uploadId };
    this.#callJson = JSON.stringify(this.#call);
    this.#identityPending = true;
  }

  /** What the call puts in a batch now, if anything. */
  plan(now: number): PlannedEntry | undefined {
    if (this.inFlight || this.#unreadable) return undefined;
    const waiting = this.options.spool.storedBytes - this.#checkpointed;
    let due: boolean;
    if (this.#stopped) {
      // Hung up, recording not yet stored: the tail goes up too, so a recording that cannot be
      // stored loses nothing to a lost disk either.
      due = waiting > 0;
    } else {
      const scale = this.#checkpointed === 0 ? this.#firstFraction : 1;
      due =
        waiting > 0 &&
        (waiting >= this.options.intervalBytes * scale ||
          now - this.lastStartedAt >= this.options.intervalMs * scale);
    }
    if (!due && !this.#identityPending) return undefined;
    return {
      checkpoint: this,
      offset: this.#checkpointed,
      length: due ? Math.min(waiting, MAX_SEGMENT_BYTES) : 0,
      call: this.#identityPending ? this.#call : undefined,
      callJson: this.#identityPending ? this.#callJson : undefined,
    };
  }

  /** Its spool file cannot be read (closed after a failed recording, or a disk error): audio stops. */
  markUnreadable(): void {
    this.#unreadable = true;
    // No more of its audio can go up: whoever waits for the tail stops waiting.
    for (const wake of this.#waiters.splice(0)) wake(false);
  }

  /** A batch holding this call's audio up to `end` (and, if given, this identity) is stored. */
  confirm(end: number, callJson: string | undefined): void {
    this.#checkpointed = Math.max(this.#checkpointed, end);
    if (callJson !== undefined && callJson === this.#callJson) this.#identityPending = false;
    if (this.#caughtUp()) for (const wake of this.#waiters.splice(0)) wake(true);
  }

  #caughtUp(): boolean {
    return !this.#identityPending && this.#checkpointed >= this.options.spool.storedBytes;
  }

  /**
   * Resolves true once everything on disk (and the identity) is in S3; false after `timeoutMs`, or
   * once its audio cannot be read. A call whose recording could not be stored waits for this
   * before closing its spool file, so its tail is protected too.
   */
  caughtUp(timeoutMs: number): Promise<boolean> {
    if (this.#caughtUp()) return Promise.resolve(true);
    if (this.#unreadable) return Promise.resolve(false);
    return new Promise((resolve) => {
      const timer = setTimeout(() => resolve(false), timeoutMs);
      this.#waiters.push((caughtUp) => {
        clearTimeout(timer);
        resolve(caughtUp);
      });
    });
  }

  /**
   * The call hung up: what is left of its audio (the tail) goes in the next batch, and what is in
   * S3 stays until `finish`; without `finish` (the recording could not be stored) a sweeper takes
   * the checkpoints once this task is gone.
   */
  stop(): void {
    this.#stopped = true;
  }

  /**
   * The recording is stored: the call leaves the batches, and each batch left with no call to
   * protect is deleted on a coming tick. Never throws; a failed delete is logged (a sweeper, or the
   * bucket's lifecycle rule, removes it later, and a sweeper never replaces a stored recording).
   */
  finish(): void {
    this.#stopped = true;
    this.release(this);
  }
}

/** Deletes everything a task has under `inflight/` (once all its calls are stored some other way). */
export async function deleteInflightTask(
  s3: S3Client,
  bucket: string,
  taskId: string,
  retry?: RetryPolicy,
): Promise<number> {
  const keys: string[] = [];
  for await (const object of listObjects(s3, bucket, inflightTaskPrefix(taskId), {
    attempts: retrying(retry),
  }))
    keys.push(object.key);
  await deleteKeys(s3, bucket, keys, retrying(retry));
  return keys.length;
}
