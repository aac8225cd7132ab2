import WebSocket from 'ws';
import { FRAME_MILLISECONDS, frameBytes } from '../../common/audio-format.js';
import { WebsocketError } from './errors.js';
import {
  connectedFrame,
  dtmfFrame,
  hangUp,
  LegOpenError,
  openLeg,
  paceFrames,
  padToFrames,
  sendFrame,
} from './leg-client.js';
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

/** Opens the leg, naming a refusal or failure in the simulator's terms. */
async function open(options: StreamOptions): Promise<WebSocket> {
  const { endpoint, callUuid } = options;
  const shown = redactedUri(endpoint.uri);
  try {
    return await openLeg(endpoint.uri, {
      handshakeTimeoutMs: options.timeoutMs,
      ...(options.authorizationHeader ? { authorization: options.authorizationHeader } : {}),
    });
  } catch (error) {
    if (!(error instanceof LegOpenError)) throw error;
    if (error.status !== undefined) {
      throw new WebsocketError(
        `websocket ${shown} refused the upgrade with HTTP ${error.status}${error.statusText ? ` ${error.statusText}` : ''}: expected 101 Switching Protocols`,
        callUuid,
        error.status,
      );
    }
    throw new WebsocketError(
      `websocket ${shown} could not be opened (${error.message}): expected a websocket server there`,
      callUuid,
      undefined,
      { cause: error.cause },
    );
  }
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

  const dtmfSent: { digit: string; atMs: number }[] = [];
  const pending = [...options.dtmf].sort((a, b) => a.atMs - b.atMs);
  const sendDueDtmf = async (atMs: number, sentMs: number) => {
    while (pending.length > 0 && (pending[0] as DtmfTone).atMs <= atMs) {
      const tone = pending.shift() as DtmfTone;
      await sendFrame(socket, dtmfFrame(tone.digit, tone.durationMs));
      dtmfSent.push({ digit: tone.digit, atMs: sentMs });
    }
  };
  const streaming = () => socket.readyState === WebSocket.OPEN && !options.signal?.aborted;

  const totalFrames = pcm.length / bytesPerFrame;
  let framesSent = 0;
  try {
    await options.onOpen?.();
    if (streaming()) await sendFrame(socket, connectedFrame(endpoint.contentType, endpoint.headers));
    const sending = paceFrames(
      socket,
      totalFrames,
      (index) => pcm.subarray(index * bytesPerFrame, (index + 1) * bytesPerFrame),
      {
        speed: options.speed,
        beforeFrame: (index) => sendDueDtmf(index * FRAME_MILLISECONDS, index * FRAME_MILLISECONDS),
        stopped: () => options.signal?.aborted ?? false,
      },
    );
    try {
      await sending.done;
    } finally {
      framesSent = sending.sent();
    }
    // Key presses timed after the audio still go out before the hang-up.
    if (streaming()) await sendDueDtmf(Number.POSITIVE_INFINITY, framesSent * FRAME_MILLISECONDS);
  } catch (error) {
    lastError = error as Error;
  }

  if (socket.readyState === WebSocket.OPEN) closedBy ??= 'simulator';
  await hangUp(socket, options.timeoutMs);
  const { code, reason } = await closed;
  const closedAt = new Date();
  let failure: WebsocketError | undefined;
  const seconds = ((framesSent * FRAME_MILLISECONDS) / 1000).toFixed(2);
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
    pcm: pcm.subarray(0, framesSent * bytesPerFrame),
    framesSent: framesSent,
    dtmfSent,
    openedAt,
    closedAt,
    closedBy: closedBy ?? 'simulator',
    closeCode: code,
    closeReason: reason,
    ...(failure ? { failure } : {}),
  };
}
