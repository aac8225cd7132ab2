import { createWriteStream } from 'node:fs';
import { mkdir, readFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import type { S3Client } from '@aws-sdk/client-s3';
import type { PutEventsEntry, RecordingEventDetailType } from '../../common/recording-events.js';
import { metadataKey } from '../../common/recording-keys.js';
import type { RecordingMetadata } from '../../common/recording-metadata.js';
import { s3HttpStatus } from '../../common/s3-errors.js';
import { getObject } from '../../common/s3-objects.js';

/** The recording of one call was not stored in time. */
export class RecordingNotFoundError extends Error {
  override readonly name = 'RecordingNotFoundError';
}

/** The UTC days a call may have touched (a call can cross midnight). */
export function callDays(...dates: Date[]): Date[] {
  const days = new Map<string, Date>();
  for (const date of dates) days.set(date.toISOString().slice(0, 10), date);
  return [...days.values()];
}

/** Reads an object as text; undefined when it does not exist. */
export async function readText(s3: S3Client, bucket: string, key: string): Promise<string | undefined> {
  try {
    const object = await getObject(s3, bucket, key);
    return await (object.Body as { transformToString(): Promise<string> }).transformToString();
  } catch (error) {
    if (s3HttpStatus(error) === 404 || (error as Error).name === 'NoSuchKey') return undefined;
    throw error;
  }
}

/**
 * s3rver writes an object's file in place, so a GET racing the PUT can read it half-written
 * (S3 itself never shows a partial object): such a read counts as "not there yet".
 */
function parseWhole(text: string): RecordingMetadata | undefined {
  try {
    return JSON.parse(text) as RecordingMetadata;
  } catch {
    return undefined;
  }
}

/**
 * Waits for the metadata JSON the recorder writes once a call's recording is stored, trying each
 * day the call touched. The recorder finalizes after the hang-up, so it may lag the call a little.
 */
export async function waitForRecording(
  s3: S3Client,
  bucket: string,
  callUuid: string,
  days: readonly Date[],
  timeoutMs = 15_000,
): Promise<RecordingMetadata> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    for (const day of days) {
      const text = await readText(s3, bucket, metadataKey(callUuid, day));
      const metadata = text === undefined ? undefined : parseWhole(text);
      if (metadata) return metadata;
    }
    if (Date.now() > deadline) {
      throw new RecordingNotFoundError(
        `no recording for call ${callUuid} after ${timeoutMs} ms: expected ${days.map((day) => metadataKey(callUuid, day)).join(' or ')}`,
      );
    }
    await sleep(100);
  }
}

// A call's stored events are read as the audit CLI reads them (one reader of the key layout,
// paged past 1000 keys).
export { listCallEvents, type StoredCallEvent } from '../cli/recording-store.js';

/** Downloads an object to a local file through the S3 API. */
export async function downloadObject(s3: S3Client, bucket: string, key: string, path: string): Promise<void> {
  const object = await getObject(s3, bucket, key);
  await mkdir(dirname(path), { recursive: true });
  await pipeline(object.Body as NodeJS.ReadableStream, createWriteStream(path));
}

/**
 * The recording events in a JSON-lines file (the local stack's `eventbridge.jsonl`), in order. A
 * missing file is no events yet; a last line still being written is left for the next read.
 */
export async function readEventsFile(path: string): Promise<PutEventsEntry[]> {
  const text = await readFile(path, 'utf8').catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'ENOENT') return '';
    throw error;
  });
  return text
    .split('\n')
    .slice(0, -1)
    .map((line) => JSON.parse(line) as PutEventsEntry);
}

/** Waits for the event of one type about one call; the recorder puts it just after the metadata. */
export async function waitForRecordingEvent(
  path: string,
  detailType: RecordingEventDetailType,
  callUuid: string,
  timeoutMs = 10_000,
): Promise<PutEventsEntry> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const entry = (await readEventsFile(path)).find(
      (candidate) =>
        candidate.DetailType === detailType &&
        (JSON.parse(candidate.Detail) as { uuid?: string }).uuid === callUuid,
    );
    if (entry) return entry;
    if (Date.now() > deadline) {
      throw new RecordingNotFoundError(
        `no "${detailType}" event for call ${callUuid} in ${path} after ${timeoutMs} ms`,
      );
    }
    await sleep(100);
  }
}
