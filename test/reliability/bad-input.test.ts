import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { writeFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GetObjectCommand, ListObjectsV2Command } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { type LoadResult, type RunningLoad, startLoad } from '../../bench/lib/load-generator.js';
import { signCallToken } from '../../common/call-token.js';
import { type LocalS3, startLocalS3 } from '../../test-support/local-s3.js';
import {
  callUrl,
  checkRecordings,
  type InProcessRecorder,
  SECRET,
  scaled,
  speech,
  startRecorder,
  upgradeStatus,
  waitForMetadata,
} from '../../test-support/reliability.js';
import { soxi } from '../../test-support/speech.js';

/**
 * Bad input while good calls stream. Each bad client gets the close code or HTTP status the
 * recorder documents (fargate/src/close-codes.ts; 401/404/409 at the handshake), and every good
 * call's recording is complete and byte-correct afterwards.
 */
const GOOD_CALLS = scaled(30, 100);
const GOOD_SECONDS = scaled(20, 40);
const IDLE_MS = 1500;
const CONNECTED = JSON.stringify({ event: 'websocket:connected', 'content-type': 'audio/l16;rate=16000' });

describe(`bad input while ${GOOD_CALLS} good calls stream`, () => {
  let s3: LocalS3;
  let recorder: InProcessRecorder;
  let pcm: Buffer;
  let good: RunningLoad;
  let goodResult: Promise<LoadResult>;

  beforeAll(async () => {
    s3 = await startLocalS3();
    recorder = await startRecorder(s3.endpoint, s3.bucket, { idleTimeoutMs: IDLE_MS });
    pcm = await speech();
    good = startLoad({
      url: recorder.url,
      secret: SECRET,
      calls: GOOD_CALLS,
      seconds: GOOD_SECONDS,
      rampMs: 1000,
      pcm,
    });
    goodResult = good.done;
    const deadline = Date.now() + 20_000;
    while (good.progress().open < GOOD_CALLS && Date.now() < deadline) await sleep(50);
  });

  afterAll(async () => {
    good.hangupAll();
    await goodResult;
    await recorder.close();
    await s3.close();
  });

  it('closes a call whose first frame is audio with 1003, and stores nothing', async () => {
    const uuid = randomUUID();
    const { ws, closed } = await open(callUrl(recorder.url, uuid));
    ws.send(pcm.subarray(0, 640));
    expect((await closed).code).toBe(1003);
    expect(await keysFor(uuid)).toEqual([]);
  });

  it('closes malformed first frames with 4400: not JSON, not an object, another event', async () => {
    for (const first of [
      '{"event":"websocket:connected"',
      '[1,2,3]',
      '{"event":"websocket:dtmf","digit":"1"}',
    ]) {
      const uuid = randomUUID();
      const { ws, closed } = await open(callUrl(recorder.url, uuid));
      ws.send(first);
      expect((await closed).code, first).toBe(4400);
      expect(await keysFor(uuid)).toEqual([]);
    }
  });

  it('closes an unknown or missing content-type with 4415', async () => {
    for (const contentType of ['audio/l16;rate=44100', 'audio/pcmu', undefined]) {
      const { ws, closed } = await open(callUrl(recorder.url, randomUUID()));
      ws.send(JSON.stringify({ event: 'websocket:connected', 'content-type': contentType }));
      expect((await closed).code, String(contentType)).toBe(4415);
    }
  });

  it('closes an oversize frame with 1009 and keeps the audio received before it', async () => {
    const uuid = randomUUID();
    const { ws, closed } = await open(callUrl(recorder.url, uuid));
    ws.send(CONNECTED);
    const audio = pcm.subarray(0, 640 * 10);
    for (let i = 0; i < 10; i += 1) ws.send(audio.subarray(i * 640, (i + 1) * 640));
    ws.send(Buffer.alloc(70 * 1024));
    expect((await closed).code).toBe(1009);
    const metadata = (await waitForMetadata(s3.client, s3.bucket, [callOf(uuid)], 20_000)).get(uuid);
    expect(metadata?.audioBytes).toBe(audio.length);
    expect(metadata?.interrupted).toBe(true);
  });

  it('keeps odd-size frames in the audio and counts them', async () => {
    const uuid = randomUUID();
    const { ws, closed } = await open(callUrl(recorder.url, uuid));
    ws.send(CONNECTED);
    const sizes = [640, 641, 1, 3, 639, 640, 320, 960];
    let offset = 0;
    for (const size of sizes) {
      ws.send(pcm.subarray(offset, offset + size));
      offset += size;
    }
    ws.close(1000);
    expect((await closed).code).toBe(1000);
    const check = await checkRecordings(s3.client, s3.bucket, [callOf(uuid, offset)], pcm, 20_000);
    expect(check.problems).toEqual([]);
    expect(check.metadata.get(uuid)?.oddSizeFrames).toBe(6);
    expect(check.metadata.get(uuid)?.frameCount).toBe(sizes.length);
  });

  it('survives a text flood mid-call: audio complete, at most 1000 text events kept', async () => {
    const uuid = randomUUID();
    const { ws, closed } = await open(callUrl(recorder.url, uuid));
    ws.send(CONNECTED);
    const frames = 100;
    for (let i = 0; i < frames; i += 1) {
      ws.send(pcm.subarray(i * 640, (i + 1) * 640));
      for (let j = 0; j < 50; j += 1)
        ws.send(JSON.stringify({ event: 'websocket:dtmf', digit: String(j % 10), duration: 100 }));
    }
    ws.close(1000);
    expect((await closed).code).toBe(1000);
    const check = await checkRecordings(s3.client, s3.bucket, [callOf(uuid, frames * 640)], pcm, 20_000);
    expect(check.problems).toEqual([]);
    const metadata = check.metadata.get(uuid) as unknown as {
      textEvents: unknown[];
      droppedTextEvents?: number;
    };
    expect(metadata.textEvents).toHaveLength(1000);
    expect(metadata.droppedTextEvents).toBe(frames * 50 - 1000);
  });

  it('closes a client that never sends with 4408 after the idle timeout, and one that falls silent keeping its audio', async () => {
    const silent = await open(callUrl(recorder.url, randomUUID()));
    const quiet = randomUUID();
    const fallsSilent = await open(callUrl(recorder.url, quiet));
    fallsSilent.ws.send(CONNECTED);
    fallsSilent.ws.send(pcm.subarray(0, 640 * 5));
    const started = Date.now();
    expect((await silent.closed).code).toBe(4408);
    expect((await fallsSilent.closed).code).toBe(4408);
    expect(Date.now() - started).toBeGreaterThanOrEqual(IDLE_MS - 200);
    const metadata = (await waitForMetadata(s3.client, s3.bucket, [callOf(quiet)], 20_000)).get(quiet);
    expect(metadata?.audioBytes).toBe(640 * 5);
    expect(metadata?.end.by).toBe('idle-timeout');
  });

  it('accepts a handshake sent a few bytes at a time, and is not held up by stalled ones', async () => {
    const port = Number(new URL(recorder.url).port);
    const uuid = randomUUID();
    const token = signCallToken(SECRET, uuid, Math.floor(Date.now() / 1000) + 600);
    const request =
      `GET /calls/${uuid}?token=${encodeURIComponent(token)} HTTP/1.1\r\nHost: 127.0.0.1\r\n` +
      'Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n' +
      'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n';
    // Twenty half-sent handshakes stay open throughout.
    const stalled = await Promise.all(
      Array.from({ length: 20 }, async () => {
        const socket = connect(port, '127.0.0.1');
        await once(socket, 'connect');
        socket.write(request.slice(0, 40));
        return socket;
      }),
    );
    const slow = connect(port, '127.0.0.1');
    await once(slow, 'connect');
    for (let i = 0; i < request.length; i += 8) {
      slow.write(request.slice(i, i + 8));
      await sleep(15);
    }
    const [response] = (await once(slow, 'data')) as [Buffer];
    expect(response.toString('latin1').split('\r\n')[0]).toBe('HTTP/1.1 101 Switching Protocols');
    slow.destroy();
    // A good call still connects at once while the stalled handshakes are held.
    expect(await upgradeStatus(callUrl(recorder.url, randomUUID()))).toBe(101);
    for (const socket of stalled) socket.destroy();
  });

  it(`refuses a flood of ${scaled(500, 5000)} unauthenticated upgrades with 401 (404 off the call path)`, async () => {
    const count = scaled(500, 5000);
    const statuses = new Map<string, number>();
    const attempts = Array.from({ length: count }, (_, i) => {
      const uuid = randomUUID();
      const kinds = [
        ['no token', `${recorder.url}/calls/${uuid}`, 401],
        ['garbage token', `${recorder.url}/calls/${uuid}?token=${'x'.repeat(i % 200)}`, 401],
        ['wrong path', `${recorder.url}/recordings/${uuid}?token=abc`, 404],
        ['bad uuid', `${recorder.url}/calls/..%2F..%2Fetc?token=abc`, 404],
      ] as const;
      return kinds[i % kinds.length]!;
    });
    for (let i = 0; i < attempts.length; i += 100) {
      await Promise.all(
        attempts.slice(i, i + 100).map(async ([kind, url, expected]) => {
          const status = await upgradeStatus(url);
          if (status !== expected)
            statuses.set(`${kind}: ${status}`, (statuses.get(`${kind}: ${status}`) ?? 0) + 1);
        }),
      );
    }
    expect(Object.fromEntries(statuses)).toEqual({});
  });

  it('refuses forged, expired and cross-call tokens with 401', async () => {
    const uuid = randomUUID();
    const later = Math.floor(Date.now() / 1000) + 600;
    const forged = signCallToken('another-secret-of-at-least-thirty-two-chars', uuid, later);
    const otherCall = signCallToken(SECRET, randomUUID(), later);
    const expired = signCallToken(SECRET, uuid, Math.floor(Date.now() / 1000) - 1);
    const valid = signCallToken(SECRET, uuid, later);
    const tampered = `${later + 1}.${valid.split('.')[1]}`;
    for (const token of [forged, otherCall, expired, tampered, valid.slice(0, -1)]) {
      expect(await upgradeStatus(callUrl(recorder.url, uuid, token)), token).toBe(401);
    }
  });

  it('refuses a replayed token: 409 while its call is live, 401 after it ended; the recording is not overwritten', async () => {
    const uuid = randomUUID();
    const url = callUrl(recorder.url, uuid);
    const { ws, closed } = await open(url);
    ws.send(CONNECTED);
    ws.send(pcm.subarray(0, 640 * 10));
    expect(await upgradeStatus(url)).toBe(409);
    ws.close(1000);
    await closed;
    await waitForMetadata(s3.client, s3.bucket, [callOf(uuid)], 20_000);
    expect(await upgradeStatus(url)).toBe(401);
    const check = await checkRecordings(s3.client, s3.bucket, [callOf(uuid, 640 * 10)], pcm, 20_000);
    expect(check.problems).toEqual([]);
  });

  it('stores every good call complete and byte-correct, as playable WAVs', async () => {
    good.hangupAll();
    const result = await goodResult;
    const check = await checkRecordings(s3.client, s3.bucket, result.calls, pcm, 60_000);
    expect(result.calls.every((call) => call.closeCode === 1000)).toBe(true);
    expect(check.problems).toEqual([]);
    expect(check.complete).toBe(GOOD_CALLS);
    expect(check.framesLost).toBe(0);
    // One WAV through soxi, as a user would open it.
    const first = check.metadata.get(result.calls[0]!.uuid)!;
    const body = await s3.client.send(new GetObjectCommand({ Bucket: s3.bucket, Key: first.recordingKey }));
    const path = join(tmpdir(), `${first.uuid}.wav`);
    await writeFile(path, await body.Body!.transformToByteArray());
    expect((await soxi(path)).samples).toBe(result.calls[0]!.bytesSent / 2);
  });

  async function keysFor(uuid: string): Promise<string[]> {
    await sleep(300);
    const listed = await s3.client.send(
      new ListObjectsV2Command({ Bucket: s3.bucket, Prefix: 'recordings/' }),
    );
    return (listed.Contents ?? []).map((item) => item.Key!).filter((key) => key.includes(uuid));
  }
});

/** A CallResult-shaped description of a hand-driven call whose audio is `bytes` of the speech from offset 0. */
function callOf(uuid: string, bytes = 0) {
  return {
    uuid,
    openedAt: Date.now(),
    pcmOffset: 0,
    framesSent: Math.ceil(bytes / 640),
    bytesSent: bytes,
    framesAcknowledged: 0,
    framesFailed: 0,
    closeCode: 1000,
    closeReason: '',
    closedBy: 'client' as const,
  };
}

async function open(
  url: string,
): Promise<{ ws: WebSocket; closed: Promise<{ code: number; reason: string }> }> {
  const ws = new WebSocket(url, { perMessageDeflate: false });
  const closed = new Promise<{ code: number; reason: string }>((resolve) =>
    ws.once('close', (code, reason) => resolve({ code, reason: reason.toString() })),
  );
  ws.on('error', () => {});
  await once(ws, 'open');
  return { ws, closed };
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
