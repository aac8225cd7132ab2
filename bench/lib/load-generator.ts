import { randomUUID } from 'node:crypto';
import { HeadObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import WebSocket from 'ws';
import {
  contentTypeFor,
  FRAME_MILLISECONDS,
  frameBytes,
  type SampleRate,
} from '../../common/audio-format.js';
import { signCallToken } from '../../common/call-token.js';
import { recordingKey } from '../../common/recording-keys.js';
import { callUri, connectedFrame, FrameSchedule, legSocket } from '../../tools/simulator/leg-client.js';

/**
 * Drives websocket calls the way Vonage does, with the shared leg client's handshake, first frame
 * and frame schedule (`tools/simulator/leg-client.ts`): open `/calls/<uuid>?token=…`, send the
 * `websocket:connected` text frame, then one binary frame of 16-bit PCM every 20 ms (or faster,
 * with `speed`). One timer serves every call (not a paced loop per call, which would cost a timer
 * per call per frame): a late tick sends every frame that is due, so the audio rate holds.
 * Hangs up with a normal close.
 *
 * Ingest lag is measured with websocket pings: the server's parser answers a ping only after it
 * has parsed every frame sent before it, so the ping's round trip is how far the server's intake
 * runs behind the stream (plus loopback, ~0.1 ms). A last ping after the last frame tells which
 * frames the server took in before the hangup ("acknowledged").
 */

export interface LoadOptions {
  /** Recorder base URL, e.g. `ws://127.0.0.1:8080` (no trailing slash). */
  readonly url: string;
  /** The call-token secret the recorder verifies against. */
  readonly secret: string;
  readonly calls: number;
  /** Seconds of audio each call sends. */
  readonly seconds: number;
  /** 1 = real time; 10 sends ten minutes of audio in one. @default 1 */
  readonly speed?: number;
  /** @default 16000 */
  readonly sampleRate?: SampleRate;
  /** Connections are opened evenly over this many milliseconds. @default 0 */
  readonly rampMs?: number;
  /** Per call, one ping this often (wall clock). @default 1000 */
  readonly pingIntervalMs?: number;
  /** Audio to loop (raw s16le mono at `sampleRate`); each call starts at its own offset. */
  readonly pcm: Buffer;
  /** Extra fields in the first text frame (Vonage echoes NCCO `headers` there). */
  readonly headers?: Record<string, unknown>;
  /** When set, after hangup each call polls S3 until its WAV is complete (or the timeout passes). */
  readonly finalization?: {
    readonly s3: S3Client;
    readonly bucket: string;
    readonly timeoutMs?: number;
    /** @default 5 */
    readonly pollIntervalMs?: number;
  };
  /** Milliseconds to wait for the last pong before hanging up anyway. @default 10000 */
  readonly ackTimeoutMs?: number;
  /** Called once a second with the counters so far. */
  readonly onProgress?: (progress: LoadProgress) => void;
  /** Call uuids; generated when absent. */
  readonly uuids?: readonly string[];
}

export interface LoadProgress {
  readonly open: number;
  readonly finished: number;
  readonly framesSent: number;
  readonly elapsedMs: number;
}

export interface CallResult {
  readonly uuid: string;
  /** Epoch ms when the socket opened (the recorder dates the key from about then). */
  readonly openedAt: number;
  /** Byte offset in the looped source PCM where this call's audio starts. */
  readonly pcmOffset: number;
  readonly framesSent: number;
  readonly bytesSent: number;
  /** Frames sent before the last ping the server answered. */
  readonly framesAcknowledged: number;
  /** Frames whose write to the socket failed. */
  readonly framesFailed: number;
  /** Close code the client saw, and whether the client or the server started the close. */
  readonly closeCode: number | null;
  readonly closeReason: string;
  readonly closedBy: 'client' | 'server' | 'none';
  /** Set when the call could not connect or errored. */
  readonly error?: string;
  /** HTTP status when the upgrade was refused. */
  readonly rejectedStatus?: number;
  /**
   * Epoch ms of the hangup (client close), when the client hung up: sub-millisecond
   * (`performance.timeOrigin + performance.now()`), comparable with other processes' clocks.
   */
  readonly hangupAt?: number;
  /** The WAV's key and size as found in S3. */
  readonly storedKey?: string;
  readonly storedBytes?: number;
}

export interface LoadResult {
  readonly calls: CallResult[];
  /** Ping round trips in ms, all calls together. */
  readonly lagMs: number[];
  /** How late the generator sent frames against their schedule, as a histogram (0.1 ms buckets). */
  readonly senderLateness: LatenessSummary;
  /**
   * The same two, counted only at steady state: while every call is open and none has begun to
   * hang up (no connection ramp, no hangups, no finalization polling).
   */
  readonly steadyLagMs: number[];
  readonly steadySenderLateness: LatenessSummary;
  readonly elapsedMs: number;
  /** CPU seconds (user + system) this process used during the run. */
  readonly cpuSeconds: number;
}

export interface LatenessSummary {
  readonly frames: number;
  readonly medianMs: number;
  readonly p99Ms: number;
  readonly maxMs: number;
}

/** A running load: read its counters while it runs, await `done` for the result. */
export interface RunningLoad {
  readonly done: Promise<LoadResult>;
  progress(): LoadProgress;
  /** Hang up every open call now (normal close), as if every caller put the phone down. */
  hangupAll(): void;
}

const LATENESS_BUCKETS = 100_000; // 0.1 ms each: up to 10 s

/** How late frames went out against their schedule, in 0.1 ms buckets (up to 10 s). */
export class LatenessHistogram {
  readonly #buckets = new Uint32Array(LATENESS_BUCKETS + 1);
  #count = 0;
  #max = 0;

  add(ms: number): void {
    const bucket = Math.min(LATENESS_BUCKETS, Math.max(0, Math.round(ms * 10)));
    this.#buckets[bucket] = (this.#buckets[bucket] as number) + 1;
    this.#count += 1;
    if (ms > this.#max) this.#max = ms;
  }

  #quantile(q: number): number {
    if (this.#count === 0) return Number.NaN;
    const rank = Math.ceil(q * this.#count);
    let seen = 0;
    for (let i = 0; i <= LATENESS_BUCKETS; i += 1) {
      seen += this.#buckets[i] as number;
      if (seen >= rank) return i / 10;
    }
    return this.#max;
  }

  summary(): LatenessSummary {
    return {
      frames: this.#count,
      medianMs: this.#quantile(0.5),
      p99Ms: this.#quantile(0.99),
      maxMs: this.#max,
    };
  }
}

interface CallState {
  readonly uuid: string;
  readonly pcmOffset: number;
  ws?: WebSocket;
  openedAt: number;
  /** When each frame is due; set once the socket opens. */
  schedule?: FrameSchedule;
  frameIndex: number;
  totalFrames: number;
  framesFailed: number;
  framesAcknowledged: number;
  lastPingAt: number;
  closeCode: number | null;
  closeReason: string;
  closedBy: 'client' | 'server' | 'none';
  error?: string;
  rejectedStatus?: number;
  hangupAt?: number;
  storedKey?: string;
  storedBytes?: number;
  streaming: boolean;
  hangingUp: boolean;
  finished: boolean;
  /** Ping payload timestamp → frames sent when it was sent. */
  readonly pings: Map<number, number>;
  resolveAck?: () => void;
}

/** Starts the calls and returns at once; the calls run on this process's event loop. */
export function startLoad(options: LoadOptions): RunningLoad {
  const sampleRate = options.sampleRate ?? 16000;
  const speed = options.speed ?? 1;
  const frameSize = frameBytes(sampleRate);
  const tickMs = Math.min(5, FRAME_MILLISECONDS / speed);
  const totalFrames = Math.round((options.seconds * 1000) / FRAME_MILLISECONDS);
  const pingInterval = options.pingIntervalMs ?? 1000;
  const rampMs = options.rampMs ?? 0;
  const ackTimeoutMs = options.ackTimeoutMs ?? 10_000;
  const contentType = contentTypeFor(sampleRate);
  const lateness = new LatenessHistogram();
  const steadyLateness = new LatenessHistogram();
  const lagMs: number[] = [];
  const steadyLagMs: number[] = [];
  let hangupsBegun = false;
  const steady = () => open === options.calls && !hangupsBegun;
  const started = performance.now();
  const cpuAtStart = process.cpuUsage();
  // The source loops; a doubled copy lets any frame be a zero-copy slice.
  const source = Buffer.concat([options.pcm, options.pcm.subarray(0, frameSize * 2)]);
  const sourceLength = options.pcm.length - (options.pcm.length % 2);
  if (sourceLength < frameSize) throw new RangeError('load pcm must hold at least one frame');

  const states: CallState[] = [];
  for (let i = 0; i < options.calls; i += 1) {
    // Calls start at different places in the source so no two recordings are alike.
    const offset = (i * 7919 * frameSize) % sourceLength;
    states.push({
      uuid: options.uuids?.[i] ?? randomUUID(),
      pcmOffset: offset,
      openedAt: 0,
      frameIndex: 0,
      totalFrames,
      framesFailed: 0,
      framesAcknowledged: 0,
      lastPingAt: 0,
      closeCode: null,
      closeReason: '',
      closedBy: 'none',
      streaming: false,
      hangingUp: false,
      finished: false,
      pings: new Map(),
    });
  }

  let framesSent = 0;
  let open = 0;
  let finished = 0;
  let resolveDone!: (result: LoadResult) => void;
  const done = new Promise<LoadResult>((resolve) => {
    resolveDone = resolve;
  });

  const frameAt = (state: CallState, index: number): Buffer => {
    const position = (state.pcmOffset + index * frameSize) % sourceLength;
    return source.subarray(position, position + frameSize);
  };

  const finish = (state: CallState): void => {
    if (state.finished) return;
    state.finished = true;
    state.streaming = false;
    finished += 1;
    if (finished === states.length) {
      clearTimeout(tickTimer);
      clearInterval(progressTimer);
      resolveDone({
        calls: states.map(toResult),
        lagMs,
        senderLateness: lateness.summary(),
        steadyLagMs,
        steadySenderLateness: steadyLateness.summary(),
        elapsedMs: performance.now() - started,
        cpuSeconds: ((usage) => (usage.user + usage.system) / 1e6)(process.cpuUsage(cpuAtStart)),
      });
    }
  };

  const sendPing = (state: CallState, now: number): void => {
    const ws = state.ws;
    if (!ws || ws.readyState !== WebSocket.OPEN) return;
    const payload = Buffer.allocUnsafe(8);
    payload.writeDoubleLE(now);
    state.pings.set(now, state.frameIndex);
    state.lastPingAt = now;
    ws.ping(payload);
  };

  const hangup = async (state: CallState): Promise<void> => {
    if (state.hangingUp || state.finished) return;
    state.hangingUp = true;
    hangupsBegun = true;
    state.streaming = false;
    const ws = state.ws;
    if (!ws || ws.readyState !== WebSocket.OPEN) return;
    // The last ping: its pong says the server has taken in every frame.
    await new Promise<void>((resolve) => {
      state.resolveAck = resolve;
      sendPing(state, performance.now());
      setTimeout(resolve, ackTimeoutMs).unref();
    });
    if (ws.readyState !== WebSocket.OPEN) return;
    state.hangupAt = performance.timeOrigin + performance.now();
    state.closedBy = 'client';
    ws.close(1000, 'hangup');
  };

  const pollFinalization = async (state: CallState): Promise<void> => {
    const finalization = options.finalization;
    if (!finalization || state.hangupAt === undefined) return;
    const expected = 44 + state.frameIndex * frameSize;
    const keys = [
      ...new Set([recordingKey(state.uuid, new Date(state.openedAt)), recordingKey(state.uuid, new Date())]),
    ];
    const deadline = Date.now() + (finalization.timeoutMs ?? 30_000);
    for (let attempt = 0; Date.now() < deadline; attempt += 1) {
      const key = keys[attempt % keys.length] as string;
      try {
        const head = await finalization.s3.send(
          new HeadObjectCommand({ Bucket: finalization.bucket, Key: key }),
        );
        state.storedKey = key;
        state.storedBytes = head.ContentLength ?? 0;
        if (state.storedBytes === expected) return;
      } catch (error) {
        if ((error as { name?: string }).name !== 'NotFound') throw error;
      }
      await new Promise((resolve) => setTimeout(resolve, finalization.pollIntervalMs ?? 5));
    }
  };

  const connect = (state: CallState): void => {
    const token = signCallToken(options.secret, state.uuid, Math.floor(Date.now() / 1000) + 3600);
    const ws = legSocket(callUri(options.url, state.uuid, token));
    state.ws = ws;
    ws.on('unexpected-response', (_request, response) => {
      state.rejectedStatus = response.statusCode;
      state.error = `upgrade refused: HTTP ${response.statusCode}`;
      response.resume();
      ws.terminate();
    });
    ws.on('open', () => {
      open += 1;
      state.openedAt = Date.now();
      ws.send(connectedFrame(contentType, options.headers));
      state.schedule = new FrameSchedule(speed);
      state.lastPingAt = state.schedule.startedAt;
      state.streaming = true;
    });
    ws.on('pong', (data) => {
      if (data.length !== 8) return;
      const sentAt = data.readDoubleLE(0);
      const frames = state.pings.get(sentAt);
      if (frames === undefined) return;
      state.pings.delete(sentAt);
      lagMs.push(performance.now() - sentAt);
      if (steady()) steadyLagMs.push(performance.now() - sentAt);
      if (frames > state.framesAcknowledged) state.framesAcknowledged = frames;
      if (state.hangingUp && state.pings.size === 0) state.resolveAck?.();
    });
    ws.on('error', (error) => {
      state.error ??= error.message;
    });
    ws.on('close', (code, reason) => {
      if (state.ws === ws && state.openedAt) open -= 1;
      state.closeCode = code;
      state.closeReason = reason.toString();
      if (state.closedBy === 'none') state.closedBy = 'server';
      state.streaming = false;
      state.resolveAck?.();
      pollFinalization(state)
        .catch((error: Error) => {
          state.error ??= `finalization poll: ${error.message}`;
        })
        .finally(() => finish(state));
    });
  };

  // One scheduler for every call: each tick sends all frames that are due, however late.
  let tickTimer: NodeJS.Timeout;
  const tick = (): void => {
    const now = performance.now();
    const inSteadyState = steady();
    for (const state of states) {
      if (!state.streaming) continue;
      const ws = state.ws as WebSocket;
      const schedule = state.schedule as FrameSchedule;
      if (ws.readyState !== WebSocket.OPEN) {
        state.streaming = false;
        continue;
      }
      while (state.frameIndex < state.totalFrames) {
        const due = schedule.dueAt(state.frameIndex);
        if (due > now) break;
        lateness.add(now - due);
        if (inSteadyState) steadyLateness.add(now - due);
        ws.send(frameAt(state, state.frameIndex), { binary: true }, (error) => {
          if (error) state.framesFailed += 1;
        });
        state.frameIndex += 1;
        framesSent += 1;
      }
      if (now - state.lastPingAt >= pingInterval) sendPing(state, now);
      if (state.frameIndex >= state.totalFrames) void hangup(state);
    }
    tickTimer = setTimeout(tick, tickMs);
  };
  tickTimer = setTimeout(tick, 0);

  const progress = (): LoadProgress => ({
    open,
    finished,
    framesSent,
    elapsedMs: performance.now() - started,
  });
  const progressTimer = setInterval(() => options.onProgress?.(progress()), 1000);
  progressTimer.unref();

  states.forEach((state, i) => {
    const delay = states.length > 1 ? (rampMs * i) / (states.length - 1) : 0;
    setTimeout(() => connect(state), delay);
  });

  return {
    done,
    progress,
    hangupAll() {
      for (const state of states) {
        state.totalFrames = Math.min(state.totalFrames, state.frameIndex);
        void hangup(state);
      }
    },
  };

  function toResult(state: CallState): CallResult {
    return {
      uuid: state.uuid,
      openedAt: state.openedAt,
      pcmOffset: state.pcmOffset,
      framesSent: state.frameIndex,
      bytesSent: state.frameIndex * frameSize,
      framesAcknowledged: state.framesAcknowledged,
      framesFailed: state.framesFailed,
      closeCode: state.closeCode,
      closeReason: state.closeReason,
      closedBy: state.closedBy,
      ...(state.error === undefined ? {} : { error: state.error }),
      ...(state.rejectedStatus === undefined ? {} : { rejectedStatus: state.rejectedStatus }),
      ...(state.hangupAt === undefined ? {} : { hangupAt: state.hangupAt }),
      ...(state.storedKey === undefined ? {} : { storedKey: state.storedKey }),
      ...(state.storedBytes === undefined ? {} : { storedBytes: state.storedBytes }),
    };
  }
}

/** The exact PCM a call sent: `bytes` of the looped source from the call's offset. */
export function expectedPcm(pcm: Buffer, pcmOffset: number, bytes: number): Buffer {
  const sourceLength = pcm.length - (pcm.length % 2);
  const out = Buffer.allocUnsafe(bytes);
  let written = 0;
  let position = pcmOffset % sourceLength;
  while (written < bytes) {
    const chunk = Math.min(bytes - written, sourceLength - position);
    pcm.copy(out, written, position, position + chunk);
    written += chunk;
    position = 0;
  }
  return out;
}
