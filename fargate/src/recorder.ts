import { randomUUID } from 'node:crypto';
import {
  createServer,
  type IncomingMessage,
  type Server,
  type ServerResponse,
  STATUS_CODES,
} from 'node:http';
import type { AddressInfo } from 'node:net';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import type { Duplex } from 'node:stream';
import { Logger } from '@aws-lambda-powertools/logger';
import type { S3Client } from '@aws-sdk/client-s3';
import { type WebSocket, WebSocketServer } from 'ws';
import {
  CALL_PATH_PREFIX,
  DEFAULT_MAX_CALL_SECONDS,
  RECORDER_METRICS_INTERVAL_MS,
} from '../../common/contract.js';
import type { RecordingEventSink } from '../../common/recording-events.js';
import { isValidCallUuid } from '../../common/recording-keys.js';
import { CachedSecret, fixedSecret } from '../../common/secret-versions.js';
import { AdmissionControl, type AudioRateOptions, type FreeSpaceSource } from './admission.js';
import { CallSession, type SessionSettings, type SessionStorage } from './call-session.js';
import { CheckpointStore, MAX_BATCH_BYTES } from './checkpoint.js';
import { CloseCode } from './close-codes.js';
import { Drain } from './drain.js';
import { noMetrics, type RecorderMetrics } from './metrics.js';
import { noRecordingEvents, RecordingEventReporter } from './recording-event-reporter.js';
import type { RetryPolicy } from './retry.js';
import { EcsTaskProtection, type TaskProtection } from './task-protection.js';
import { TransferLimiter } from './transfer-limiter.js';
import { type HandshakeCredentials, verifyHandshake } from './upgrade-auth.js';
import { MIN_PART_BYTES } from './upload.js';

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

/** A handshake refused before the upgrade. */
export class HandshakeRefusedError extends Error {
  constructor(
    readonly status: number,
    reason: string,
  ) {
    super(reason);
    this.name = 'HandshakeRefusedError';
  }
}

/** `/calls/<uuid>`: exactly one path segment after the prefix. */
const CALL_PATH = new RegExp(`^${CALL_PATH_PREFIX}([^/]+)$`);

function cachedSecret(secret: string | CachedSecret): CachedSecret {
  return typeof secret === 'string' ? new CachedSecret(fixedSecret(secret)) : secret;
}

const unlimitedSpace: FreeSpaceSource = async () => Number.POSITIVE_INFINITY;

function positive(name: string, value: number): number {
  if (!Number.isFinite(value) || value <= 0)
    throw new RangeError(`${name} must be a positive number, got ${value}`);
  return value;
}

/** Writes a plain HTTP response on a socket that asked to upgrade, then closes it. */
function refuseUpgrade(socket: Duplex, status: number, body: string): void {
  if (!socket.writable) {
    socket.destroy();
    return;
  }
  socket.once('finish', () => socket.destroy());
  socket.end(
    `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nConnection: close\r\nContent-Type: text/plain\r\n` +
      `Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
  );
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

/**
 * Builds the recorder (does not listen): an HTTP server answering `GET /healthz`, and a websocket
 * endpoint at `/calls/<uuid>?token=…` whose token is checked before the upgrade.
 */
export function createRecorder(options: RecorderOptions): Recorder {
  const now = options.now ?? (() => new Date());
  const logger = options.logger ?? new Logger({ serviceName: 'recorder' });
  const metrics = options.metrics ?? noMetrics;
  const events = new RecordingEventReporter(options.events ?? noRecordingEvents, logger, metrics);
  const taskProtection =
    options.taskProtection ??
    new EcsTaskProtection({ logger, maxCallSeconds: options.maxCallSeconds ?? DEFAULT_MAX_CALL_SECONDS });
  const { settings, drainTimeoutMs, heartbeatIntervalMs, maxPayloadBytes, signatureMaxAgeSeconds } =
    resolveTimings(options);
  const admission = new AdmissionControl({
    maxCalls: options.maxCalls ?? Number.POSITIVE_INFINITY,
    maxCallSeconds: settings.maxCallMs / 1000,
    freeSpace: options.scratchFreeSpace ?? unlimitedSpace,
  });
  const sampleFreeSpace = () =>
    admission
      .refresh()
      .catch((error: unknown) => logger.error('reading scratch free space failed', { error }));
  const taskId = options.taskId ?? randomUUID();
  const callTokenSecret = cachedSecret(options.callTokenSecret);
  const vonageSignatureSecret =
    options.vonageSignatureSecret === undefined ? undefined : cachedSecret(options.vonageSignatureSecret);
  const storage = createStorage(options, settings, taskId, logger, metrics);
  const sessions = new Map<WebSocket, CallSession>();
  /** Sessions not yet done (sockets open or recordings finalizing), by uuid. */
  const live = new Map<string, CallSession>();
  /** Tokens already used, until they expire: a replayed URI cannot overwrite a recording. */
  const usedTokens = new Map<string, number>();
  const drain = new Drain(
    {
      count: () => live.size,
      settled: async () => {
        while (live.size > 0) await Promise.all([...live.values()].map((session) => session.done));
      },
      closeAll: () => {
        for (const session of sessions.values())
          session.close('drain', CloseCode.GoingAway, 'recorder shutting down');
      },
    },
    {
      started: (activeCalls, drainTimeoutMs) =>
        logger.info('draining: refusing new calls', { activeCalls, drainTimeoutMs }),
      deadlineReached: (activeCalls) =>
        logger.warn('drain deadline reached; closing live calls', { activeCalls }),
      ended: (activeCalls) => {
        metrics.activeCalls(activeCalls);
        metrics.publish();
      },
    },
  );
  let closing: Promise<void> | undefined;

  const wss = new WebSocketServer({
    noServer: true,
    maxPayload: maxPayloadBytes,
    perMessageDeflate: false,
    clientTracking: false,
  });
  wss.on('error', (error) => logger.error('websocket server error', { error }));

  const server = createServer((request: IncomingMessage, response: ServerResponse) => {
    const path = (request.url ?? '/').split('?')[0];
    if (path === '/healthz' && (request.method === 'GET' || request.method === 'HEAD')) {
      const status = drain.refusing ? 503 : 200;
      response.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store' });
      response.end(JSON.stringify({ status: drain.refusing ? 'draining' : 'ok', activeCalls: live.size }));
      return;
    }
    response.writeHead(404, { 'content-type': 'text/plain' });
    response.end('not found');
  });
  server.on('clientError', (_error, socket) => refuseUpgrade(socket, 400, 'bad request'));
  // A client that trickles its handshake headers (slowloris) is cut after 10 s.
  server.headersTimeout = 10_000;
  server.requestTimeout = 30_000;

  async function credentials(): Promise<HandshakeCredentials> {
    const [callToken, signature] = await Promise.all([callTokenSecret.get(), vonageSignatureSecret?.get()]);
    return { callToken, signature, signatureMaxAgeSeconds };
  }

  async function authorize(
    request: IncomingMessage,
  ): Promise<{ uuid: string; token: string; expiresAt: number }> {
    let url: URL;
    try {
      url = new URL(request.url ?? '/', 'http://recorder');
    } catch {
      throw new HandshakeRefusedError(400, 'request target is not a valid URL');
    }
    const match = CALL_PATH.exec(url.pathname);
    const uuid = match?.[1];
    if (!uuid || !isValidCallUuid(uuid)) throw new HandshakeRefusedError(404, 'not a call path');
    if (drain.refusing) throw new HandshakeRefusedError(503, 'recorder is draining');
    const handshake = {
      uuid,
      token: url.searchParams.get('token'),
      authorization: request.headers.authorization,
    };
    const nowSeconds = () => Math.floor(now().getTime() / 1000);
    let verdict = verifyHandshake(handshake, await credentials(), nowSeconds());
    // Made with a value newer than the one cached: the secret may just have been rotated.
    if (!verdict.ok && verdict.unknownKey) {
      await Promise.all([callTokenSecret.refresh(), vonageSignatureSecret?.refresh()]);
      verdict = verifyHandshake(handshake, await credentials(), nowSeconds());
    }
    if (!verdict.ok) throw new HandshakeRefusedError(401, verdict.reason);
    if (drain.refusing) throw new HandshakeRefusedError(503, 'recorder is draining');
    if (live.has(uuid)) throw new HandshakeRefusedError(409, 'call already connected');
    if (usedTokens.has(verdict.token)) throw new HandshakeRefusedError(401, 'token already used');
    const admitted = admission.admit(live.values());
    if (!admitted.ok) throw new HandshakeRefusedError(503, admitted.reason);
    // Marked here, in the same turn as the checks, so a concurrent replay cannot pass them too.
    usedTokens.set(verdict.token, verdict.expiresAt);
    return { uuid, token: verdict.token, expiresAt: verdict.expiresAt };
  }

  server.on('upgrade', (request: IncomingMessage, socket: Duplex, head: Buffer) => {
    const onHandshakeError = (error: Error) =>
      logger.warn('socket error during handshake', { error: error.message });
    socket.on('error', onHandshakeError);
    authorize(request).then(
      (call) => {
        wss.handleUpgrade(request, socket, head, (ws) => {
          // From here ws handles socket errors and reports them on the WebSocket.
          socket.off('error', onHandshakeError);
          accept(ws, call.uuid);
        });
      },
      (error: unknown) => {
        // Whatever went wrong, this connection is refused and the process (every other call) goes on.
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
      },
    );
  });

  function accept(ws: WebSocket, uuid: string): void {
    const session = new CallSession({
      uuid,
      socket: ws,
      acceptedAt: now(),
      settings,
      storage,
      logger,
      metrics,
      events,
      now,
    });
    sessions.set(ws, session);
    live.set(uuid, session);
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
      sessions.delete(ws);
      session.onClose(code, reason);
    });
    session.done.then(() => {
      live.delete(uuid);
      if (live.size === 0) taskProtection.setActive(false);
    });
    // Upgraded just as the drain deadline passed: it would otherwise outlive the drain.
    if (drain.cutOff) session.close('drain', CloseCode.GoingAway, 'recorder shutting down');
  }

  const heartbeat = setInterval(() => {
    for (const [ws, session] of sessions) {
      if (!session.alive) {
        logger.warn('peer did not answer ping; cutting the socket', { callUuid: session.uuid });
        session.terminate('heartbeat');
        continue;
      }
      session.alive = false;
      ws.ping();
    }
  }, heartbeatIntervalMs);
  const tick = setInterval(
    () => {
      const nowMono = performance.now();
      for (const session of sessions.values()) session.tick(nowMono);
      const nowSeconds = Math.floor(now().getTime() / 1000);
      for (const [token, expiresAt] of usedTokens) if (expiresAt < nowSeconds) usedTokens.delete(token);
      taskProtection.setActive(live.size > 0);
      void sampleFreeSpace();
    },
    Math.min(1000, Math.max(20, settings.idleTimeoutMs / 4)),
  );
  // Ingest lag: a frame that has arrived waits for the event loop before it is read, so the loop's
  // delay is how far the recorder's intake runs behind the stream (the bench's ping measure, from inside).
  const loopDelay = monitorEventLoopDelay({ resolution: 10 });
  loopDelay.enable();
  const metricsTimer = setInterval(() => {
    try {
      metrics.activeCalls(live.size);
      metrics.ingestLag?.(loopDelay.percentile(99) / 1e6);
      loopDelay.reset();
      metrics.publish();
    } catch (error) {
      logger.error('publishing metrics failed', { error });
    }
  }, options.metricsIntervalMs ?? RECORDER_METRICS_INTERVAL_MS);
  for (const timer of [heartbeat, tick, metricsTimer]) timer.unref();

  return {
    server,
    async listen(port, host = '0.0.0.0') {
      // Admission refuses every call until it knows the scratch disk's free space.
      await sampleFreeSpace();
      return new Promise((resolve, reject) => {
        server.once('error', reject);
        server.listen(port, host, () => {
          server.off('error', reject);
          resolve(server.address() as AddressInfo);
        });
      });
    },
    drain: () => drain.start(drainTimeoutMs),
    close() {
      closing ??= (async () => {
        drain.cut();
        await drain.start(0);
        clearInterval(heartbeat);
        clearInterval(tick);
        clearInterval(metricsTimer);
        loopDelay.disable();
        await taskProtection.settled();
        // The last calls' events go out before the process may exit.
        await events.settled();
        await storage.checkpoints?.close();
        wss.close();
        await new Promise<void>((resolve) => {
          server.close(() => resolve());
          server.closeAllConnections();
        });
      })();
      return closing;
    },
    activeCalls: () => live.size,
    hasCall: (uuid) => live.has(uuid),
    unstoredCalls: () => [...live.keys()],
    taskId,
  };
}
