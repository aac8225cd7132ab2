import type { Readable } from 'node:stream';
import type { S3Client } from '@aws-sdk/client-s3';
import {
  datePath,
  EVENTS_PREFIX,
  eventsPrefix,
  isValidCallUuid,
  parseRecordingKey,
  RECORDINGS_PREFIX,
} from '../../common/recording-keys.js';
import type { RecordingMetadata } from '../../common/recording-metadata.js';
import { getObject, type ListedObject, listObjects } from '../../common/s3-objects.js';
import { RecordingNotFoundError, UsageError } from './errors.js';

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
  const objects = listObjects(s3, bucket, RECORDINGS_PREFIX, {
    ...(range.from ? { startAfter: `${RECORDINGS_PREFIX}${datePath(range.from)}/` } : {}),
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

/** The result of reading a metadata JSON: the metadata, or why it cannot be used. */
export type MetadataRead = { ok: true; metadata: RecordingMetadata } | { ok: false; reason: string };

/** Reads and sanity-checks a recording's metadata JSON. Never throws for bad content. */
export async function readMetadata(s3: S3Client, bucket: string, key: string): Promise<MetadataRead> {
  return parseMetadata(await getObjectText(s3, bucket, key));
}

/** Parses and sanity-checks a metadata JSON text. */
export function parseMetadata(text: string): MetadataRead {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    return { ok: false, reason: `metadata is not JSON: ${(error as Error).message}` };
  }
  return checkMetadata(parsed);
}

const REQUIRED_FIELDS: ReadonlyArray<[keyof RecordingMetadata, string]> = [
  ['uuid', 'string'],
  ['startedAt', 'string'],
  ['endedAt', 'string'],
  ['durationSeconds', 'number'],
  ['sampleRate', 'number'],
  ['channels', 'number'],
  ['bitsPerSample', 'number'],
  ['audioBytes', 'number'],
  ['wavBytes', 'number'],
  ['interrupted', 'boolean'],
  ['recordingKey', 'string'],
];

/** The digest fields of each schema version. */
const DIGEST_FIELDS: Readonly<Record<number, readonly string[]>> = {
  1: ['sha256'],
  2: ['audioSha256', 'wavHeaderHex'],
};

/** Checks the fields the CLI relies on; the JSON is the recorder's, so anything else is kept as is. */
export function checkMetadata(value: unknown): MetadataRead {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return { ok: false, reason: 'metadata is not a JSON object' };
  }
  const record = value as Record<string, unknown>;
  const digestFields =
    typeof record.schemaVersion === 'number' ? DIGEST_FIELDS[record.schemaVersion] : undefined;
  if (!digestFields) {
    return { ok: false, reason: `unknown metadata schemaVersion ${JSON.stringify(record.schemaVersion)}` };
  }
  const fields = [...REQUIRED_FIELDS, ...digestFields.map((field): [string, string] => [field, 'string'])];
  for (const [field, type] of fields) {
    if (typeof record[field] !== type)
      return { ok: false, reason: `metadata field ${field} is not a ${type}` };
  }
  if (Number.isNaN(new Date(record.startedAt as string).getTime())) {
    return { ok: false, reason: 'metadata startedAt is not a date' };
  }
  return { ok: true, metadata: value as RecordingMetadata };
}

/** One stored Vonage call event: its key and the event JSON as Vonage sent it. */
export interface StoredCallEvent {
  readonly key: string;
  readonly event: Record<string, unknown>;
}

/**
 * A call's events, stored by the webhook under `events/YYYY/MM/DD/<conversation uuid>/`, across
 * the given days, in time order (the key carries the event's timestamp).
 */
export async function listCallEvents(
  s3: S3Client,
  bucket: string,
  conversationUuid: string,
  days: readonly Date[],
): Promise<StoredCallEvent[]> {
  const prefixes = [...new Set(days.map((day) => eventsPrefix(conversationUuid, day)))];
  const keys: string[] = [];
  for (const prefix of prefixes) {
    for await (const object of listObjects(s3, bucket, prefix)) {
      if (object.key.startsWith(EVENTS_PREFIX) && object.key.endsWith('.json')) keys.push(object.key);
    }
  }
  keys.sort();
  return mapLimit(keys, 8, async (key) => {
    const text = await getObjectText(s3, bucket, key);
    try {
      const event = JSON.parse(text) as unknown;
      if (typeof event === 'object' && event !== null && !Array.isArray(event)) {
        return { key, event: event as Record<string, unknown> };
      }
    } catch {
      // An unreadable event is still part of the trail: show it rather than hide it.
    }
    return { key, event: { unreadable: text.slice(0, 200) } };
  });
}

/**
 * The days whose event folders can hold a recording's events: the start day and the next (the
 * brief's rule: a call crossing midnight files its later events there), plus the day before when
 * the websocket opened just after midnight (the call's first events precede it), and the end day.
 */
export function eventDays(metadata: Pick<RecordingMetadata, 'startedAt' | 'endedAt'>): Date[] {
  const started = new Date(metadata.startedAt).getTime();
  const ended = new Date(metadata.endedAt).getTime();
  const margin = 10 * 60_000;
  const days = [started - margin, started, started + 86_400_000];
  if (!Number.isNaN(ended)) days.push(ended + margin);
  return days.map((ms) => new Date(ms));
}

export async function getObjectText(s3: S3Client, bucket: string, key: string): Promise<string> {
  const response = await getObject(s3, bucket, key);
  if (!response.Body) return '';
  return response.Body.transformToString('utf8');
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

/** Maps with at most `limit` calls in flight, keeping the input order. */
export async function mapLimit<T, R>(
  items: readonly T[],
  limit: number,
  fn: (item: T, index: number) => Promise<R>,
): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const index = next++;
      results[index] = await fn(items[index] as T, index);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}
