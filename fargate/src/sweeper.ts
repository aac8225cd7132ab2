import { open, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from '@aws-lambda-powertools/logger';
import { GetObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import {
  INFLIGHT_PREFIX,
  inflightCallKey,
  metadataKey,
  parseInflightKey,
  recordingKey,
  recordingStem,
} from '../../common/recording-keys.js';
import { deleteKeys, type InflightCall, type ListedObject, listObjects } from './checkpoint.js';
import { abortEarlierUpload, storeInterrupted } from './recovery.js';
import { type RetryPolicy, type TransferLimiter, withRetry } from './retry.js';
import { reopenSpool } from './spool.js';
import { WAV_HEADER_BYTES } from './wav.js';

/** Recovering a call from its checkpoints failed; they stay for the next sweep. */
export class SweepError extends Error {
  constructor(message: string, options?: { cause: unknown }) {
    super(message, options);
    this.name = 'SweepError';
  }
}

export interface SweepOptions {
  readonly s3: S3Client;
  readonly bucket: string;
  /** Where a recovered call's audio is assembled before upload (the task's scratch volume). */
  readonly scratchDir: string;
  /** A call whose newest `inflight/` object is younger than this is live somewhere: left alone. */
  readonly staleMs: number;
  readonly limiter: TransferLimiter;
  readonly partSizeBytes: number;
  readonly retry?: RetryPolicy;
  readonly logger: Logger;
  /** Calls this process owns (live here, or on its own scratch disk): never touched. */
  readonly skip?: (callUuid: string) => boolean;
  /** @default () => new Date() */
  readonly now?: () => Date;
}

export interface SweepResult {
  /** Recordings stored from checkpoints. */
  readonly recovered: number;
  /** Abandoned calls whose recording already existed, or leftovers with no call.json: removed. */
  readonly removed: number;
  /** Calls left alone: live (recent checkpoints) or owned by this process. */
  readonly live: number;
  /** Calls that could not be handled this time (logged; retried next sweep). */
  readonly failed: number;
}

interface InflightGroup {
  readonly callUuid: string;
  readonly objects: ListedObject[];
  hasCall: boolean;
  newest: number;
}

/**
 * Finds calls whose recorder vanished (crash, or its task stopped with its disk) and stores what
 * their checkpoints hold: a WAV whose PCM is the checkpoints in offset order, and metadata marked
 * `interrupted`, `end.by: 'recovered'`; then aborts the call's multipart upload and deletes its
 * `inflight/` objects.
 *
 * A call counts as abandoned only once its newest object is older than `staleMs` (a live call on
 * another task checkpoints every few seconds). A recording already stored for the call (by its
 * recorder, a disk recovery, or another sweeper) is never replaced by a shorter one: the sweep
 * then only removes the checkpoints. Safe to run on every task at once: two sweepers of one call
 * store the same bytes.
 */
export async function sweepInflight(options: SweepOptions): Promise<SweepResult> {
  const { s3, bucket, logger } = options;
  const now = (options.now ?? (() => new Date()))().getTime();
  const result = { recovered: 0, removed: 0, live: 0, failed: 0 };
  const strays: string[] = [];
  let strayCount = 0;

  const handle = async (group: InflightGroup): Promise<void> => {
    const { callUuid } = group;
    if (options.skip?.(callUuid) || now - group.newest < options.staleMs) {
      result.live++;
      return;
    }
    try {
      const outcome = await sweepCall(options, group);
      result[outcome]++;
    } catch (error) {
      if ((error as { cause?: { name?: string } }).cause?.name === 'NoSuchKey') {
        // Another task's sweeper finished this call first and removed its checkpoints.
        logger.info('checkpoints vanished while sweeping; another sweeper took the call', { callUuid });
        return;
      }
      result.failed++;
      logger.error('recovering a call from its checkpoints failed; they stay for the next sweep', {
        callUuid,
        error,
      });
    }
  };

  // Keys sort by call, so each call's objects arrive together: one call is held at a time, however
  // many live calls (and checkpoints) the bucket holds.
  let group: InflightGroup | undefined;
  for await (const object of listObjects(s3, bucket, INFLIGHT_PREFIX, options.retry)) {
    const parsed = parseInflightKey(object.key);
    if (!parsed) {
      if (strayCount++ < 10) strays.push(object.key);
      continue;
    }
    if (group?.callUuid !== parsed.callUuid) {
      if (group) await handle(group);
      group = { callUuid: parsed.callUuid, objects: [], hasCall: false, newest: 0 };
    }
    group.objects.push(object);
    if (parsed.kind === 'call') group.hasCall = true;
    group.newest = Math.max(group.newest, object.lastModified?.getTime() ?? now);
  }
  if (group) await handle(group);
  if (strayCount > 0)
    logger.warn('unexpected keys under inflight/ left alone', { count: strayCount, keys: strays });
  return result;
}

async function getObject(s3: S3Client, bucket: string, key: string, retry?: RetryPolicy) {
  return withRetry(
    `GetObject ${key}`,
    (abortSignal) => s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }), { abortSignal }),
    retry,
  );
}

async function sweepCall(options: SweepOptions, group: InflightGroup): Promise<'recovered' | 'removed'> {
  const { s3, bucket, logger, retry } = options;
  const { callUuid } = group;
  const allKeys = group.objects.map((object) => object.key);
  if (!group.hasCall) {
    // call.json goes first and is deleted first: checkpoints without it belong to a stored call.
    await deleteKeys(s3, bucket, allKeys, retry);
    logger.info('removed leftover checkpoints of a stored call', { callUuid, objects: allKeys.length });
    return 'removed';
  }
  const callObject = await getObject(s3, bucket, inflightCallKey(callUuid), retry);
  const call = JSON.parse(await callObject.Body!.transformToString('utf8')) as InflightCall;
  const startedAt = new Date(call.identity.startedAt);
  if (call.identity.uuid !== callUuid || call.key !== recordingKey(callUuid, startedAt)) {
    throw new SweepError(`inflight/${callUuid}/call.json names another call or key (${call.key})`);
  }

  // Checkpoints in offset order, each starting where the previous ended; a gap ends the audio.
  const checkpoints: { key: string; offset: number; size: number }[] = [];
  for (const object of group.objects) {
    const parsed = parseInflightKey(object.key);
    if (parsed?.kind === 'checkpoint')
      checkpoints.push({ key: object.key, offset: parsed.offset, size: object.size });
  }
  checkpoints.sort((a, b) => a.offset - b.offset);
  let audioBytes = 0;
  const usable: typeof checkpoints = [];
  for (const checkpoint of checkpoints) {
    if (checkpoint.offset !== audioBytes) {
      logger.warn('checkpoints have a gap; the audio after it cannot be placed', {
        callUuid,
        expectedOffset: audioBytes,
        foundOffset: checkpoint.offset,
      });
      break;
    }
    usable.push(checkpoint);
    audioBytes += checkpoint.size;
  }

  // Never replace a stored recording: its recorder or a disk recovery stored more than this.
  const stem = recordingStem(callUuid, startedAt);
  const stored = new Map<string, number>();
  for await (const object of listObjects(s3, bucket, `${stem}.`, retry)) stored.set(object.key, object.size);
  const wavSize = stored.get(call.key);
  const alreadyStored =
    stored.has(metadataKey(callUuid, startedAt)) ||
    (wavSize !== undefined && wavSize > WAV_HEADER_BYTES + audioBytes);
  if (call.uploadId) await abortEarlierUpload(s3, bucket, call.key, call.uploadId, retry, logger);
  if (alreadyStored) {
    await deleteKeys(s3, bucket, allKeys, retry);
    logger.info('abandoned call already has its recording; removed its checkpoints', {
      callUuid,
      key: call.key,
    });
    return 'removed';
  }
  // With no audio checkpointed yet (a crash in the call's first seconds) the recording is empty,
  // but it still shows that the call took place and was cut.
  const path = join(options.scratchDir, `${callUuid}.sweep.pcm`);
  await rm(path, { force: true });
  try {
    const file = await open(path, 'wx');
    try {
      for (const checkpoint of usable) {
        // One checkpoint (at most MAX_CHECKPOINT_BYTES) in memory at a time.
        const object = await getObject(s3, bucket, checkpoint.key, retry);
        const bytes = await object.Body!.transformToByteArray();
        if (bytes.length !== checkpoint.size) {
          throw new SweepError(`${checkpoint.key} holds ${bytes.length} bytes, listed as ${checkpoint.size}`);
        }
        await file.write(bytes);
      }
    } finally {
      await file.close();
    }
    const spool = await reopenSpool(path);
    if (spool.storedBytes !== audioBytes) {
      await spool.close();
      throw new SweepError(
        `checkpoints of ${callUuid} changed while being read (${spool.storedBytes} of ${audioBytes} bytes)`,
      );
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
    });
    await spool.close();
    await deleteKeys(s3, bucket, allKeys, retry);
    logger.warn('recovered a recording from its checkpoints', {
      callUuid,
      key: call.key,
      durationSeconds: metadata.durationSeconds,
    });
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
 * `inflight/` once (a LIST per 1000 objects), so the interval is minutes, not seconds.
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
