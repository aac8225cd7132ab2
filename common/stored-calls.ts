/**
 * Reading what the bucket holds about one call: its recording's metadata JSON and its stored
 * Vonage events. Shared by the audit CLI and the reconciler (`lambdas/reconciler`).
 */
import type { S3Client } from '@aws-sdk/client-s3';
import { EVENTS_PREFIX, eventsPrefix } from './recording-keys.js';
import type { RecordingMetadata } from './recording-metadata.js';
import { getObject, listObjects } from './s3-objects.js';
import type { StoredCallEvent } from './vonage-call-events.js';

export type { StoredCallEvent } from './vonage-call-events.js';

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
