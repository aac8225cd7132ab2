import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DeleteObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventKey } from '../../common/recording-keys.js';
import { createS3Client } from '../../common/s3-client.js';
import { type LocalS3, startLocalS3 } from '../../test-support/local-s3.js';
import {
  callEvents,
  type FixtureCall,
  putEvent,
  putRecording,
  type StoredFixture,
} from '../../test-support/recording-fixtures.js';
import { loopPcm, soxi, speechPcm } from '../../test-support/speech.js';
import { downloadRecording, presignRecordingUrl } from '../../tools/cli/download.js';
import { RecordingNotFoundError, UsageError } from '../../tools/cli/errors.js';
import { formatListCsv, formatListTable } from '../../tools/cli/format.js';
import { listRecordings } from '../../tools/cli/list.js';
import { showRecording } from '../../tools/cli/show.js';
import { parseInstant } from '../../tools/cli/time.js';

let s3: LocalS3;
let work: string;
let a: FixtureCall;
let b: FixtureCall;
let c: FixtureCall;
let storedA: StoredFixture;

beforeAll(async () => {
  s3 = await startLocalS3();
  work = await mkdtemp(join(tmpdir(), 'recordings-cli-'));
  const speech16 = await speechPcm('Thank you for calling. This call is recorded.', 16000);
  const speech8 = await speechPcm('Thank you for calling. This call is recorded.', 8000);
  a = {
    uuid: 'aaaaaaaa-1111-4111-8111-000000000001',
    conversationUuid: 'CON-aaaaaaaa-0000-4000-8000-000000000001',
    from: '447700900001',
    to: '442071838750',
    startedAt: new Date('2026-11-26T10:00:00.000Z'),
    sampleRate: 16000,
    pcm: loopPcm(speech16, 16000, 4),
  };
  // Starts two seconds before midnight: its completed events land in the next day's folder.
  b = {
    uuid: 'bbbbbbbb-2222-4222-8222-000000000002',
    conversationUuid: 'CON-bbbbbbbb-0000-4000-8000-000000000002',
    from: '447700900002',
    to: '442071838751',
    startedAt: new Date('2026-11-27T23:59:58.000Z'),
    sampleRate: 8000,
    pcm: loopPcm(speech8, 8000, 6),
    interrupted: true,
  };
  c = {
    uuid: 'cccccccc-3333-4333-8333-000000000003',
    conversationUuid: 'CON-cccccccc-0000-4000-8000-000000000003',
    from: '447700900001',
    to: '442071838751',
    startedAt: new Date('2026-11-28T09:30:00.000Z'),
    sampleRate: 16000,
    pcm: loopPcm(speech16, 16000, 2),
  };
  storedA = await putRecording(s3.client, s3.bucket, a);
  await putRecording(s3.client, s3.bucket, b);
  await putRecording(s3.client, s3.bucket, c);
  for (const event of callEvents(a, { websocketUuid: 'ws-aaaa-0001', websocketSeconds: 4, callSeconds: 7 })) {
    await putEvent(s3.client, s3.bucket, event);
  }
  for (const event of callEvents(b, { websocketUuid: 'ws-bbbb-0002', websocketSeconds: 6, callSeconds: 9 })) {
    await putEvent(s3.client, s3.bucket, event);
  }
});

afterAll(async () => {
  await s3?.close();
  if (work) await rm(work, { recursive: true, force: true });
});

const uuids = (rows: { uuid: string }[]) => rows.map((row) => row.uuid);

/** Removes a stored event again, so the tests after see the bucket they expect. */
async function removeEvent(event: Record<string, string>): Promise<void> {
  const key = eventKey({
    conversationUuid: event.conversation_uuid as string,
    legUuid: event.uuid as string,
    status: event.status as string,
    timestamp: new Date(event.timestamp as string),
  });
  await s3.client.send(new DeleteObjectCommand({ Bucket: s3.bucket, Key: key }));
}

describe('list', () => {
  it('lists every recording in start order with what its metadata says', async () => {
    const rows = await listRecordings(s3.client, s3.bucket);
    expect(uuids(rows)).toEqual([a.uuid, b.uuid, c.uuid]);
    expect(rows[1]).toMatchObject({
      uuid: b.uuid,
      state: 'ok',
      startedAt: '2026-11-27T23:59:58.000Z',
      from: '447700900002',
      to: '442071838751',
      durationSeconds: 6,
      wavBytes: 44 + 6 * 8000 * 2,
      interrupted: true,
      endedBy: 'heartbeat',
      conversationUuid: b.conversationUuid,
      wavKey: `recordings/2026/11/27/${b.uuid}.wav`,
    });
  });

  it('pages through the listing one page after another', async () => {
    const client = createS3Client({ endpoint: s3.endpoint, credentials: s3.credentials });
    const listCalls: string[] = [];
    client.middlewareStack.add(
      (next, context) => async (args) => {
        // Only the recordings listing: the events listing (for missing calls) pages on its own.
        const prefix = (args.input as { Prefix?: string }).Prefix ?? '';
        if (context.commandName === 'ListObjectsCommand' && prefix.startsWith('recordings/'))
          listCalls.push(context.commandName);
        return next(args);
      },
      { step: 'initialize' },
    );
    // One key per page: six pages for three recordings and their metadata.
    const rows = await listRecordings(client, s3.bucket, {}, { pageSize: 1 });
    expect(uuids(rows)).toEqual([a.uuid, b.uuid, c.uuid]);
    expect(listCalls).toHaveLength(6);
    const ranged = await listRecordings(
      client,
      s3.bucket,
      { from: parseInstant('2026-11-27', { flag: '--from' }) },
      { pageSize: 1 },
    );
    expect(uuids(ranged)).toEqual([b.uuid, c.uuid]);
  });

  it('filters by start date range, inclusive of the whole --to day', async () => {
    const from = parseInstant('2026-11-27', { flag: '--from' });
    const to = parseInstant('2026-11-27', { flag: '--to', endOfDay: true });
    expect(uuids(await listRecordings(s3.client, s3.bucket, { from }))).toEqual([b.uuid, c.uuid]);
    expect(uuids(await listRecordings(s3.client, s3.bucket, { to }))).toEqual([a.uuid, b.uuid]);
    expect(uuids(await listRecordings(s3.client, s3.bucket, { from, to }))).toEqual([b.uuid]);
    const fromInstant = parseInstant('2026-11-28T09:30:00.001Z', { flag: '--from' });
    expect(uuids(await listRecordings(s3.client, s3.bucket, { from: fromInstant }))).toEqual([]);
  });

  it('filters by caller, callee, uuid, duration and interruption', async () => {
    const list = (filters: Parameters<typeof listRecordings>[2]) =>
      listRecordings(s3.client, s3.bucket, filters);
    expect(uuids(await list({ caller: '+44 7700 900001' }))).toEqual([a.uuid, c.uuid]);
    expect(uuids(await list({ callee: '442071838751' }))).toEqual([b.uuid, c.uuid]);
    expect(uuids(await list({ caller: '447700900001', callee: '442071838751' }))).toEqual([c.uuid]);
    expect(uuids(await list({ uuid: b.uuid }))).toEqual([b.uuid]);
    expect(uuids(await list({ minDurationSeconds: 3 }))).toEqual([a.uuid, b.uuid]);
    expect(uuids(await list({ maxDurationSeconds: 4 }))).toEqual([a.uuid, c.uuid]);
    expect(uuids(await list({ interrupted: true }))).toEqual([b.uuid]);
    expect(await list({ caller: '15550000000' })).toEqual([]);
  });

  it('shows answered calls with no recording as missing, in range, and only them with --missing', async () => {
    // Answered by Vonage, never connected to the recorder: only the call leg's events are stored.
    const lost: FixtureCall = {
      ...c,
      uuid: 'dddddddd-4444-4444-8444-000000000004',
      conversationUuid: 'CON-dddd-0004',
      startedAt: new Date('2026-11-29T12:00:00.000Z'),
    };
    const lostEvents = callEvents(lost, {
      websocketUuid: 'ws-dddd-0004',
      websocketSeconds: 0,
      callSeconds: 5,
    });
    for (const event of lostEvents.filter((event) => event.uuid === lost.uuid))
      await putEvent(s3.client, s3.bucket, event);
    try {
      const rows = await listRecordings(s3.client, s3.bucket);
      expect(uuids(rows)).toEqual([a.uuid, b.uuid, c.uuid, lost.uuid]);
      expect(rows[3]).toMatchObject({
        uuid: lost.uuid,
        state: 'missing',
        from: lost.from,
        to: lost.to,
        conversationUuid: lost.conversationUuid,
        wavKey: null,
        problem: 'no recording: the call never connected to the recorder (Vonage: 5 s call)',
      });
      expect(formatListTable(rows)).toContain(
        `3 recordings\n1 call with no recording:\n  ${lost.uuid}: no recording`,
      );
      expect(uuids(await listRecordings(s3.client, s3.bucket, { missing: true }))).toEqual([lost.uuid]);
      const from = parseInstant('2026-11-29', { flag: '--from' });
      expect(uuids(await listRecordings(s3.client, s3.bucket, { from }))).toEqual([lost.uuid]);
      const to = parseInstant('2026-11-28', { flag: '--to', endOfDay: true });
      expect(uuids(await listRecordings(s3.client, s3.bucket, { to }))).toEqual([a.uuid, b.uuid, c.uuid]);
    } finally {
      for (const event of lostEvents.filter((event) => event.uuid === lost.uuid)) await removeEvent(event);
    }
  });

  it('prints a table and RFC 4180 CSV', async () => {
    const rows = await listRecordings(s3.client, s3.bucket);
    const table = formatListTable(rows);
    expect(table).toContain(a.uuid);
    expect(table).toContain('heartbeat (interrupted)');
    expect(table).toContain('3 recordings');
    const csv = formatListCsv(rows).split('\n');
    expect(csv[0]).toBe('started,uuid,from,to,duration_seconds,wav_bytes,interrupted,ended_by,state');
    expect(csv[2]).toBe(
      `2026-11-27T23:59:58.000Z,${b.uuid},447700900002,442071838751,6,96044,true,heartbeat,ok`,
    );
    expect(csv).toHaveLength(4);
  });
});

describe('show', () => {
  it("returns the metadata and the call's events across midnight, in time order", async () => {
    const details = await showRecording(s3.client, s3.bucket, b.uuid);
    expect(details.metadata).toMatchObject({ ok: true, metadata: { uuid: b.uuid, durationSeconds: 6 } });
    const trail = details.events.map(({ event }) => `${event.uuid} ${event.status}`);
    expect(trail).toEqual([
      `${b.uuid} started`,
      `${b.uuid} answered`,
      'ws-bbbb-0002 answered',
      'ws-bbbb-0002 completed',
      `${b.uuid} completed`,
    ]);
    // The completed events were filed under the next day.
    expect(details.events.at(-1)?.key).toMatch(/^events\/2026\/11\/28\/CON-bbbbbbbb-/);
  });

  it('refuses an unknown uuid with RecordingNotFoundError and a malformed one with UsageError', async () => {
    await expect(showRecording(s3.client, s3.bucket, 'dddddddd-0000-4000-8000-000000000000')).rejects.toThrow(
      RecordingNotFoundError,
    );
    await expect(showRecording(s3.client, s3.bucket, '../etc/passwd')).rejects.toThrow(UsageError);
  });
});

describe('download and url', () => {
  it('downloads the WAV and metadata, hash-checked, as a file sox reads', async () => {
    const progress: number[] = [];
    let total = 0;
    const result = await downloadRecording(s3.client, s3.bucket, a.uuid, {
      outDir: join(work, 'out'),
      onStart: (bytes) => {
        total = bytes;
      },
      onProgress: (bytes) => progress.push(bytes),
    });
    expect(result.wavPath).toBe(join(work, 'out', `${a.uuid}.wav`));
    expect(await readFile(result.wavPath)).toEqual(storedA.wav);
    expect(JSON.parse(await readFile(result.metadataPath as string, 'utf8'))).toEqual(storedA.metadata);
    expect(result.sha256Matches).toBe(true);
    expect(total).toBe(storedA.wav.length);
    expect(progress.at(-1)).toBe(storedA.wav.length);
    expect(await soxi(result.wavPath)).toMatchObject({
      sampleRate: 16000,
      channels: 1,
      bits: 16,
      seconds: 4,
    });
    await expect(
      downloadRecording(s3.client, s3.bucket, a.uuid, { outDir: join(work, 'out') }),
    ).rejects.toThrow(/already exists: use --force/);
    const again = await downloadRecording(s3.client, s3.bucket, a.uuid, {
      outDir: join(work, 'out'),
      force: true,
    });
    expect((await stat(again.wavPath)).size).toBe(storedA.wav.length);
  });

  it('says when the download differs from its metadata, in the header or the audio, for either schema', async () => {
    const fixture = (n: number, schemaVersion: 1 | 2): FixtureCall => ({
      ...a,
      uuid: `dddddddd-4444-4444-8444-00000000000${n}`,
      startedAt: new Date('2026-11-29T08:00:00.000Z'),
      schemaVersion,
    });
    const download = async (call: FixtureCall, change?: (wav: Buffer) => void) => {
      const stored = await putRecording(s3.client, s3.bucket, call);
      if (change) {
        const changed = Buffer.from(stored.wav);
        change(changed);
        await s3.client.send(new PutObjectCommand({ Bucket: s3.bucket, Key: stored.wavKey, Body: changed }));
      }
      return downloadRecording(s3.client, s3.bucket, call.uuid, { outDir: join(work, 'checked') });
    };
    const header = await download(fixture(1, 2), (wav) => {
      wav[22] = 2; // two channels
    });
    expect(header).toMatchObject({
      sha256Matches: false,
      digestDetail: 'header byte 22 is 0x02, expected 0x01',
    });
    const audio = await download(fixture(2, 2), (wav) => {
      wav[wav.length - 1] = (wav[wav.length - 1] as number) ^ 0x80;
    });
    expect(audio).toMatchObject({
      sha256Matches: false,
      digestDetail: expect.stringMatching(/^stored audio /),
    });
    expect(await download(fixture(3, 2))).toMatchObject({ sha256Matches: true });
    expect(await download(fixture(4, 1))).toMatchObject({ sha256Matches: true });
    const old = await download(fixture(5, 1), (wav) => {
      wav[50] = (wav[50] as number) ^ 0x01;
    });
    expect(old).toMatchObject({
      sha256Matches: false,
      digestDetail: expect.stringMatching(/^stored [0-9a-f]{64}, object hashes to /),
    });
  });

  it('presigns a GET URL that serves the recording until it expires', async () => {
    const signed = await presignRecordingUrl(s3.client, s3.bucket, a.uuid, 3600);
    expect(signed.key).toBe(storedA.wavKey);
    const url = new URL(signed.url);
    expect(url.searchParams.get('X-Amz-Expires')).toBe('3600');
    const response = await fetch(signed.url);
    expect(response.status).toBe(200);
    expect(Buffer.from(await response.arrayBuffer())).toEqual(storedA.wav);
    await expect(presignRecordingUrl(s3.client, s3.bucket, a.uuid, 8 * 86_400)).rejects.toThrow(
      /between 1s and 7d/,
    );
  });
});
