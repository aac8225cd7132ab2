/**
 * What crosses a boundary between the stack (`lib/`), the webhooks Lambda, the recorder container
 * and the tools: environment-variable names, shared limits and defaults, the websocket path, metric
 * and output names. Each side imports the name from here instead of spelling it again, so renaming
 * one is a change in one place that the compiler follows everywhere. Key prefixes live with the key
 * layout (`recording-keys.ts`), sample rates with the audio format (`audio-format.ts`).
 */

/** The longest call Vonage's connect action allows (its `limit`), and so the recorder's cap. */
export const MAX_CALL_SECONDS_LIMIT = 7200;
/** A call's length cap when nothing else is configured. */
export const DEFAULT_MAX_CALL_SECONDS = MAX_CALL_SECONDS_LIMIT;

/** How often each recorder task looks for abandoned calls' checkpoints (besides once at start). */
export const SWEEP_INTERVAL_SECONDS = 300;
/** How long the recorder retries an S3 request before giving up on it (the reconciler waits past it). */
export const S3_RETRY_DEADLINE_SECONDS = 600;

/** The recorder's websocket endpoint for one call is `<recorder URL>/calls/<call uuid>?token=…`. */
export const CALL_PATH_PREFIX = '/calls/';
/** The port the recorder container listens on. */
export const RECORDER_PORT = 8080;

/** Environment of the recorder container: what the stack sets and `fargate/src/environment.ts` reads. */
export const RecorderEnv = {
  port: 'PORT',
  host: 'HOST',
  recordingsBucket: 'RECORDINGS_BUCKET',
  checkpointBucket: 'CHECKPOINT_BUCKET',
  scratchDir: 'SCRATCH_DIR',
  s3Endpoint: 'S3_ENDPOINT',
  /** The per-call token key by value (local runs); `…_ARN` names it in Secrets Manager. */
  callTokenSecret: 'CALL_TOKEN_SECRET',
  callTokenSecretArn: 'CALL_TOKEN_SECRET_ARN',
  vonageSignatureSecret: 'VONAGE_SIGNATURE_SECRET',
  vonageSignatureSecretArn: 'VONAGE_SIGNATURE_SECRET_ARN',
  signatureMaxAgeSeconds: 'SIGNATURE_MAX_AGE_SECONDS',
  drainTimeoutSeconds: 'DRAIN_TIMEOUT_SECONDS',
  stopTimeoutSeconds: 'STOP_TIMEOUT_SECONDS',
  idleTimeoutSeconds: 'IDLE_TIMEOUT_SECONDS',
  maxCallSeconds: 'MAX_CALL_SECONDS',
  maxCalls: 'MAX_CALLS',
  maxAudioSpeed: 'MAX_AUDIO_SPEED',
  audioBurstSeconds: 'AUDIO_BURST_SECONDS',
  checkpointSeconds: 'CHECKPOINT_SECONDS',
  inflightStaleSeconds: 'INFLIGHT_STALE_SECONDS',
  /** The EventBridge bus recording events go to (`common/recording-events.ts`). */
  eventBusName: 'EVENT_BUS_NAME',
  /** Instead of a bus: append each event's PutEvents entry to this JSON-lines file (local runs). */
  eventsFile: 'EVENTS_FILE',
  logLevel: 'LOG_LEVEL',
} as const;

/** Environment of the webhooks Lambda: what the stack sets and `lambdas/webhooks/environment.ts` reads. */
export const WebhooksEnv = {
  recordingsBucket: 'RECORDINGS_BUCKET',
  recorderUrl: 'RECORDER_URL',
  callTokenSecretArn: 'CALL_TOKEN_SECRET_ARN',
  vonageSignatureSecretArn: 'VONAGE_SIGNATURE_SECRET_ARN',
  greetingText: 'GREETING_TEXT',
  greetingLanguage: 'GREETING_LANGUAGE',
  greetingStyle: 'GREETING_STYLE',
  sampleRate: 'SAMPLE_RATE',
  maxCallSeconds: 'MAX_CALL_SECONDS',
  callTokenTtlSeconds: 'CALL_TOKEN_TTL_SECONDS',
  signatureMaxAgeSeconds: 'SIGNATURE_MAX_AGE_SECONDS',
  s3Endpoint: 'S3_ENDPOINT',
  /** The EventBridge bus the reconciler's events go to. */
  eventBusName: 'EVENT_BUS_NAME',
  /** The SQS queue that holds each completed call until it is due to be reconciled. */
  reconcileQueueUrl: 'RECONCILE_QUEUE_URL',
} as const;

/** Environment of the reconciler Lambda: what the stack sets and `lambdas/reconciler/environment.ts` reads. */
export const ReconcilerEnv = {
  recordingsBucket: 'RECORDINGS_BUCKET',
  /** The queue it receives from, and sends a request back to for its later check. */
  reconcileQueueUrl: 'RECONCILE_QUEUE_URL',
  eventBusName: 'EVENT_BUS_NAME',
  /** Seconds after `completed` of the first and the final check. */
  firstCheckSeconds: 'RECONCILE_FIRST_CHECK_SECONDS',
  finalCheckSeconds: 'RECONCILE_FINAL_CHECK_SECONDS',
  /** The recorder's checkpoint interval: the most a recovered recording may lack. */
  checkpointSeconds: 'CHECKPOINT_SECONDS',
  maxCallSeconds: 'MAX_CALL_SECONDS',
  /** A custom S3 endpoint (local runs and tests only). */
  s3Endpoint: 'S3_ENDPOINT',
} as const;

/** CloudWatch metrics (EMF): the namespace both runtimes publish to, and what the stack scales on. */
export const MetricNames = {
  namespace: 'CallRecorder',
  recorderService: 'recorder',
  webhooksService: 'webhooks',
  reconcilerService: 'reconciler',
  /** Open and finalizing calls of one recorder task; auto scaling tracks its per-task average. */
  activeCalls: 'ActiveCalls',
  callsStarted: 'CallsStarted',
  callsFinished: 'CallsFinished',
  /** Calls whose recording could not be stored (a `Recording Failed` event each). */
  callsFailed: 'CallsFailed',
  audioSeconds: 'AudioSeconds',
  /** Hangup to recording and metadata stored, per call. */
  uploadLatency: 'UploadLatency',
  checkpointsFailed: 'CheckpointsFailed',
  /** Calls rebuilt from checkpoints or the spool after a crash (a `Recording Recovered` event each). */
  callsRecovered: 'CallsRecovered',
  recordingsStored: 'RecordingsStored',
  recordingsInterrupted: 'RecordingsInterrupted',
  /** Completed calls with no recording after the grace period (reconciler). */
  recordingsMissing: 'RecordingsMissing',
  recordingDurationMismatches: 'RecordingDurationMismatches',
  /** Recording events that could not be put on the bus after retries. */
  recordingEventsFailed: 'RecordingEventsFailed',
  /** The recorder's event-loop delay (p99 per publish, ms): how long an arrived audio frame waits to be read. */
  ingestLag: 'IngestLag',
} as const;

/**
 * How often each recorder task publishes its metrics (one `ActiveCalls` sample per task per
 * interval), so the dashboard can turn a period's sum of samples into calls across all tasks.
 */
export const RECORDER_METRICS_INTERVAL_MS = 60_000;

/** The stack's CloudFormation outputs, read by `configure-vonage`, `recordings` and the simulator. */
export const OutputNames = {
  answerUrl: 'AnswerUrl',
  answerMethod: 'AnswerMethod',
  eventUrl: 'EventUrl',
  recorderUrl: 'RecorderUrl',
  recordingsBucketName: 'RecordingsBucketName',
  /** The encrypted SNS topic every alarm notifies; subscribe more endpoints to it. */
  alarmTopicArn: 'AlarmTopicArn',
  /** The CloudWatch dashboard of calls, recordings, webhooks and recorder health. */
  dashboardName: 'DashboardName',
  /** With `recordingsIndex` on: the Athena workgroup that searches the recordings' S3 Metadata tables. */
  recordingsIndexWorkGroup: 'RecordingsIndexWorkGroup',
  /** With `recordingsIndex` on: Athena's catalog of the metadata tables (`s3tablescatalog/aws-s3`). */
  recordingsIndexCatalog: 'RecordingsIndexCatalog',
  /** With `recordingsIndex` on: Athena's database of the bucket's metadata tables (`b_<bucket>`). */
  recordingsIndexDatabase: 'RecordingsIndexDatabase',
} as const;
export type StackOutputName = (typeof OutputNames)[keyof typeof OutputNames];

/** The stack's name when none is given. */
export const DEFAULT_STACK_NAME = 'CallRecorder';
