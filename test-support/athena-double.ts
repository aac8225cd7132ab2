import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A double of Amazon Athena's wire protocol (AWS JSON 1.1: `POST /` with
 * `X-Amz-Target: AmazonAthena.<Operation>`), enough for StartQueryExecution, GetQueryExecution and
 * GetQueryResults as documented in the API reference
 * (https://docs.aws.amazon.com/athena/latest/APIReference/API_StartQueryExecution.html,
 * …/API_GetQueryExecution.html, …/API_GetQueryResults.html). It answers SELECTs over one fixture
 * table shaped like S3 Metadata's live inventory table (key, size, last_modified_date,
 * is_delete_marker, user_metadata map), evaluating the small SQL subset the console sends:
 * `?` placeholders bound from ExecutionParameters (string literals in single quotes), AND-ed
 * comparisons on `key`, `is_delete_marker` and `user_metadata['…']`, ORDER BY key, OFFSET and
 * LIMIT. Anything else fails the query, as Athena fails a query it cannot run.
 */

export interface InventoryRow {
  readonly key: string;
  readonly size: number;
  readonly lastModified: Date;
  readonly isDeleteMarker?: boolean;
  /** The object's user metadata, keyed as the table keys it. */
  readonly userMetadata: Readonly<Record<string, string>>;
}

export interface RecordedRequest {
  readonly target: string;
  readonly body: Record<string, unknown>;
}

export interface AthenaDouble {
  readonly endpoint: string;
  readonly requests: RecordedRequest[];
  /** The table's rows; tests add to it. */
  readonly table: InventoryRow[];
  close(): Promise<void>;
}

interface Execution {
  readonly id: string;
  polls: number;
  state: 'RUNNING' | 'SUCCEEDED' | 'FAILED';
  reason?: string;
  columns: string[];
  rows: string[][];
  readonly workGroup: string;
}

type Value = string | number | boolean | null;

function parseLiteral(text: string): Value {
  const match = /^'((?:[^']|'')*)'$/.exec(text.trim());
  if (match) return (match[1] as string).replaceAll("''", "'");
  if (/^-?\d+$/.test(text.trim())) return Number(text.trim());
  throw new Error(`execution parameter ${text} is not a literal (strings go in single quotes)`);
}

function columnValue(row: InventoryRow, column: string): Value {
  const map = /^user_metadata\['([^']+)'\]$/.exec(column);
  if (map) return row.userMetadata[map[1] as string] ?? null;
  if (column === 'key') return row.key;
  if (column === 'size') return row.size;
  if (column === 'is_delete_marker') return row.isDeleteMarker ?? false;
  if (column === 'last_modified_date') return row.lastModified.toISOString();
  throw new Error(`COLUMN_NOT_FOUND: line 1: Column '${column}' cannot be resolved`);
}

function likeToRegExp(pattern: string): RegExp {
  const escaped = pattern
    .replace(/[.*+?^${}()|[\]\\]/g, '\\$&')
    .replaceAll('%', '.*')
    .replaceAll('_', '.');
  return new RegExp(`^${escaped}$`, 's');
}

/** Binds `?` in order, then evaluates one condition of the WHERE clause. */
function condition(text: string, take: () => Value): (row: InventoryRow) => boolean {
  const column = String.raw`(key|size|is_delete_marker|user_metadata\['[^']+'\])`;
  let m = new RegExp(`^${column} LIKE \\?$`).exec(text);
  if (m) {
    const pattern = likeToRegExp(String(take()));
    return (row) => pattern.test(String(columnValue(row, m![1] as string)));
  }
  m = new RegExp(`^${column} (=|<|>=|<=|>) (\\?|false|true)$`).exec(text);
  if (m) {
    const [, name, op, operand] = m as unknown as [string, string, string, string];
    const value = operand === '?' ? take() : operand === 'true';
    return (row) => {
      const actual = columnValue(row, name);
      if (actual === null || value === null) return false;
      if (op === '=') return actual === value;
      if (op === '<') return actual < value;
      if (op === '>=') return actual >= value;
      if (op === '<=') return actual <= value;
      return actual > value;
    };
  }
  m = new RegExp(`^${column} IN \\(([?, ]+)\\)$`).exec(text);
  if (m) {
    const values = (m[2] as string).split(',').map(() => take());
    return (row) => values.includes(columnValue(row, m![1] as string));
  }
  throw new Error(`SYNTAX_ERROR: the double cannot evaluate ${JSON.stringify(text)}`);
}

function runSelect(sql: string, parameters: readonly string[], table: readonly InventoryRow[]) {
  const match =
    /^SELECT (.+?)\s+FROM "inventory"\s+WHERE (.+?)\s+ORDER BY key (ASC|DESC)\s+OFFSET (\d+) LIMIT (\d+)$/s.exec(
      sql.trim(),
    );
  if (!match)
    throw new Error(
      'SYNTAX_ERROR: the double answers SELECT … FROM "inventory" WHERE … ORDER BY key … OFFSET n LIMIT m',
    );
  const [, select, where, order, offset, limit] = match as unknown as string[];
  const values = parameters.map(parseLiteral);
  const placeholders = (where as string).split('?').length - 1;
  if (placeholders !== values.length) {
    throw new Error(
      `INVALID_PARAMETER: ${placeholders} placeholders but ${values.length} execution parameters`,
    );
  }
  let next = 0;
  const take = () => values[next++] as Value;
  const tests = (where as string).split(/\s+AND\s+/).map((part) => condition(part.trim(), take));
  const columns = (select as string).split(',').map((c) => c.trim());
  const rows = table
    .filter((row) => tests.every((test) => test(row)))
    .sort((a, b) => (order === 'DESC' ? b.key.localeCompare(a.key) : a.key.localeCompare(b.key)))
    .slice(Number(offset), Number(offset) + Number(limit))
    .map((row) => columns.map((column) => String(columnValue(row, column))));
  return { columns, rows };
}

export async function startAthenaDouble(options: { resultsPageSize?: number } = {}): Promise<AthenaDouble> {
  const executions = new Map<string, Execution>();
  const requests: RecordedRequest[] = [];
  const table: InventoryRow[] = [];
  const pageSize = options.resultsPageSize ?? 1000;

  const error = (res: ServerResponse, type: string, message: string) => {
    res.writeHead(400, { 'Content-Type': 'application/x-amz-json-1.1' });
    res.end(JSON.stringify({ __type: type, Message: message }));
  };
  const ok = (res: ServerResponse, body: unknown) => {
    res.writeHead(200, { 'Content-Type': 'application/x-amz-json-1.1', 'x-amzn-RequestId': randomUUID() });
    res.end(JSON.stringify(body));
  };

  const handle = (req: IncomingMessage, res: ServerResponse, text: string) => {
    const target = req.headers['x-amz-target'];
    if (req.method !== 'POST' || req.url !== '/' || typeof target !== 'string') {
      return error(res, 'UnknownOperationException', 'expected POST / with X-Amz-Target');
    }
    if (!String(req.headers.authorization ?? '').startsWith('AWS4-HMAC-SHA256 ')) {
      return error(res, 'MissingAuthenticationTokenException', 'request is not signed');
    }
    const body = JSON.parse(text || '{}') as Record<string, unknown>;
    requests.push({ target, body });
    const operation = target.replace(/^AmazonAthena\./, '');
    if (operation === 'StartQueryExecution') {
      if (typeof body.QueryString !== 'string')
        return error(res, 'InvalidRequestException', 'QueryString is required');
      const id = randomUUID();
      const execution: Execution = {
        id,
        polls: 0,
        state: 'RUNNING',
        columns: [],
        rows: [],
        workGroup: String(body.WorkGroup ?? 'primary'),
      };
      try {
        Object.assign(
          execution,
          runSelect(body.QueryString, (body.ExecutionParameters as string[]) ?? [], table),
        );
      } catch (failure) {
        execution.state = 'FAILED';
        execution.reason = (failure as Error).message;
      }
      executions.set(id, execution);
      return ok(res, { QueryExecutionId: id });
    }
    const execution = executions.get(String(body.QueryExecutionId));
    if (!execution)
      return error(res, 'InvalidRequestException', `QueryExecution ${body.QueryExecutionId} was not found`);
    if (operation === 'GetQueryExecution') {
      // The first poll finds it running, as a real query usually is.
      execution.polls += 1;
      const state =
        execution.polls === 1 ? 'RUNNING' : execution.state === 'RUNNING' ? 'SUCCEEDED' : execution.state;
      if (state === 'SUCCEEDED') execution.state = 'SUCCEEDED';
      return ok(res, {
        QueryExecution: {
          QueryExecutionId: execution.id,
          WorkGroup: execution.workGroup,
          Status: { State: state, ...(state === 'FAILED' ? { StateChangeReason: execution.reason } : {}) },
        },
      });
    }
    if (operation === 'GetQueryResults') {
      if (execution.state !== 'SUCCEEDED') {
        return error(
          res,
          'InvalidRequestException',
          `Query has not yet finished. Current state: ${execution.state}`,
        );
      }
      // The first page starts with the header row, as Athena returns a SELECT's results.
      const all = [execution.columns, ...execution.rows];
      const start = Number(body.NextToken ?? 0);
      const size = Math.min(Number(body.MaxResults ?? pageSize), pageSize);
      const page = all.slice(start, start + size);
      return ok(res, {
        ResultSet: {
          Rows: page.map((row) => ({ Data: row.map((value) => ({ VarCharValue: value })) })),
          ResultSetMetadata: {
            ColumnInfo: execution.columns.map((name) => ({ Name: name, Type: 'varchar' })),
          },
        },
        ...(start + size < all.length ? { NextToken: String(start + size) } : {}),
      });
    }
    return error(res, 'UnknownOperationException', `the double does not answer ${target}`);
  };

  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => handle(req, res, Buffer.concat(chunks).toString('utf8')));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    requests,
    table,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
