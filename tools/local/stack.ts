import { randomBytes } from 'node:crypto';
import { mkdir } from 'node:fs/promises';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Logger } from '@aws-lambda-powertools/logger';
import type { LogLevel } from '@aws-lambda-powertools/logger/types';
import type { S3Client } from '@aws-sdk/client-s3';
import S3rver from 's3rver';
import type { SampleRate } from '../../common/audio-format.js';
import { DEFAULT_MAX_CALL_SECONDS } from '../../common/contract.js';
import { JsonLinesEventSink } from '../../common/recording-event-sinks.js';
import type { RecordingEventSink } from '../../common/recording-events.js';
import { createS3Client, LOCAL_S3_CREDENTIALS } from '../../common/s3-client.js';
import { createRecorder, type Recorder } from '../../fargate/src/recorder.js';
import type { TaskProtection } from '../../fargate/src/task-protection.js';
import type { ReconcileSchedule } from '../../lambdas/reconciler/decision.js';
import { createReconciler } from '../../lambdas/reconciler/reconcile.js';
import {
  createWebhookHandler,
  type WebhookConfig,
  type WebhookHandler,
} from '../../lambdas/webhooks/index.js';
import { createHttpApiServer, type HttpApiAccessLog } from './api-gateway.js';
import { TimerReconcileQueue } from './reconciler.js';

/** Recording events of the local stack, under its data folder. */
export const LOCAL_EVENTS_FILE = 'eventbridge.jsonl';

/** The local stack's fixed defaults (documented in the README). */
export const LOCAL_DEFAULTS = {
  host: '127.0.0.1',
  webhooksPort: 3000,
  recorderPort: 8080,
  s3Port: 4569,
  bucket: 'recordings',
  dataDir: '.local',
  sampleRate: 16000,
  greeting: 'This call is recorded.',
  /** Seconds after a call's `completed` that the reconciler checks it: local uploads take moments. */
  reconcile: { firstCheckSeconds: 10, finalCheckSeconds: 60 },
} as const;

export interface LocalStackOptions {
  /** Loopback by default: nothing is reachable from other machines. @default '127.0.0.1' */
  readonly host?: string;
  /** 0 picks a free port. @default 3000 */
  readonly webhooksPort?: number;
  /** @default 8080 */
  readonly recorderPort?: number;
  /** @default 4569 */
  readonly s3Port?: number;
  /** @default 'recordings' */
  readonly bucket?: string;
  /**
   * Holds `s3/` (the bucket's objects), `scratch/` (live calls' audio) and `eventbridge.jsonl` (the
   * recording events, one PutEvents entry a line). @default '.local'
   */
  readonly dataDir?: string;
  /** Verify Vonage signed webhooks with this secret, as the deployed stack does when configured. @default off */
  readonly signatureSecret?: string;
  /** @default 16000 */
  readonly sampleRate?: SampleRate;
  /** @default 'This call is recorded.' */
  readonly greeting?: string;
  /** @default DEFAULT_MAX_CALL_SECONDS (7200) */
  readonly maxCallSeconds?: number;
  /** How long Ctrl-C lets live calls go on before closing them. @default 10000 */
  readonly drainTimeoutMs?: number;
  /** Log level for the webhooks and the recorder. @default 'WARN' */
  readonly logLevel?: LogLevel;
  /** One line per webhook request (method, path, status). */
  readonly onRequest?: (entry: HttpApiAccessLog) => void;
  /** Told of every request the S3 API server receives, as it arrives (the cost model counts them). */
  readonly onS3Request?: (request: { readonly method: string; readonly url: string }) => void;
  /** Where recording events go. @default a JSON-lines file, `<dataDir>/eventbridge.jsonl` */
  readonly eventSink?: RecordingEventSink;
  /** When the reconciler checks each completed call. @default 10 s and 60 s after `completed` */
  readonly reconcile?: ReconcileSchedule;
}

export interface LocalStack {
  /** e.g. `http://127.0.0.1:3000/answer` */
  readonly answerUrl: string;
  readonly eventUrl: string;
  /** e.g. `ws://127.0.0.1:8080` */
  readonly recorderUrl: string;
  /** e.g. `http://127.0.0.1:4569` */
  readonly s3Endpoint: string;
  readonly bucket: string;
  /** Absolute path of the data folder. */
  readonly dataDir: string;
  /** Where recording events are appended, as EventBridge would receive them: `<dataDir>/eventbridge.jsonl`. */
  readonly eventsFile: string;
  /** A client for the embedded S3 API. */
  readonly s3: S3Client;
  /** Calls still open or finalizing in the recorder. */
  activeCalls(): number;
  /**
   * Drains the recorder (no new calls; live calls end or are closed with 1001 at the drain
   * deadline; every recording stored), then stops the webhooks and the S3 API.
   */
  stop(): Promise<void>;
}

/** A port that could not be taken, said in one line with what to do. */
export class LocalStackError extends Error {
  override readonly name = 'LocalStackError';
}

function listen(
  server: Server,
  port: number,
  host: string,
  what: string,
  flag: string,
): Promise<AddressInfo> {
  return new Promise((resolvePromise, reject) => {
    const onError = (error: NodeJS.ErrnoException) => {
      reject(
        new LocalStackError(
          error.code === 'EADDRINUSE'
            ? `${what} port ${port} on ${host} is in use: stop what holds it, or pick another with ${flag}`
            : `${what} cannot listen on ${host}:${port}: ${error.message}`,
          { cause: error },
        ),
      );
    };
    server.once('error', onError);
    server.listen(port, host, () => {
      server.off('error', onError);
      resolvePromise(server.address() as AddressInfo);
    });
  });
}

/** After a drain, the webhooks stay up until no request has come for this long... */
const EVENT_QUIET_MS = 300;
/** ...or at most this long. */
const EVENT_GRACE_MS = 3000;

/** Resolves once the server has had no request in flight and none new for `quietMs` (at most `maxMs`). */
async function webhooksQuiet(server: Server, quietMs: number, maxMs: number): Promise<void> {
  let inFlight = 0;
  let lastActivity = performance.now();
  const onRequest = (_request: unknown, response: ServerResponse) => {
    inFlight += 1;
    lastActivity = performance.now();
    response.once('close', () => {
      inFlight -= 1;
      lastActivity = performance.now();
    });
  };
  server.on('request', onRequest);
  const deadline = performance.now() + maxMs;
  try {
    while (performance.now() < deadline && (inFlight > 0 || performance.now() - lastActivity < quietMs)) {
      await sleep(50);
    }
  } finally {
    server.off('request', onRequest);
  }
}

/** Secrets Manager would generate this: 64 characters, letters and digits only. Never printed. */
function generateTokenSecret(): string {
  return randomBytes(32).toString('hex');
}

/** Local runs are never on ECS: nothing to protect from scale-in. */
const NO_TASK_PROTECTION: TaskProtection = { setActive: () => {}, settled: async () => {} };

/** `[::1]` for IPv6 hosts in URLs. */
function urlHost(host: string): string {
  return host.includes(':') ? `[${host}]` : host;
}

/**
 * Runs the whole system on one machine, wired as in AWS: an S3 API (s3rver) with the recordings
 * bucket, the webhooks Lambda's handler behind a local stand-in for the HTTP API (exactly
 * `GET|POST /answer` and `POST /event`), and the recorder, sharing a call-token secret generated
 * for this start. The same key layout, the same code.
 */
export async function startLocalStack(options: LocalStackOptions = {}): Promise<LocalStack> {
  const host = options.host ?? LOCAL_DEFAULTS.host;
  const bucket = options.bucket ?? LOCAL_DEFAULTS.bucket;
  const dataDir = resolve(options.dataDir ?? LOCAL_DEFAULTS.dataDir);
  const s3Directory = join(dataDir, 's3');
  const scratchDir = join(dataDir, 'scratch');
  // The account's default bus stood in for by a file: each line exactly as it would be put.
  const eventSink = options.eventSink ?? new JsonLinesEventSink(join(dataDir, LOCAL_EVENTS_FILE));
  await mkdir(s3Directory, { recursive: true });
  await mkdir(scratchDir, { recursive: true });
  const logLevel = options.logLevel ?? 'WARN';

  const cleanups: (() => Promise<void>)[] = [];
  const stopAll = async () => {
    for (const cleanup of cleanups.reverse()) await cleanup();
  };
  try {
    const s3rver = new S3rver({
      address: host,
      port: options.s3Port ?? LOCAL_DEFAULTS.s3Port,
      silent: true,
      directory: s3Directory,
      configureBuckets: [{ name: bucket }],
    });
    const s3Address = await s3rver.run().catch((error: NodeJS.ErrnoException) => {
      throw new LocalStackError(
        error.code === 'EADDRINUSE'
          ? `S3 API port ${options.s3Port ?? LOCAL_DEFAULTS.s3Port} on ${host} is in use: stop what holds it, or pick another with --s3-port`
          : `S3 API cannot start: ${error.message}`,
        { cause: error },
      );
    });
    cleanups.push(() => s3rver.close());
    const onS3Request = options.onS3Request;
    if (onS3Request) {
      // A second 'request' listener only watches: s3rver's own still answers every request.
      (s3rver as unknown as { httpServer: Server }).httpServer.on('request', (request: IncomingMessage) =>
        onS3Request({ method: request.method ?? '', url: request.url ?? '' }),
      );
    }
    const s3Endpoint = `http://${urlHost(host)}:${s3Address.port}`;
    const s3 = createS3Client({ endpoint: s3Endpoint, credentials: LOCAL_S3_CREDENTIALS });
    cleanups.push(async () => s3.destroy());

    const callTokenSecret = generateTokenSecret();
    const recorder: Recorder = createRecorder({
      bucket,
      s3,
      callTokenSecret,
      // Signed like a deployed stack: the handshake must carry Vonage's JWT as well.
      ...(options.signatureSecret ? { vonageSignatureSecret: options.signatureSecret } : {}),
      scratchDir,
      drainTimeoutMs: options.drainTimeoutMs ?? 10_000,
      maxCallSeconds: options.maxCallSeconds ?? DEFAULT_MAX_CALL_SECONDS,
      logger: new Logger({ serviceName: 'recorder', logLevel }),
      events: eventSink,
      taskProtection: NO_TASK_PROTECTION,
    });
    cleanups.push(() => recorder.close());
    const recorderAddress = await recorder
      .listen(options.recorderPort ?? LOCAL_DEFAULTS.recorderPort, host)
      .catch((error: NodeJS.ErrnoException) => {
        throw new LocalStackError(
          error.code === 'EADDRINUSE'
            ? `recorder port ${options.recorderPort ?? LOCAL_DEFAULTS.recorderPort} on ${host} is in use: stop what holds it, or pick another with --recorder-port`
            : `recorder cannot listen: ${error.message}`,
          { cause: error },
        );
      });
    const recorderUrl = `ws://${urlHost(host)}:${recorderAddress.port}`;

    // The handler needs the event URL, which needs the port: listen first, then build the handler.
    let handler: WebhookHandler | undefined;
    const webhookLogger = new Logger({ serviceName: 'webhooks', logLevel });
    const api = createHttpApiServer({
      handler: () => {
        if (!handler) throw new Error('webhooks are not ready yet');
        return handler;
      },
      ...(options.onRequest ? { onRequest: options.onRequest } : {}),
      onError: (error, event) =>
        webhookLogger.error('webhook handler failed', { error, path: event.rawPath }),
    });
    const apiAddress = await listen(
      api,
      options.webhooksPort ?? LOCAL_DEFAULTS.webhooksPort,
      host,
      'webhooks',
      '--webhooks-port',
    );
    cleanups.push(
      () =>
        new Promise<void>((resolveClose) => {
          api.close(() => resolveClose());
          api.closeAllConnections();
        }),
    );
    const base = `http://${urlHost(host)}:${apiAddress.port}`;
    const config: WebhookConfig = {
      bucket,
      recorderUrl,
      eventUrl: `${base}/event`,
      callTokenSecret,
      ...(options.signatureSecret ? { signatureSecret: options.signatureSecret } : {}),
      greeting: { text: options.greeting ?? LOCAL_DEFAULTS.greeting, language: 'en-US', style: 0 },
      sampleRate: options.sampleRate ?? LOCAL_DEFAULTS.sampleRate,
      maxCallSeconds: options.maxCallSeconds ?? DEFAULT_MAX_CALL_SECONDS,
      tokenTtlSeconds: 300,
      signatureMaxAgeSeconds: 300,
    };
    // The reconciler, as in AWS, but its queue is a timer in this process.
    const schedule = options.reconcile ?? LOCAL_DEFAULTS.reconcile;
    const reconcilerLogger = new Logger({ serviceName: 'reconciler', logLevel });
    const reconcileQueue = new TimerReconcileQueue(
      (request) => reconcile(request),
      (error, request) =>
        reconcilerLogger.error('reconciling a call failed', { callUuid: request.callUuid, error }),
    );
    const reconcile = createReconciler({
      s3,
      bucket,
      sink: eventSink,
      queue: reconcileQueue,
      schedule,
      logger: reconcilerLogger,
    });
    cleanups.push(() => reconcileQueue.close());
    handler = createWebhookHandler(config, {
      s3,
      logger: webhookLogger,
      reconcile: { queue: reconcileQueue, firstCheckSeconds: schedule.firstCheckSeconds },
    });

    let stopping: Promise<void> | undefined;
    return {
      answerUrl: `${base}/answer`,
      eventUrl: `${base}/event`,
      recorderUrl,
      s3Endpoint,
      bucket,
      dataDir,
      eventsFile: join(dataDir, LOCAL_EVENTS_FILE),
      s3,
      activeCalls: () => recorder.activeCalls(),
      stop() {
        stopping ??= (async () => {
          await recorder.drain();
          // In AWS the webhooks outlive a recorder task: give the drained calls' last events
          // (Vonage posts `completed` after the socket closes) a moment to be stored.
          await webhooksQuiet(api, EVENT_QUIET_MS, EVENT_GRACE_MS);
          await stopAll();
        })();
        return stopping;
      },
    };
  } catch (error) {
    await stopAll();
    throw error;
  }
}
