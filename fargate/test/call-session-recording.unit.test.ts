/**
 * A call session from `websocket:connected` to its stored recording, as the recorder drives it:
 * frames and closes from the socket, ticks on an injected monotonic clock. The audio goes through
 * a real spool file in a temporary folder; the bucket is an in-memory S3 (unit tests open no
 * socket; recorder.test.ts runs the same path against a real S3 server).
 */
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Logger } from '@aws-lambda-powertools/logger';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { WebSocket } from 'ws';
import { metadataKey, recordingKey } from '../../common/recording-keys.js';
import type { RecordingMetadata } from '../../common/recording-metadata.js';
import { parseWavHeader, WAV_HEADER_BYTES } from '../../common/wav.js';
import { MemoryS3 } from '../../test-support/memory-s3.js';
import { CallSession, type SessionSettings } from '../src/call-session.js';
import { CloseCode } from '../src/close-codes.js';
import { TransferLimiter } from '../src/transfer-limiter.js';

const UUID = 'c0ffee00-0000-4000-8000-000000000002';
const ACCEPTED_AT = new Date('2026-11-28T14:00:00.000Z');
const WAV_KEY = recordingKey(UUID, ACCEPTED_AT);
const JSON_KEY = metadataKey(UUID, ACCEPTED_AT);
/** 20 ms at 16 kHz. */
const FRAME_BYTES = 640;
const IDLE_MS = 5_000;

const CONNECTED = Buffer.from(
  JSON.stringify({
    event: 'websocket:connected',
    'content-type': 'audio/l16;rate=16000',
    from: '447700900001',
    to: '447700900002',
    conversation_uuid: 'CON-1',
    customer: 'acme',
  }),
);

/** Frame `n` of a call: distinct bytes per frame, so order and loss show in the stored audio. */
const frame = (n: number, bytes = FRAME_BYTES) => Buffer.alloc(bytes, n % 251);

let scratchDir: string;
beforeEach(async () => {
  scratchDir = await mkdtemp(join(tmpdir(), 'call-session-'));
});
afterEach(async () => {
  await rm(scratchDir, { recursive: true, force: true });
});

/** A session as the server makes one, with a socket that records what the session asks of it. */
function callOf(settings: Partial<SessionSettings> = {}) {
  const clock = { ms: 1_000 };
  const s3 = new MemoryS3();
  const socket = { close: vi.fn(), terminate: vi.fn(), pause: vi.fn(), resume: vi.fn() };
  const logger = { debug: vi.fn(), info: vi.fn(), warn: vi.fn(), error: vi.fn() };
  const metrics = {
    callStarted: vi.fn(),
    callFinished: vi.fn(),
    callFailed: vi.fn(),
    activeCalls: vi.fn(),
    publish: vi.fn(),
  };
  const session = new CallSession({
    uuid: UUID,
    socket: socket as unknown as WebSocket,
    acceptedAt: ACCEPTED_AT,
    settings: {
      scratchDir,
      partSizeBytes: 5 * 1024 * 1024,
      idleTimeoutMs: IDLE_MS,
      maxCallMs: 7_200_000,
      spoolFlushBytes: 32 * 1024,
      spoolFlushIntervalMs: 1_000,
      maxTextEvents: 100,
      maxTextEventBytes: 64 * 1024,
      closeGraceMs: 2_000,
      checkpointIntervalMs: 0,
      ...settings,
    },
    storage: {
      s3: s3.client,
      bucket: 'recordings',
      limiter: new TransferLimiter(2),
      checkpoints: undefined,
      retry: { deadlineMs: 1_000, baseDelayMs: 1 },
    },
    logger: logger as unknown as Logger,
    metrics,
    now: () => new Date(ACCEPTED_AT.getTime() + clock.ms),
    monotonicNow: () => clock.ms,
  });
  /** Sends `count` audio frames, 20 ms of clock apart, from frame number `first`. */
  const sendAudio = (count: number, first = 0) => {
    for (let n = first; n < first + count; n++) {
      session.onMessage(frame(n), true);
      clock.ms += 20;
    }
  };
  return { session, socket, s3, logger, metrics, clock, sendAudio };
}

function storedMetadata(s3: MemoryS3): RecordingMetadata {
  const object = s3.objects.get(JSON_KEY);
  expect(object, 'metadata JSON stored beside the WAV').toBeDefined();
  return JSON.parse(object?.body.toString('utf8') ?? '{}') as RecordingMetadata;
}

function storedWav(s3: MemoryS3): { header: ReturnType<typeof parseWavHeader>; audio: Buffer } {
  const object = s3.objects.get(WAV_KEY);
  expect(object, 'WAV stored').toBeDefined();
  const body = object?.body ?? Buffer.alloc(0);
  return {
    header: parseWavHeader(body.subarray(0, WAV_HEADER_BYTES)),
    audio: body.subarray(WAV_HEADER_BYTES),
  };
}

const framesFrom = (first: number, count: number, bytes = FRAME_BYTES) =>
  Buffer.concat(Array.from({ length: count }, (_, i) => frame(first + i, bytes)));

describe('a call that ends normally', () => {
  it('stores every frame in order as a 16 kHz WAV, with metadata saying it was not interrupted', async () => {
    const { session, socket, s3, metrics, sendAudio } = callOf();
    session.onMessage(CONNECTED, false);
    expect(session.state).toBe('recording');
    expect(metrics.callStarted).toHaveBeenCalledOnce();
    sendAudio(100);
    session.onMessage(Buffer.from('{"event":"websocket:dtmf","digit":"5","duration":260}'), false);
    sendAudio(50, 100);
    session.onClose(1000, Buffer.from('hangup'));
    expect(session.state).toBe('finalizing');
    await session.done;

    expect(session.state).toBe('stored');
    expect(socket.close).not.toHaveBeenCalled();
    const { header, audio } = storedWav(s3);
    expect(header).toEqual({
      ok: true,
      header: {
        riffSize: 36 + 150 * 640,
        audioFormat: 1,
        channels: 1,
        sampleRate: 16000,
        bitsPerSample: 16,
        dataSize: 150 * 640,
      },
    });
    expect(audio.equals(framesFrom(0, 150))).toBe(true);
    expect(s3.objects.get(WAV_KEY)?.metadata).toMatchObject({ from: '447700900001', to: '447700900002' });
    expect(storedMetadata(s3)).toMatchObject({
      uuid: UUID,
      conversationUuid: 'CON-1',
      startedAt: ACCEPTED_AT.toISOString(),
      durationSeconds: 3,
      frameCount: 150,
      oddSizeFrames: 0,
      interrupted: false,
      end: { by: 'peer', code: 1000, reason: 'hangup' },
      recordingKey: WAV_KEY,
      headers: { customer: 'acme' },
      textEvents: [
        expect.objectContaining({
          offsetMs: 2000,
          event: { event: 'websocket:dtmf', digit: '5', duration: 260 },
        }),
      ],
    });
    expect(metrics.callFinished).toHaveBeenCalledWith(3, expect.any(Number));
    // Stored: nothing of the call is left on the scratch disk.
    expect(await readdir(scratchDir)).toEqual([]);
  });

  it('keeps an odd-sized frame in the audio and counts it; text that is not JSON is kept raw', async () => {
    const { session, s3, sendAudio } = callOf();
    session.onMessage(CONNECTED, false);
    sendAudio(2);
    session.onMessage(frame(2, 100), true);
    session.onMessage(Buffer.from('not json'), false);
    session.onClose(1005, Buffer.alloc(0));
    await session.done;

    expect(storedWav(s3).audio.equals(Buffer.concat([framesFrom(0, 2), frame(2, 100)]))).toBe(true);
    expect(storedMetadata(s3)).toMatchObject({
      frameCount: 3,
      oddSizeFrames: 1,
      interrupted: false,
      textEvents: [expect.objectContaining({ event: { raw: 'not json' } })],
    });
  });

  it('keeps text events up to the cap and counts the rest as dropped', async () => {
    const { session, s3, sendAudio } = callOf({ maxTextEvents: 2 });
    session.onMessage(CONNECTED, false);
    for (const digit of ['1', '2', '3', '4']) {
      session.onMessage(Buffer.from(`{"event":"websocket:dtmf","digit":"${digit}"}`), false);
      sendAudio(1);
    }
    session.onClose(1000, Buffer.alloc(0));
    await session.done;
    const metadata = storedMetadata(s3);
    expect(metadata.textEvents.map((text) => text.event.digit)).toEqual(['1', '2']);
    expect(metadata.droppedTextEvents).toBe(2);
  });
});

describe('a call that does not end normally', () => {
  it('stores what came before a dropped socket, marked interrupted', async () => {
    const { session, s3, sendAudio } = callOf();
    session.onMessage(CONNECTED, false);
    sendAudio(40);
    session.onClose(1006, Buffer.alloc(0));
    await session.done;
    expect(session.state).toBe('stored');
    expect(storedWav(s3).audio.equals(framesFrom(0, 40))).toBe(true);
    expect(storedMetadata(s3)).toMatchObject({ interrupted: true, end: { by: 'peer', code: 1006 } });
  });

  it('records the close code ws sent for a protocol error, not the 1006 the close event reports', async () => {
    const { session, s3, sendAudio } = callOf();
    session.onMessage(CONNECTED, false);
    sendAudio(5);
    session.onError(Object.assign(new Error('Invalid UTF-8 sequence'), { code: 'WS_ERR_INVALID_UTF8' }));
    session.onClose(1006, Buffer.alloc(0));
    await session.done;
    expect(storedMetadata(s3)).toMatchObject({
      interrupted: true,
      end: { by: 'error', code: 1007, reason: 'Invalid UTF-8 sequence' },
    });
  });

  it('closes with 4413 once maxCallSeconds of audio arrived, keeping frames that cross the close', async () => {
    // One second at 16 kHz: 50 frames.
    const { session, socket, s3, sendAudio } = callOf({ maxCallMs: 1_000 });
    session.onMessage(CONNECTED, false);
    sendAudio(49);
    expect(socket.close).not.toHaveBeenCalled();
    sendAudio(1, 49);
    expect(socket.close).toHaveBeenCalledExactlyOnceWith(
      CloseCode.MaxDuration,
      'call reached its maximum duration',
    );
    sendAudio(2, 50);
    session.onClose(CloseCode.MaxDuration, Buffer.alloc(0));
    await session.done;
    expect(storedWav(s3).audio.equals(framesFrom(0, 52))).toBe(true);
    expect(storedMetadata(s3)).toMatchObject({
      interrupted: true,
      end: { by: 'max-duration', code: 4413, reason: 'call reached its maximum duration' },
    });
  });

  it('closes with 4413 once maxCallSeconds of wall time passed, by the clock it is ticked with', async () => {
    const { session, socket, clock } = callOf({ maxCallMs: 60_000, idleTimeoutMs: 120_000 });
    session.onMessage(CONNECTED, false);
    const started = clock.ms;
    clock.ms = started + 60_000;
    session.tick(clock.ms);
    expect(socket.close).not.toHaveBeenCalled();
    clock.ms += 1;
    session.tick(clock.ms);
    expect(socket.close).toHaveBeenCalledExactlyOnceWith(CloseCode.MaxDuration, expect.any(String));
    session.onClose(CloseCode.MaxDuration, Buffer.alloc(0));
    await session.done;
  });

  it('closes with 4408 when audio stops for idleTimeoutMs, and stores what came', async () => {
    const { session, socket, s3, clock, sendAudio } = callOf();
    session.onMessage(CONNECTED, false);
    sendAudio(10);
    const lastFrameAt = clock.ms - 20;
    session.tick(lastFrameAt + IDLE_MS);
    expect(socket.close).not.toHaveBeenCalled();
    session.tick(lastFrameAt + IDLE_MS + 1);
    expect(socket.close).toHaveBeenCalledExactlyOnceWith(CloseCode.IdleTimeout, 'no audio received in time');
    session.onClose(CloseCode.IdleTimeout, Buffer.alloc(0));
    await session.done;
    expect(storedMetadata(s3)).toMatchObject({ interrupted: true, end: { by: 'idle-timeout', code: 4408 } });
  });

  it('closes with 4429 a sender far faster than real time, and keeps none of what it sends after', async () => {
    const { session, socket, s3 } = callOf({ audioRate: { burstSeconds: 1, maxSpeed: 1 } });
    session.onMessage(CONNECTED, false);
    // Two seconds of audio in no wall time: the one-second bucket runs dry about frame 50.
    let sent = 0;
    let framesAtClose = 0;
    socket.close.mockImplementation(() => {
      framesAtClose = sent;
    });
    for (; sent < 100; ) session.onMessage(frame(sent++), true);
    expect(socket.close).toHaveBeenCalledExactlyOnceWith(
      CloseCode.TooFast,
      'audio sent faster than real time',
    );
    expect(framesAtClose).toBeGreaterThanOrEqual(50);
    expect(framesAtClose).toBeLessThanOrEqual(51);
    session.onClose(CloseCode.TooFast, Buffer.alloc(0));
    await session.done;
    expect(storedWav(s3).audio.equals(framesFrom(0, framesAtClose))).toBe(true);
    expect(storedMetadata(s3)).toMatchObject({ interrupted: true, end: { by: 'too-fast', code: 4429 } });
  });

  it('lets the same audio through at real time', async () => {
    const { session, socket, sendAudio } = callOf({ audioRate: { burstSeconds: 1, maxSpeed: 1 } });
    session.onMessage(CONNECTED, false);
    sendAudio(500);
    expect(socket.close).not.toHaveBeenCalled();
    session.onClose(1000, Buffer.alloc(0));
    await session.done;
  });

  it('gives back its scratch-disk reservation as audio arrives, and all of it once stored', async () => {
    const { session, sendAudio } = callOf({ maxCallMs: 10_000 });
    session.onMessage(CONNECTED, false);
    expect(session.remainingScratchBytes()).toBe(10 * 32_000);
    sendAudio(50);
    expect(session.remainingScratchBytes()).toBe(9 * 32_000);
    session.onClose(1000, Buffer.alloc(0));
    await session.done;
    expect(session.remainingScratchBytes()).toBe(0);
  });
});

describe('a call whose recording cannot be stored as its own', () => {
  it('keeps a recording already at the key and drops its own audio (a replayed or second connection)', async () => {
    const { session, s3, metrics, sendAudio } = callOf();
    const first = { body: Buffer.from('the first recording'), contentType: 'audio/wav', metadata: undefined };
    s3.objects.set(WAV_KEY, first);
    session.onMessage(CONNECTED, false);
    sendAudio(10);
    session.onClose(1000, Buffer.alloc(0));
    await session.done;
    expect(session.state).toBe('duplicate');
    expect(s3.objects.get(WAV_KEY)).toBe(first);
    expect(s3.objects.has(JSON_KEY)).toBe(false);
    expect(metrics.callFailed).toHaveBeenCalledOnce();
    expect(await readdir(scratchDir)).toEqual([]);
  });

  it('keeps its audio and journal on the scratch disk when S3 refuses it, for a recovery run', async () => {
    const { session, s3, logger, metrics, sendAudio } = callOf();
    s3.refuse = () => ({ status: 403, code: 'AccessDenied' });
    session.onMessage(CONNECTED, false);
    sendAudio(25);
    session.onClose(1000, Buffer.alloc(0));
    await session.done;
    expect(session.state).toBe('failed');
    expect(s3.objects.size).toBe(0);
    expect(metrics.callFailed).toHaveBeenCalledOnce();
    expect(logger.error).toHaveBeenCalledWith(
      'recording could not be stored; its audio is kept on the scratch disk',
      expect.objectContaining({ callUuid: UUID }),
    );
    const spoolPath = join(scratchDir, `${UUID}.${ACCEPTED_AT.getTime()}.pcm`);
    expect((await readFile(spoolPath)).equals(framesFrom(0, 25))).toBe(true);
    const journal = JSON.parse(await readFile(spoolPath.replace(/\.pcm$/, '.journal.json'), 'utf8'));
    expect(journal).toMatchObject({ bucket: 'recordings', key: WAV_KEY, spoolPath });
    expect(existsSync(spoolPath)).toBe(true);
  });
});
