import { setTimeout as sleep } from 'node:timers/promises';
import WebSocket from 'ws';
import { FRAME_MILLISECONDS, frameBytes } from '../../common/audio-format.js';
import { WebsocketError } from './errors.js';
import type { WebsocketEndpoint } from './ncco.js';

/** A DTMF key press, sent as a text frame when `atMs` of audio has been streamed. */
export interface DtmfTone {
  readonly digit: string;
  readonly atMs: number;
  /** @default 260 (what Vonage reports for a short press) */
  readonly durationMs?: number;
}

export interface StreamOptions {
  readonly callUuid: string;
  readonly endpoint: WebsocketEndpoint;
  /** 16-bit mono PCM at the endpoint's rate; a partial last frame is padded with silence. */
  readonly pcm: Buffer;
  /** 1 = real time, 2 = twice as fast, Infinity = as fast as the socket takes it. */
  readonly speed: number;
  readonly dtmf: readonly DtmfTone[];
  /** The Authorization header the NCCO's `authorization` asks for, if any. */
  readonly authorizationHeader?: string;
  readonly timeoutMs: number;
  /** Hanging up early: stop streaming and close normally. */
  readonly signal?: AbortSignal;
  /** Called once the websocket is open, before the first frame. */
  readonly onOpen?: () => Promise<void> | void;
}

export interface StreamResult {
  /** The PCM exactly as it went out, padding included. */
  readonly pcm: Buffer;
  readonly framesSent: number;
  readonly dtmfSent: readonly { readonly digit: string; readonly atMs: number }[];
  readonly openedAt: Date;
  readonly closedAt: Date;
  /** Who closed the socket first. */
  readonly closedBy: 'simulator' | 'server';
  readonly closeCode: number;
  readonly closeReason: string;
  /** Set when the server closed the socket abnormally mid-call; the call still ends (events go out). */
  readonly failure?: WebsocketError;
}

/** How often, in fast mode, to wait for the socket to take what was queued. */
const FAST_BATCH_FRAMES = 25;

/** Pads PCM with silence to whole 20 ms frames: Vonage only ever sends full frames. */
export function padToFrames(pcm: Buffer, bytesPerFrame: number): Buffer {
  const remainder = pcm.length % bytesPerFrame;
  if (remainder === 0) return pcm;
  return Buffer.concat([pcm, Buffer.alloc(bytesPerFrame - remainder)]);
}

function open(options: StreamOptions): Promise<WebSocket> {
  const { endpoint, callUuid } = options;
  const shown = redactedUri(endpoint.uri);
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(endpoint.uri, {
      handshakeTimeout: options.timeoutMs,
      perMessageDeflate: false,
      headers: options.authorizationHeader ? { authorization: options.authorizationHeader } : {},
    });
    socket.once('open', () => resolve(socket));
    socket.once('unexpected-response', (request, response) => {
      const status = response.statusCode ?? 0;
      reject(
        new WebsocketError(
          `websocket ${shown} refused the upgrade with HTTP ${status}${response.statusMessage ? ` ${response.statusMessage}` : ''}: expected 101 Switching Protocols`,
          callUuid,
          status,
        ),
      );
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
      reject(
        new WebsocketError(
          `websocket ${shown} could not be opened (${why}): expected a websocket server there`,
          callUuid,
          undefined,
          { cause: error },
        ),
      );
    });
  });
}

/** The websocket URI without its query (it carries the per-call token), for messages and logs. */
export function redactedUri(uri: string): string {
  try {
    const url = new URL(uri);
    return `${url.origin}${url.pathname}${url.search ? '?…' : ''}`;
  } catch {
    return '(invalid uri)';
  }
}

function send(socket: WebSocket, data: Buffer | string): Promise<void> {
  return new Promise((resolve, reject) => socket.send(data, (error) => (error ? reject(error) : resolve())));
}

/**
 * The websocket leg of a call, as Vonage runs it: opens the NCCO's uri, sends the
 * `websocket:connected` text frame with the content type and the NCCO's headers, streams the
 * PCM in 20 ms binary frames at the chosen pace with DTMF text frames in between, and closes
 * with 1000. Stops early when the server closes first or the signal aborts.
 */
export async function streamCall(options: StreamOptions): Promise<StreamResult> {
  const { endpoint, callUuid } = options;
  const bytesPerFrame = frameBytes(endpoint.sampleRate);
  const pcm = padToFrames(options.pcm, bytesPerFrame);
  const socket = await open(options);
  const openedAt = new Date();
  let closedBy: 'simulator' | 'server' | undefined;
  const closed = new Promise<{ code: number; reason: string }>((resolve) => {
    socket.once('close', (code, reason) => {
      closedBy ??= 'server';
      resolve({ code, reason: reason.toString('utf8') });
    });
  });
  // Errors after the handshake surface as a close (1006); keep them from crashing the process.
  let lastError: Error | undefined;
  socket.on('error', (error) => {
    lastError = error;
  });

  const framesSent = { count: 0 };
  const dtmfSent: { digit: string; atMs: number }[] = [];
  const pending = [...options.dtmf].sort((a, b) => a.atMs - b.atMs);
  const sendDueDtmf = async (atMs: number) => {
    while (pending.length > 0 && (pending[0] as DtmfTone).atMs <= atMs) {
      const tone = pending.shift() as DtmfTone;
      await send(
        socket,
        JSON.stringify({ event: 'websocket:dtmf', digit: tone.digit, duration: tone.durationMs ?? 260 }),
      );
      dtmfSent.push({ digit: tone.digit, atMs: framesSent.count * FRAME_MILLISECONDS });
    }
  };
  const streaming = () => socket.readyState === WebSocket.OPEN && !options.signal?.aborted;

  try {
    await options.onOpen?.();
    if (streaming()) {
      await send(
        socket,
        JSON.stringify({
          event: 'websocket:connected',
          'content-type': endpoint.contentType,
          ...endpoint.headers,
        }),
      );
    }
    const totalFrames = pcm.length / bytesPerFrame;
    const started = performance.now();
    const frameInterval = FRAME_MILLISECONDS / options.speed;
    while (framesSent.count < totalFrames && streaming()) {
      await sendDueDtmf(framesSent.count * FRAME_MILLISECONDS);
      if (!streaming()) break;
      const offset = framesSent.count * bytesPerFrame;
      const frame = pcm.subarray(offset, offset + bytesPerFrame);
      if (Number.isFinite(frameInterval)) {
        const due = started + framesSent.count * frameInterval;
        const wait = due - performance.now();
        if (wait > 1) await sleep(wait);
        if (!streaming()) break;
        socket.send(frame);
      } else if (framesSent.count % FAST_BATCH_FRAMES === FAST_BATCH_FRAMES - 1) {
        // Fast mode still honours backpressure: wait for the socket to flush every few frames.
        await send(socket, frame);
      } else {
        socket.send(frame);
      }
      framesSent.count += 1;
    }
    // Key presses timed after the audio still go out before the hang-up.
    if (streaming()) await sendDueDtmf(Number.POSITIVE_INFINITY);
  } catch (error) {
    lastError = error as Error;
  }

  if (socket.readyState === WebSocket.OPEN) {
    closedBy ??= 'simulator';
    socket.close(1000, 'call ended');
  }
  const timer = setTimeout(() => socket.terminate(), options.timeoutMs);
  const { code, reason } = await closed;
  clearTimeout(timer);
  const closedAt = new Date();
  let failure: WebsocketError | undefined;
  const seconds = ((framesSent.count * FRAME_MILLISECONDS) / 1000).toFixed(2);
  if (closedBy === 'server' && code !== 1000) {
    failure = new WebsocketError(
      `websocket ${redactedUri(endpoint.uri)} was closed by the server with code ${code}${reason ? ` (${reason})` : ''}${lastError ? ` after error: ${lastError.message}` : ''} after ${seconds} s of audio: expected it to stay open until the call hangs up`,
      callUuid,
      undefined,
      lastError ? { cause: lastError } : undefined,
    );
  } else if (lastError) {
    failure = new WebsocketError(
      `websocket ${redactedUri(endpoint.uri)} failed after ${seconds} s of audio (${lastError.message}): expected to stream the whole call`,
      callUuid,
      undefined,
      { cause: lastError },
    );
  }
  return {
    pcm: pcm.subarray(0, framesSent.count * bytesPerFrame),
    framesSent: framesSent.count,
    dtmfSent,
    openedAt,
    closedAt,
    closedBy: closedBy ?? 'simulator',
    closeCode: code,
    closeReason: reason,
    ...(failure ? { failure } : {}),
  };
}
