import { ListObjectsCommand, type S3Client } from '@aws-sdk/client-s3';
import { isValidCallUuid, RECORDINGS_PREFIX } from '../../common/recording-keys.js';
import type { RecordingMetadata } from '../../common/recording-metadata.js';
import { type CallFilters, matchesCallDetails } from '../cli/list.js';
import {
  listRecordingEntries,
  type MetadataRead,
  mapLimit,
  type RecordingEntry,
  readMetadata,
} from '../cli/recording-store.js';

/**
 * The console's view of the bucket: recordings found by listing the `recordings/YYYY/MM/DD/` key
 * layout one day at a time, newest day first, so a page reads one day's keys and only the metadata
 * of the rows it shows. Listings and metadata are cached briefly; nothing here writes to S3.
 */

/** Where a recording stands, as its listing and metadata tell. */
export type RowState =
  | 'ok'
  | 'interrupted'
  | 'recovered'
  | 'missing-audio'
  | 'missing-metadata'
  | 'bad-metadata';

/** A state to filter on: a row state, or `failing` (failed a verify run in this console). */
export type StateFilter = RowState | 'failing';

export const STATE_FILTERS: readonly StateFilter[] = [
  'ok',
  'interrupted',
  'recovered',
  'missing-audio',
  'missing-metadata',
  'bad-metadata',
  'failing',
];

export interface ConsoleFilters extends CallFilters {
  readonly state?: StateFilter;
}

/** One row of the console's list. Metadata fields are null when the metadata is missing or unusable. */
export interface ConsoleRow {
  readonly uuid: string;
  /** `YYYY-MM-DD` from the key. */
  readonly day: string;
  readonly state: RowState;
  readonly startedAt: string | null;
  readonly from: string | null;
  readonly to: string | null;
  readonly durationSeconds: number | null;
  readonly wavBytes: number | null;
  readonly endedBy: string | null;
  /** Why the metadata cannot be used (`bad-metadata`). */
  readonly problem: string | null;
  /** The last verify result seen by this console, if any. */
  readonly verified: 'pass' | 'fail' | null;
}

export interface ListPage {
  readonly rows: readonly ConsoleRow[];
  /** Where the next page starts; null when the filter's range is exhausted. */
  readonly nextCursor: string | null;
  /** Recordings whose listing entry (and metadata) this page looked at. */
  readonly scanned: number;
  /** False when the scan budget ran out before the page filled: ask again with `nextCursor`. */
  readonly complete: boolean;
}

/** The cursor or a filter value cannot be used. */
export class ConsoleRequestError extends Error {
  override readonly name = 'ConsoleRequestError';
}

export interface RecordingIndexOptions {
  /** How long a day's key listing is reused. @default 30 s */
  readonly listingTtlMs?: number;
  /** Metadata reads per page request before it returns a partial page. @default 2000 */
  readonly scanBudget?: number;
  /** Parsed metadata kept in memory. @default 50000 */
  readonly metadataCacheSize?: number;
  readonly now?: () => number;
}

interface Cursor {
  readonly day: string;
  readonly index: number;
}

const DAY_PATTERN = /^\d{4}-\d{2}-\d{2}$/;

export function encodeCursor(cursor: Cursor): string {
  return Buffer.from(JSON.stringify([cursor.day, cursor.index])).toString('base64url');
}

export function decodeCursor(text: string): Cursor {
  try {
    const [day, index] = JSON.parse(Buffer.from(text, 'base64url').toString('utf8')) as unknown[];
    if (
      typeof day === 'string' &&
      DAY_PATTERN.test(day) &&
      Number.isSafeInteger(index) &&
      (index as number) >= 0
    ) {
      return { day, index: index as number };
    }
  } catch {
    // Falls through to the error below: a cursor is only ever one this server handed out.
  }
  throw new ConsoleRequestError('the page cursor is not one this console handed out: reload the list');
}

/** `YYYY-MM-DD` of an instant, UTC (the key layout's day). */
export function dayOf(date: Date): string {
  return date.toISOString().slice(0, 10);
}

export function rowState(entry: RecordingEntry, read: MetadataRead | null): RowState {
  if (!read) return 'missing-metadata';
  if (!read.ok) return 'bad-metadata';
  if (!entry.wav) return 'missing-audio';
  if (read.metadata.end?.by === 'recovered') return 'recovered';
  return read.metadata.interrupted ? 'interrupted' : 'ok';
}

/** Whether a row passes the filters; rows without metadata match only filters that need none. */
export function matchesFilters(row: ConsoleRow, filters: ConsoleFilters): boolean {
  if (filters.uuid !== undefined && row.uuid !== filters.uuid) return false;
  if (filters.state === 'failing' ? row.verified !== 'fail' : filters.state && row.state !== filters.state)
    return false;
  const started = row.startedAt === null ? Number.NaN : new Date(row.startedAt).getTime();
  if (filters.from && started < filters.from.getTime()) return false;
  if (filters.to && started > filters.to.getTime()) return false;
  return matchesCallDetails(row, filters);
}

/** Newest first: by when the metadata (else the WAV) was stored, then by uuid. */
function storedAt(entry: RecordingEntry): number {
  return (entry.metadata?.lastModified ?? entry.wav?.lastModified)?.getTime() ?? 0;
}

/**
 * A marker past every key under folder `name` and before the next folder: the next number of the
 * same width (`08` → `09`), so s3rver does not walk the folder it skips; `~` (after every key
 * character) for any other name.
 */
function nextName(name: string): string {
  if (!/^\d+$/.test(name)) return `${name}~`;
  const next = String(Number(name) + 1);
  return next.length > name.length ? `${name}~` : next.padStart(name.length, '0');
}

export class RecordingIndex {
  private readonly listingTtlMs: number;
  private readonly scanBudget: number;
  private readonly metadataCacheSize: number;
  private readonly now: () => number;
  private readonly prefixes = new Map<string, { at: number; names: string[] }>();
  /** How folders are found: delimiter listings (S3), or one key per folder (s3rver). */
  private folderListing: 'delimiter' | 'scan' = 'delimiter';
  private readonly dayEntries = new Map<string, { at: number; entries: RecordingEntry[] }>();
  private readonly metadata = new Map<string, MetadataRead>();
  private readonly verified = new Map<string, 'pass' | 'fail'>();

  constructor(
    private readonly s3: S3Client,
    private readonly bucket: string,
    options: RecordingIndexOptions = {},
  ) {
    this.listingTtlMs = options.listingTtlMs ?? 30_000;
    this.scanBudget = options.scanBudget ?? 2000;
    this.metadataCacheSize = options.metadataCacheSize ?? 50_000;
    this.now = options.now ?? Date.now;
  }

  /** One page of rows matching the filters, newest day first. */
  async page(filters: ConsoleFilters, cursorText: string | undefined, limit: number): Promise<ListPage> {
    const cursor = cursorText ? decodeCursor(cursorText) : undefined;
    const days = this.daysNewestFirst(filters, cursor?.day);
    const rows: ConsoleRow[] = [];
    let scanned = 0;
    for (let next = await days.next(); !next.done; next = await days.next()) {
      const day = next.value;
      let entries = await this.entriesOfDay(day);
      if (filters.uuid) entries = entries.filter((entry) => entry.uuid === filters.uuid);
      let index = cursor && day === cursor.day ? cursor.index : 0;
      while (index < entries.length) {
        const batch = entries.slice(index, index + 16);
        const batchRows = await mapLimit(batch, 16, (entry) => this.row(entry));
        for (const row of batchRows) {
          index += 1;
          scanned += 1;
          if (!matchesFilters(row, filters)) continue;
          rows.push(row);
          if (rows.length === limit) {
            return { rows, nextCursor: await this.after(days, day, index, entries), scanned, complete: true };
          }
        }
        if (scanned >= this.scanBudget) {
          return { rows, nextCursor: await this.after(days, day, index, entries), scanned, complete: false };
        }
      }
    }
    return { rows, nextCursor: null, scanned, complete: true };
  }

  /** The cursor after `index` in `day`: there, or the next older day, or null past the last. */
  private async after(
    days: AsyncGenerator<string>,
    day: string,
    index: number,
    entries: readonly RecordingEntry[],
  ): Promise<string | null> {
    if (index < entries.length) return encodeCursor({ day, index });
    const next = await days.next();
    return next.done ? null : encodeCursor({ day: next.value, index: 0 });
  }

  /** One recording by its key's day and call uuid; undefined when there is none. */
  async entry(day: string, uuid: string): Promise<RecordingEntry | undefined> {
    if (!DAY_PATTERN.test(day) || Number.isNaN(new Date(`${day}T00:00:00Z`).getTime())) {
      throw new ConsoleRequestError(`day must be YYYY-MM-DD, got ${JSON.stringify(day)}`);
    }
    if (!isValidCallUuid(uuid)) {
      throw new ConsoleRequestError(
        `call uuid must be letters, digits and dashes, got ${JSON.stringify(uuid)}`,
      );
    }
    const find = (entries: RecordingEntry[]) => entries.find((entry) => entry.uuid === uuid);
    // A recording stored since the cached listing: list the day again before saying it is not there.
    return find(await this.entriesOfDay(day)) ?? find(await this.entriesOfDay(day, true));
  }

  /** The row for one listing entry (reads its metadata once per version). */
  async row(entry: RecordingEntry): Promise<ConsoleRow> {
    const read = entry.metadata ? await this.readMetadata(entry) : null;
    const metadata: RecordingMetadata | undefined = read?.ok ? read.metadata : undefined;
    return {
      uuid: entry.uuid,
      day: entry.day,
      state: rowState(entry, read),
      startedAt: metadata?.startedAt ?? null,
      from: metadata?.from ?? null,
      to: metadata?.to ?? null,
      durationSeconds: metadata?.durationSeconds ?? null,
      wavBytes: entry.wav?.size ?? null,
      endedBy: metadata?.end?.by ?? null,
      problem: read && !read.ok ? read.reason : null,
      verified: this.verified.get(`${entry.day}/${entry.uuid}`) ?? null,
    };
  }

  async readMetadata(entry: RecordingEntry): Promise<MetadataRead | null> {
    const object = entry.metadata;
    if (!object) return null;
    const cacheKey = `${object.key}@${object.size}@${object.lastModified?.getTime() ?? ''}`;
    const cached = this.metadata.get(cacheKey);
    if (cached) return cached;
    const read = await readMetadata(this.s3, this.bucket, object.key);
    if (this.metadata.size >= this.metadataCacheSize) this.metadata.clear();
    this.metadata.set(cacheKey, read);
    return read;
  }

  /** Remembers a verify result, for the row's badge and the `failing` filter. */
  recordVerification(day: string, uuid: string, ok: boolean): void {
    this.verified.set(`${day}/${uuid}`, ok ? 'pass' : 'fail');
  }

  verification(day: string, uuid: string): 'pass' | 'fail' | null {
    return this.verified.get(`${day}/${uuid}`) ?? null;
  }

  /** The days holding recordings within the filter's range, newest first. */
  async daysInRange(filters: Pick<ConsoleFilters, 'from' | 'to'>): Promise<string[]> {
    const days: string[] = [];
    for await (const day of this.daysNewestFirst(filters)) days.push(day);
    return days;
  }

  /**
   * Years, then months, then days, newest first and only as far as the caller reads: a page of
   * recent calls lists the newest month's days, not every day of every year. Folders outside the
   * range (or after `until`) are never listed.
   */
  private async *daysNewestFirst(
    filters: Pick<ConsoleFilters, 'from' | 'to'>,
    until?: string,
  ): AsyncGenerator<string> {
    const first = filters.from ? dayOf(filters.from) : '0000-00-00';
    const lastOfRange = filters.to ? dayOf(filters.to) : '9999-99-99';
    const last = until && until < lastOfRange ? until : lastOfRange;
    const inRange = (partial: string) =>
      partial >= first.slice(0, partial.length) && partial <= last.slice(0, partial.length);
    const newestFirst = (names: string[]) => [...names].sort().reverse();
    for (const year of newestFirst(await this.childPrefixes(RECORDINGS_PREFIX))) {
      if (!inRange(year)) continue;
      for (const month of newestFirst(await this.childPrefixes(`${RECORDINGS_PREFIX}${year}/`))) {
        if (!inRange(`${year}-${month}`)) continue;
        for (const day of newestFirst(await this.childPrefixes(`${RECORDINGS_PREFIX}${year}/${month}/`))) {
          if (inRange(`${year}-${month}-${day}`)) yield `${year}-${month}-${day}`;
        }
      }
    }
  }

  /** The names of the key "folders" right under a prefix (`2026`, `11`, …), cached briefly. */
  private async childPrefixes(prefix: string): Promise<string[]> {
    const cached = this.prefixes.get(prefix);
    if (cached && this.now() - cached.at < this.listingTtlMs) return cached.names;
    let names: string[] = [];
    if (this.folderListing !== 'scan') names = await this.delimitedChildren(prefix);
    if (names.length === 0) {
      names = await this.skipScanChildren(prefix);
      // Keys there but no common prefixes: this server cannot list folders; stop asking it to.
      if (names.length > 0) this.folderListing = 'scan';
    }
    const valid = names.filter((name) => /^\d{2,4}$/.test(name));
    this.prefixes.set(prefix, { at: this.now(), names: valid });
    return valid;
  }

  /** One delimiter listing per level: what S3 answers in a request or two. */
  private async delimitedChildren(prefix: string): Promise<string[]> {
    const names: string[] = [];
    let marker: string | undefined;
    for (;;) {
      const page = await this.s3.send(
        new ListObjectsCommand({
          Bucket: this.bucket,
          Prefix: prefix,
          Delimiter: '/',
          ...(marker ? { Marker: marker } : {}),
        }),
      );
      for (const common of page.CommonPrefixes ?? []) {
        if (common.Prefix) names.push(common.Prefix.slice(prefix.length, -1));
      }
      marker = page.NextMarker ?? page.CommonPrefixes?.at(-1)?.Prefix ?? page.Contents?.at(-1)?.Key;
      if (!page.IsTruncated || !marker) return names;
    }
  }

  /**
   * The same names found one key at a time, jumping past each folder. The local S3 server (s3rver
   * 3.7) finds no common prefixes more than one folder deep, so an empty delimiter listing is
   * checked this way.
   */
  private async skipScanChildren(prefix: string): Promise<string[]> {
    const names: string[] = [];
    let marker: string | undefined;
    for (;;) {
      const page = await this.s3.send(
        new ListObjectsCommand({
          Bucket: this.bucket,
          Prefix: prefix,
          MaxKeys: 1,
          ...(marker ? { Marker: marker } : {}),
        }),
      );
      const key = page.Contents?.[0]?.Key;
      if (!key) return names;
      const name = key.slice(prefix.length).split('/')[0] as string;
      if (!key.slice(prefix.length).includes('/')) return names;
      names.push(name);
      marker = `${prefix}${nextName(name)}`;
    }
  }

  private async entriesOfDay(day: string, fresh = false): Promise<RecordingEntry[]> {
    const cached = this.dayEntries.get(day);
    if (!fresh && cached && this.now() - cached.at < this.listingTtlMs) return cached.entries;
    const date = new Date(`${day}T00:00:00.000Z`);
    const entries = await listRecordingEntries(this.s3, this.bucket, { from: date, to: date });
    entries.sort((a, b) => storedAt(b) - storedAt(a) || a.uuid.localeCompare(b.uuid));
    this.dayEntries.set(day, { at: this.now(), entries });
    return entries;
  }
}
