import { createHash } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { get as httpGet } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DeleteObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { metadataKey } from '../../common/recording-keys.js';
import { startTestConsole, type TestConsole } from '../../test-support/console.js';
import { startTestStack } from '../../test-support/local-stack.js';
import { type FixtureCall, putRecording, type StoredFixture } from '../../test-support/recording-fixtures.js';
import { loopPcm, speechPcm } from '../../test-support/speech.js';
import type { LocalStack } from '../../tools/local/stack.js';
import { type SimulatedCall, simulateCall } from '../../tools/simulator/simulate-call.js';

let work: string;
let stack: LocalStack;
let consoleApp: TestConsole;
let call: SimulatedCall;
let altered: StoredFixture;
const days: Record<string, FixtureCall[]> = {};

function fixture(
  n: number,
  day: string,
  extra: Partial<FixtureCall> = {},
  pcm: Buffer = Buffer.alloc(16000),
): FixtureCall {
  const id = String(n).padStart(12, '0');
  return {
    uuid: `f1f1f1f1-0000-4000-8000-${id}`,
    conversationUuid: `CON-f1f1f1f1-0000-4000-8000-${id}`,
    from: `4477009000${String(n).padStart(2, '0')}`,
    to: '442071838750',
    startedAt: new Date(`${day}T10:${String(n).padStart(2, '0')}:00.000Z`),
    sampleRate: 16000,
    pcm,
    ...extra,
  };
}

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'console-api-'));
  stack = await startTestStack(join(work, 'stack'));
  const speech = await speechPcm('Thank you for calling. This call is recorded.', 16000);
  call = await simulateCall({
    answerUrl: stack.answerUrl,
    audio: { pcm: speech, sampleRate: 16000 },
    speed: 8,
    from: '447700900555',
    dtmf: [
      { digit: '4', atMs: 1000 },
      { digit: '2', atMs: 1500 },
    ],
  });
  // Three earlier days of recordings, for paging and date ranges.
  const tone = loopPcm(speech, 16000, 1);
  for (const [n, day] of [
    [1, '2026-11-26'],
    [2, '2026-11-26'],
    [3, '2026-11-27'],
    [4, '2026-11-27'],
    [5, '2026-11-28'],
  ] as const) {
    const item = fixture(n, day, {}, tone);
    days[day] = [...(days[day] ?? []), item];
    await putRecording(stack.s3, stack.bucket, item);
  }
  // One whose WAV bytes were changed after it was stored, one with unreadable metadata, one without audio.
  altered = await putRecording(stack.s3, stack.bucket, fixture(6, '2026-11-25', {}, tone));
  const changed = Buffer.from(altered.wav);
  changed[1000] = (changed[1000] as number) ^ 0xff;
  await stack.s3.send(new PutObjectCommand({ Bucket: stack.bucket, Key: altered.wavKey, Body: changed }));
  const corrupt = fixture(7, '2026-11-24');
  await putRecording(stack.s3, stack.bucket, corrupt);
  await stack.s3.send(
    new PutObjectCommand({
      Bucket: stack.bucket,
      Key: metadataKey(corrupt.uuid, corrupt.startedAt),
      Body: '{"schemaVersion": 1, "uuid": ',
    }),
  );
  const metadataOnly = fixture(8, '2026-11-24');
  const stored = await putRecording(stack.s3, stack.bucket, metadataOnly);
  await stack.s3.send(new DeleteObjectCommand({ Bucket: stack.bucket, Key: stored.wavKey }));
  consoleApp = await startTestConsole(stack.s3, stack.bucket);
});

afterAll(async () => {
  await consoleApp?.close();
  await stack?.stop();
  if (work) await rm(work, { recursive: true, force: true });
});

const json = async (path: string, init?: RequestInit) => {
  const response = await consoleApp.request(path, init);
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
};
const callDay = () => call.startedAt.toISOString().slice(0, 10);
const uuidsOf = (body: Record<string, unknown>) => (body.rows as { uuid: string }[]).map((row) => row.uuid);

describe('access', () => {
  it('refuses a request without the token, with a page that says how to get in', async () => {
    const response = await fetch(`${consoleApp.origin}/`);
    expect(response.status).toBe(401);
    expect(await response.text()).toContain('open the URL `npx recordings console` printed');
    const api = await fetch(`${consoleApp.origin}/api/recordings`);
    expect(api.status).toBe(401);
    expect(((await api.json()) as { error: string }).error).toMatch(/no access token/);
  });

  it('refuses a wrong token and sets no cookie', async () => {
    const response = await fetch(`${consoleApp.origin}/?token=not-the-token`, { redirect: 'manual' });
    expect(response.status).toBe(401);
    expect(response.headers.get('set-cookie')).toBeNull();
    expect(await response.text()).toContain('wrong access token');
  });

  it('swaps the printed token for an HttpOnly SameSite=Strict cookie and drops it from the address', async () => {
    const response = await fetch(consoleApp.url, { redirect: 'manual' });
    expect(response.status).toBe(303);
    expect(response.headers.get('location')).toBe('/');
    expect(response.headers.get('set-cookie')).toMatch(/HttpOnly/);
    expect(response.headers.get('set-cookie')).toMatch(/SameSite=Strict/);
  });

  it('serves the page with a strict Content-Security-Policy', async () => {
    const response = await consoleApp.request('/');
    expect(response.status).toBe(200);
    const csp = response.headers.get('content-security-policy') ?? '';
    expect(csp).toContain("default-src 'none'");
    expect(csp).toContain("script-src 'self'");
    expect(csp).not.toContain('unsafe-inline');
  });

  it('refuses another Host name (DNS rebinding) and a change request from another origin', async () => {
    const rebound = await new Promise<number>((resolve, reject) => {
      // fetch sets Host from the URL; node:http sends the Host a rebound DNS name would carry.
      const request = httpGet(
        `${consoleApp.origin}/api/recordings`,
        { headers: { host: `evil.example:${consoleApp.port}`, cookie: consoleApp.cookie } },
        (response) => {
          response.resume();
          resolve(response.statusCode ?? 0);
        },
      );
      request.once('error', reject);
    });
    expect(rebound).toBe(403);
    const crossSite = await consoleApp.request(`/api/recordings/${callDay()}/${call.uuid}/verify`, {
      method: 'POST',
      headers: { origin: 'http://evil.example' },
    });
    expect(crossSite.status).toBe(403);
  });

  it('listens on 127.0.0.1 only', () => {
    expect(consoleApp.origin).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
  });
});

describe('find', () => {
  it('lists the simulated call first (newest day), with its caller and state', async () => {
    const { status, body } = await json('/api/recordings');
    expect(status).toBe(200);
    const rows = body.rows as { uuid: string; from: string; state: string; durationSeconds: number }[];
    expect(rows[0]).toMatchObject({ uuid: call.uuid, from: '447700900555', state: 'ok' });
    expect(rows[0]?.durationSeconds).toBeCloseTo(call.audioSeconds, 1);
    expect(rows).toHaveLength(9);
  });

  it('pages through every recording once, newest day first, with a cursor', async () => {
    const seen: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const { body }: { body: Record<string, unknown> } = await json(
        `/api/recordings?limit=2${cursor ? `&cursor=${cursor}` : ''}`,
      );
      seen.push(...uuidsOf(body));
      cursor = body.nextCursor as string | null;
      pages += 1;
    } while (cursor && pages < 20);
    expect(seen).toHaveLength(9);
    expect(new Set(seen).size).toBe(9);
    const dayOrder = seen.map((uuid) => (uuid === call.uuid ? callDay() : uuid));
    expect(dayOrder[0]).toBe(callDay());
    expect(seen.indexOf(days['2026-11-28']?.[0]?.uuid as string)).toBeLessThan(
      seen.indexOf(days['2026-11-26']?.[0]?.uuid as string),
    );
  });

  it('narrows by date range, caller and state', async () => {
    const range = await json('/api/recordings?from=2026-11-26&to=2026-11-27');
    expect(uuidsOf(range.body).sort()).toEqual(
      [...(days['2026-11-26'] ?? []), ...(days['2026-11-27'] ?? [])].map((item) => item.uuid).sort(),
    );
    const caller = await json('/api/recordings?caller=%2B447700900003');
    expect(uuidsOf(caller.body)).toEqual([days['2026-11-27']?.[0]?.uuid]);
    const bad = await json('/api/recordings?state=bad-metadata');
    expect(uuidsOf(bad.body)).toEqual([fixture(7, '2026-11-24').uuid]);
    const noAudio = await json('/api/recordings?state=missing-audio');
    expect(uuidsOf(noAudio.body)).toEqual([fixture(8, '2026-11-24').uuid]);
  });

  it('answers bad filter values and cursors with a clear 400', async () => {
    const cursor = await json('/api/recordings?cursor=garbage');
    expect(cursor).toEqual({
      status: 400,
      body: { error: expect.stringMatching(/cursor is not one this console/) },
    });
    const state = await json('/api/recordings?state=lost');
    expect(state.status).toBe(400);
    expect(state.body.error).toMatch(/state must be one of/);
    const date = await json('/api/recordings?from=yesterday-ish');
    expect(date.status).toBe(400);
  });
});

describe('one call', () => {
  it("shows the call's metadata with the DTMF offsets and both legs' events, and finds nothing amiss", async () => {
    const { status, body } = await json(`/api/recordings/${callDay()}/${call.uuid}`);
    expect(status).toBe(200);
    const metadata = body.metadata as { textEvents: { offsetMs: number; event: { digit: string } }[] };
    expect(metadata.textEvents.map((text) => [text.event.digit, text.offsetMs])).toEqual([
      ['4', 1000],
      ['2', 1500],
    ]);
    const trail = body.trail as { events: { leg: string; status: string }[]; findings: unknown[] };
    expect(trail.events.filter((event) => event.leg === 'call').map((event) => event.status)).toEqual(
      expect.arrayContaining(['started', 'answered', 'completed']),
    );
    expect(trail.events.some((event) => event.leg === 'websocket' && event.status === 'completed')).toBe(
      true,
    );
    expect(trail.findings).toEqual([]);
  });

  it('says what is wrong for an unknown uuid, a malformed one, and unreadable metadata', async () => {
    const unknown = await json(`/api/recordings/${callDay()}/00000000-0000-4000-8000-000000000000`);
    expect(unknown.status).toBe(404);
    expect(unknown.body.error).toMatch(/no recording of call 00000000-0000-4000-8000-000000000000/);
    const malformed = await json(`/api/recordings/${callDay()}/not..a..uuid`);
    expect(malformed.status).toBe(400);
    const corrupt = await json(`/api/recordings/2026-11-24/${fixture(7, '2026-11-24').uuid}`);
    expect(corrupt.status).toBe(200);
    expect(corrupt.body.metadataProblem).toMatch(/metadata is not JSON/);
    expect(corrupt.body.trail).toBeNull();
  });

  it('serves byte ranges of the WAV straight from S3 (what a player asks for to seek)', async () => {
    const response = await consoleApp.request(`/api/recordings/${callDay()}/${call.uuid}/audio`, {
      headers: { range: 'bytes=44-1043' },
    });
    expect(response.status).toBe(206);
    expect(response.headers.get('content-range')).toBe(`bytes 44-1043/${call.pcm.length + 44}`);
    expect(response.headers.get('accept-ranges')).toBe('bytes');
    expect(Buffer.from(await response.arrayBuffer()).equals(call.pcm.subarray(0, 1000))).toBe(true);
    const whole = await consoleApp.request(`/api/recordings/${callDay()}/${call.uuid}/audio`);
    expect(whole.status).toBe(200);
    expect((await whole.arrayBuffer()).byteLength).toBe(call.pcm.length + 44);
  });

  it('refuses a range it cannot serve and audio that is not there', async () => {
    const multi = await consoleApp.request(`/api/recordings/${callDay()}/${call.uuid}/audio`, {
      headers: { range: 'bytes=0-1,5-9' },
    });
    expect(multi.status).toBe(416);
    const missing = await json(`/api/recordings/2026-11-24/${fixture(8, '2026-11-24').uuid}/audio`);
    expect(missing.status).toBe(404);
    expect(missing.body.error).toMatch(/no WAV object/);
  });

  it('draws a waveform overview from the audio', async () => {
    const { body } = await json(`/api/recordings/${callDay()}/${call.uuid}/peaks`);
    const peaks = body.peaks as number[];
    expect(peaks).toHaveLength(1200);
    expect(Math.max(...peaks)).toBeGreaterThan(0.05);
    expect(Math.max(...peaks)).toBeLessThanOrEqual(1);
  });
});

describe('integrity', () => {
  it('verifies the simulated call as intact and the altered one as failing its SHA-256', async () => {
    const good = await json(`/api/recordings/${callDay()}/${call.uuid}/verify`, { method: 'POST' });
    expect(good.body).toMatchObject({ ok: true, failed: [] });
    const bad = await json(`/api/recordings/2026-11-25/${altered.metadata.uuid}/verify`, { method: 'POST' });
    expect(bad.body.ok).toBe(false);
    expect((bad.body.failed as string[]).join('\n')).toMatch(
      /^sha256: stored audio [0-9a-f]{64}, object's audio hashes to/m,
    );
    const failing = await json('/api/recordings?state=failing');
    expect(uuidsOf(failing.body)).toEqual([altered.metadata.uuid]);
  });

  it('verifies every recording of a filter a page at a time', async () => {
    const { body } = await json('/api/verify?from=2026-11-25&to=2026-11-28&limit=3', { method: 'POST' });
    expect((body.results as unknown[]).length).toBe(3);
    const second = await json(`/api/verify?from=2026-11-25&to=2026-11-28&limit=3&cursor=${body.nextCursor}`, {
      method: 'POST',
    });
    const results = [
      ...(body.results as { uuid: string; ok: boolean }[]),
      ...(second.body.results as { uuid: string; ok: boolean }[]),
    ];
    expect(results.filter((result) => !result.ok).map((result) => result.uuid)).toEqual([
      altered.metadata.uuid,
    ]);
    expect(results).toHaveLength(6);
    expect(second.body.nextCursor).toBeNull();
  });

  it('downloads the WAV with its hash checked, and refuses one whose bytes changed', async () => {
    const response = await consoleApp.request(`/api/recordings/${callDay()}/${call.uuid}/download/wav`);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-disposition')).toBe(`attachment; filename="${call.uuid}.wav"`);
    const bytes = Buffer.from(await response.arrayBuffer());
    const sha256 = createHash('sha256').update(bytes).digest('hex');
    expect(response.headers.get('x-recording-sha256')).toBe(sha256);
    expect(response.headers.get('x-sha256-check')).toBe('match');
    expect(bytes.subarray(44).equals(call.pcm)).toBe(true);

    const refused = await consoleApp.request(
      `/api/recordings/2026-11-25/${altered.metadata.uuid}/download/wav`,
    );
    expect(refused.status).toBe(409);
    expect(await refused.text()).toMatch(/Download refused.*not the SHA-256 its metadata stores/s);
  });

  it('downloads the metadata JSON as stored', async () => {
    const response = await consoleApp.request(`/api/recordings/${callDay()}/${call.uuid}/download/json`);
    expect(response.status).toBe(200);
    expect(((await response.json()) as { uuid: string }).uuid).toBe(call.uuid);
  });
});
