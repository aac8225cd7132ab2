/**
 * The recorder container's entry point: reads the environment, listens on 0.0.0.0, and on SIGTERM
 * (a deploy or scale-in) drains live calls into complete recordings before exiting.
 */
import { access, constants } from 'node:fs/promises';
import { basename } from 'node:path';
import { Logger } from '@aws-lambda-powertools/logger';
import type { LogLevel } from '@aws-lambda-powertools/logger/types';
import { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { RecorderEnv, SWEEP_INTERVAL_SECONDS } from '../../common/contract.js';
import { EventBridgeEventSink, JsonLinesEventSink } from '../../common/recording-event-sinks.js';
import type { RecordingEventSink } from '../../common/recording-events.js';
import { createS3Client } from '../../common/s3-client.js';
import { CachedSecret, fixedSecret, secretsManagerVersions } from '../../common/secret-versions.js';
import { statfsFreeSpace } from './admission.js';
import {
  loadRecorderEnvironment,
  RecorderEnvironmentError,
  type RecordingEventsTarget,
  type SecretReference,
} from './environment.js';
import { EmfRecorderMetrics } from './metrics.js';
import { createRecorder } from './recorder.js';
import { RecordingEventReporter } from './recording-event-reporter.js';
import { findJournals, recoverSpools } from './recovery.js';
import { type InflightSweeper, startInflightSweeper } from './sweeper.js';
import { EcsTaskProtection } from './task-protection.js';
import { TransferLimiter } from './transfer-limiter.js';
import { MIN_PART_BYTES } from './upload.js';

/** How long before the stop timeout's SIGKILL the process gives up on the recordings still uploading. */
const STOP_MARGIN_MS = 3000;

/** How long fetched secrets are trusted before being read again (a rotation is also noticed at once). */
const SECRET_MAX_AGE_MS = 5 * 60_000;

const bootLogger = new Logger({ serviceName: process.env.POWERTOOLS_SERVICE_NAME ?? 'recorder' });

async function main(): Promise<void> {
  const config = loadRecorderEnvironment();
  const logger = new Logger({
    serviceName: process.env.POWERTOOLS_SERVICE_NAME ?? 'recorder',
    logLevel: config.logLevel as LogLevel,
  });
  await access(config.scratchDir, constants.W_OK).catch((error: unknown) => {
    throw new RecorderEnvironmentError(
      'SCRATCH_DIR',
      `must be a writable folder: ${(error as Error).message}`,
    );
  });
  const s3 = createS3Client({
    endpoint: config.s3Endpoint,
    region: config.region,
    // The SDK's warnings as structured logs.
    warnings: {
      debug: (sdk) => logger.debug('S3 client', { sdk }),
      warn: (sdk) => logger.warn('S3 client', { sdk }),
    },
  });
  const secretsManager = new SecretsManagerClient({ region: config.region });
  const secret = (reference: SecretReference) =>
    new CachedSecret(
      'value' in reference
        ? fixedSecret(reference.value)
        : secretsManagerVersions(secretsManager, reference.arn),
      { maxAgeMs: SECRET_MAX_AGE_MS },
    );
  const callTokenSecret = secret(config.callTokenSecret);
  const vonageSignatureSecret = config.vonageSignatureSecret && secret(config.vonageSignatureSecret);
  // Fetched before listening: a task that cannot read its secrets fails its start, not its calls.
  await Promise.all([callTokenSecret.get(), vonageSignatureSecret?.get()]);
  const metrics = new EmfRecorderMetrics();
  const events = recordingEventSink(config.recordingEvents, config.region, logger);
  // Recovery and sweeps report their own calls; the recorder reports live calls through `events`.
  const recoveryEvents = new RecordingEventReporter(events, logger, metrics);
  const recorder = createRecorder({
    bucket: config.bucket,
    checkpointBucket: config.checkpointBucket,
    s3,
    callTokenSecret,
    ...(vonageSignatureSecret ? { vonageSignatureSecret } : {}),
    signatureMaxAgeSeconds: config.signatureMaxAgeSeconds,
    scratchDir: config.scratchDir,
    drainTimeoutMs: Math.max(1, config.drainTimeoutMs),
    idleTimeoutMs: config.idleTimeoutMs,
    maxCallSeconds: config.maxCallSeconds,
    maxCalls: config.maxCalls,
    scratchFreeSpace: statfsFreeSpace(config.scratchDir),
    audioRate:
      config.maxAudioSpeed === 0
        ? false
        : { maxSpeed: config.maxAudioSpeed, burstSeconds: config.audioBurstSeconds },
    logger,
    metrics,
    events,
    checkpointIntervalMs: config.checkpointSeconds * 1000,
    taskProtection: new EcsTaskProtection({ logger, maxCallSeconds: config.maxCallSeconds }),
  });
  const leftovers = await findJournals(config.scratchDir);
  // Calls on this disk are this task's to recover: the sweeper leaves their checkpoints alone.
  const onDisk = new Set(leftovers.map((file) => basename(file).split('.')[0]));
  const address = await recorder.listen(config.port, config.host);
  logger.info('recorder listening', {
    host: address.address,
    port: address.port,
    bucket: config.bucket,
    checkpointBucket: config.checkpointBucket,
    checkpointSeconds: config.checkpointSeconds,
    vonageJwtRequired: vonageSignatureSecret !== undefined,
    taskId: recorder.taskId,
  });
  const recoveryLimiter = new TransferLimiter(2);
  let sweeper: InflightSweeper | undefined;
  let stopping = false;
  // In the background, never delaying calls: first the calls an earlier run left on this scratch
  // disk (a restart that kept the volume), then, from S3 checkpoints, calls whose task is gone.
  recoverSpools({
    journals: leftovers,
    s3,
    checkpointBucket: config.checkpointBucket,
    limiter: recoveryLimiter,
    partSizeBytes: MIN_PART_BYTES,
    logger,
    events: recoveryEvents,
  })
    .then((count) => {
      if (count > 0) logger.warn('recovered recordings from the scratch disk', { count });
      metrics.callsRecovered(count);
    })
    .catch((error: unknown) => logger.error('recovery of the scratch disk failed', { error }))
    .finally(() => {
      if (stopping) return;
      const staleMs = config.inflightStaleSeconds * 1000;
      sweeper = startInflightSweeper({
        s3,
        bucket: config.bucket,
        checkpointBucket: config.checkpointBucket,
        scratchDir: config.scratchDir,
        staleMs,
        // Every few minutes: each sweep lists inflight/ (one LIST per 1000 batches) from every task.
        intervalMs: Math.max(staleMs, SWEEP_INTERVAL_SECONDS * 1000),
        limiter: recoveryLimiter,
        partSizeBytes: MIN_PART_BYTES,
        logger,
        events: recoveryEvents,
        // With checkpoints off here, leftovers were written under the default interval.
        maxLostSeconds: config.checkpointSeconds || 10,
        ownTaskId: recorder.taskId,
        skip: (uuid) => onDisk.has(uuid) || recorder.hasCall(uuid),
        onSwept: (result) => {
          if (result.recovered > 0) logger.warn('recovered recordings from S3 checkpoints', { ...result });
          metrics.callsRecovered(result.recovered);
        },
      });
    });

  const stop = (signal: NodeJS.Signals) => {
    if (stopping) {
      logger.warn('already draining', { signal });
      return;
    }
    stopping = true;
    logger.info('draining on signal', { signal, activeCalls: recorder.activeCalls() });
    // Recordings that S3 keeps refusing would retry past the orchestrator's SIGKILL, which ends the
    // process without a word. Exit just before it instead, naming the calls not stored: their
    // spool files stay on the scratch disk (recovered at the next start on the same disk) and
    // their S3 checkpoints are what a sweeper recovers when the disk goes with the task.
    setTimeout(
      () => {
        const calls = recorder.unstoredCalls();
        logger.error('stop timeout reached with recordings not stored; exiting before SIGKILL', {
          count: calls.length,
          calls,
        });
        process.exit(1);
      },
      Math.max(1000, config.stopTimeoutMs - STOP_MARGIN_MS),
    );
    // A sweep in progress is not waited for: whatever it leaves, the next sweep redoes.
    void sweeper?.stop();
    recorder
      .drain()
      .then(() => recorder.close())
      .then(() => recoveryEvents.settled())
      .then(() => {
        s3.destroy();
        logger.info('drained; exiting');
        process.exit(0);
      })
      .catch((error: unknown) => {
        logger.error('drain failed', { error });
        process.exit(1);
      });
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

main().catch((error: unknown) => {
  bootLogger.error('recorder failed to start', { error });
  process.exit(1);
});

/** The stack always names a bus; a process started by hand or by a benchmark may name a file or none. */
function recordingEventSink(
  target: RecordingEventsTarget,
  region: string | undefined,
  logger: Logger,
): RecordingEventSink {
  if ('eventBusName' in target) {
    return new EventBridgeEventSink({
      client: new EventBridgeClient({ region }),
      eventBusName: target.eventBusName,
    });
  }
  if ('file' in target) return new JsonLinesEventSink(target.file);
  logger.warn(
    `recording events are off: neither ${RecorderEnv.eventBusName} nor ${RecorderEnv.eventsFile} is set`,
  );
  return { put: async () => {} };
}
