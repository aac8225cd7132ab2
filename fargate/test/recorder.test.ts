import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Logger } from '@aws-lambda-powertools/logger';
import { HeadObjectCommand } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { bytesPerSecond, frameBytes, type SampleRate } from '../../common/audio-format.js';
import { signCallToken } from '../../common/call-token.js';
import { createS3Client } from '../../common/s3-client.js';
import { type LocalS3, startLocalS3 } from '../../test-support/local-s3.js';
import {
  callUrl,
  checkpointedCall,
  closed,
  connectedFrame,
  frames,
  HandshakeAcceptedError,
  handshakeStatus,
  listKeys,
  newCallUuid,
  openSocket,
  SECRET,
  sendAll,
  streamRealTime,
  waitForRecording,
  waitUntil,
} from '../../test-support/recorder.js';
import { metadataDigests } from '../../test-support/recording-fixtures.js';
import { loopPcm, soxi, speechPcm } from '../../test-support/speech.js';
import { createRecorder, type Recorder, type RecorderOptions } from '../src/recorder.js';
import { findJournals, recoverSpools } from '../src/recovery.js';
import { TransferLimiter } from '../src/transfer-limiter.js';

const silent = new Logger({ logLevel: 'SILENT' });
let s3: LocalS3;
let work: string;
const speech = new Map<SampleRate, Buffer>();
const started: Recorder[] = [];

async function speechAt(rate: SampleRate): Promise<Buffer> {
  let pcm = speech.get(rate);
  if (!pcm) {
    pcm = await speechPcm('Thank you for calling. This call is recorded. Press five to continue.', rate);
    speech.set(rate, pcm);
  }
  return pcm;
}

async function startRecorder(
  overrides: Partial<RecorderOptions> = {},
): Promise<{ recorder: Recorder; base: string; http: string; scratchDir: string }> {
  const scratchDir = await mkdtemp(join(work, 'scratch-'));
  const recorder = createRecorder({
    bucket: s3.bucket,
    s3: s3.client,
    callTokenSecret: SECRET,
    scratchDir,
    logger: silent,
    ...overrides,
  });
  const address = await recorder.listen(0, '127.0.0.1');
  started.push(recorder);
  return {
    recorder,
    base: `ws://127.0.0.1:${address.port}`,
    http: `http://127.0.0.1:${address.port}`,
    scratchDir,
  };
}

/** 101 if the handshake is accepted (the socket is then closed), else the refusal's status. */
function handshakeStatusOrOpen(url: string): Promise<number> {
  return handshakeStatus(url).catch((error: unknown) => {
    if (error instanceof HandshakeAcceptedError) return 101;
    throw error;
  });
}

/** Sends a websocket upgrade with a raw request target (one `ws` would refuse to send). */
function rawUpgradeStatusLine(base: string, target: string): Promise<string> {
  const port = Number(new URL(base).port);
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1', () =>
      socket.write(
        `GET ${target} HTTP/1.1\r\nHost: recorder\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
          'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n',
      ),
    );
    let reply = '';
    socket.on('data', (chunk) => {
      reply += chunk;
    });
    socket.on('close', () => resolve(reply.split('\r\n')[0] ?? ''));
    socket.on('error', reject);
  });
}

async function keysFor(uuid: string): Promise<string[]> {
  return (await listKeys(s3.client, s3.bucket)).filter((key) => key.includes(uuid));
}

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'recorder-test-'));
  s3 = await startLocalS3();
});

afterAll(async () => {
  await Promise.all(started.map((recorder) => recorder.close()));
  await s3?.close();
  await rm(work, { recursive: true, force: true });
});

describe('a call streamed to the recorder', () => {
  it.each([8000, 16000, 24000] as const)(
    'is stored at %i Hz as a WAV identical to the audio sent, with its metadata',
    async (rate) => {
      const { base, scratchDir } = await startRecorder();
      const uuid = newCallUuid();
      const audio = frames(await speechAt(rate), rate);
      // One odd-size frame mid-call: kept in the audio and counted.
      audio.splice(30, 0, Buffer.from(Array.from({ length: 100 }, (_, i) => i)));
      const dtmf = { event: 'websocket:dtmf', digit: '5', duration: 260 };
      const items: (Buffer | string)[] = [...audio];
      items.splice(20, 0, JSON.stringify(dtmf));
      items.splice(41, 0, 'not json');
      const ws = await openSocket(callUrl(base, uuid));
      const end = closed(ws);
      await sendAll(ws, [connectedFrame(rate, uuid, { campaign: 'spring' }), ...items]);
      ws.close(1000, 'caller hung up');
      expect(await end).toEqual({ code: 1000, reason: 'caller hung up' });

      const { metadata, wav, wavKey } = await waitForRecording(s3.client, s3.bucket, uuid);
      const sent = Buffer.concat(audio);
      expect(wav.subarray(44).equals(sent)).toBe(true);
      const file = join(work, `${uuid}.wav`);
      await writeFile(file, wav);
      const info = await soxi(file);
      expect(info).toMatchObject({ sampleRate: rate, channels: 1, bits: 16, samples: sent.length / 2 });
      expect(info.seconds).toBeCloseTo(sent.length / bytesPerSecond(rate), 2);

      const oddFrames = audio.filter((frame) => frame.length !== frameBytes(rate)).length;
      expect(metadata).toMatchObject({
        uuid,
        conversationUuid: `CON-${uuid}`,
        from: '447700900001',
        to: '447700900002',
        sampleRate: rate,
        channels: 1,
        bitsPerSample: 16,
        audioBytes: sent.length,
        wavBytes: wav.length,
        ...metadataDigests(wav),
        frameCount: audio.length,
        oddSizeFrames: oddFrames,
        durationSeconds: sent.length / bytesPerSecond(rate),
        end: { by: 'peer', code: 1000, reason: 'caller hung up' },
        interrupted: false,
        recordingKey: wavKey,
        headers: { campaign: 'spring' },
      });
      expect(oddFrames).toBeGreaterThanOrEqual(1);
      const bytesBeforeDtmf = Buffer.concat(audio.slice(0, 20)).length;
      expect(metadata.textEvents).toHaveLength(2);
      expect(metadata.textEvents[0]).toMatchObject({
        event: dtmf,
        offsetMs: Math.round((bytesBeforeDtmf / bytesPerSecond(rate)) * 1000),
      });
      expect(metadata.textEvents[1]?.event).toEqual({ raw: 'not json' });
      expect(Date.parse(metadata.endedAt)).toBeGreaterThanOrEqual(Date.parse(metadata.startedAt));
      expect(wavKey).toMatch(new RegExp(`^recordings/\\d{4}/\\d{2}/\\d{2}/${uuid}\\.wav$`));

      const head = await s3.client.send(new HeadObjectCommand({ Bucket: s3.bucket, Key: wavKey }));
      expect(head.ContentType).toBe('audio/wav');
      expect(head.Metadata).toMatchObject({
        'call-uuid': uuid,
        'sample-rate': String(rate),
        'conversation-uuid': `CON-${uuid}`,
      });
      expect(head.ETag).not.toContain('-'); // one PutObject, not multipart
      expect(await readdir(scratchDir)).toEqual([]);
    },
  );

  it('longer than one 5 MiB part goes up in parts during the call and is byte-identical', async () => {
    const client = createS3Client({ endpoint: s3.endpoint, credentials: s3.credentials });
    const sentCommands: string[] = [];
    client.middlewareStack.add(
      (next, context) => async (args) => {
        sentCommands.push(context.commandName as string);
        return next(args);
      },
      { step: 'initialize' },
    );
    // Checkpoints off: this counts the recording's own S3 requests. The audio goes in at socket
    // speed (250 s of it), so the real-time limit is off here; it has its own tests.
    const { base } = await startRecorder({ s3: client, checkpointIntervalMs: 0, audioRate: false });
    const rate = 24000;
    const uuid = newCallUuid();
    // 11.5 MiB of audio: parts 2 and 3 are full, part 1 and the short last part go up at hangup.
    const pcm = loopPcm(await speechAt(rate), rate, (11.5 * 1024 * 1024) / bytesPerSecond(rate));
    const audio = frames(pcm, rate);
    const ws = await openSocket(callUrl(base, uuid));
    const end = closed(ws);
    const firstHalf = Math.ceil(audio.length * 0.95);
    await sendAll(ws, [connectedFrame(rate, uuid), ...audio.slice(0, firstHalf)]);
    // Audio moves while the call is live: parts go up before hangup.
    const until = Date.now() + 20_000;
    while (sentCommands.filter((name) => name === 'UploadPartCommand').length < 1 && Date.now() < until) {
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    expect(sentCommands).toContain('CreateMultipartUploadCommand');
    expect(sentCommands).toContain('UploadPartCommand');
    expect(sentCommands).not.toContain('CompleteMultipartUploadCommand');
    await sendAll(ws, audio.slice(firstHalf));
    ws.close(1000);
    await end;

    const { metadata, wav } = await waitForRecording(s3.client, s3.bucket, uuid);
    expect(wav.length).toBe(44 + pcm.length);
    expect(wav.subarray(44).equals(pcm)).toBe(true);
    expect(metadata).toMatchObject(metadataDigests(wav));
    expect(metadata.audioBytes).toBe(pcm.length);
    const file = join(work, `${uuid}.wav`);
    await writeFile(file, wav);
    expect((await soxi(file)).samples).toBe(pcm.length / 2);
    const head = await s3.client.send(
      new HeadObjectCommand({ Bucket: s3.bucket, Key: metadata.recordingKey }),
    );
    expect(head.Metadata).toMatchObject({ 'call-uuid': uuid });
    const count = (name: string) => sentCommands.filter((sent) => sent === name).length;
    expect(count('UploadPartCommand')).toBe(3);
    expect(count('CompleteMultipartUploadCommand')).toBe(1);
    expect(count('PutObjectCommand')).toBe(1); // the metadata JSON only
    client.destroy();
  });

  it('survives the S3 server being down mid-call without losing audio', async () => {
    const directory = await mkdtemp(join(work, 'outage-s3-'));
    let flaky = await startLocalS3({ directory });
    const port = flaky.port;
    const client = createS3Client({ endpoint: flaky.endpoint, credentials: flaky.credentials });
    const { base } = await startRecorder({
      s3: client,
      bucket: flaky.bucket,
      partSizeBytes: 64 * 1024,
      retry: { baseDelayMs: 20, maxDelayMs: 200, attemptTimeoutMs: 2000 },
    });
    const rate = 16000;
    const uuid = newCallUuid();
    const audio = frames(loopPcm(await speechAt(rate), rate, 12), rate);
    const third = Math.floor(audio.length / 3);
    const ws = await openSocket(callUrl(base, uuid));
    const end = closed(ws);
    await sendAll(ws, [connectedFrame(rate, uuid), ...audio.slice(0, third)]);
    await new Promise((resolve) => setTimeout(resolve, 300));
    await flaky.close();
    await sendAll(ws, audio.slice(third, 2 * third));
    await new Promise((resolve) => setTimeout(resolve, 1000));
    flaky = await startLocalS3({ directory, port });
    await sendAll(ws, audio.slice(2 * third));
    ws.close(1000);
    await end;
    try {
      const { metadata, wav } = await waitForRecording(flaky.client, flaky.bucket, uuid);
      expect(wav.subarray(44).equals(Buffer.concat(audio))).toBe(true);
      expect(metadata).toMatchObject(metadataDigests(wav));
    } finally {
      client.destroy();
      await flaky.close();
    }
  });
  // 64 KiB parts keep this fast; a real S3 (RGW, as AWS) refuses parts under 5 MiB with
  // EntityTooSmall, so this one runs on s3rver only.
  it.skipIf(process.env.S3_TEST_SERVER === 'rgw')(
    'aborts the multipart upload and keeps the spool file when S3 keeps failing; the next start recovers it',
    async () => {
      const client = createS3Client({ endpoint: s3.endpoint, credentials: s3.credentials });
      const sentCommands: string[] = [];
      client.middlewareStack.add(
        (next, context) => async (args) => {
          sentCommands.push(context.commandName as string);
          const input = args.input as { PartNumber?: number };
          if (context.commandName === 'UploadPartCommand' && input.PartNumber === 1) {
            throw Object.assign(new Error('injected: S3 unavailable'), {
              $metadata: { httpStatusCode: 503 },
            });
          }
          return next(args);
        },
        { step: 'initialize' },
      );
      const counts = { started: 0, finished: 0, failed: 0 };
      const { base, scratchDir } = await startRecorder({
        s3: client,
        partSizeBytes: 64 * 1024,
        retry: { baseDelayMs: 10, maxDelayMs: 50, deadlineMs: 300 },
        metrics: {
          callStarted: () => counts.started++,
          callFinished: () => counts.finished++,
          callFailed: () => counts.failed++,
          activeCalls() {},
          publish() {},
        },
      });
      const rate = 16000;
      const uuid = newCallUuid();
      const audio = frames(loopPcm(await speechAt(rate), rate, 6), rate);
      const ws = await openSocket(callUrl(base, uuid));
      const end = closed(ws);
      await sendAll(ws, [connectedFrame(rate, uuid), ...audio]);
      ws.close(1000);
      await end;
      const until = Date.now() + 10_000;
      while (counts.failed === 0 && Date.now() < until)
        await new Promise((resolve) => setTimeout(resolve, 20));
      expect(counts).toEqual({ started: 1, finished: 0, failed: 1 });
      expect(sentCommands).toContain('AbortMultipartUploadCommand');
      expect(sentCommands).not.toContain('CompleteMultipartUploadCommand');
      // No recording; the call's S3 checkpoints stay, for a sweeper should the disk be lost: its
      // identity, and all its audio (the tail after hangup too).
      expect((await keysFor(uuid)).filter((key) => !key.startsWith('inflight/'))).toEqual([]);
      await waitUntil(
        async () =>
          (await checkpointedCall(s3.client, s3.bucket, uuid)).audio.length === Buffer.concat(audio).length,
      );
      const checkpointed = await checkpointedCall(s3.client, s3.bucket, uuid);
      expect(checkpointed.call).toMatchObject({ identity: { uuid, sampleRate: rate } });
      expect(checkpointed.audio.equals(Buffer.concat(audio))).toBe(true);
      // The audio stays on the scratch disk, whole, with its journal, for recovery.
      const left = (await readdir(scratchDir)).sort();
      expect(left).toHaveLength(2);
      expect(left[0]).toMatch(new RegExp(`^${uuid}\\.\\d+\\.journal\\.json$`));
      const spooled = await readFile(join(scratchDir, left[1]!));
      expect(spooled.equals(Buffer.concat(audio))).toBe(true);
      const journal = JSON.parse(await readFile(join(scratchDir, left[0]!), 'utf8'));
      expect(journal).toMatchObject({ bucket: s3.bucket, identity: { uuid, sampleRate: rate } });
      expect(journal.uploadId).toEqual(expect.any(String));

      // The next start recovers it into a complete, playable recording marked interrupted.
      const recovered = await recoverSpools({
        journals: await findJournals(scratchDir),
        s3: s3.client,
        limiter: new TransferLimiter(2),
        partSizeBytes: 64 * 1024,
        logger: silent,
      });
      expect(recovered).toBe(1);
      const { metadata, wav } = await waitForRecording(s3.client, s3.bucket, uuid, 1000);
      expect(wav.subarray(44).equals(Buffer.concat(audio))).toBe(true);
      expect(metadata).toMatchObject({
        uuid,
        conversationUuid: `CON-${uuid}`,
        ...metadataDigests(wav),
        interrupted: true,
        end: { by: 'recovered' },
        audioBytes: Buffer.concat(audio).length,
      });
      const file = join(work, `${uuid}.wav`);
      await writeFile(file, wav);
      expect((await soxi(file)).samples).toBe(Buffer.concat(audio).length / 2);
      expect(await readdir(scratchDir)).toEqual([]);
      // The disk copy was the complete one: the checkpoints are removed.
      expect((await checkpointedCall(s3.client, s3.bucket, uuid)).batches).toEqual([]);
      client.destroy();
    },
  );
});

describe('handshakes', () => {
  it('refuses a missing, forged, expired or replayed token (401) and a non-call path (404), storing nothing', async () => {
    const { base, scratchDir, recorder } = await startRecorder();
    const uuid = newCallUuid();
    const expired = signCallToken(SECRET, uuid, Math.floor(Date.now() / 1000) - 5);
    const forged = signCallToken(
      'another-secret-0123456789abcdefghijklmnop',
      uuid,
      Math.floor(Date.now() / 1000) + 600,
    );
    const otherCall = signCallToken(SECRET, newCallUuid(), Math.floor(Date.now() / 1000) + 600);
    expect(await handshakeStatus(callUrl(base, uuid, null))).toBe(401);
    expect(await handshakeStatus(callUrl(base, uuid, 'garbage'))).toBe(401);
    expect(await handshakeStatus(callUrl(base, uuid, forged))).toBe(401);
    expect(await handshakeStatus(callUrl(base, uuid, expired))).toBe(401);
    expect(await handshakeStatus(callUrl(base, uuid, otherCall))).toBe(401);
    expect(await handshakeStatus(`${base}/calls/${uuid}/extra?token=x`)).toBe(404);
    expect(await handshakeStatus(`${base}/calls/bad%20uuid`)).toBe(404);
    expect(await handshakeStatus(`${base}/`)).toBe(404);
    // A request target no URL parser accepts is refused, and the recorder keeps serving.
    expect(await rawUpgradeStatusLine(base, '//[')).toBe('HTTP/1.1 400 Bad Request');

    // A token works once: while its call is live (409) and after it ended (401).
    const token = signCallToken(SECRET, uuid, Math.floor(Date.now() / 1000) + 600);
    const ws = await openSocket(callUrl(base, uuid, token));
    const end = closed(ws);
    expect(await handshakeStatus(callUrl(base, uuid, token))).toBe(409);
    ws.close(1000);
    await end;
    while (recorder.activeCalls() > 0) await new Promise((resolve) => setTimeout(resolve, 10));
    expect(await handshakeStatus(callUrl(base, uuid, token))).toBe(401);

    expect(await keysFor(uuid)).toEqual([]);
    expect(await readdir(scratchDir)).toEqual([]);
  });

  it.each([
    ['binary audio first', Buffer.alloc(640), 1003],
    ['not JSON', 'hello', 4400],
    ['another event', JSON.stringify({ event: 'websocket:dtmf', digit: '1' }), 4400],
    [
      'an unsupported content-type',
      JSON.stringify({ event: 'websocket:connected', 'content-type': 'audio/l16;rate=44100' }),
      4415,
    ],
    [
      'a non-PCM content-type',
      JSON.stringify({ event: 'websocket:connected', 'content-type': 'audio/mpeg' }),
      4415,
    ],
    [
      'a very long content-type',
      JSON.stringify({
        event: 'websocket:connected',
        'content-type': `audio/${'é'.repeat(300)}`,
      }),
      4415,
    ],
  ])(
    'closes a socket whose first frame is %s with its close code, storing nothing',
    async (_name, first, code) => {
      const { base, scratchDir } = await startRecorder();
      const uuid = newCallUuid();
      const ws = await openSocket(callUrl(base, uuid));
      const end = closed(ws);
      ws.send(first, { binary: Buffer.isBuffer(first) });
      const seen = await end;
      expect(seen.code).toBe(code);
      expect(seen.reason.length).toBeGreaterThan(0);
      expect(await keysFor(uuid)).toEqual([]);
      expect(await readdir(scratchDir)).toEqual([]);
    },
  );

  it('answers /healthz with 200 while serving', async () => {
    const { http } = await startRecorder();
    const response = await fetch(`${http}/healthz`);
    expect(response.status).toBe(200);
    expect(await response.json()).toMatchObject({ status: 'ok', activeCalls: 0 });
    expect((await fetch(`${http}/other`)).status).toBe(404);
  });
});

describe('ending calls from the recorder side', () => {
  it('drain: health 503, new calls refused, live calls closed with 1001 at the deadline and stored complete', async () => {
    const { base, http, recorder, scratchDir } = await startRecorder({ drainTimeoutMs: 600 });
    const rate = 16000;
    const pcm = await speechAt(rate);
    const calls = await Promise.all(
      [0, 1, 2].map(async () => {
        const uuid = newCallUuid();
        const ws = await openSocket(callUrl(base, uuid));
        const end = closed(ws);
        const audio = frames(pcm, rate);
        await sendAll(ws, [connectedFrame(rate, uuid), ...audio]);
        return { uuid, ws, end, audio };
      }),
    );
    const drained = recorder.drain();
    expect((await fetch(`${http}/healthz`)).status).toBe(503);
    expect(await handshakeStatus(callUrl(base, newCallUuid()))).toBe(503);
    // One call ends by itself during the drain; the others are cut at the deadline.
    const [own, ...cut] = calls;
    await sendAll(own!.ws, frames(pcm, rate));
    own!.ws.close(1000);
    own!.audio.push(...frames(pcm, rate));
    await drained;
    expect(recorder.activeCalls()).toBe(0);
    expect(await own!.end).toMatchObject({ code: 1000 });
    for (const call of cut) expect(await call.end).toMatchObject({ code: 1001 });

    for (const call of calls) {
      const { metadata, wav } = await waitForRecording(s3.client, s3.bucket, call.uuid, 1000);
      expect(wav.subarray(44).equals(Buffer.concat(call.audio))).toBe(true);
      expect(metadata).toMatchObject(metadataDigests(wav));
      if (call === own) expect(metadata.end).toMatchObject({ by: 'peer', code: 1000 });
      else expect(metadata).toMatchObject({ end: { by: 'drain', code: 1001 }, interrupted: true });
    }
    expect(await readdir(scratchDir)).toEqual([]);
  });

  it('closes an idle socket with 4408 and keeps its audio; a socket that never starts stores nothing', async () => {
    const { base } = await startRecorder({ idleTimeoutMs: 300 });
    const rate = 8000;
    const uuid = newCallUuid();
    const audio = frames(await speechAt(rate), rate).slice(0, 25);
    const ws = await openSocket(callUrl(base, uuid));
    const end = closed(ws);
    await sendAll(ws, [connectedFrame(rate, uuid), ...audio]);
    const silentUuid = newCallUuid();
    const mute = await openSocket(callUrl(base, silentUuid));
    expect(await closed(mute)).toMatchObject({ code: 4408 });
    expect(await end).toMatchObject({ code: 4408 });
    const { metadata, wav } = await waitForRecording(s3.client, s3.bucket, uuid);
    expect(wav.subarray(44).equals(Buffer.concat(audio))).toBe(true);
    expect(metadata).toMatchObject({
      end: { by: 'idle-timeout', code: 4408 },
      interrupted: true,
      frameCount: 25,
    });
    expect(await keysFor(silentUuid)).toEqual([]);
  });

  it('cuts a peer that stops answering pings and keeps its audio', async () => {
    const { base } = await startRecorder({ heartbeatIntervalMs: 100, idleTimeoutMs: 10_000 });
    const rate = 16000;
    const uuid = newCallUuid();
    const audio = frames(await speechAt(rate), rate).slice(0, 40);
    const ws = await openSocket(callUrl(base, uuid), { autoPong: false });
    const end = closed(ws);
    await sendAll(ws, [connectedFrame(rate, uuid), ...audio]);
    expect((await end).code).toBe(1006);
    const { metadata, wav } = await waitForRecording(s3.client, s3.bucket, uuid);
    expect(wav.subarray(44).equals(Buffer.concat(audio))).toBe(true);
    expect(metadata).toMatchObject({ end: { by: 'heartbeat', code: 1006 }, interrupted: true });
  });

  it('keeps a bounded number of text events and counts the rest; odd caller names are stored', async () => {
    const { base } = await startRecorder({ maxTextEvents: 5 });
    const rate = 8000;
    const uuid = newCallUuid();
    const audio = frames(await speechAt(rate), rate).slice(0, 10);
    const digits = Array.from({ length: 8 }, (_, i) =>
      JSON.stringify({ event: 'websocket:dtmf', digit: String(i) }),
    );
    const ws = await openSocket(callUrl(base, uuid));
    const end = closed(ws);
    // A caller name outside ASCII is kept exactly in the JSON and made header-safe on the object.
    const first = connectedFrame(rate, uuid, { from: 'Zoë ☎' });
    await sendAll(ws, [first, ...audio.slice(0, 5), ...digits, ...audio.slice(5)]);
    ws.close(1000);
    await end;
    const { metadata, wav } = await waitForRecording(s3.client, s3.bucket, uuid);
    expect(metadata.from).toBe('Zoë ☎');
    const head = await s3.client.send(
      new HeadObjectCommand({ Bucket: s3.bucket, Key: metadata.recordingKey }),
    );
    expect(head.Metadata?.from).toBe('Zo? ?');
    expect(wav.subarray(44).equals(Buffer.concat(audio))).toBe(true);
    expect(metadata.textEvents.map((event) => event.event.digit)).toEqual(['0', '1', '2', '3', '4']);
    expect(metadata.droppedTextEvents).toBe(3);
    expect(metadata.textEvents[0]?.offsetMs).toBe(100);
  });

  it('closes a frame larger than maxPayload with 1009 and keeps the audio before it', async () => {
    const { base } = await startRecorder({ maxPayloadBytes: 4096 });
    const rate = 16000;
    const uuid = newCallUuid();
    const audio = frames(await speechAt(rate), rate).slice(0, 10);
    const ws = await openSocket(callUrl(base, uuid));
    const end = closed(ws);
    await sendAll(ws, [connectedFrame(rate, uuid), ...audio, Buffer.alloc(5000)]);
    expect((await end).code).toBe(1009);
    const { metadata, wav } = await waitForRecording(s3.client, s3.bucket, uuid);
    expect(wav.subarray(44).equals(Buffer.concat(audio))).toBe(true);
    expect(metadata).toMatchObject({ end: { by: 'error', code: 1009 }, interrupted: true });
  });
});

describe('admission control', () => {
  it('refuses the upgrade over MAX_CALLS with 503, and takes calls again once one is stored', async () => {
    const { base } = await startRecorder({ maxCalls: 2 });
    const rate = 8000;
    const audio = frames(await speechAt(rate), rate).slice(0, 10);
    const open = await Promise.all(
      [newCallUuid(), newCallUuid()].map(async (uuid) => {
        const ws = await openSocket(callUrl(base, uuid));
        await sendAll(ws, [connectedFrame(rate, uuid), ...audio]);
        return { uuid, ws, end: closed(ws) };
      }),
    );
    const refused = newCallUuid();
    expect(await handshakeStatus(callUrl(base, refused))).toBe(503);
    open[0]!.ws.close(1000);
    await open[0]!.end;
    await waitForRecording(s3.client, s3.bucket, open[0]!.uuid);
    // The refused call's token was never used: Vonage's retry (or the caller's redial) gets through.
    const retried = await openSocket(callUrl(base, refused));
    const retriedEnd = closed(retried);
    await sendAll(retried, [connectedFrame(rate, refused), ...audio]);
    retried.close(1000);
    open[1]!.ws.close(1000);
    await Promise.all([retriedEnd, open[1]!.end]);
    const { wav } = await waitForRecording(s3.client, s3.bucket, refused);
    expect(wav.subarray(44).equals(Buffer.concat(audio))).toBe(true);
  });

  it('refuses a new call with 503 when the scratch disk cannot hold one more, and logs why', async () => {
    let free = 10 * 1024 ** 3;
    const lines: string[] = [];
    const logger = new Logger({ serviceName: 'recorder', logLevel: 'WARN' });
    logger.warn = ((message: string, extra?: Record<string, unknown>) => {
      lines.push(`${message} ${JSON.stringify(extra)}`);
    }) as typeof logger.warn;
    // 600 s calls need 28.8 MB each at 24 kHz, the highest rate a call may pick.
    const { base, http } = await startRecorder({
      maxCallSeconds: 600,
      scratchFreeSpace: async () => free,
      logger,
    });
    const uuid = newCallUuid();
    const ws = await openSocket(callUrl(base, uuid));
    ws.close(1000);
    await closed(ws);
    free = 50 * 1024 * 1024; // less than one call plus the reserve
    // The free space is sampled once a tick; until then the earlier sample stands.
    await waitUntil(async () => (await handshakeStatusOrOpen(callUrl(base, newCallUuid()))) === 503);
    expect(lines.some((line) => line.includes('scratch disk too full'))).toBe(true);
    expect((await fetch(`${http}/healthz`)).status).toBe(200);
    free = 10 * 1024 ** 3;
    await waitUntil(async () => (await handshakeStatusOrOpen(callUrl(base, newCallUuid()))) === 101);
  });

  it('closes a sender much faster than real time with 4429 and keeps what it sent before as a valid WAV', async () => {
    const { base } = await startRecorder({ audioRate: { burstSeconds: 2, maxSpeed: 1.25 } });
    const rate = 16000;
    const uuid = newCallUuid();
    // 12 s of audio at socket speed: the bucket holds 2 s and refills at 1.25 s a second.
    const audio = frames(loopPcm(await speechAt(rate), rate, 12), rate);
    const ws = await openSocket(callUrl(base, uuid));
    const end = closed(ws);
    ws.send(connectedFrame(rate, uuid));
    for (const frame of audio) {
      if (ws.readyState !== WebSocket.OPEN) break;
      ws.send(frame);
    }
    expect(await end).toEqual({ code: 4429, reason: 'audio sent faster than real time' });
    const { metadata, wav } = await waitForRecording(s3.client, s3.bucket, uuid);
    expect(metadata).toMatchObject({ end: { by: 'too-fast', code: 4429 }, interrupted: true });
    // What was kept is a prefix of what was sent: about the burst, not the whole dump.
    const kept = wav.subarray(44);
    expect(kept.equals(Buffer.concat(audio).subarray(0, kept.length))).toBe(true);
    expect(metadata.durationSeconds).toBeGreaterThanOrEqual(2);
    expect(metadata.durationSeconds).toBeLessThan(4);
    const file = join(work, `${uuid}.wav`);
    await writeFile(file, wav);
    const info = await soxi(file);
    expect(info).toMatchObject({ sampleRate: rate, channels: 1, bits: 16, samples: kept.length / 2 });
  });

  it('does not close a real-time sender with a catch-up burst', async () => {
    const { base } = await startRecorder({ audioRate: { burstSeconds: 2, maxSpeed: 1.25 } });
    const rate = 8000;
    const uuid = newCallUuid();
    const audio = frames(await speechAt(rate), rate);
    const ws = await openSocket(callUrl(base, uuid));
    const end = closed(ws);
    // 1.5 s of backlog at once (within the 2 s burst), then real time.
    const backlog = Math.round(1.5 / 0.02);
    await sendAll(ws, [connectedFrame(rate, uuid), ...audio.slice(0, backlog)]);
    const rest = audio.slice(backlog, backlog + 100);
    const stream = streamRealTime(ws, rest);
    await stream.done;
    ws.close(1000);
    expect(await end).toMatchObject({ code: 1000 });
    const { metadata } = await waitForRecording(s3.client, s3.bucket, uuid);
    expect(metadata).toMatchObject({ end: { by: 'peer', code: 1000 }, interrupted: false });
  });
});
