import type { Readable } from 'node:stream';
import type { S3Client } from '@aws-sdk/client-s3';
import {
  datePath,
  isValidCallUuid,
  parseRecordingKey,
  RECORDINGS_PREFIX,
} from '../../common/recording-keys.js';
import { getObject, type ListedObject, listObjects } from '../../common/s3-objects.js';
import { RecordingNotFoundError, UsageError } from './errors.js';

export {
  checkMetadata,
  eventDays,
  getObjectText,
  listCallEvents,
  type MetadataRead,
  mapLimit,
  parseMetadata,
  readMetadata,
  type StoredCallEvent,
} from '../../common/stored-calls.js';

/**
 * Read access to the bucket's layout (`common/recording-keys.ts`) for the audit CLI: recordings
 * paired with their metadata, and a call's stored events.
 */

/** An object as a listing shows it. */
export type StoredObject = ListedObject;

/** One recording as found in a listing: its WAV, its metadata JSON, or both. */
export interface RecordingEntry {
  readonly uuid: string;
  /** `YYYY-MM-DD` from the key (the call's start day, UTC). */
  readonly day: string;
  readonly wav?: StoredObject;
  readonly metadata?: StoredObject;
}

/** Which start days to list; both bounds inclusive. */
export interface DayRange {
  readonly from?: Date;
  readonly to?: Date;
}

export interface ListingOptions {
  /** Keys per listing page. @default 1000 (the S3 maximum) */
  readonly pageSize?: number;
}

/**
 * Lists every recording in the bucket (all pages), pairing each WAV with its metadata JSON.
 * A day range narrows the listing by key (a start marker and an early stop), so only the pages
 * holding those days are read. Entries come in key order: by day, then uuid.
 */
export async function listRecordingEntries(
  s3: S3Client,
  bucket: string,
  range: DayRange = {},
  options: ListingOptions = {},
): Promise<RecordingEntry[]> {
  const entries = new Map<
    string,
    { uuid: string; day: string; wav?: StoredObject; metadata?: StoredObject }
  >();
  const lastDay = range.to ? datePath(range.to) : undefined;
  const firstDay = range.from ? datePath(range.from) : undefined;
  // One day is one key prefix: its listing ends with the day instead of on the next day's page.
  const oneDay = firstDay !== undefined && firstDay === lastDay;
  const objects = listObjects(s3, bucket, oneDay ? `${RECORDINGS_PREFIX}${firstDay}/` : RECORDINGS_PREFIX, {
    ...(firstDay && !oneDay ? { startAfter: `${RECORDINGS_PREFIX}${firstDay}/` } : {}),
    ...(options.pageSize ? { pageSize: options.pageSize } : {}),
  });
  for await (const object of objects) {
    const parsed = parseRecordingKey(object.key);
    if (!parsed) continue;
    // Keys sort by day: past the range's last day nothing later can match.
    if (lastDay && parsed.date > lastDay) break;
    const id = `${parsed.date}/${parsed.callUuid}`;
    const entry = entries.get(id) ?? { uuid: parsed.callUuid, day: parsed.date.replaceAll('/', '-') };
    if (parsed.kind === 'wav') entry.wav = object;
    else entry.metadata = object;
    entries.set(id, entry);
  }
  return [...entries.values()];
}

/**
 * Finds one recording by call uuid. Keys are partitioned by start day, so without `day` this
 * reads the whole `recordings/` listing.
 */
export async function findRecording(
  s3: S3Client,
  bucket: string,
  uuid: string,
  day?: Date,
): Promise<RecordingEntry> {
  if (!isValidCallUuid(uuid)) {
    throw new UsageError(`call uuid must be letters, digits and dashes, got ${JSON.stringify(uuid)}`);
  }
  const entries = await listRecordingEntries(s3, bucket, day ? { from: day, to: day } : {});
  const matches = entries.filter((entry) => entry.uuid === uuid);
  if (matches.length === 0) {
    throw new RecordingNotFoundError(
      `no recording for call ${uuid} in bucket ${bucket}${day ? ` on ${datePath(day)}` : ''}`,
    );
  }
  if (matches.length > 1) {
    throw new UsageError(
      `call ${uuid} has recordings on several days (${matches.map((m) => m.day).join(', ')}): pick one with --date`,
    );
  }
  return matches[0] as RecordingEntry;
}

/** The object's body as a Node stream. */
export async function getObjectStream(
  s3: S3Client,
  bucket: string,
  key: string,
): Promise<{ stream: Readable; contentLength: number | undefined }> {
  const response = await getObject(s3, bucket, key);
  return { stream: response.Body as Readable, contentLength: response.ContentLength };
}
