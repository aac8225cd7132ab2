import { setTimeout as sleep } from 'node:timers/promises';
import WebSocket, { type ClientOptions } from 'ws';
import { FRAME_MILLISECONDS } from '../../common/audio-format.js';
import { CALL_PATH_PREFIX } from '../../common/contract.js';

/**
 * The client side of Vonage's websocket leg, shared by the call simulator, the benchmarks' load
 * generator and the recorder's tests: the handshake (the NCCO's uri, optional Authorization), the
 * `websocket:connected` first frame, 20 ms binary frames paced on a drift-free schedule (real time
 * or faster), DTMF text frames, and the close.
 */

/** The recorder's websocket URI for a call: `<base>/calls/<uuid>?token=…` (no query when `token` is null). */
export function callUri(base: string, uuid: string, token: string | null): string {
  return `${base}${CALL_PATH_PREFIX}${uuid}${token === null ? '' : `?token=${encodeURIComponent(token)}`}`;
}

/** The first text frame: the audio's content type, then the NCCO's `headers` echoed as fields. */
export function connectedFrame(contentType: string, headers: Readonly<Record<string, unknown>> = {}): string {
  return JSON.stringify({ event: 'websocket:connected', 'content-type': contentType, ...headers });
}

/** The text frame for a key press. @param durationMs 260 is what Vonage reports for a short press. */
export function dtmfFrame(digit: string, durationMs = 260): string {
  return JSON.stringify({ event: 'websocket:dtmf', digit, duration: durationMs });
}

/** Pads PCM with silence to whole frames: Vonage only ever sends full frames. */
export function padToFrames(pcm: Buffer, bytesPerFrame: number): Buffer {
  const remainder = pcm.length % bytesPerFrame;
  if (remainder === 0) return pcm;
  return Buffer.concat([pcm, Buffer.alloc(bytesPerFrame - remainder)]);
}

/** Splits PCM into frames (views, no copies); the last one is short when the PCM is. */
export function splitFrames(pcm: Buffer, bytesPerFrame: number): Buffer[] {
  const out: Buffer[] = [];
  for (let offset = 0; offset < pcm.length; offset += bytesPerFrame) {
    out.push(pcm.subarray(offset, offset + bytesPerFrame));
  }
  return out;
}

export interface LegSocketOptions {
  /** The Authorization header the NCCO's `authorization` asks for, if any. */
  readonly authorization?: string;
  /** Fails the handshake after this long. @default ws's (none) */
  readonly handshakeTimeoutMs?: number;
  /** Other handshake headers; an undefined value is left out. */
  readonly headers?: Readonly<Record<string, string | undefined>>;
  /** Other `ws` client options, e.g. `autoPong: false`. */
  readonly socket?: Omit<ClientOptions, 'headers'>;
}

/**
 * A websocket opening toward `uri` as Vonage opens it: no compression (Vonage offers none), the
 * Authorization header when the NCCO asks for one. The caller listens for its events.
 */
export function legSocket(uri: string, options: LegSocketOptions = {}): WebSocket {
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(options.headers ?? {})) {
    if (value !== undefined) headers[name] = value;
  }
  if (options.authorization) headers.authorization = options.authorization;
  return new WebSocket(uri, {
    perMessageDeflate: false,
    ...options.socket,
    ...(options.handshakeTimeoutMs === undefined ? {} : { handshakeTimeout: options.handshakeTimeoutMs }),
    headers,
  });
}

/** A handshake that did not end in an open socket: refused with an HTTP status, or failed. */
export class LegOpenError extends Error {
  constructor(
    message: string,
    /** The HTTP status of a refused upgrade. */
    readonly status?: number,
    /** The status line's text of a refused upgrade. */
    readonly statusText?: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
    this.name = 'LegOpenError';
  }
}

/**
 * Opens the leg; rejects with a {@link LegOpenError} (with `status` when the server refused the
 * upgrade). Errors after the handshake stay handled: they surface as a close (1006).
 */
export function openLeg(uri: string, options: LegSocketOptions = {}): Promise<WebSocket> {
  const socket = legSocket(uri, options);
  return new Promise((resolve, reject) => {
    socket.once('open', () => resolve(socket));
    socket.once('unexpected-response', (request, response) => {
      const status = response.statusCode ?? 0;
      reject(new LegOpenError(`upgrade refused with HTTP ${status}`, status, response.statusMessage));
      response.resume();
      request.destroy();
    });
    socket.on('error', (error) => {
      const code = (error as { code?: unknown }).code;
      const why =
        code === 'ECONNREFUSED'
          ? 'connection refused'
          : /timeout/i.test(error.message)
            ? 'handshake timed out'
            : error.message;
      reject(new LegOpenError(why, undefined, undefined, { cause: error }));
    });
  });
}

/** Sends one frame; resolves once `ws` has written it to the socket. */
export function sendFrame(socket: WebSocket, data: Buffer | string): Promise<void> {
  return new Promise((resolve, reject) => socket.send(data, (error) => (error ? reject(error) : resolve())));
}

/** Sends without pacing; resolves once `ws` has handed everything to the socket. */
export async function sendAll(socket: WebSocket, items: readonly (Buffer | string)[]): Promise<void> {
  for (const item of items) socket.send(item, { binary: Buffer.isBuffer(item) });
  while (socket.bufferedAmount > 0) await sleep(5);
}

/**
 * When each frame is due: frame `n` at `startedAt + n × 20 ms / speed`, so a late send does not
 * push the later frames back and the audio rate holds over the call.
 */
export class FrameSchedule {
  readonly intervalMs: number;

  constructor(
    /** 1 = real time, 2 = twice as fast, Infinity = every frame due at once. */
    speed: number,
    /** `performance.now()` of frame 0. */
    readonly startedAt: number = performance.now(),
  ) {
    this.intervalMs = FRAME_MILLISECONDS / speed;
  }

  /** The `performance.now()` at which frame `index` is due. */
  dueAt(index: number): number {
    return this.startedAt + index * this.intervalMs;
  }
}

/** How often, with no pacing (infinite speed), to wait for the socket to take what was queued. */
const UNPACED_FLUSH_FRAMES = 25;

export interface PacedSend {
  /** Settles when every frame is sent, the socket is no longer open, or `stop()` was called. */
  readonly done: Promise<void>;
  /** Frames handed to the socket so far. */
  sent(): number;
  stop(): void;
}

export interface PaceOptions {
  /** 1 = real time, 2 = twice as fast, Infinity = as fast as the socket takes it. @default 1 */
  readonly speed?: number;
  /** Runs before frame `index` is sent (e.g. to send the key presses due by then). */
  readonly beforeFrame?: (index: number) => Promise<void> | void;
  /** Checked before each frame: true stops the sending (e.g. a hang-up). */
  readonly stopped?: () => boolean;
}

/**
 * Sends `count` binary frames (`frameAt(index)`) at the pace Vonage does, until all are sent, the
 * socket stops being open, or `stop()` is called. With no pacing it still honours backpressure.
 */
export function paceFrames(
  socket: WebSocket,
  count: number,
  frameAt: (index: number) => Buffer,
  options: PaceOptions = {},
): PacedSend {
  const schedule = new FrameSchedule(options.speed ?? 1);
  const paced = Number.isFinite(schedule.intervalMs) && schedule.intervalMs > 0;
  let sent = 0;
  let stopRequested = false;
  const going = () =>
    !stopRequested && socket.readyState === WebSocket.OPEN && !(options.stopped?.() ?? false);
  const done = (async () => {
    while (sent < count && going()) {
      await options.beforeFrame?.(sent);
      if (!going()) break;
      const frame = frameAt(sent);
      if (paced) {
        const wait = schedule.dueAt(sent) - performance.now();
        if (wait > 0) await sleep(wait);
        if (!going()) break;
        socket.send(frame, { binary: true });
      } else if (sent % UNPACED_FLUSH_FRAMES === UNPACED_FLUSH_FRAMES - 1) {
        await sendFrame(socket, frame);
      } else {
        socket.send(frame, { binary: true });
      }
      sent += 1;
    }
  })();
  return {
    done,
    sent: () => sent,
    stop: () => {
      stopRequested = true;
    },
  };
}

/** Resolves with the close code and reason the client saw (1006 if it was already closed). */
export function legClosed(socket: WebSocket): Promise<{ code: number; reason: string }> {
  return new Promise((resolve) => {
    if (socket.readyState === WebSocket.CLOSED) resolve({ code: 1006, reason: '' });
    socket.once('close', (code, reason) => resolve({ code, reason: reason.toString('utf8') }));
  });
}

/**
 * Hangs up as Vonage does (close 1000) and resolves once the socket is closed; a peer that does
 * not answer the close within `timeoutMs` is cut off.
 */
export async function hangUp(socket: WebSocket, timeoutMs: number, reason = 'call ended'): Promise<void> {
  if (socket.readyState === WebSocket.CLOSED) return;
  const closed = legClosed(socket);
  if (socket.readyState === WebSocket.OPEN) socket.close(1000, reason);
  const timer = setTimeout(() => socket.terminate(), timeoutMs);
  try {
    await closed;
  } finally {
    clearTimeout(timer);
  }
}
