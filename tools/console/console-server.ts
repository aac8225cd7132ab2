import { createReadStream } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { GetObjectCommand, type GetObjectCommandOutput, type S3Client } from '@aws-sdk/client-s3';
import { serve } from '@hono/node-server';
import { type Context, Hono } from 'hono';
import { secureHeaders } from 'hono/secure-headers';
import { downloadRecording } from '../cli/download.js';
import { CliError, RecordingNotFoundError, UsageError } from '../cli/errors.js';
import { eventDays, getObjectText, listCallEvents } from '../cli/recording-store.js';
import { describeError } from '../cli/run.js';
import { parseDuration, parseInstant } from '../cli/time.js';
import { type RecordingVerification, verifyEntry } from '../cli/verify.js';
import { buildCallTrail } from './call-trail.js';
import { accessGuard, escapeHtml, newAccessToken } from './console-access.js';
import { type IndexedSearch, IndexQueryError, wantsIndex } from './index-search.js';
import {
  type ConsoleFilters,
  ConsoleRequestError,
  RecordingIndex,
  STATE_FILTERS,
  type StateFilter,
} from './recording-index.js';
import { computePeaks } from './waveform.js';

/**
 * The audit console: a small Hono app that lists, plays, verifies and downloads recordings from the
 * bucket with the operator's own credentials, serving a static page from `page/`. Built by
 * {@link buildConsoleApp} (tests drive it without a port) and served by {@link startConsole} on
 * loopback only.
 */

const PAGE_DIR = join(dirname(fileURLToPath(import.meta.url)), 'page');
const PAGE_FILES = {
  '/': ['index.html', 'text/html; charset=utf-8'],
  '/console.js': ['console.js', 'text/javascript; charset=utf-8'],
  '/console.css': ['console.css', 'text/css; charset=utf-8'],
} as const;

/** Rows per page unless the request asks for fewer (at most 200). */
const DEFAULT_PAGE_SIZE = 50;
const PEAK_BUCKETS = 1200;

export interface ConsoleAppOptions {
  readonly s3: S3Client;
  readonly bucket: string;
  /** e.g. `bucket recordings at http://127.0.0.1:4569`, shown in the page header. */
  readonly description: string;
  readonly token: string;
  readonly expiresAt: number;
  /** Host header values accepted (`127.0.0.1:<port>`, `localhost:<port>`). */
  readonly hosts: () => readonly string[];
  readonly index?: RecordingIndex;
  /** Searches by number or uuid across a long range go through the stack's index when given. */
  readonly search?: (listing: RecordingIndex) => IndexedSearch;
  readonly now?: () => number;
}

class NotFoundError extends Error {
  override readonly name = 'NotFoundError';
}

/** Bad input 400, nothing there 404; anything else failed on the way to or from S3 (502). */
function statusOf(error: unknown): 400 | 404 | 502 {
  if (error instanceof ConsoleRequestError || error instanceof UsageError) return 400;
  if (error instanceof NotFoundError || error instanceof RecordingNotFoundError) return 404;
  return 502;
}

/** Reads the list filters from the query string; a bad value is a 400 with its reason. */
export function parseFilters(query: Record<string, string | undefined>, now = new Date()): ConsoleFilters {
  const value = (name: string) => {
    const raw = query[name]?.trim();
    return raw ? raw : undefined;
  };
  const from = value('from');
  const to = value('to');
  const state = value('state');
  if (state !== undefined && !STATE_FILTERS.includes(state as StateFilter)) {
    throw new ConsoleRequestError(
      `state must be one of ${STATE_FILTERS.join(', ')}, got ${JSON.stringify(state)}`,
    );
  }
  const minDuration = value('minDuration');
  const maxDuration = value('maxDuration');
  const filters: ConsoleFilters = {
    ...(from ? { from: parseInstant(from, { flag: 'from', now }) } : {}),
    ...(to ? { to: parseInstant(to, { flag: 'to', endOfDay: true, now }) } : {}),
    ...(value('caller') ? { caller: value('caller') as string } : {}),
    ...(value('callee') ? { callee: value('callee') as string } : {}),
    ...(value('uuid') ? { uuid: value('uuid') as string } : {}),
    ...(minDuration ? { minDurationSeconds: parseDuration(minDuration, 'minDuration') } : {}),
    ...(maxDuration ? { maxDurationSeconds: parseDuration(maxDuration, 'maxDuration') } : {}),
    ...(state ? { state: state as StateFilter } : {}),
  };
  return filters;
}

function pageSize(raw: string | undefined): number {
  if (raw === undefined) return DEFAULT_PAGE_SIZE;
  const size = Number(raw);
  if (!Number.isInteger(size) || size < 1 || size > 200) {
    throw new ConsoleRequestError(`limit must be a whole number from 1 to 200, got ${JSON.stringify(raw)}`);
  }
  return size;
}

/** The verify result as the page shows it: the verdict and the checks that did not pass. */
function verdict(result: RecordingVerification) {
  return {
    uuid: result.uuid,
    day: result.day,
    ok: result.ok,
    checks: result.checks,
    failed: result.checks
      .filter((check) => check.status === 'fail')
      .map((check) => `${check.check}: ${check.detail}`),
  };
}

export async function buildConsoleApp(options: ConsoleAppOptions): Promise<Hono> {
  const { s3, bucket } = options;
  const index = options.index ?? new RecordingIndex(s3, bucket, options.now ? { now: options.now } : {});
  const search = options.search?.(index);
  const pages = new Map<string, { body: string; type: string }>();
  for (const [path, [file, type]] of Object.entries(PAGE_FILES)) {
    pages.set(path, { body: await readFile(join(PAGE_DIR, file), 'utf8'), type });
  }
  const app = new Hono();
  const peakCache = new Map<string, number[]>();

  app.use(
    '*',
    secureHeaders({
      contentSecurityPolicy: {
        defaultSrc: ["'none'"],
        scriptSrc: ["'self'"],
        styleSrc: ["'self'"],
        imgSrc: ["'self'"],
        mediaSrc: ["'self'"],
        connectSrc: ["'self'"],
        formAction: ["'self'"],
        frameAncestors: ["'none'"],
        baseUri: ["'none'"],
      },
      referrerPolicy: 'no-referrer',
      crossOriginResourcePolicy: 'same-origin',
    }),
  );
  app.use(
    '*',
    accessGuard({
      token: options.token,
      expiresAt: options.expiresAt,
      hosts: options.hosts,
      ...(options.now ? { now: options.now } : {}),
    }),
  );

  app.onError((error, c) => {
    const status = statusOf(error);
    const failed = error instanceof IndexQueryError ? 'Index search failed' : 'S3 request failed';
    const message = status === 502 ? `${failed}: ${describeError(error)}` : describeError(error);
    return c.json({ error: message }, status);
  });
  app.notFound((c) => c.json({ error: `no such page: ${c.req.path}` }, 404));

  for (const [path, page] of pages) {
    app.get(path, (c) => c.body(page.body, 200, { 'Content-Type': page.type, 'Cache-Control': 'no-store' }));
  }

  app.get('/api/info', (c) =>
    c.json({
      target: options.description,
      search: search ? 'index' : 'listing',
      ...(search ? { index: search.target } : {}),
    }),
  );

  app.get('/api/recordings', async (c) => {
    const filters = parseFilters(c.req.query());
    const cursor = c.req.query('cursor') || undefined;
    const limit = pageSize(c.req.query('limit'));
    if (search && wantsIndex(filters)) return c.json(await search.page(filters, cursor, limit));
    return c.json({ ...(await index.page(filters, cursor, limit)), source: 'listing' });
  });

  const requireEntry = async (c: Context) => {
    const { day, uuid } = c.req.param() as { day: string; uuid: string };
    const entry = await index.entry(day, uuid);
    if (!entry) throw new NotFoundError(`no recording of call ${uuid} on ${day} in bucket ${bucket}`);
    return entry;
  };

  app.get('/api/recordings/:day/:uuid', async (c) => {
    const entry = await requireEntry(c);
    const read = await index.readMetadata(entry);
    const metadata = read?.ok ? read.metadata : null;
    const events = metadata?.conversationUuid
      ? await listCallEvents(s3, bucket, metadata.conversationUuid, eventDays(metadata))
      : [];
    return c.json({
      row: await index.row(entry),
      wavKey: entry.wav?.key ?? null,
      metadataKey: entry.metadata?.key ?? null,
      metadata,
      metadataProblem: read === null ? 'no metadata JSON beside the WAV' : read.ok ? null : read.reason,
      trail: metadata ? buildCallTrail(metadata, events) : null,
    });
  });

  app.get('/api/recordings/:day/:uuid/audio', async (c) => {
    const entry = await requireEntry(c);
    if (!entry.wav) throw new NotFoundError(`call ${entry.uuid} has metadata but no WAV object`);
    const range = c.req.header('range');
    // One byte range, as players ask; anything else is refused rather than passed to S3.
    if (range !== undefined && !/^bytes=\d+-\d*$/.test(range)) {
      return c.json({ error: `unsupported Range ${range}: ask for bytes=START- or bytes=START-END` }, 416);
    }
    let output: GetObjectCommandOutput;
    try {
      output = await s3.send(
        new GetObjectCommand({ Bucket: bucket, Key: entry.wav.key, ...(range ? { Range: range } : {}) }),
      );
    } catch (error) {
      if ((error as Error).name === 'InvalidRange') {
        return c.body(null, 416, { 'Content-Range': `bytes */${entry.wav.size}` });
      }
      throw error;
    }
    const headers: Record<string, string> = {
      'Content-Type': 'audio/wav',
      'Accept-Ranges': 'bytes',
      'Cache-Control': 'private, no-store',
    };
    if (output.ContentLength !== undefined) headers['Content-Length'] = String(output.ContentLength);
    if (output.ContentRange) headers['Content-Range'] = output.ContentRange;
    const body = output.Body ? (output.Body.transformToWebStream() as ReadableStream) : null;
    return new Response(body, { status: output.ContentRange ? 206 : 200, headers });
  });

  app.get('/api/recordings/:day/:uuid/peaks', async (c) => {
    const entry = await requireEntry(c);
    if (!entry.wav) throw new NotFoundError(`call ${entry.uuid} has metadata but no WAV object`);
    // A 2-hour call is 230 MB at 16 kHz: read it once per version, not on every open.
    const version = `${entry.wav.key}@${entry.wav.size}@${entry.wav.lastModified?.getTime() ?? ''}`;
    let peaks = peakCache.get(version);
    if (!peaks) {
      const output = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: entry.wav.key }));
      peaks = await computePeaks(
        output.Body as AsyncIterable<Uint8Array>,
        output.ContentLength ?? entry.wav.size,
        PEAK_BUCKETS,
      );
      if (peakCache.size >= 500) peakCache.clear();
      peakCache.set(version, peaks);
    }
    return c.json({ peaks, wavBytes: entry.wav.size });
  });

  app.post('/api/recordings/:day/:uuid/verify', async (c) => {
    const entry = await requireEntry(c);
    const result = await verifyEntry(s3, bucket, entry, {});
    if (!result) throw new NotFoundError(`call ${entry.uuid} could not be verified`);
    index.recordVerification(entry.day, entry.uuid, result.ok);
    return c.json(verdict(result));
  });

  app.post('/api/verify', async (c) => {
    const filters = parseFilters(c.req.query());
    const page = await index.page(
      filters,
      c.req.query('cursor') || undefined,
      pageSize(c.req.query('limit') ?? '20'),
    );
    const results = [];
    for (const row of page.rows) {
      const entry = await index.entry(row.day, row.uuid);
      const result = entry ? await verifyEntry(s3, bucket, entry, {}) : undefined;
      if (!result) continue;
      index.recordVerification(row.day, row.uuid, result.ok);
      results.push(verdict(result));
    }
    return c.json({ results, nextCursor: page.nextCursor, scanned: page.scanned });
  });

  app.get('/api/recordings/:day/:uuid/download/wav', async (c) => {
    const entry = await requireEntry(c);
    const folder = await mkdtemp(join(tmpdir(), 'recordings-console-'));
    const cleanup = () => rm(folder, { recursive: true, force: true });
    try {
      const result = await downloadRecording(s3, bucket, entry.uuid, {
        outDir: folder,
        day: new Date(`${entry.day}T00:00:00.000Z`),
      });
      if (result.sha256Matches === false) {
        await cleanup();
        return c.html(
          `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Download refused</title></head><body><main><h1>Download refused</h1>` +
            `<p>The WAV of call ${escapeHtml(entry.uuid)} hashes to ${result.sha256}, not the SHA-256 its metadata stores: the object changed or is corrupt.</p></main></body></html>`,
          409,
        );
      }
      const stream = createReadStream(result.wavPath);
      stream.once('close', () => void cleanup());
      return c.body(Readable.toWeb(stream) as ReadableStream, 200, {
        'Content-Type': 'audio/wav',
        'Content-Length': String(result.bytes),
        'Content-Disposition': `attachment; filename="${entry.uuid}.wav"`,
        'X-Recording-SHA256': result.sha256,
        'X-SHA256-Check': result.sha256Matches === true ? 'match' : 'no metadata to check against',
      });
    } catch (error) {
      await cleanup();
      throw error;
    }
  });

  app.get('/api/recordings/:day/:uuid/download/json', async (c) => {
    const entry = await requireEntry(c);
    if (!entry.metadata) throw new NotFoundError(`call ${entry.uuid} has no metadata JSON`);
    const body = await getObjectText(s3, bucket, entry.metadata.key);
    return c.body(body, 200, {
      'Content-Type': 'application/json',
      'Content-Disposition': `attachment; filename="${entry.uuid}.json"`,
    });
  });

  return app;
}

export interface StartConsoleOptions {
  readonly s3: S3Client;
  readonly bucket: string;
  readonly description: string;
  /** @default 8090; 0 picks a free port */
  readonly port?: number;
  /** How long this start's token works. @default 12 hours */
  readonly tokenLifetimeMs?: number;
  /** @default a fresh random token */
  readonly token?: string;
  /** See {@link ConsoleAppOptions.search}. */
  readonly search?: ConsoleAppOptions['search'];
}

export interface RunningConsole {
  /** The URL to open, token included. */
  readonly url: string;
  /** The URL without the token. */
  readonly origin: string;
  readonly port: number;
  close(): Promise<void>;
}

export const DEFAULT_CONSOLE_PORT = 8090;

/** Serves the console on 127.0.0.1 only. */
export async function startConsole(options: StartConsoleOptions): Promise<RunningConsole> {
  const token = options.token ?? newAccessToken();
  let port = options.port ?? DEFAULT_CONSOLE_PORT;
  const app = await buildConsoleApp({
    s3: options.s3,
    bucket: options.bucket,
    description: options.description,
    token,
    expiresAt: Date.now() + (options.tokenLifetimeMs ?? 12 * 3600_000),
    hosts: () => [`127.0.0.1:${port}`, `localhost:${port}`],
    ...(options.search ? { search: options.search } : {}),
  });
  const server = await new Promise<Server>((resolve, reject) => {
    const started = serve({ fetch: app.fetch, hostname: '127.0.0.1', port }, () =>
      resolve(started as Server),
    );
    (started as Server).once('error', (error: NodeJS.ErrnoException) =>
      reject(
        new CliError(
          error.code === 'EADDRINUSE'
            ? `port ${port} on 127.0.0.1 is in use: pick another with --port`
            : `the console cannot listen on 127.0.0.1:${port}: ${error.message}`,
        ),
      ),
    );
  });
  port = (server.address() as AddressInfo).port;
  const origin = `http://127.0.0.1:${port}`;
  return {
    url: `${origin}/?token=${token}`,
    origin,
    port,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
