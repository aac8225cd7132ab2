import { HeadObjectCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { eventKey } from '../../common/recording-keys.js';
import { describeS3Error, s3HttpStatus } from '../../common/s3-errors.js';
import { StorageError } from './errors.js';
import type { CallEvent } from './event.js';

/*
 * The event webhook's S3 writes, in a module of their own: the webhooks import it only when the
 * first event arrives, so an answer never loads the S3 client.
 */

export interface StoredEvent {
  readonly key: string;
  /** True when the event was already in the bucket (a repeated delivery): nothing was written. */
  readonly duplicate: boolean;
}

/**
 * Stores an event under its key (`events/YYYY/MM/DD/<conversation>/<ts>_<leg>_<status>.json`),
 * once. The bucket is versioned, so a blind re-PUT of a repeated delivery would add a version:
 * a HEAD finds the usual repeat cheaply, and the PUT is conditional (`If-None-Match: *`), so on
 * S3 a repeat is refused (412 = already stored) even when two deliveries race or the role may not
 * read (HEAD 403). s3rver ignores `If-None-Match` on PUT; there the HEAD does the job.
 * Any other failure is a `StorageError` (answered 5xx, so Vonage delivers the event again).
 */
export async function storeCallEvent(s3: S3Client, bucket: string, event: CallEvent): Promise<StoredEvent> {
  const key = eventKey({
    conversationUuid: event.conversationUuid,
    legUuid: event.uuid,
    status: event.status,
    timestamp: event.timestamp,
  });
  try {
    await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: key }));
    return { key, duplicate: true };
  } catch (error) {
    // 404: not stored yet. 403: the role may put but not read; the conditional PUT decides.
    const status = s3HttpStatus(error);
    if (status !== 404 && status !== 403) {
      throw new StorageError(`could not check ${key}: ${describeS3Error(error)}`, {
        cause: error,
      });
    }
  }
  try {
    await s3.send(
      new PutObjectCommand({
        Bucket: bucket,
        Key: key,
        Body: JSON.stringify(event.body),
        ContentType: 'application/json',
        IfNoneMatch: '*',
      }),
    );
    return { key, duplicate: false };
  } catch (error) {
    if (s3HttpStatus(error) === 412) return { key, duplicate: true };
    // 409 (ConditionalRequestConflict) means a racing write is still in flight and may yet fail:
    // answering 5xx lets Vonage deliver again, when the HEAD settles it.
    throw new StorageError(`could not store ${key}: ${describeS3Error(error)}`, {
      cause: error,
    });
  }
}
