import { randomUUID } from 'node:crypto';
import {
  createServer,
  type IncomingMessage,
  type Server,
  type ServerResponse,
  STATUS_CODES,
} from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { Logger } from '@aws-lambda-powertools/logger';
import type { S3Client } from '@aws-sdk/client-s3';
import { type WebSocket, WebSocketServer } from 'ws';
import { DEFAULT_MAX_CALL_SECONDS, RECORDER_METRICS_INTERVAL_MS } from '../../common/contract.js';
import type { RecordingEventSink } from '../../common/recording-events.js';
import { CachedSecret, fixedSecret } from '../../common/secret-versions.js';
import { AdmissionControl, type AudioRateOptions, type FreeSpaceSource } from './admission.js';
import { CallSession, type SessionSettings, type SessionStorage } from './call-session.js';
import { CheckpointStore, MAX_BATCH_BYTES } from './checkpoint.js';
import { CloseCode } from './close-codes.js';
import { Drain } from './drain.js';
import { startHousekeeping } from './housekeeping.js';
import { LiveCalls } from './live-calls.js';
import { noMetrics, type RecorderMetrics } from './metrics.js';
import { noRecordingEvents, RecordingEventReporter } from './recording-event-reporter.js';
import type { RetryPolicy } from './retry.js';
import { EcsTaskProtection, type TaskProtection } from './task-protection.js';
import { TransferLimiter } from './transfer-limiter.js';
import { HandshakeRefusedError, refuseUpgrade, UpgradeGate } from './upgrade-gate.js';
import { MIN_PART_BYTES } from './upload.js';

export { HandshakeRefusedError } from './upgrade-gate.js';

export interface RecorderOptions {
  readonly bucket: string;
  /** Where live calls' checkpoints go (`inflight/<taskId>/`). @default `bucket` */
  readonly checkpointBucket?: string;
  readonly s3: S3Client;
  /**
   * Verifies the per-call token in the websocket URI (the same secret the webhooks Lambda signs
   * with): a value, or a secret whose previous version is accepted too while a rotation is under way.
   */
  readonly callTokenSecret: string | CachedSecret;
  /**
   * Vonage's signature secret. When set, every handshake must also carry Vonage's signed JWT
   * (`Authorization: Bearer …`, asked for by the NCCO's `authorization: {"type": "vonage"}`).
   * @default none: the per-call token alone admits a call
   */
  readonly vonageSignatureSecret?: string | CachedSecret;
  /** Oldest handshake JWT accepted (its `iat` age). @default 300 */
  readonly signatureMaxAgeSeconds?: number;
  /** A writable folder for each live call's audio (the task's scratch volume). */
  readonly scratchDir: string;
  /** How long `drain()` lets live calls run before closing them with 1001. @default 100000 */
  readonly drainTimeoutMs?: number;
  /** Close a socket that sends nothing for this long (its audio is kept). @default 30000 */
  readonly idleTimeoutMs?: number;
  /** Ping every socket this often; one that has not answered the previous ping is cut. @default 15000 */
  readonly heartbeatIntervalMs?: number;
  /** Largest websocket message accepted (ws closes larger ones with 1009). @default 65536 */
  readonly maxPayloadBytes?: number;
  /** Multipart part size; real S3 needs at least 5 MiB. @default 5242880 */
  readonly partSizeBytes?: number;
  /** Longest call, in audio or wall time; then closed with 4413. @default DEFAULT_MAX_CALL_SECONDS (7200) */
  readonly maxCallSeconds?: number;
  /** Most calls not yet stored at once; the upgrade over it gets 503. @default no cap (main.ts sets MAX_CALLS) */
  readonly maxCalls?: number;
  /**
   * Free bytes of the scratch volume (`statfsFreeSpace(scratchDir)` in main.ts): a call that might
   * not fit gets 503. @default no disk check
   */
  readonly scratchFreeSpace?: FreeSpaceSource;
  /**
   * How far ahead of real time a call may send audio before it is closed with 4429; false turns the
   * limit off. @default 120 s of burst at 1.25× real time
   */
  readonly audioRate?: AudioRateOptions | false;
  /** Write a call's queued audio to its spool file once this much is queued... @default 32768 */
  readonly spoolFlushBytes?: number;
  /** ...or once it is this old. @default 1000 */
  readonly spoolFlushIntervalMs?: number;
  /** S3 transfers (parts and whole objects) in flight at once, across all calls. @default 8 */
  readonly uploadConcurrency?: number;
  /**
   * Checkpoint each call's new audio to S3 (`inflight/<taskId>/`, in batches of many calls) so that
   * a crash that takes the scratch disk loses at most this much audio (plus one checkpoint PUT's
   * latency); 0 turns checkpoints off. @default 10000
   */
  readonly checkpointIntervalMs?: number;
  /** Checkpoint batches in flight at once (each up to 4 MiB). @default 4 */
  readonly checkpointConcurrency?: number;
  /** Names this recorder's checkpoints (`inflight/<taskId>/`). @default a random UUID */
  readonly taskId?: string;
  /** Back-off and deadline for S3 requests. */
  readonly retry?: RetryPolicy;
  /** Text frames kept per call (DTMF etc.); more are counted, not kept. @default 1000 */
  readonly maxTextEvents?: number;
  /** Bytes of text frames kept per call (a flood cannot grow memory). @default 131072 */
  readonly maxTextEventBytes?: number;
  /** @default a Powertools Logger (service `recorder`) */
  readonly logger?: Logger;
  /** @default no metrics */
  readonly metrics?: RecorderMetrics;
  /**
   * Where `Recording Stored|Interrupted|Failed` events go (EventBridge in main.ts, a JSON-lines
   * file in the local stack). A put that fails is logged and counted, never fatal. @default none
   */
  readonly events?: RecordingEventSink;
  /** How often metrics are published. @default 60000 */
  readonly metricsIntervalMs?: number;
  /** @default ECS task protection via `ECS_AGENT_URI` (a no-op off ECS) */
  readonly taskProtection?: TaskProtection;
  /** The clock for timestamps and token expiry. @default () => new Date() */
  readonly now?: () => Date;
}

export interface Recorder {
  readonly server: Server;
  listen(port: number, host?: string): Promise<AddressInfo>;
  /**
   * Health → 503, new calls refused; live calls run until they end or the drain deadline, then are
   * closed with 1001. Resolves when every recording is stored (or given up on).
   */
  drain(): Promise<void>;
  /** Drains with no grace (live calls closed with 1001 now), then stops the server. */
  close(): Promise<void>;
  /** Calls not yet stored: open sockets plus recordings still finalizing. */
  activeCalls(): number;
  /** Whether this recorder holds the call (open, or its recording still finalizing). */
  hasCall(uuid: string): boolean;
  /** The uuids of the calls not yet stored. */
  unstoredCalls(): string[];
  /** Names this recorder's checkpoints, `inflight/<taskId>/` (a sweeper leaves them alone). */
  readonly taskId: string;
}

function cachedSecret(secret: string | CachedSecret): CachedSecret {
  return typeof secret === 'string' ? new CachedSecret(fixedSecret(secret)) : secret;
}

const unlimitedSpace: FreeSpaceSource = async () => Number.POSITIVE_INFINITY;

function positive(name: string, value: number): number {
  if (!Number.isFinite(value) || value <= 0)
    throw new RangeError(`${name} must be a positive number, got ${value}`);
  return value;
}

/** The recorder's limits and timings, defaulted and checked once (a bad value throws RangeError). */
function resolveTimings(options: RecorderOptions): {
  settings: SessionSettings;
  drainTimeoutMs: number;
  heartbeatIntervalMs: number;
  maxPayloadBytes: number;
  signatureMaxAgeSeconds: number;
} {
  const drainTimeoutMs = positive('drainTimeoutMs', options.drainTimeoutMs ?? 100_000);
  const heartbeatIntervalMs = positive('heartbeatIntervalMs', options.heartbeatIntervalMs ?? 15_000);
  const settings: SessionSettings = {
    scratchDir: options.scratchDir,
    partSizeBytes: positive('partSizeBytes', options.partSizeBytes ?? MIN_PART_BYTES),
    idleTimeoutMs: positive('idleTimeoutMs', options.idleTimeoutMs ?? 30_000),
    maxCallMs: positive('maxCallSeconds', options.maxCallSeconds ?? DEFAULT_MAX_CALL_SECONDS) * 1000,
    spoolFlushBytes: positive('spoolFlushBytes', options.spoolFlushBytes ?? 32 * 1024),
    spoolFlushIntervalMs: positive('spoolFlushIntervalMs', options.spoolFlushIntervalMs ?? 1000),
    maxTextEvents: options.maxTextEvents ?? 1000,
    maxTextEventBytes: options.maxTextEventBytes ?? 128 * 1024,
    closeGraceMs: 2000,
    checkpointIntervalMs: options.checkpointIntervalMs ?? 10_000,
    ...(options.audioRate !== undefined ? { audioRate: options.audioRate } : {}),
  };
  if (!Number.isFinite(settings.checkpointIntervalMs) || settings.checkpointIntervalMs < 0) {
    throw new RangeError(
      `checkpointIntervalMs must be 0 (off) or positive, got ${settings.checkpointIntervalMs}`,
    );
  }
  return {
    settings,
    drainTimeoutMs,
    heartbeatIntervalMs,
    maxPayloadBytes: positive('maxPayloadBytes', options.maxPayloadBytes ?? 64 * 1024),
    signatureMaxAgeSeconds: positive('signatureMaxAgeSeconds', options.signatureMaxAgeSeconds ?? 300),
  };
}

/** Where calls are stored: the recordings bucket, and live checkpoints unless they are off. */
function createStorage(
  options: RecorderOptions,
  settings: SessionSettings,
  taskId: string,
  logger: Logger,
  metrics: RecorderMetrics,
): SessionStorage {
  return {
    s3: options.s3,
    bucket: options.bucket,
    limiter: new TransferLimiter(options.uploadConcurrency ?? 8),
    checkpoints:
      settings.checkpointIntervalMs > 0
        ? new CheckpointStore({
            s3: options.s3,
            bucket: options.checkpointBucket ?? options.bucket,
            taskId,
            intervalMs: settings.checkpointIntervalMs,
            limiter: new TransferLimiter(options.checkpointConcurrency ?? 4, {
              bufferBytes: MAX_BATCH_BYTES,
            }),
            retry: options.retry,
            logger,
            onFailed: () => metrics.checkpointFailed?.(),
          })
        : undefined,
    retry: options.retry,
  };
}

/** The recorder's parts that every call meets, made once by `createRecorder`. */
interface RecorderParts {
  readonly settings: SessionSettings;
  readonly storage: SessionStorage;
  readonly logger: Logger;
  readonly metrics: RecorderMetrics;
  readonly events: RecordingEventReporter;
  readonly now: () => Date;
  readonly calls: LiveCalls;
  readonly drain: Drain;
  readonly taskProtection: TaskProtection;
}

function createParts(options: RecorderOptions, settings: SessionSettings, taskId: string): RecorderParts {
  const now = options.now ?? (() => new Date());
  const logger = options.logger ?? new Logger({ serviceName: 'recorder' });
  const metrics = options.metrics ?? noMetrics;
  const taskProtection =
    options.taskProtection ??
    new EcsTaskProtection({ logger, maxCallSeconds: options.maxCallSeconds ?? DEFAULT_MAX_CALL_SECONDS });
  const calls = new LiveCalls(() => taskProtection.setActive(false));
  return {
    settings,
    storage: createStorage(options, settings, taskId, logger, metrics),
    logger,
    metrics,
    events: new RecordingEventReporter(options.events ?? noRecordingEvents, logger, metrics),
    now,
    calls,
    drain: createDrain(calls, logger, metrics),
    taskProtection,
  };
}

function createDrain(calls: LiveCalls, logger: Logger, metrics: RecorderMetrics): Drain {
  return new Drain(calls, {
    started: (activeCalls, drainTimeoutMs) =>
      logger.info('draining: refusing new calls', { activeCalls, drainTimeoutMs }),
    deadlineReached: (activeCalls) =>
      logger.warn('drain deadline reached; closing live calls', { activeCalls }),
    ended: (activeCalls) => {
      metrics.activeCalls(activeCalls);
      metrics.publish();
    },
  });
}

/**
 * The upgrade gate with its admission control; `sampleFreeSpace` refreshes admission's view of
 * the scratch disk (never rejects).
 */
function createGate(
  options: RecorderOptions,
  parts: RecorderParts,
  signatureMaxAgeSeconds: number,
): { gate: UpgradeGate; sampleFreeSpace: () => Promise<void> } {
  const { calls, drain, logger } = parts;
  const admission = new AdmissionControl({
    maxCalls: options.maxCalls ?? Number.POSITIVE_INFINITY,
    maxCallSeconds: parts.settings.maxCallMs / 1000,
    freeSpace: options.scratchFreeSpace ?? unlimitedSpace,
  });
  const gate = new UpgradeGate({
    callTokenSecret: cachedSecret(options.callTokenSecret),
    vonageSignatureSecret:
      options.vonageSignatureSecret === undefined ? undefined : cachedSecret(options.vonageSignatureSecret),
    signatureMaxAgeSeconds,
    admission,
    calls: {
      refusing: () => drain.refusing,
      has: (uuid) => calls.has(uuid),
      sessions: () => calls.sessions(),
    },
    now: parts.now,
  });
  const sampleFreeSpace = () =>
    admission
      .refresh()
      .catch((error: unknown) => logger.error('reading scratch free space failed', { error }));
  return { gate, sampleFreeSpace };
}

/** ws without its own server: upgrades are handed to it once the gate has let them through. */
function createWebSocketServer(maxPayloadBytes: number, logger: Logger): WebSocketServer {
  const wss = new WebSocketServer({
    noServer: true,
    maxPayload: maxPayloadBytes,
    perMessageDeflate: false,
    clientTracking: false,
  });
  wss.on('error', (error) => logger.error('websocket server error', { error }));
  return wss;
}

/** The HTTP side: `GET /healthz` is 200 while serving and 503 once draining; anything else 404. */
function createHealthServer(drain: Drain, calls: LiveCalls): Server {
  const server = createServer((request: IncomingMessage, response: ServerResponse) => {
    const path = (request.url ?? '/').split('?')[0];
    if (path === '/healthz' && (request.method === 'GET' || request.method === 'HEAD')) {
      const status = drain.refusing ? 503 : 200;
      response.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store' });
      response.end(
        JSON.stringify({ status: drain.refusing ? 'draining' : 'ok', activeCalls: calls.count() }),
      );
      return;
    }
    response.writeHead(404, { 'content-type': 'text/plain' });
    response.end('not found');
  });
  server.on('clientError', (_error, socket) => refuseUpgrade(socket, 400, 'bad request'));
  // A client that trickles its handshake headers (slowloris) is cut after 10 s.
  server.headersTimeout = 10_000;
  server.requestTimeout = 30_000;
  return server;
}

/** Each upgrade goes through the gate; an authorized one becomes a call, a refused one gets its status. */
function handleUpgrades(server: Server, wss: WebSocketServer, gate: UpgradeGate, parts: RecorderParts): void {
  server.on('upgrade', (request: IncomingMessage, socket: Duplex, head: Buffer) => {
    const onHandshakeError = (error: Error) =>
      parts.logger.warn('socket error during handshake', { error: error.message });
    socket.on('error', onHandshakeError);
    gate.authorize(request).then(
      (call) => {
        wss.handleUpgrade(request, socket, head, (ws) => {
          // From here ws handles socket errors and reports them on the WebSocket.
          socket.off('error', onHandshakeError);
          acceptCall(ws, call.uuid, parts);
        });
      },
      (error: unknown) => refuseHandshake(request, socket, error, parts.logger),
    );
  });
}

/** Whatever went wrong, this connection is refused and the process (every other call) goes on. */
function refuseHandshake(request: IncomingMessage, socket: Duplex, error: unknown, logger: Logger): void {
  const refused =
    error instanceof HandshakeRefusedError ? error : new HandshakeRefusedError(500, String(error));
  logger.warn('websocket handshake refused', {
    status: refused.status,
    reason: refused.message,
    path: (request.url ?? '').split('?')[0]?.slice(0, 200),
    remoteAddress: request.socket.remoteAddress,
    forwardedFor: request.headers['x-forwarded-for'],
  });
  refuseUpgrade(socket, refused.status, STATUS_CODES[refused.status] ?? 'refused');
}

/** Starts recording an upgraded socket: a session for the call, the socket's events routed to it. */
function acceptCall(ws: WebSocket, uuid: string, parts: RecorderParts): void {
  const { calls, drain, logger, now, taskProtection } = parts;
  const session = new CallSession({
    uuid,
    socket: ws,
    acceptedAt: now(),
    settings: parts.settings,
    storage: parts.storage,
    logger,
    metrics: parts.metrics,
    events: parts.events,
    now,
  });
  calls.add(ws, session);
  if (taskProtection.callAccepted) taskProtection.callAccepted(now().getTime());
  else taskProtection.setActive(true);
  ws.on('message', (data, isBinary) => {
    try {
      session.onMessage(Buffer.isBuffer(data) ? data : Buffer.concat(data as Buffer[]), isBinary);
    } catch (error) {
      // A bug in handling one call must not take the process, and every other call, down.
      logger.error('handling a frame failed; ending the call', { callUuid: uuid, error });
      session.close('error', CloseCode.InternalError, 'recorder error');
    }
  });
  ws.on('pong', () => {
    session.alive = true;
  });
  ws.on('error', (error) => session.onError(error));
  ws.on('close', (code, reason) => {
    calls.socketClosed(ws);
    session.onClose(code, reason);
  });
  // Upgraded just as the drain deadline passed: it would otherwise outlive the drain.
  if (drain.cutOff) session.close('drain', CloseCode.GoingAway, 'recorder shutting down');
}

async function listenOn(server: Server, port: number, host: string): Promise<AddressInfo> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve(server.address() as AddressInfo);
    });
  });
}

/** Drains with no grace, stops the timers, flushes task protection and checkpoints, closes the server. */
async function shutDown(
  parts: RecorderParts,
  housekeeping: { stop(): void },
  wss: WebSocketServer,
  server: Server,
): Promise<void> {
  parts.drain.cut();
  await parts.drain.start(0);
  housekeeping.stop();
  await parts.taskProtection.settled();
  // The last calls' events go out before the process may exit.
  await parts.events.settled();
  await parts.storage.checkpoints?.close();
  wss.close();
  await new Promise<void>((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections();
  });
}

/**
 * Builds the recorder (does not listen): an HTTP server answering `GET /healthz`, and a websocket
 * endpoint at `/calls/<uuid>?token=…` whose token is checked before the upgrade.
 */
export function createRecorder(options: RecorderOptions): Recorder {
  const { settings, drainTimeoutMs, heartbeatIntervalMs, maxPayloadBytes, signatureMaxAgeSeconds } =
    resolveTimings(options);
  const taskId = options.taskId ?? randomUUID();
  const parts = createParts(options, settings, taskId);
  const { calls, drain, logger } = parts;
  const { gate, sampleFreeSpace } = createGate(options, parts, signatureMaxAgeSeconds);
  const wss = createWebSocketServer(maxPayloadBytes, logger);
  const server = createHealthServer(drain, calls);
  handleUpgrades(server, wss, gate, parts);
  const housekeeping = startHousekeeping({
    calls,
    gate,
    taskProtection: parts.taskProtection,
    logger,
    metrics: parts.metrics,
    sampleFreeSpace: () => void sampleFreeSpace(),
    heartbeatIntervalMs,
    tickIntervalMs: Math.min(1000, Math.max(20, settings.idleTimeoutMs / 4)),
    metricsIntervalMs: options.metricsIntervalMs ?? RECORDER_METRICS_INTERVAL_MS,
  });
  let closing: Promise<void> | undefined;

  return {
    server,
    async listen(port, host = '0.0.0.0') {
      // Admission refuses every call until it knows the scratch disk's free space.
      await sampleFreeSpace();
      return listenOn(server, port, host);
    },
    drain: () => drain.start(drainTimeoutMs),
    close() {
      closing ??= shutDown(parts, housekeeping, wss, server);
      return closing;
    },
    activeCalls: () => calls.count(),
    hasCall: (uuid) => calls.has(uuid),
    unstoredCalls: () => calls.uuids(),
    taskId,
  };
}
