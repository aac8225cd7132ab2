import { readdir, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from '@aws-lambda-powertools/logger';
import { AbortMultipartUploadCommand, type S3Client } from '@aws-sdk/client-s3';
import { bytesPerSecond, frameBytes } from '../../common/audio-format.js';
import { parseRecordingKey } from '../../common/recording-keys.js';
import {
  type CallIdentity,
  type RecordingMetadata,
  recordingObjectMetadata,
} from '../../common/recording-metadata.js';
import { asciiMetadata } from './call-session.js';
import { deleteInflightTask } from './checkpoint.js';
import { type RecordingEventReporter, recoveredEvent } from './recording-event-reporter.js';
import { type RetryPolicy, withRetry } from './retry.js';
import { type AudioSpool, type CallJournal, reopenSpool } from './spool.js';
import type { TransferLimiter } from './transfer-limiter.js';
import { putRecordingMetadata, RecordingExistsError, RecordingUpload, recordingMetadata } from './upload.js';

/**
 * Most seconds of a call's end a killed recorder leaves off its spool file: audio reaches the file
 * (a synchronous write, into the page cache, which outlives the process) every 32 KiB or once a
 * second, checked on the session's one-second tick (call-session.ts `tick`), so at most about two
 * seconds were only in memory. This is the bound for a killed process; a host that loses power
 * may also lose page cache not yet written back (the spool is not fsynced).
 */
export const DISK_RECOVERY_MAX_LOST_SECONDS = 2;

/** The journals on the scratch disk now. Take this before accepting calls: later ones are live. */
export async function findJournals(scratchDir: string): Promise<string[]> {
  return (await readdir(scratchDir))
    .filter((name) => name.endsWith('.journal.json'))
    .map((name) => join(scratchDir, name));
}

export interface RecoveryOptions {
  /** Journal files to recover, from `findJournals` (taken before the recorder accepted calls). */
  readonly journals: readonly string[];
  readonly s3: S3Client;
  /** Where the earlier run's checkpoints are (`inflight/<task id>/`). @default each journal's bucket */
  readonly checkpointBucket?: string;
  readonly limiter: TransferLimiter;
  readonly partSizeBytes: number;
  readonly retry?: RetryPolicy;
  readonly logger: Logger;
  /** Where `Recording Recovered` goes, for each call stored. @default none */
  readonly events?: RecordingEventReporter;
  /** @default () => new Date() */
  readonly now?: () => Date;
}

/**
 * Stores the calls an earlier run of the recorder left on the scratch disk (it crashed, or S3 was
 * down past the retry deadline): each spool file becomes a WAV with metadata marked
 * `interrupted`, `end.by: 'recovered'`. Any multipart upload it had started is aborted and the
 * audio sent again from the file.
 *
 * This covers a restart that keeps the disk. The disk copy being the more complete, the earlier
 * run's S3 checkpoints (`inflight/<its task id>/`) are then removed, once every call it left here
 * is stored (its other calls were stored before it stopped). When the disk is gone, as on Fargate,
 * the checkpoints are what `sweepInflight` (src/sweeper.ts) recovers.
 *
 * @returns how many recordings were stored
 */
export async function recoverSpools(options: RecoveryOptions): Promise<number> {
  const { s3, logger } = options;
  let recovered = 0;
  /** Per earlier task: its bucket, and whether every call it left on this disk is stored. */
  const tasks = new Map<string, { bucket: string; allStored: boolean }>();
  for (const journalFile of options.journals) {
    let journal: CallJournal;
    try {
      journal = JSON.parse(await readFile(journalFile, 'utf8')) as CallJournal;
    } catch (error) {
      logger.error('unreadable call journal left on the scratch disk', { journalFile, error });
      continue;
    }
    const callUuid = journal.identity.uuid;
    const taskId = journal.checkpointTaskId;
    const checkpointBucket = options.checkpointBucket ?? journal.bucket;
    if (taskId && !tasks.has(taskId)) tasks.set(taskId, { bucket: checkpointBucket, allStored: true });
    try {
      const spool = await reopenSpool(journal.spoolPath).catch(() => undefined);
      if (!spool) {
        logger.warn('call journal without audio; removing it', { callUuid, journalFile });
        await rm(journalFile, { force: true });
        continue;
      }
      if (journal.uploadId) {
        await abortEarlierUpload(s3, journal.bucket, journal.key, journal.uploadId, options.retry, logger);
      }
      const metadata = await storeInterrupted({
        s3,
        bucket: journal.bucket,
        key: journal.key,
        identity: journal.identity,
        headers: journal.headers ?? {},
        spool,
        limiter: options.limiter,
        partSizeBytes: options.partSizeBytes,
        retry: options.retry,
      }).catch(async (error: unknown) => {
        if (!(error instanceof RecordingExistsError)) throw error;
        // Another recording of the call (a sweeper's, a second connection's) was stored first and wins.
        logger.warn(
          'a recording of this call is already stored; kept, the copy on the scratch disk dropped',
          {
            callUuid,
            key: journal.key,
          },
        );
        await spool.remove();
        return undefined;
      });
      if (!metadata) continue;
      await spool.remove();
      recovered++;
      logger.warn('recovered a recording left by an earlier run', {
        callUuid,
        key: journal.key,
        durationSeconds: metadata.durationSeconds,
      });
      options.events?.report(
        recoveredEvent(
          metadata,
          journal.bucket,
          { recoveredBy: 'disk', maxLostSeconds: DISK_RECOVERY_MAX_LOST_SECONDS },
          (options.now ?? (() => new Date()))(),
        ),
      );
    } catch (error) {
      logger.error('recovering a recording failed; its audio stays on the scratch disk', { callUuid, error });
      if (taskId) tasks.set(taskId, { bucket: checkpointBucket, allStored: false });
    }
  }
  for (const [taskId, { bucket, allStored }] of tasks) {
    if (!allStored) continue;
    // The disk held everything received, more than the task's S3 checkpoints: they can go.
    await deleteInflightTask(s3, bucket, taskId, options.retry).catch((error: unknown) =>
      logger.warn("removing an earlier run's checkpoints failed; a sweeper or the lifecycle rule will", {
        taskId,
        error,
      }),
    );
  }
  return recovered;
}

export interface InterruptedRecording {
  readonly s3: S3Client;
  readonly bucket: string;
  readonly key: string;
  readonly identity: CallIdentity;
  readonly headers: Record<string, unknown>;
  /** The audio received, all of it on disk. */
  readonly spool: AudioSpool;
  readonly limiter: TransferLimiter;
  readonly partSizeBytes: number;
  readonly retry?: RetryPolicy;
}

/**
 * Stores the audio of a call whose recorder stopped before the call ended as a WAV, then its
 * metadata marked `interrupted`, `end.by: 'recovered'`. Returns the metadata. Both writes are
 * conditional: a `RecordingExistsError` when the key already holds another recording (kept), and
 * metadata already there is kept too.
 */
export async function storeInterrupted(recording: InterruptedRecording): Promise<RecordingMetadata> {
  const { s3, bucket, key, identity, retry } = recording;
  const sampleRate = identity.sampleRate;
  const upload = new RecordingUpload({
    s3,
    bucket,
    key,
    objectMetadata: asciiMetadata(recordingObjectMetadata(identity)),
    format: { sampleRate },
    spool: recording.spool,
    partSizeBytes: recording.partSizeBytes,
    limiter: recording.limiter,
    retry,
  });
  const stored = await upload.finish();
  const durationSeconds = stored.audioBytes / bytesPerSecond(sampleRate);
  const metadata = recordingMetadata(identity, stored, {
    // The end of the audio received: the recorder stopped without seeing the call end.
    endedAt: new Date(Date.parse(identity.startedAt) + durationSeconds * 1000).toISOString(),
    // Frame and text-event accounting lived in the stopped process; whole frames are assumed.
    frameCount: Math.ceil(stored.audioBytes / frameBytes(sampleRate)),
    oddSizeFrames: 0,
    textEvents: [],
    end: { by: 'recovered', code: 1006, reason: 'recorder stopped before the call ended' },
    interrupted: true,
    recordingKey: key,
    headers: recording.headers,
  });
  await putRecordingMetadata(s3, bucket, metadata, retry);
  return metadata;
}

/**
 * Aborts the multipart upload a stopped recorder had started (its parts would otherwise be billed
 * until the lifecycle rule). An upload already gone (completed, aborted) is fine; other failures
 * are logged, never thrown.
 */
export async function abortEarlierUpload(
  s3: S3Client,
  bucket: string,
  key: string,
  uploadId: string,
  retry: RetryPolicy | undefined,
  logger: Logger,
): Promise<void> {
  try {
    await withRetry(
      `AbortMultipartUpload ${key}`,
      (abortSignal) =>
        s3.send(new AbortMultipartUploadCommand({ Bucket: bucket, Key: key, UploadId: uploadId }), {
          abortSignal,
        }),
      retry,
    );
  } catch (error) {
    const cause = (error as { cause?: { name?: string } }).cause;
    if (cause?.name === 'NoSuchUpload') return;
    logger.warn('could not abort the earlier multipart upload; the lifecycle rule will', {
      callUuid: parseRecordingKey(key)?.callUuid,
      key,
      error,
    });
  }
}
