import {
  type AthenaClient,
  GetQueryExecutionCommand,
  GetQueryResultsCommand,
  type GetQueryResultsCommandOutput,
  StartQueryExecutionCommand,
} from '@aws-sdk/client-athena';
import { isValidCallUuid, parseRecordingKey, RECORDINGS_PREFIX } from '../../common/recording-keys.js';
import { normalizeNumber } from '../cli/list.js';
import {
  type ConsoleFilters,
  ConsoleRequestError,
  type ConsoleRow,
  dayOf,
  type ListPage,
  matchesFilters,
  type RecordingIndex,
} from './recording-index.js';

/**
 * Search through the index AWS keeps of the recordings bucket: S3 Metadata's live inventory table,
 * queried with Athena. Only for what listing cannot serve cheaply (a number or uuid without a
 * short date range); the newest days are listed directly, since the inventory lags by up to an hour.
 * https://docs.aws.amazon.com/AmazonS3/latest/userguide/metadata-tables-inventory-schema.html
 */

/** Where the index lives: the stack's outputs, or `--index-workgroup` / `--index-database`. */
export interface IndexTarget {
  readonly workGroup: string;
  readonly catalog: string;
  readonly database: string;
}

/**
 * The `user_metadata` keys the recorder's `x-amz-meta-*` fields appear under in the tables
 * (`recordingObjectMetadata`). S3 stores them without the prefix; checked locally only against the
 * double, so a live table must confirm them (docs/console.md).
 */
export const USER_METADATA_KEYS = {
  caller: 'from',
  callee: 'to',
  uuid: 'call-uuid',
  startedAt: 'started-at',
};

/** A date range shorter than this is listed rather than queried: a few days' keys are cheap. */
export const LISTING_RANGE_DAYS = 7;
/** How far back the inventory may lag; days this recent are listed. */
export const INVENTORY_LAG_MS = 3600_000;

export interface IndexQuery {
  readonly sql: string;
  /** Values for the `?` placeholders, in order, as Athena literals (ExecutionParameters). */
  readonly parameters: readonly string[];
}

/** Whether a search is one the index serves better than listing. */
export function wantsIndex(filters: ConsoleFilters): boolean {
  if (!filters.caller && !filters.callee && !filters.uuid) return false;
  if (!filters.from || !filters.to) return true;
  return filters.to.getTime() - filters.from.getTime() > LISTING_RANGE_DAYS * 86_400_000;
}

/** The newest days, listed directly: today, and yesterday while the inventory may still lag. */
export function recentDays(now: Date): string[] {
  const days = new Set([dayOf(now), dayOf(new Date(now.getTime() - INVENTORY_LAG_MS))]);
  return [...days].sort();
}

/** A string literal for ExecutionParameters; the values are checked first, so no quote can occur. */
function literal(value: string): string {
  return `'${value.replaceAll("'", "''")}'`;
}

function phoneNumber(value: string, name: string): string {
  const digits = normalizeNumber(value);
  if (!/^\d{3,20}$/.test(digits)) {
    throw new ConsoleRequestError(
      `${name} must be a phone number (digits, +, spaces), got ${JSON.stringify(value)}`,
    );
  }
  return digits;
}

/** `recordings/YYYY/MM/DD/` of a day. */
function dayPrefix(day: string): string {
  return `${RECORDINGS_PREFIX}${day.replaceAll('-', '/')}/`;
}

/**
 * The inventory query for a filter: WAV keys only (one row per recording), in the filter's day
 * range and before `beforeDay` (listed instead), matching the numbers and uuid, newest first.
 * Every user value goes in as an execution parameter; only our own integers are in the text.
 */
export function buildIndexQuery(
  filters: ConsoleFilters,
  page: { readonly beforeDay: string; readonly offset: number; readonly limit: number },
): IndexQuery {
  if (
    !Number.isSafeInteger(page.offset) ||
    page.offset < 0 ||
    !Number.isSafeInteger(page.limit) ||
    page.limit < 1
  ) {
    throw new ConsoleRequestError('index page offset and limit must be whole numbers');
  }
  const where = ['key LIKE ?', 'is_delete_marker = false', 'key < ?'];
  const parameters = [literal(`${RECORDINGS_PREFIX}%.wav`), literal(dayPrefix(page.beforeDay))];
  if (filters.from) {
    where.push('key >= ?');
    parameters.push(literal(dayPrefix(dayOf(filters.from))));
  }
  if (filters.to) {
    // Keys of the last day sort below the day's prefix followed by `~` (after every uuid character).
    where.push('key < ?');
    parameters.push(literal(`${dayPrefix(dayOf(filters.to))}~`));
  }
  for (const [name, column] of [
    ['caller', USER_METADATA_KEYS.caller],
    ['callee', USER_METADATA_KEYS.callee],
  ] as const) {
    const wanted = filters[name];
    if (wanted === undefined) continue;
    const digits = phoneNumber(wanted, name);
    // Vonage sends numbers as digits (E.164 without +); a `+` form is matched too.
    where.push(`user_metadata['${column}'] IN (?, ?)`);
    parameters.push(literal(digits), literal(`+${digits}`));
  }
  if (filters.uuid !== undefined) {
    if (!isValidCallUuid(filters.uuid)) {
      throw new ConsoleRequestError(
        `uuid must be letters, digits and dashes, got ${JSON.stringify(filters.uuid)}`,
      );
    }
    where.push(`user_metadata['${USER_METADATA_KEYS.uuid}'] = ?`);
    parameters.push(literal(filters.uuid));
  }
  const sql = [
    'SELECT key, size, last_modified_date',
    'FROM "inventory"',
    `WHERE ${where.join(' AND ')}`,
    'ORDER BY key DESC',
    `OFFSET ${page.offset} LIMIT ${page.limit}`,
  ].join('\n');
  return { sql, parameters };
}

/** One object the query found. */
export interface IndexedObject {
  readonly key: string;
  readonly size: number;
}

export class IndexQueryError extends Error {
  override readonly name = 'IndexQueryError';
}

export interface AthenaSearchOptions {
  /** Between GetQueryExecution polls. @default 500 ms */
  readonly pollMs?: number;
  /** Give up on a query after this long. @default 60 s */
  readonly timeoutMs?: number;
  readonly sleep?: (ms: number) => Promise<void>;
  readonly now?: () => number;
}

/** Runs one query in the workgroup and reads every page of its results. */
export async function runIndexQuery(
  athena: AthenaClient,
  target: IndexTarget,
  query: IndexQuery,
  options: AthenaSearchOptions = {},
): Promise<IndexedObject[]> {
  const sleep = options.sleep ?? ((ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)));
  const now = options.now ?? Date.now;
  const { QueryExecutionId: id } = await athena.send(
    new StartQueryExecutionCommand({
      QueryString: query.sql,
      ...(query.parameters.length > 0 ? { ExecutionParameters: [...query.parameters] } : {}),
      QueryExecutionContext: { Catalog: target.catalog, Database: target.database },
      WorkGroup: target.workGroup,
    }),
  );
  if (!id) throw new IndexQueryError('Athena started no query (no QueryExecutionId)');
  const deadline = now() + (options.timeoutMs ?? 60_000);
  for (;;) {
    const { QueryExecution: execution } = await athena.send(
      new GetQueryExecutionCommand({ QueryExecutionId: id }),
    );
    const state = execution?.Status?.State;
    if (state === 'SUCCEEDED') break;
    if (state === 'FAILED' || state === 'CANCELLED') {
      throw new IndexQueryError(
        `index query ${id} ${state.toLowerCase()}: ${execution?.Status?.StateChangeReason ?? 'no reason given'}`,
      );
    }
    if (now() >= deadline)
      throw new IndexQueryError(`index query ${id} still ${state ?? 'unknown'} after the timeout`);
    await sleep(options.pollMs ?? 500);
  }
  const objects: IndexedObject[] = [];
  let nextToken: string | undefined;
  let first = true;
  do {
    const page: GetQueryResultsCommandOutput = await athena.send(
      new GetQueryResultsCommand({ QueryExecutionId: id, ...(nextToken ? { NextToken: nextToken } : {}) }),
    );
    const columns = (page.ResultSet?.ResultSetMetadata?.ColumnInfo ?? []).map((column) => column.Name);
    const keyAt = columns.indexOf('key');
    const sizeAt = columns.indexOf('size');
    const rows = page.ResultSet?.Rows ?? [];
    // A SELECT's first row of results is its column names.
    for (const row of first ? rows.slice(1) : rows) {
      const key = row.Data?.[keyAt]?.VarCharValue;
      if (key) objects.push({ key, size: Number(row.Data?.[sizeAt]?.VarCharValue ?? Number.NaN) });
    }
    first = false;
    nextToken = page.NextToken;
  } while (nextToken);
  return objects;
}

type SearchCursor = { readonly recent: string | null } | { readonly offset: number };

function encodeSearchCursor(cursor: SearchCursor): string {
  return `x${Buffer.from(JSON.stringify(cursor)).toString('base64url')}`;
}

function decodeSearchCursor(text: string): SearchCursor {
  try {
    const parsed = JSON.parse(Buffer.from(text.slice(1), 'base64url').toString('utf8')) as Record<
      string,
      unknown
    >;
    if (
      text.startsWith('x') &&
      'offset' in parsed &&
      Number.isSafeInteger(parsed.offset) &&
      (parsed.offset as number) >= 0
    ) {
      return { offset: parsed.offset as number };
    }
    if (
      text.startsWith('x') &&
      'recent' in parsed &&
      (parsed.recent === null || typeof parsed.recent === 'string')
    ) {
      return { recent: parsed.recent };
    }
  } catch {
    // Falls through: a cursor is only ever one this console handed out.
  }
  throw new ConsoleRequestError('the page cursor is not one this console handed out: reload the list');
}

/** What served a page of the list. */
export type ListSource = 'listing' | 'index';

export interface SearchPage extends ListPage {
  readonly source: ListSource;
}

/**
 * The list through the index: the recent days listed first (their rows from the listing), then
 * the inventory query's rows, a page at a time by offset. Each found recording's row comes from
 * its day's listing and metadata, as in a listed page, and passes the same filters.
 */
export class IndexedSearch {
  constructor(
    private readonly listing: RecordingIndex,
    private readonly athena: AthenaClient,
    readonly target: IndexTarget,
    private readonly options: AthenaSearchOptions = {},
  ) {}

  async page(filters: ConsoleFilters, cursorText: string | undefined, limit: number): Promise<SearchPage> {
    const cursor: SearchCursor = cursorText ? decodeSearchCursor(cursorText) : { recent: null };
    const recent = recentDays(new Date((this.options.now ?? Date.now)()));
    const firstRecent = recent[0] as string;
    const rows: ConsoleRow[] = [];
    let scanned = 0;
    let offset = 0;
    if ('recent' in cursor) {
      const recentFrom = new Date(`${firstRecent}T00:00:00.000Z`);
      const from = filters.from && filters.from > recentFrom ? filters.from : recentFrom;
      const listed =
        filters.to && filters.to < recentFrom
          ? undefined
          : await this.listing.page({ ...filters, from }, cursor.recent ?? undefined, limit);
      if (listed) {
        rows.push(...listed.rows);
        scanned += listed.scanned;
        if (listed.nextCursor) {
          return {
            ...listed,
            nextCursor: encodeSearchCursor({ recent: listed.nextCursor }),
            source: 'index',
          };
        }
      }
    } else {
      offset = cursor.offset;
    }
    const wanted = limit - rows.length;
    if (wanted === 0) {
      return { rows, nextCursor: encodeSearchCursor({ offset }), scanned, complete: true, source: 'index' };
    }
    const query = buildIndexQuery(filters, { beforeDay: firstRecent, offset, limit: wanted });
    const found = await runIndexQuery(this.athena, this.target, query, this.options).catch(
      (error: unknown) => {
        if (error instanceof IndexQueryError) throw error;
        throw new IndexQueryError(`Athena ${(error as Error).name}: ${(error as Error).message}`);
      },
    );
    for (const object of found) {
      scanned += 1;
      const parsed = parseRecordingKey(object.key);
      if (!parsed) continue;
      const entry = await this.listing.entry(parsed.date.replaceAll('/', '-'), parsed.callUuid);
      if (!entry) continue; // Deleted since the inventory saw it.
      const row = await this.listing.row(entry);
      if (matchesFilters(row, filters)) rows.push(row);
    }
    const nextCursor = found.length === wanted ? encodeSearchCursor({ offset: offset + wanted }) : null;
    return { rows, nextCursor, scanned, complete: true, source: 'index' };
  }
}
