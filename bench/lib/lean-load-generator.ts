import { randomBytes, randomUUID } from 'node:crypto';
import { connect, type Socket } from 'node:net';
import {
  contentTypeFor,
  FRAME_MILLISECONDS,
  frameBytes,
  type SampleRate,
} from '../../common/audio-format.js';
import { signCallToken } from '../../common/call-token.js';
import { callUri, connectedFrame } from '../../tools/simulator/leg-client.js';
import {
  closeFrame,
  FramedSource,
  pingFrame,
  ServerFrameReader,
  textFrame,
  upgradeRequest,
} from './lean-framing.js';
import { type CallResult, LatenessHistogram, type LoadResult } from './load-generator.js';
import { readCpuSecondsSync } from './rss.js';

/**
 * A load generator that costs little enough not to be the first thing to fall behind: raw TCP
 * sockets, a hand-written upgrade, and frames framed and masked once ahead of time
 * (`lean-framing.ts`), so a send is one `socket.write` of a slice. `framesPerWrite` frames go out
 * in each write (Vonage sends one; more is cheaper for both ends), due when the last of them is.
 * It keeps real time with one timer for every call and measures how late it wrote (its own
 * health) and, with pings, how far the server's intake runs behind (the lag).
 *
 * The CPU of the processes in `watchPids` is read from `/proc/<pid>/stat` as the streaming window
 * opens (every call settled: open or refused) and as it closes (the first hangup or drop), so
 * ramp-up, hangups and verification are not in it.
 */
export interface LeanLoadOptions {
  /** e.g. `ws://127.0.0.1:8080` */
  readonly url: string;
  readonly secret: string;
  readonly calls: number;
  /** Seconds of audio each call sends, at real time. */
  readonly seconds: number;
  /** Connections open evenly over this many milliseconds. */
  readonly rampMs: number;
  /** Whole frames only (its length a multiple of the frame size); each call starts at its own frame. */
  readonly pcm: Buffer;
  /** @default 1 */
  readonly framesPerWrite?: number;
  /** @default 16000 */
  readonly sampleRate?: SampleRate;
  /** @default 1000 */
  readonly pingIntervalMs?: number;
  /** Processes whose CPU to read over the streaming window, by name. */
  readonly watchPids?: Readonly<Record<string, number>>;
}

export interface StreamingWindow {
  readonly seconds: number;
  /**
   * The window on the machine's monotonic clock (`process.hrtime`, CLOCK_MONOTONIC), in µs: the
   * clock of V8's `--cpu-prof` timestamps, so a profile can be cut to the window.
   */
  readonly monotonicUs: readonly [number, number];
  /** CPU seconds (user + system) each watched process used in the window; `generator` is this one. */
  readonly cpuSeconds: Record<string, number>;
}

export interface LeanLoadResult extends LoadResult {
  readonly framesPerWrite: number;
  /** Undefined when no call opened. */
  readonly window: StreamingWindow | undefined;
}

interface LeanCall {
  readonly uuid: string;
  /** The call's first frame in the looped source. */
  readonly firstFrame: number;
  socket?: Socket;
  upgraded: boolean;
  handshake: Buffer;
  readonly reader: ServerFrameReader;
  openedAt: number;
  startedMono: number;
  /** Frames written so far. */
  sent: number;
  totalFrames: number;
  framesAcknowledged: number;
  /** Ping timestamp → frames written when it went out. */
  readonly pings: Map<number, number>;
  lastPingAt: number;
  streaming: boolean;
  hangingUp: boolean;
  settled: boolean;
  finished: boolean;
  closeCode: number | null;
  closeReason: string;
  closedBy: 'client' | 'server' | 'none';
  error?: string;
  rejectedStatus?: number;
  hangupAt?: number;
  ackTimer?: NodeJS.Timeout;
}

const TICK_MS = 2;
const ACK_TIMEOUT_MS = 10_000;

function cpuOf(pids: Readonly<Record<string, number>>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [name, pid] of Object.entries(pids)) {
    try {
      out[name] = readCpuSecondsSync(pid);
    } catch {
      out[name] = Number.NaN;
    }
  }
  return out;
}

const monotonicUs = () => Number(process.hrtime.bigint() / 1000n);

/** Runs the load to the end (every call hung up or dropped) and resolves with what it saw. */
export function runLeanLoad(options: LeanLoadOptions): Promise<LeanLoadResult> {
  const sampleRate = options.sampleRate ?? 16000;
  const framesPerWrite = options.framesPerWrite ?? 1;
  const frameSize = frameBytes(sampleRate);
  const source = new FramedSource(options.pcm, frameSize, framesPerWrite);
  const totalFrames = Math.round((options.seconds * 1000) / FRAME_MILLISECONDS);
  const pingIntervalMs = options.pingIntervalMs ?? 1000;
  const watch = { ...options.watchPids, generator: process.pid };
  const { hostname, port } = new URL(options.url);
  const host = `${hostname}:${port}`;
  const connected = textFrame(connectedFrame(contentTypeFor(sampleRate)));
  const lateness = new LatenessHistogram();
  const steadyLateness = new LatenessHistogram();
  const lagMs: number[] = [];
  const steadyLagMs: number[] = [];
  const started = performance.now();
  const cpuAtStart = process.cpuUsage();
  let settled = 0;
  let finished = 0;
  let windowStart: { at: number; monotonicUs: number; cpu: Record<string, number> } | undefined;
  let window: StreamingWindow | undefined;
  let tickTimer: NodeJS.Timeout | undefined;

  const calls: LeanCall[] = Array.from({ length: options.calls }, (_, i) => ({
    uuid: randomUUID(),
    firstFrame: (i * 7919) % source.frames,
    upgraded: false,
    handshake: Buffer.alloc(0),
    reader: new ServerFrameReader(),
    openedAt: 0,
    startedMono: 0,
    sent: 0,
    totalFrames,
    framesAcknowledged: 0,
    pings: new Map(),
    lastPingAt: 0,
    streaming: false,
    hangingUp: false,
    settled: false,
    finished: false,
    closeCode: null,
    closeReason: '',
    closedBy: 'none',
  }));

  const steady = () => windowStart !== undefined && window === undefined;

  const openWindow = (): void => {
    if (windowStart || !calls.some((call) => call.upgraded)) return;
    windowStart = { at: performance.now(), monotonicUs: monotonicUs(), cpu: cpuOf(watch) };
  };

  const closeWindow = (): void => {
    if (!windowStart || window) return;
    const cpu = cpuOf(watch);
    window = {
      seconds: (performance.now() - windowStart.at) / 1000,
      monotonicUs: [windowStart.monotonicUs, monotonicUs()],
      cpuSeconds: Object.fromEntries(
        Object.entries(cpu).map(([name, value]) => [name, value - (windowStart?.cpu[name] ?? Number.NaN)]),
      ),
    };
  };

  const settle = (call: LeanCall): void => {
    if (call.settled) return;
    call.settled = true;
    settled += 1;
    if (settled === calls.length) openWindow();
  };

  return new Promise<LeanLoadResult>((resolve) => {
    const finish = (call: LeanCall): void => {
      if (call.finished) return;
      settle(call);
      // A call refused at the upgrade never streamed: the window is about the calls that did.
      if (call.upgraded) closeWindow();
      call.finished = true;
      call.streaming = false;
      clearTimeout(call.ackTimer);
      finished += 1;
      if (finished < calls.length) return;
      clearTimeout(tickTimer);
      resolve({
        calls: calls.map(toResult),
        lagMs,
        steadyLagMs,
        senderLateness: lateness.summary(),
        steadySenderLateness: steadyLateness.summary(),
        elapsedMs: performance.now() - started,
        cpuSeconds: ((usage) => (usage.user + usage.system) / 1e6)(process.cpuUsage(cpuAtStart)),
        framesPerWrite,
        window,
      });
    };

    const sendPing = (call: LeanCall, now: number): void => {
      const payload = Buffer.allocUnsafe(8);
      payload.writeDoubleLE(now);
      call.pings.set(now, call.sent);
      call.lastPingAt = now;
      call.socket?.write(pingFrame(payload));
    };

    const sendClose = (call: LeanCall): void => {
      clearTimeout(call.ackTimer);
      if (call.finished || call.closedBy !== 'none') return;
      call.hangupAt = performance.timeOrigin + performance.now();
      call.closedBy = 'client';
      call.socket?.write(closeFrame(1000, 'hangup'));
      // The server answers with its close frame, then ends the TCP connection.
      call.ackTimer = setTimeout(() => call.socket?.destroy(), ACK_TIMEOUT_MS);
    };

    const hangup = (call: LeanCall): void => {
      if (call.hangingUp) return;
      call.hangingUp = true;
      call.streaming = false;
      closeWindow();
      // The last ping: its pong says the server has taken in every frame.
      sendPing(call, performance.now());
      call.ackTimer = setTimeout(() => sendClose(call), ACK_TIMEOUT_MS);
    };

    const onServerFrames = (call: LeanCall, chunk: Buffer): void => {
      for (const frame of call.reader.push(chunk)) {
        if (frame.kind === 'pong' && frame.payload.length === 8) {
          const sentAt = frame.payload.readDoubleLE(0);
          const frames = call.pings.get(sentAt);
          if (frames === undefined) continue;
          call.pings.delete(sentAt);
          const lag = performance.now() - sentAt;
          lagMs.push(lag);
          if (steady()) steadyLagMs.push(lag);
          if (frames > call.framesAcknowledged) call.framesAcknowledged = frames;
          if (call.hangingUp && call.pings.size === 0) sendClose(call);
        } else if (frame.kind === 'close') {
          call.closeCode = frame.code;
          call.closeReason = frame.reason;
          call.streaming = false;
          closeWindow();
          if (call.closedBy === 'none') {
            call.closedBy = 'server';
            call.socket?.write(closeFrame(frame.code === 1005 ? 1000 : frame.code, ''));
          }
          call.socket?.end();
        }
      }
    };

    const onHandshake = (call: LeanCall, chunk: Buffer, accept: string): void => {
      call.handshake = Buffer.concat([call.handshake, chunk]);
      const end = call.handshake.indexOf('\r\n\r\n');
      if (end < 0) return;
      const head = call.handshake.toString('latin1', 0, end);
      const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(head)?.[1] ?? 0);
      if (status !== 101 || !head.toLowerCase().includes(`sec-websocket-accept: ${accept.toLowerCase()}`)) {
        call.rejectedStatus = status;
        call.error = `upgrade refused: HTTP ${status}`;
        call.socket?.destroy();
        return;
      }
      call.upgraded = true;
      call.openedAt = Date.now();
      call.socket?.write(connected);
      call.startedMono = performance.now();
      call.lastPingAt = call.startedMono;
      call.streaming = true;
      settle(call);
      const rest = call.handshake.subarray(end + 4);
      call.handshake = Buffer.alloc(0);
      if (rest.length > 0) onServerFrames(call, rest);
    };

    const open = (call: LeanCall): void => {
      const token = signCallToken(options.secret, call.uuid, Math.floor(Date.now() / 1000) + 3600);
      const path = callUri('', call.uuid, token);
      const { request, accept } = upgradeRequest(host, path, randomBytes(16).toString('base64'));
      const socket = connect({ host: hostname, port: Number(port), noDelay: true });
      call.socket = socket;
      socket.on('connect', () => socket.write(request));
      socket.on('data', (chunk: Buffer) => {
        if (call.upgraded) onServerFrames(call, chunk);
        else onHandshake(call, chunk, accept);
      });
      socket.on('error', (error) => {
        call.error ??= error.message;
      });
      socket.on('close', () => finish(call));
    };

    // One timer for every call: each tick writes every group of frames that is due, however late.
    const tick = (): void => {
      const now = performance.now();
      const inWindow = steady();
      for (const call of calls) {
        if (!call.streaming) continue;
        while (call.sent < call.totalFrames) {
          const count = Math.min(framesPerWrite, call.totalFrames - call.sent);
          const due = call.startedMono + (call.sent + count - 1) * FRAME_MILLISECONDS;
          if (due > now) break;
          lateness.add(now - due);
          if (inWindow) steadyLateness.add(now - due);
          call.socket?.write(source.slice(call.firstFrame + call.sent, count));
          call.sent += count;
        }
        if (now - call.lastPingAt >= pingIntervalMs) sendPing(call, now);
        if (call.sent >= call.totalFrames) hangup(call);
      }
      tickTimer = setTimeout(tick, TICK_MS);
    };
    tickTimer = setTimeout(tick, 0);

    calls.forEach((call, i) => {
      const delay = calls.length > 1 ? (options.rampMs * i) / (calls.length - 1) : 0;
      setTimeout(() => open(call), delay);
    });
  });

  function toResult(call: LeanCall): CallResult {
    return {
      uuid: call.uuid,
      openedAt: call.openedAt,
      pcmOffset: call.firstFrame * frameSize,
      framesSent: call.sent,
      bytesSent: call.sent * frameSize,
      framesAcknowledged: call.framesAcknowledged,
      framesFailed: 0,
      closeCode: call.closeCode,
      closeReason: call.closeReason,
      closedBy: call.closedBy,
      ...(call.error === undefined ? {} : { error: call.error }),
      ...(call.rejectedStatus === undefined ? {} : { rejectedStatus: call.rejectedStatus }),
      ...(call.hangupAt === undefined ? {} : { hangupAt: call.hangupAt }),
    };
  }
}
