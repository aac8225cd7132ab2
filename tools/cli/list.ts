import type { S3Client } from '@aws-sdk/client-s3';
import type { RecordingMetadata } from '../../common/recording-metadata.js';
import { findMissingCalls, type MissingCall } from './missing.js';
import { type ListingOptions, listRecordingEntries, mapLimit, readMetadata } from './recording-store.js';

/** What `recordings list` and the audit console both filter recordings by; every one given must match. */
export interface CallFilters {
  /** Calls that started at or after this instant. */
  readonly from?: Date;
  /** Calls that started at or before this instant. */
  readonly to?: Date;
  /** Caller number; `+`, spaces and dashes are ignored. */
  readonly caller?: string;
  readonly callee?: string;
  readonly uuid?: string;
  readonly minDurationSeconds?: number;
  readonly maxDurationSeconds?: number;
}

/** Filters for `recordings list`. */
export interface ListFilters extends CallFilters {
  /** Only recordings whose call did not end normally. */
  readonly interrupted?: boolean;
  /** Only calls Vonage answered and completed that have no recording. */
  readonly missing?: boolean;
}

/**
 * Where a recording stands in the bucket, as far as a listing can tell. `missing`: Vonage's
 * stored events show the call answered and completed, and nothing is stored for it.
 */
export type RecordingState = 'ok' | 'missing-metadata' | 'missing-audio' | 'bad-metadata' | 'missing';

/** One row of `recordings list`. Fields the metadata would give are null when it is missing. */
export interface RecordingRow {
  readonly uuid: string;
  readonly state: RecordingState;
  /** ISO 8601 start (from the metadata; the key's day at midnight UTC without it). */
  readonly startedAt: string;
  readonly from: string | null;
  readonly to: string | null;
  readonly durationSeconds: number | null;
  readonly wavBytes: number | null;
  readonly interrupted: boolean | null;
  readonly endedBy: string | null;
  readonly conversationUuid: string | null;
  readonly wavKey: string | null;
  readonly metadataKey: string | null;
  /** Why the metadata could not be used (`bad-metadata`), or why there is no recording (`missing`). */
  readonly problem?: string;
}

/** A phone number as compared by the filters: `+`, spaces, dashes and brackets dropped. */
export const normalizeNumber = (value: string) => value.replace(/[\s+()-]/g, '');

/** Lists recordings matching the filters, reading every matching recording's metadata. */
export async function listRecordings(
  s3: S3Client,
  bucket: string,
  filters: ListFilters = {},
  options: ListingOptions = {},
): Promise<RecordingRow[]> {
  const range = {
    ...(filters.from ? { from: filters.from } : {}),
    ...(filters.to ? { to: filters.to } : {}),
  };
  const entries = await listRecordingEntries(s3, bucket, range, options);
  const candidates = filters.uuid ? entries.filter((entry) => entry.uuid === filters.uuid) : entries;
  const rows = await mapLimit(candidates, 16, async (entry): Promise<RecordingRow> => {
    const base = {
      uuid: entry.uuid,
      startedAt: `${entry.day}T00:00:00.000Z`,
      from: null,
      to: null,
      durationSeconds: null,
      wavBytes: entry.wav?.size ?? null,
      interrupted: null,
      endedBy: null,
      conversationUuid: null,
      wavKey: entry.wav?.key ?? null,
      metadataKey: entry.metadata?.key ?? null,
    };
    if (!entry.metadata) return { ...base, state: 'missing-metadata' };
    const read = await readMetadata(s3, bucket, entry.metadata.key);
    if (!read.ok) return { ...base, state: 'bad-metadata', problem: read.reason };
    return { ...rowFromMetadata(read.metadata, base), state: entry.wav ? 'ok' : 'missing-audio' };
  });
  // Without a range the listing holds every recording: no second listing is needed to rule calls out.
  const known = new Set(entries.map((entry) => entry.uuid));
  const missing = (await findMissingCalls(s3, bucket, range, known)).map(missingRow);
  return [...rows, ...missing].filter((row) => matches(row, filters));
}

/** A call with no recording, as a row: what Vonage's events tell of it. */
function missingRow(call: MissingCall): RecordingRow {
  return {
    uuid: call.uuid,
    state: 'missing',
    startedAt: call.answeredAt ?? '1970-01-01T00:00:00.000Z',
    from: call.from,
    to: call.to,
    durationSeconds: null,
    wavBytes: null,
    interrupted: null,
    endedBy: null,
    conversationUuid: call.conversationUuid,
    wavKey: null,
    metadataKey: null,
    problem: missingProblem(call),
  };
}

/** One line on why a call has no recording. */
export function missingProblem(call: MissingCall): string {
  const vonage = call.vonageDurationSeconds === null ? '' : ` (Vonage: ${call.vonageDurationSeconds} s call)`;
  return call.reason === 'never-connected'
    ? `no recording: the call never connected to the recorder${vonage}`
    : `no recording: the recorder had the call but nothing was stored${vonage}`;
}

function rowFromMetadata(
  metadata: RecordingMetadata,
  base: Omit<RecordingRow, 'state'>,
): Omit<RecordingRow, 'state'> {
  return {
    ...base,
    startedAt: metadata.startedAt,
    from: metadata.from,
    to: metadata.to,
    durationSeconds: metadata.durationSeconds,
    wavBytes: base.wavBytes ?? metadata.wavBytes,
    interrupted: metadata.interrupted,
    endedBy: metadata.end?.by ?? null,
    conversationUuid: metadata.conversationUuid,
  };
}

/**
 * The filters only a recording's metadata answers: the numbers and the duration. A row without
 * metadata (null fields) fails every one of them that is set.
 */
export function matchesCallDetails(
  row: { readonly from: string | null; readonly to: string | null; readonly durationSeconds: number | null },
  filters: CallFilters,
): boolean {
  const sameNumber = (value: string | null, wanted: string | undefined) =>
    wanted === undefined || (value !== null && normalizeNumber(value) === normalizeNumber(wanted));
  if (!sameNumber(row.from, filters.caller) || !sameNumber(row.to, filters.callee)) return false;
  const duration = row.durationSeconds;
  if (
    filters.minDurationSeconds !== undefined &&
    (duration === null || duration < filters.minDurationSeconds)
  )
    return false;
  if (
    filters.maxDurationSeconds !== undefined &&
    (duration === null || duration > filters.maxDurationSeconds)
  )
    return false;
  return true;
}

/** Rows without metadata match only filters that need none (dates, uuid). */
function matches(row: RecordingRow, filters: ListFilters): boolean {
  const started = new Date(row.startedAt).getTime();
  const dayEnd = started + 86_400_000 - 1;
  const hasMetadata = row.durationSeconds !== null;
  // Without metadata only the key's day is known: keep the row when any part of that day is in range.
  if (filters.from && (hasMetadata ? started : dayEnd) < filters.from.getTime()) return false;
  if (filters.to && started > filters.to.getTime()) return false;
  if (!matchesCallDetails(row, filters)) return false;
  if (filters.interrupted && row.interrupted !== true) return false;
  if (filters.missing && row.state !== 'missing') return false;
  return true;
}
