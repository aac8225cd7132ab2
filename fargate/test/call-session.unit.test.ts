import { performance } from 'node:perf_hooks';
import type { Logger } from '@aws-lambda-powertools/logger';
import type { S3Client } from '@aws-sdk/client-s3';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { WebSocket } from 'ws';
import { MAX_BYTES_PER_SECOND } from '../src/admission.js';
import { asciiMetadata, CallSession, closeReason, type SessionSettings } from '../src/call-session.js';
import { CloseCode } from '../src/close-codes.js';
import type { RecorderMetrics } from '../src/metrics.js';
import type { TransferLimiter } from '../src/transfer-limiter.js';

const IDLE_MS = 5_000;
const CLOSE_GRACE_MS = 2_000;

const settings: SessionSettings = {
  scratchDir: '/nonexistent',
  partSizeBytes: 5 * 1024 * 1024,
  idleTimeoutMs: IDLE_MS,
  maxCallMs: 7_200_000,
  spoolFlushBytes: 64 * 1024,
  spoolFlushIntervalMs: 200,
  maxTextEvents: 100,
  maxTextEventBytes: 64 * 1024,
  closeGraceMs: CLOSE_GRACE_MS,
  checkpointIntervalMs: 0,
};

/**
 * A session as the server makes one, with the socket standing in as what the session asks of it
 * (close, terminate, pause, resume). Nothing here reaches the `recording` state:
 * call-session-recording.unit.test.ts drives that over a spool file and an in-memory bucket.
 */
function sessionOf() {
  const socket = { close: vi.fn(), terminate: vi.fn(), pause: vi.fn(), resume: vi.fn() };
  const logger = { debug: vi.fn(), info: vi.fn(), warn: vi.fn(), error: vi.fn() };
  const session = new CallSession({
    uuid: 'c0ffee00-0000-4000-8000-000000000001',
    socket: socket as unknown as WebSocket,
    acceptedAt: new Date('2026-11-28T14:00:00.000Z'),
    settings,
    storage: {
      s3: {} as S3Client,
      bucket: 'recordings',
      limiter: {} as TransferLimiter,
      checkpoints: undefined,
    },
    logger: logger as unknown as Logger,
    metrics: {} as RecorderMetrics,
    now: () => new Date('2026-11-28T14:00:01.000Z'),
  });
  return { session, socket, logger };
}

afterEach(() => {
  vi.useRealTimers();
});

describe('CallSession before websocket:connected', () => {
  it('reserves scratch disk for a whole call at the highest rate while it waits', () => {
    const { session } = sessionOf();
    expect(session.state).toBe('awaiting-connected');
    expect(session.remainingScratchBytes()).toBe(7200 * MAX_BYTES_PER_SECOND);
  });

  it.each([
    [
      'audio first',
      Buffer.alloc(640),
      true,
      CloseCode.UnsupportedData,
      /websocket:connected text frame first/,
    ],
    ['text that is not JSON', Buffer.from('hello'), false, CloseCode.BadFirstFrame, /./],
    ['another event', Buffer.from('{"event":"websocket:dtmf"}'), false, CloseCode.BadFirstFrame, /./],
    [
      'an unsupported content-type',
      Buffer.from('{"event":"websocket:connected","content-type":"audio/l16;rate=44100"}'),
      false,
      CloseCode.UnsupportedContentType,
      /./,
    ],
  ])(
    'refuses %s with its close code, and stores nothing once the socket closes',
    async (_, data, isBinary, code, reason) => {
      const { session, socket, logger } = sessionOf();
      session.onMessage(data, isBinary);
      expect(socket.close).toHaveBeenCalledExactlyOnceWith(code, expect.stringMatching(reason));
      expect(logger.warn).toHaveBeenCalledWith(
        'call refused: bad first frame',
        expect.objectContaining({ closeCode: code }),
      );
      session.onClose(code, Buffer.alloc(0));
      expect(session.state).toBe('refused');
      expect(session.remainingScratchBytes()).toBe(0);
      await expect(session.done).resolves.toBeUndefined();
    },
  );

  it('starts no recording from a valid websocket:connected that crosses its refusal or idle close', () => {
    const connected = Buffer.from('{"event":"websocket:connected","content-type":"audio/l16;rate=16000"}');
    const refused = sessionOf();
    refused.session.onMessage(Buffer.alloc(640), true);
    refused.session.onMessage(connected, false);
    expect(refused.session.state).toBe('awaiting-connected');
    expect(refused.socket.close).toHaveBeenCalledOnce();

    const idle = sessionOf();
    idle.session.tick(performance.now() + IDLE_MS + 1);
    idle.session.onMessage(connected, false);
    expect(idle.session.state).toBe('awaiting-connected');
    idle.session.onClose(CloseCode.IdleTimeout, Buffer.alloc(0));
    expect(idle.session.state).toBe('refused');
  });

  it('closes with 4408 once no first frame has come for idleTimeoutMs, by the clock it is ticked with', () => {
    const before = performance.now();
    const { session, socket } = sessionOf();
    const after = performance.now();
    session.tick(before + IDLE_MS);
    expect(socket.close).not.toHaveBeenCalled();
    session.tick(after + IDLE_MS + 1);
    expect(socket.close).toHaveBeenCalledExactlyOnceWith(
      CloseCode.IdleTimeout,
      'no websocket:connected frame in time',
    );
    // Ticks while the close handshake runs change nothing.
    session.tick(after + 10 * IDLE_MS);
    expect(socket.close).toHaveBeenCalledOnce();
  });

  it('cuts a peer that does not answer its close frame within closeGraceMs, and not before', () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    const { session, socket } = sessionOf();
    session.close('drain', CloseCode.GoingAway, 'recorder shutting down');
    vi.advanceTimersByTime(CLOSE_GRACE_MS - 1);
    expect(socket.terminate).not.toHaveBeenCalled();
    vi.advanceTimersByTime(1);
    expect(socket.terminate).toHaveBeenCalledOnce();
  });

  it('does not cut a peer that answered the close in time', () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    const { session, socket } = sessionOf();
    session.close('drain', CloseCode.GoingAway, 'recorder shutting down');
    vi.advanceTimersByTime(CLOSE_GRACE_MS / 2);
    session.onClose(CloseCode.GoingAway, Buffer.alloc(0));
    vi.advanceTimersByTime(CLOSE_GRACE_MS);
    expect(socket.terminate).not.toHaveBeenCalled();
    expect(session.state).toBe('refused');
  });

  it('sends one close frame however many reasons to close come along', () => {
    const { session, socket } = sessionOf();
    session.close('drain', CloseCode.GoingAway, 'recorder shutting down');
    session.close('max-duration', CloseCode.MaxDuration, 'call reached its maximum duration');
    session.onMessage(Buffer.alloc(640), true);
    expect(socket.close).toHaveBeenCalledExactlyOnceWith(CloseCode.GoingAway, 'recorder shutting down');
  });

  it('cuts the socket at once when the heartbeat finds the peer dead', () => {
    const { session, socket } = sessionOf();
    session.terminate('error');
    expect(socket.terminate).toHaveBeenCalledOnce();
    expect(socket.close).not.toHaveBeenCalled();
  });
});

describe('what a session sends out', () => {
  it('cuts a close reason to the 123 bytes of UTF-8 a close frame holds, never inside a character', () => {
    expect(closeReason('short')).toBe('short');
    const reason = closeReason('é'.repeat(100));
    expect(Buffer.byteLength(reason)).toBe(122);
    expect(reason).toBe('é'.repeat(61));
  });

  it('makes S3 user metadata printable ASCII, keeping what already is', () => {
    expect(asciiMetadata({ from: 'Zoë Ångström', to: '447700900002' })).toEqual({
      from: 'Zo? ?ngstr?m',
      to: '447700900002',
    });
  });
});
