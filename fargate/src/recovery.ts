import { readdir, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from '@aws-lambda-powertools/logger';
import { AbortMultipartUploadCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { bytesPerSecond, frameBytes } from '../../common/audio-format.js';
import { metadataKey } from '../../common/recording-keys.js';
import { type RecordingMetadata, recordingObjectMetadata } from '../../common/recording-metadata.js';
import { asciiMetadata } from './call-session.js';
import { type RetryPolicy, type TransferLimiter, withRetry } from './retry.js';
import { type CallJournal, reopenSpool } from './spool.js';
import { RecordingUpload } from './upload.js';

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
  readonly limiter: TransferLimiter;
  readonly partSizeBytes: number;
  readonly retry?: RetryPolicy;
  readonly logger: Logger;
}

/**
 * Stores the calls an earlier run of the recorder left on the scratch disk (it crashed, or S3 was
 * down past the retry deadline): each spool file becomes a WAV with metadata marked
 * `interrupted`, `end.by: 'recovered'`. Any multipart upload it had started is aborted and the
 * audio sent again from the file.
 *
 * This covers a restart that keeps the disk. On Fargate a stopped task's disk is gone; keeping a
 * crash's loss small there needs audio checkpointed to S3 during the call (not done here).
 *
 * @returns how many recordings were stored
 */
export async function recoverSpools(options: RecoveryOptions): Promise<number> {
  const { s3, logger } = options;
  let recovered = 0;
  for (const journalFile of options.journals) {
    let journal: CallJournal;
    try {
      journal = JSON.parse(await readFile(journalFile, 'utf8')) as CallJournal;
    } catch (error) {
      logger.error('unreadable call journal left on the scratch disk', { journalFile, error });
      continue;
    }
    const callUuid = journal.identity.uuid;
    try {
      const spool = await reopenSpool(journal.spoolPath).catch(() => undefined);
      if (!spool) {
        logger.warn('call journal without audio; removing it', { callUuid, journalFile });
        await rm(journalFile, { force: true });
        continue;
      }
      if (journal.uploadId) {
        const uploadId = journal.uploadId;
        await withRetry(
          `AbortMultipartUpload ${journal.key}`,
          (abortSignal) =>
            s3.send(
              new AbortMultipartUploadCommand({
                Bucket: journal.bucket,
                Key: journal.key,
                UploadId: uploadId,
              }),
              {
                abortSignal,
              },
            ),
          options.retry,
        ).catch((error: unknown) =>
          logger.warn('could not abort the earlier multipart upload; the lifecycle rule will', {
            callUuid,
            error,
          }),
        );
      }
      const sampleRate = journal.identity.sampleRate;
      const upload = new RecordingUpload({
        s3,
        bucket: journal.bucket,
        key: journal.key,
        objectMetadata: asciiMetadata(recordingObjectMetadata(journal.identity)),
        format: { sampleRate },
        spool,
        partSizeBytes: options.partSizeBytes,
        limiter: options.limiter,
        retry: options.retry,
      });
      const stored = await upload.finish();
      const endedAt = new Date(
        Date.parse(journal.identity.startedAt) + (stored.audioBytes / bytesPerSecond(sampleRate)) * 1000,
      );
      const metadata: RecordingMetadata = {
        schemaVersion: 1,
        uuid: callUuid,
        conversationUuid: journal.identity.conversationUuid,
        from: journal.identity.from,
        to: journal.identity.to,
        startedAt: journal.identity.startedAt,
        // The end of the audio received: the recorder stopped without seeing the call end.
        endedAt: endedAt.toISOString(),
        durationSeconds: stored.audioBytes / bytesPerSecond(sampleRate),
        sampleRate,
        channels: 1,
        bitsPerSample: 16,
        audioBytes: stored.audioBytes,
        wavBytes: stored.wavBytes,
        sha256: stored.sha256,
        // Frame and text-event accounting lived in the stopped process; whole frames are assumed.
        frameCount: Math.ceil(stored.audioBytes / frameBytes(sampleRate)),
        oddSizeFrames: 0,
        textEvents: [],
        end: { by: 'recovered', code: 1006, reason: 'recorder stopped before the call ended' },
        interrupted: true,
        recordingKey: journal.key,
        headers: journal.headers ?? {},
      };
      await withRetry(
        `PutObject ${metadataKey(callUuid, new Date(journal.identity.startedAt))}`,
        (abortSignal) =>
          s3.send(
            new PutObjectCommand({
              Bucket: journal.bucket,
              Key: metadataKey(callUuid, new Date(journal.identity.startedAt)),
              Body: `${JSON.stringify(metadata, null, 2)}\n`,
              ContentType: 'application/json',
            }),
            { abortSignal },
          ),
        options.retry,
      );
      await spool.remove();
      recovered++;
      logger.warn('recovered a recording left by an earlier run', {
        callUuid,
        key: journal.key,
        durationSeconds: metadata.durationSeconds,
      });
    } catch (error) {
      logger.error('recovering a recording failed; its audio stays on the scratch disk', { callUuid, error });
    }
  }
  return recovered;
}
