import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AthenaClient } from '@aws-sdk/client-athena';
import { HeadObjectCommand, ListObjectsV2Command } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OutputNames } from '../../common/contract.js';
import { type AthenaDouble, type InventoryRow, startAthenaDouble } from '../../test-support/athena-double.js';
import { startTestConsole, type TestConsole } from '../../test-support/console.js';
import { type LocalS3, startLocalS3 } from '../../test-support/local-s3.js';
import { type FixtureCall, putRecording } from '../../test-support/recording-fixtures.js';
import { resolveTarget } from '../../tools/cli/s3-target.js';
import { IndexedSearch } from '../../tools/console/index-search.js';

const CALLER = '447700900777';
const OTHER = '447700900111';
const target = {
  workGroup: 'CallRecorder-recordings-index',
  catalog: 's3tablescatalog/aws-s3',
  database: 'b_recordings',
};

let s3: LocalS3;
let athena: AthenaDouble;
let consoleApp: TestConsole;
const today = new Date();

function call(n: number, startedAt: Date, from: string): FixtureCall {
  const id = String(n).padStart(12, '0');
  return {
    uuid: `a7a7a7a7-0000-4000-8000-${id}`,
    conversationUuid: `CON-a7a7a7a7-0000-4000-8000-${id}`,
    from,
    to: '442071838750',
    startedAt,
    sampleRate: 16000,
    pcm: Buffer.alloc(3200 * n),
  };
}

/** The inventory as S3 Metadata would hold it: every object in the bucket, its user metadata as S3 returns it. */
async function inventoryOf(local: LocalS3): Promise<InventoryRow[]> {
  const listed = await local.client.send(new ListObjectsV2Command({ Bucket: local.bucket }));
  const rows: InventoryRow[] = [];
  for (const object of listed.Contents ?? []) {
    const head = await local.client.send(new HeadObjectCommand({ Bucket: local.bucket, Key: object.Key }));
    rows.push({
      key: object.Key as string,
      size: object.Size as number,
      lastModified: object.LastModified as Date,
      userMetadata: head.Metadata ?? {},
    });
  }
  return rows;
}

beforeAll(async () => {
  s3 = await startLocalS3();
  // Three calls from CALLER across two years, one from another number, all in the inventory.
  await putRecording(s3.client, s3.bucket, call(1, new Date('2025-01-15T09:00:00Z'), CALLER));
  await putRecording(s3.client, s3.bucket, call(2, new Date('2025-08-03T09:00:00Z'), CALLER));
  await putRecording(s3.client, s3.bucket, call(3, new Date('2026-06-30T09:00:00Z'), CALLER));
  await putRecording(s3.client, s3.bucket, call(4, new Date('2026-06-30T10:00:00Z'), OTHER));
  athena = await startAthenaDouble({ resultsPageSize: 2 });
  athena.table.push(...(await inventoryOf(s3)));
  // Today's call is stored after the inventory was taken: only listing can find it.
  await putRecording(s3.client, s3.bucket, call(5, new Date(today.getTime() - 60_000), CALLER));
  const client = new AthenaClient({
    endpoint: athena.endpoint,
    region: 'eu-west-1',
    credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
  });
  consoleApp = await startTestConsole(s3.client, s3.bucket, {
    search: (listing) => new IndexedSearch(listing, client, target, { pollMs: 10 }),
  });
});

afterAll(async () => {
  await consoleApp?.close();
  await athena?.close();
  await s3?.close();
});

describe('console search through the recordings index (Athena double)', () => {
  it('says the index is on', async () => {
    const info = await (await consoleApp.request('/api/info')).json();
    expect(info).toMatchObject({ search: 'index', index: target });
  });

  it('finds every call from a number across years: today listed, older ones from one Athena query', async () => {
    const response = await consoleApp.request(`/api/recordings?caller=%2B${CALLER}`);
    expect(response.status).toBe(200);
    const page = await response.json();
    expect(page.source).toBe('index');
    expect(page.rows.map((row: { uuid: string }) => row.uuid.slice(-2))).toEqual(['05', '03', '02', '01']);
    expect(page.rows[1]).toMatchObject({ day: '2026-06-30', from: CALLER, state: 'ok' });
    expect(page.nextCursor).toBeNull();

    const starts = athena.requests.filter((r) => r.target === 'AmazonAthena.StartQueryExecution');
    expect(starts).toHaveLength(1);
    const start = starts[0]!.body;
    expect(start.WorkGroup).toBe(target.workGroup);
    expect(start.QueryExecutionContext).toEqual({ Catalog: target.catalog, Database: target.database });
    // The number travels only as an execution parameter, never in the SQL text.
    expect(start.QueryString).not.toContain(CALLER);
    expect(start.ExecutionParameters).toContain(`'${CALLER}'`);
    // It polled until the query finished and read more than one results page.
    const targets = athena.requests.map((r) => r.target);
    expect(targets.filter((t) => t === 'AmazonAthena.GetQueryExecution').length).toBeGreaterThanOrEqual(2);
    expect(targets.filter((t) => t === 'AmazonAthena.GetQueryResults').length).toBeGreaterThanOrEqual(2);
  });

  it('pages through the index with its cursor', async () => {
    const first = await (await consoleApp.request(`/api/recordings?caller=${CALLER}&limit=2`)).json();
    expect(first.rows.map((row: { uuid: string }) => row.uuid.slice(-2))).toEqual(['05', '03']);
    const second = await (
      await consoleApp.request(`/api/recordings?caller=${CALLER}&limit=2&cursor=${first.nextCursor}`)
    ).json();
    expect(second.rows.map((row: { uuid: string }) => row.uuid.slice(-2))).toEqual(['02', '01']);
    expect(second.source).toBe('index');
  });

  it('keeps listing for a search without a number', async () => {
    const page = await (await consoleApp.request('/api/recordings')).json();
    expect(page.source).toBe('listing');
  });

  it('refuses a caller that is not a number with a 400 and sends no query', async () => {
    const before = athena.requests.length;
    const response = await consoleApp.request(`/api/recordings?caller=${encodeURIComponent("4477' OR 1=1")}`);
    expect(response.status).toBe(400);
    expect((await response.json()).error).toMatch(/caller must be a phone number/);
    expect(athena.requests.length).toBe(before);
  });
});

describe('the index named by the stack outputs', () => {
  it('is taken from an outputs file that names it, and absent from one that does not', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'index-outputs-'));
    try {
      const file = join(dir, 'cdk-outputs.json');
      await writeFile(
        file,
        JSON.stringify({
          CallRecorder: {
            [OutputNames.recordingsBucketName]: 'callrecorder-recordings-1a2b',
            [OutputNames.recordingsIndexWorkGroup]: target.workGroup,
            [OutputNames.recordingsIndexCatalog]: target.catalog,
            [OutputNames.recordingsIndexDatabase]: 'b_callrecorder-recordings-1a2b',
          },
          Plain: { [OutputNames.recordingsBucketName]: 'plain-bucket' },
        }),
      );
      const indexed = await resolveTarget({ outputs: file, region: 'eu-west-1' });
      expect(indexed.index).toEqual({ ...target, database: 'b_callrecorder-recordings-1a2b' });
      indexed.s3.destroy();
      const plain = await resolveTarget({ outputs: file, stack: 'Plain', region: 'eu-west-1' });
      expect(plain.index).toBeUndefined();
      plain.s3.destroy();
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
