/**
 * How fast the audit console lists and pages a bucket of 100,000 recordings on the local stack's
 * S3 server (s3rver), end to end through its HTTP API:
 *
 *   npx tsx bench/console/run.ts [--recordings 100000] [--days 100] [--keep DIR]
 *
 * `--keep DIR` leaves the bucket there; a second run with the same DIR times it again without
 * rewriting it. Besides times (which depend on the machine's load), it counts the S3 requests each
 * step sent: that figure is what a real bucket would be asked.
 *
 * The bucket is written straight into s3rver's on-disk layout (a WAV and a metadata JSON per
 * recording, each with the `.md5` s3rver keeps beside it): the same objects a PUT would leave,
 * in seconds instead of an hour of PUTs. Then a console is started over it and timed: the first
 * page cold (a fresh console, nothing cached), the next pages, a one-day range, a caller search
 * inside one day and across the whole bucket, and opening one call; against it, the full key
 * listing that `recordings list` starts with.
 */
import { createHash, randomUUID } from 'node:crypto';
import { access, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { parseArgs } from 'node:util';
import S3rver from 's3rver';
import { metadataKey, recordingKey } from '../../common/recording-keys.js';
import { createS3Client, LOCAL_S3_CREDENTIALS } from '../../common/s3-client.js';
import { buildMetadata, buildWav } from '../../test-support/recording-fixtures.js';
import { listRecordingEntries, mapLimit, readMetadata } from '../../tools/cli/recording-store.js';
import { startConsole } from '../../tools/console/console-server.js';
import { median } from '../lib/stats.js';

const { values } = parseArgs({
  options: {
    recordings: { type: 'string', default: '100000' },
    days: { type: 'string', default: '100' },
    keep: { type: 'string' },
  },
});
const total = Number(values.recordings);
const dayCount = Number(values.days);
const BUCKET = 'recordings';
const FIRST_DAY = Date.UTC(2026, 7, 1);
/** S3 requests sent so far by the console and the listing under test. */
let requests = 0;

function say(line: string): void {
  process.stdout.write(`${line}\n`);
}

/** The files s3rver keeps for one object: the body, its MD5 and its stored headers. */
async function writeObject(directory: string, key: string, body: Buffer, contentType: string): Promise<void> {
  const path = join(directory, BUCKET, key);
  await mkdir(dirname(path), { recursive: true });
  await writeFile(`${path}._S3rver_object`, body);
  await writeFile(`${path}._S3rver_object.md5`, createHash('md5').update(body).digest('hex'));
  await writeFile(`${path}._S3rver_metadata.json`, JSON.stringify({ 'content-type': contentType }));
}

async function writeBucket(directory: string): Promise<void> {
  const pcm = Buffer.alloc(640, 1);
  const perDay = Math.ceil(total / dayCount);
  await mapLimit(
    Array.from({ length: total }, (_, i) => i),
    64,
    async (i) => {
      const startedAt = new Date(FIRST_DAY + Math.floor(i / perDay) * 86_400_000 + (i % perDay) * 60_000);
      const call = {
        uuid: randomUUID(),
        conversationUuid: `CON-${randomUUID()}`,
        from: `4477${String(i).padStart(8, '0')}`,
        to: '442071838750',
        startedAt,
        sampleRate: 16000 as const,
        pcm,
      };
      const wav = buildWav(pcm, 16000);
      await writeObject(directory, recordingKey(call.uuid, startedAt), wav, 'audio/wav');
      await writeObject(
        directory,
        metadataKey(call.uuid, startedAt),
        Buffer.from(JSON.stringify(buildMetadata(call, wav))),
        'application/json',
      );
    },
  );
}

async function timed<T>(fn: () => Promise<T>): Promise<{ ms: number; value: T; requests: number }> {
  const start = performance.now();
  const before = requests;
  const value = await fn();
  return { ms: performance.now() - start, value, requests: requests - before };
}

const directory = values.keep ?? (await mkdtemp(join(tmpdir(), 'console-bench-')));
const reuse =
  values.keep !== undefined &&
  (await access(join(directory, BUCKET)).then(
    () => true,
    () => false,
  ));
if (!reuse) {
  say(`writing ${total.toLocaleString('en-US')} recordings over ${dayCount} days into ${directory} …`);
  const written = await timed(() => writeBucket(directory));
  say(`  written in ${(written.ms / 1000).toFixed(1)} s`);
}

const server = new S3rver({
  address: '127.0.0.1',
  port: 0,
  silent: true,
  directory,
  configureBuckets: [{ name: BUCKET }],
});
const address = await server.run();
const s3 = createS3Client({
  endpoint: `http://127.0.0.1:${address.port}`,
  credentials: LOCAL_S3_CREDENTIALS,
});
s3.middlewareStack.add(
  (next) => (args) => {
    requests += 1;
    return next(args);
  },
  { step: 'initialize', name: 'countRequests' },
);

/** A recording from the middle of the bucket, for the one-day and caller searches. */
async function pickSample(): Promise<{ day: string; uuid: string; from: string }> {
  const day = new Date(FIRST_DAY + Math.floor(dayCount / 2) * 86_400_000);
  const [entry] = await listRecordingEntries(s3, BUCKET, { from: day, to: day });
  const read = entry?.metadata ? await readMetadata(s3, BUCKET, entry.metadata.key) : undefined;
  if (!entry || !read?.ok) throw new Error(`no readable recording on ${day.toISOString()}`);
  return { day: entry.day, uuid: entry.uuid, from: read.metadata.from ?? '' };
}
const sample = await pickSample();

async function openConsole() {
  const running = await startConsole({ s3, bucket: BUCKET, description: 'bench', port: 0 });
  const signIn = await fetch(running.url, { redirect: 'manual' });
  const cookie = signIn.headers.get('set-cookie')?.split(';')[0] ?? '';
  const get = async (path: string) => {
    const response = await fetch(`${running.origin}${path}`, { headers: { cookie } });
    if (!response.ok) throw new Error(`${path}: ${response.status} ${await response.text()}`);
    return (await response.json()) as {
      rows: { uuid: string }[];
      nextCursor: string | null;
      scanned: number;
    };
  };
  return { running, get };
}

const results: [string, string][] = [];
const record = (name: string, value: string) => {
  results.push([name, value]);
  say(`  ${name}: ${value}`);
};

try {
  const coldFirst: number[] = [];
  let coldRequests = 0;
  for (let run = 0; run < 3; run += 1) {
    const fresh = await openConsole();
    const page = await timed(() => fresh.get('/api/recordings?limit=50'));
    if (page.value.rows.length !== 50) throw new Error(`first page has ${page.value.rows.length} rows`);
    coldFirst.push(page.ms);
    coldRequests = page.requests;
    await fresh.running.close();
  }
  record(
    'first page of 50, cold (fresh console), median of 3',
    `${median(coldFirst).toFixed(0)} ms, ${coldRequests} S3 requests`,
  );

  const { running, get } = await openConsole();
  await get('/api/recordings?limit=50');
  const pages: number[] = [];
  let cursor: string | null = null;
  let rows = 0;
  const pagingStart = requests;
  for (let n = 0; n < 40; n += 1) {
    const page = await timed(() => get(`/api/recordings?limit=50${cursor ? `&cursor=${cursor}` : ''}`));
    pages.push(page.ms);
    rows += page.value.rows.length;
    cursor = page.value.nextCursor;
  }
  record(
    `next pages of 50 (40 pages, ${rows} rows, crossing days)`,
    `median ${median(pages).toFixed(0)} ms, max ${Math.max(...pages).toFixed(0)} ms, ${requests - pagingStart} S3 requests in all`,
  );

  await running.close();

  // Each search on a fresh console: nothing listed or read before.
  const cold = async (path: string) => {
    const fresh = await openConsole();
    try {
      return await timed(() => fresh.get(path));
    } finally {
      await fresh.running.close();
    }
  };
  const dayPage = await cold(`/api/recordings?from=${sample.day}&to=${sample.day}&limit=50`);
  record(
    `one day (${sample.day}), first page, cold`,
    `${dayPage.ms.toFixed(0)} ms, ${dayPage.requests} S3 requests`,
  );
  const dayCaller = await cold(`/api/recordings?from=${sample.day}&to=${sample.day}&caller=${sample.from}`);
  record(
    `caller search within that day, cold (${dayCaller.value.scanned} metadata read, ${dayCaller.value.rows.length} found)`,
    `${dayCaller.ms.toFixed(0)} ms, ${dayCaller.requests} S3 requests`,
  );
  const anyCaller = await cold(`/api/recordings?caller=${sample.from}`);
  record(
    `caller search over every day, cold (stops at the scan budget: ${anyCaller.value.scanned} read, ${anyCaller.value.rows.length} found)`,
    `${anyCaller.ms.toFixed(0)} ms, ${anyCaller.requests} S3 requests`,
  );

  const detail = await cold(`/api/recordings/${sample.day}/${sample.uuid}`);
  record(
    'open one call (metadata + event trail), cold',
    `${detail.ms.toFixed(0)} ms, ${detail.requests} S3 requests`,
  );

  const keys = await timed(() => listRecordingEntries(s3, BUCKET));
  record(
    `full key listing, as \`recordings list\` starts (${keys.value.length.toLocaleString('en-US')} recordings)`,
    `${(keys.ms / 1000).toFixed(1)} s, ${keys.requests} S3 requests`,
  );
} finally {
  s3.destroy();
  await server.close();
  if (!values.keep) await rm(directory, { recursive: true, force: true });
}
