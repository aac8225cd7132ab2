import { open, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from '@aws-lambda-powertools/logger';
import type { S3Client } from '@aws-sdk/client-s3';
import {
  INFLIGHT_PREFIX,
  metadataKey,
  parseInflightKey,
  recordingKey,
  recordingStem,
} from '../../common/recording-keys.js';
import { deleteKeys, getObject, type ListedObject, listObjects } from '../../common/s3-objects.js';
import { WAV_HEADER_BYTES } from '../../common/wav.js';
import { type BatchIndex, type InflightCall, MAX_BATCH_BYTES } from './checkpoint.js';
import { type RecordingEventReporter, recoveredEvent } from './recording-event-reporter.js';
import { abortEarlierUpload, storeInterrupted } from './recovery.js';
import { type RetryPolicy, retrying } from './retry.js';
import { reopenSpool } from './spool.js';
import type { TransferLimiter } from './transfer-limiter.js';
import { RecordingExistsError } from './upload.js';

/** Recovering a call from its checkpoints failed; they stay for the next sweep. */
export class SweepError extends Error {
  constructor(message: string, options?: { cause: unknown }) {
    super(message, options);
    this.name = 'SweepError';
  }
}

export interface SweepOptions {
  readonly s3: S3Client;
  /** Where recordings go. */
  readonly bucket: string;
  /** Where the checkpoints are (`inflight/`). @default `bucket` */
  readonly checkpointBucket?: string;
  /** Where a recovered call's audio is assembled before upload (the task's scratch volume). */
  readonly scratchDir: string;
  /** A task whose newest `inflight/` object is younger than this is running: left alone. */
  readonly staleMs: number;
  readonly limiter: TransferLimiter;
  readonly partSizeBytes: number;
  readonly retry?: RetryPolicy;
  readonly logger: Logger;
  /** This process's own task id: its checkpoints are never touched. */
  readonly ownTaskId?: string;
  /** Calls this process owns (live here, or on its own scratch disk): never touched. */
  readonly skip?: (callUuid: string) => boolean;
  /** @default () => new Date() */
  readonly now?: () => Date;
  /** Where `Recording Recovered` goes, for each call stored from checkpoints. @default none */
  readonly events?: RecordingEventReporter;
  /**
   * The checkpoint interval of the tasks swept (`CHECKPOINT_SECONDS`, the same across a
   * deployment): the most of a call's end its checkpoints can lack, reported in the event.
   * @default 10
   */
  readonly maxLostSeconds?: number;
}

export interface SweepResult {
  /** Recordings stored from checkpoints. */
  readonly recovered: number;
  /** Calls of stopped tasks whose recording was already stored: nothing to recover. */
  readonly removed: number;
  /** Tasks left alone: running (recent objects), or this process. */
  readonly live: number;
  /** Stopped tasks whose checkpoints were all handled and deleted. */
  readonly tasks: number;
  /** Calls that could not be handled this time (logged; retried next sweep). */
  readonly failed: number;
}

interface TaskGroup {
  readonly taskId: string;
  /** Every object of the task (deleted once all its calls are handled). */
  readonly objects: ListedObject[];
  /** Its batches, in sequence order: the listing's key order (sequence numbers are zero-padded). */
  readonly batches: ListedObject[];
  newest: number;
}

/** Where one piece of a call's audio is: bytes [start, start + length) of a batch object. */
export interface Segment {
  readonly key: string;
  readonly start: number;
  readonly offset: number;
  readonly length: number;
}

interface SweptCall {
  call: InflightCall | undefined;
  readonly segments: Segment[];
}

/** The first bytes of a batch read for its index line; a longer index is read whole. */
const INDEX_PROBE_BYTES = 64 * 1024;

/**
 * Finds recorder tasks that stopped (crash, or the task went with its disk) and stores what their
 * checkpoint batches hold: for each call not already stored, a WAV whose PCM is its checkpointed
 * audio in offset order, and metadata marked `interrupted`, `end.by: 'recovered'`; its multipart
 * upload is aborted. Once every call of the task is handled, its `inflight/` objects go.
 *
 * A task counts as stopped only once its newest object is older than `staleMs` (a running task
 * with calls writes a batch or its heartbeat every checkpoint interval). A recording already stored
 * for a call (by its recorder, a disk recovery, or another sweeper) is never replaced by a shorter
 * one. Safe to run on every task at once: two sweepers of one task store the same bytes.
 */
export async function sweepInflight(options: SweepOptions): Promise<SweepResult> {
  const { s3, logger } = options;
  const checkpointBucket = options.checkpointBucket ?? options.bucket;
  const now = (options.now ?? (() => new Date()))().getTime();
  const result = { recovered: 0, removed: 0, live: 0, tasks: 0, failed: 0 };
  const strays: string[] = [];
  let strayCount = 0;

  const handle = async (group: TaskGroup): Promise<void> => {
    const { taskId } = group;
    if (taskId === options.ownTaskId || now - group.newest < options.staleMs) {
      result.live++;
      return;
    }
    try {
      if (await sweepTask(options, group, result)) result.tasks++;
    } catch (error) {
      if ((error as { cause?: { name?: string } }).cause?.name === 'NoSuchKey') {
        // Another task's sweeper finished this task first and removed its batches.
        logger.info('checkpoints vanished while sweeping; another sweeper took the task', { taskId });
        return;
      }
      result.failed++;
      logger.error("reading a stopped task's checkpoints failed; they stay for the next sweep", {
        taskId,
        error,
      });
    }
  };

  // Keys sort by task, so each task's objects arrive together: one task is held at a time.
  let group: TaskGroup | undefined;
  for await (const object of listObjects(s3, checkpointBucket, INFLIGHT_PREFIX, {
    attempts: retrying(options.retry),
  })) {
    const parsed = parseInflightKey(object.key);
    if (!parsed) {
      if (strayCount++ < 10) strays.push(object.key);
      continue;
    }
    if (group?.taskId !== parsed.taskId) {
      if (group) await handle(group);
      group = { taskId: parsed.taskId, objects: [], batches: [], newest: 0 };
    }
    group.objects.push(object);
    if (parsed.kind === 'batch') group.batches.push(object);
    group.newest = Math.max(group.newest, object.lastModified?.getTime() ?? now);
  }
  if (group) await handle(group);
  if (strayCount > 0)
    logger.warn('unexpected keys under inflight/ left alone', { count: strayCount, keys: strays });
  return result;
}

/** Reads a batch's index line: the index, and where the audio starts in the object. */
async function readBatchIndex(
  s3: S3Client,
  bucket: string,
  key: string,
  retry?: RetryPolicy,
): Promise<{ index: BatchIndex; dataStart: number }> {
  let probe = INDEX_PROBE_BYTES;
  for (;;) {
    const object = await getObject(s3, bucket, key, {
      range: `bytes=0-${probe - 1}`,
      attempts: retrying(retry),
    });
    const bytes = await object.Body!.transformToByteArray();
    const end = bytes.indexOf(0x0a);
    if (end < 0) {
      if (bytes.length < probe || probe >= MAX_BATCH_BYTES) {
        throw new SweepError(`${key} has no index line in its first ${bytes.length} bytes`);
      }
      probe = MAX_BATCH_BYTES;
      continue;
    }
    const index = JSON.parse(Buffer.from(bytes.buffer, bytes.byteOffset, end).toString('utf8')) as BatchIndex;
    if (index.format !== 'checkpoint-batch' || index.version !== 1 || !Array.isArray(index.entries)) {
      throw new SweepError(`${key} is not a version 1 checkpoint batch`);
    }
    return { index, dataStart: end + 1 };
  }
}

/** Every call of a task's batches (in sequence order): its latest identity, and where its audio is. */
async function readTaskCalls(
  s3: S3Client,
  bucket: string,
  batches: readonly ListedObject[],
  retry?: RetryPolicy,
): Promise<Map<string, SweptCall>> {
  const calls = new Map<string, SweptCall>();
  for (const object of batches) {
    const { index, dataStart } = await readBatchIndex(s3, bucket, object.key, retry);
    for (const entry of index.entries) {
      if (dataStart + entry.at + entry.length > object.size) {
        throw new SweepError(`${object.key} is shorter than its index says (${object.size} bytes)`);
      }
      let call = calls.get(entry.uuid);
      if (!call) {
        call = { call: undefined, segments: [] };
        calls.set(entry.uuid, call);
      }
      // Later batches carry the newer identity (an upload id set mid-call).
      if (entry.call) call.call = entry.call;
      if (entry.length > 0) {
        call.segments.push({
          key: object.key,
          start: dataStart + entry.at,
          offset: entry.offset,
          length: entry.length,
        });
      }
    }
  }
  return calls;
}

/**
 * The pieces that rebuild a call's audio from offset 0: a batch retried after an attempt that did
 * land holds the same bytes again (the spool file only grows), so overlaps are fine; a gap ends
 * the audio.
 */
export function planAudio(segments: readonly Segment[]): {
  pieces: { key: string; start: number; length: number }[];
  audioBytes: number;
  gapAt: number | undefined;
} {
  const pieces: { key: string; start: number; length: number }[] = [];
  let position = 0;
  for (;;) {
    let best: Segment | undefined;
    for (const segment of segments) {
      if (segment.offset <= position && segment.offset + segment.length > position) {
        if (!best || segment.offset + segment.length > best.offset + best.length) best = segment;
      }
    }
    if (!best) break;
    const skip = position - best.offset;
    pieces.push({ key: best.key, start: best.start + skip, length: best.length - skip });
    position = best.offset + best.length;
  }
  const gapAt = segments.some((segment) => segment.offset > position) ? position : undefined;
  return { pieces, audioBytes: position, gapAt };
}

/** Handles every call of a stopped task; true once all are stored and its objects deleted. */
async function sweepTask(
  options: SweepOptions,
  group: TaskGroup,
  result: { recovered: number; removed: number; failed: number },
): Promise<boolean> {
  const { s3, logger, retry } = options;
  const checkpointBucket = options.checkpointBucket ?? options.bucket;
  const { taskId } = group;
  const calls = await readTaskCalls(s3, checkpointBucket, group.batches, retry);
  let complete = true;
  for (const [callUuid, swept] of calls) {
    if (options.skip?.(callUuid)) {
      complete = false;
      continue;
    }
    try {
      result[await sweepCall(options, taskId, callUuid, swept)]++;
    } catch (error) {
      if ((error as { cause?: { name?: string } }).cause?.name === 'NoSuchKey') throw error;
      complete = false;
      result.failed++;
      logger.error('recovering a call from its checkpoints failed; they stay for the next sweep', {
        taskId,
        callUuid,
        error,
      });
    }
  }
  if (!complete) return false;
  await deleteKeys(
    s3,
    checkpointBucket,
    group.objects.map((object) => object.key),
    retrying(retry),
  );
  logger.info('removed the checkpoints of a stopped task', {
    taskId,
    calls: calls.size,
    objects: group.objects.length,
  });
  return true;
}

async function sweepCall(
  options: SweepOptions,
  taskId: string,
  callUuid: string,
  swept: SweptCall,
): Promise<'recovered' | 'removed'> {
  const { s3, bucket, logger, retry } = options;
  const call = swept.call;
  if (!call) throw new SweepError(`no batch of task ${taskId} names call ${callUuid}`);
  const startedAt = new Date(call.identity.startedAt);
  if (call.identity.uuid !== callUuid || call.key !== recordingKey(callUuid, startedAt)) {
    throw new SweepError(`the identity of ${callUuid} names another call or key (${call.key})`);
  }
  const { pieces, audioBytes, gapAt } = planAudio(swept.segments);
  if (gapAt !== undefined) {
    logger.warn('checkpoints have a gap; the audio after it cannot be placed', {
      taskId,
      callUuid,
      gapAt,
    });
  }

  // Never replace a stored recording: its recorder or a disk recovery stored more than this.
  const stem = recordingStem(callUuid, startedAt);
  const stored = new Map<string, number>();
  for await (const object of listObjects(s3, bucket, `${stem}.`, { attempts: retrying(retry) }))
    stored.set(object.key, object.size);
  const wavSize = stored.get(call.key);
  const alreadyStored =
    stored.has(metadataKey(callUuid, startedAt)) ||
    (wavSize !== undefined && wavSize > WAV_HEADER_BYTES + audioBytes);
  if (call.uploadId) await abortEarlierUpload(s3, bucket, call.key, call.uploadId, retry, logger);
  if (alreadyStored) return 'removed';
  // With no audio checkpointed yet (a crash in the call's first seconds) the recording is empty,
  // but it still shows that the call took place and was cut.
  const path = join(options.scratchDir, `${callUuid}.sweep.pcm`);
  await rm(path, { force: true });
  try {
    const file = await open(path, 'wx');
    try {
      for (const piece of pieces) {
        // One piece (at most MAX_SEGMENT_BYTES) in memory at a time.
        const range = `bytes=${piece.start}-${piece.start + piece.length - 1}`;
        const object = await getObject(s3, options.checkpointBucket ?? bucket, piece.key, {
          range,
          attempts: retrying(retry),
        });
        const bytes = await object.Body!.transformToByteArray();
        if (bytes.length !== piece.length) {
          throw new SweepError(`${piece.key} ${range} held ${bytes.length} bytes, not ${piece.length}`);
        }
        await file.write(bytes);
      }
    } finally {
      await file.close();
    }
    const spool = await reopenSpool(path);
    if (spool.storedBytes !== audioBytes) {
      await spool.close();
      throw new SweepError(`checkpoints of ${callUuid} gave ${spool.storedBytes} of ${audioBytes} bytes`);
    }
    const metadata = await storeInterrupted({
      s3,
      bucket,
      key: call.key,
      identity: call.identity,
      headers: call.headers ?? {},
      spool,
      limiter: options.limiter,
      partSizeBytes: options.partSizeBytes,
      retry,
    })
      .catch((error: unknown) => {
        if (error instanceof RecordingExistsError) return undefined;
        throw error;
      })
      .finally(() => spool.close());
    if (!metadata) {
      // Stored since the listing above (its recorder, a disk recovery, another sweeper): it wins.
      logger.info('a recording of this call was stored meanwhile; kept, the checkpoints dropped', {
        taskId,
        callUuid,
        key: call.key,
      });
      return 'removed';
    }
    logger.warn('recovered a recording from its checkpoints', {
      taskId,
      callUuid,
      key: call.key,
      durationSeconds: metadata.durationSeconds,
    });
    options.events?.report(
      recoveredEvent(
        metadata,
        bucket,
        { recoveredBy: 'sweeper', maxLostSeconds: options.maxLostSeconds ?? 10 },
        (options.now ?? (() => new Date()))(),
      ),
    );
    return 'recovered';
  } finally {
    await rm(path, { force: true });
  }
}

export interface InflightSweeper {
  /** Resolves when the sweep in progress (if any) ends; no sweep starts after. */
  stop(): Promise<void>;
}

/**
 * Sweeps now and then every `intervalMs` in the background. A crashed task's replacement may
 * start before that task's calls look abandoned, so one sweep at start could leave them until the
 * next deploy; sweeping on a timer from every task bounds that to one interval. Each sweep lists
 * `inflight/` once (a LIST per 1000 batches), so the interval is minutes, not seconds.
 */
export function startInflightSweeper(
  options: SweepOptions & { readonly intervalMs: number; readonly onSwept?: (result: SweepResult) => void },
): InflightSweeper {
  let running: Promise<void> | undefined;
  let stopped = false;
  const sweep = () => {
    if (running || stopped) return;
    running = sweepInflight(options)
      .then((result) => options.onSwept?.(result))
      .catch((error: unknown) => options.logger.error('sweeping inflight/ failed', { error }))
      .finally(() => {
        running = undefined;
      });
  };
  sweep();
  const timer = setInterval(sweep, options.intervalMs);
  timer.unref();
  return {
    async stop() {
      stopped = true;
      clearInterval(timer);
      await running;
    },
  };
}
