import { Annotations, CfnOutput, Stack, type StackProps, Validations } from 'aws-cdk-lib';
import type { RetentionDays } from 'aws-cdk-lib/aws-logs';
import { type ISecret, Secret } from 'aws-cdk-lib/aws-secretsmanager';
import type { Construct } from 'constructs';
import { OutputNames } from '../common/contract.js';
import type { StackConfig } from './config.js';
import { CallReconciler } from './constructs/call-reconciler.js';
import { Operations } from './constructs/operations.js';
import { RecorderService } from './constructs/recorder-service.js';
import { RecordingsBucket } from './constructs/recordings-bucket.js';
import { RecordingsIndex } from './constructs/recordings-index.js';
import { WebhookApi } from './constructs/webhook-api.js';

export interface RecorderStackProps extends StackProps {
  /** Validated configuration (see `parseConfig`). */
  readonly config: StackConfig;
}

/**
 * The whole call recorder: the recordings bucket, the Vonage webhooks (Lambda + HTTP API) and the
 * websocket recorder (Fargate behind an ALB, by default behind CloudFront), sharing one generated secret for per-call tokens.
 */
export class RecorderStack extends Stack {
  readonly recordings: RecordingsBucket;
  readonly recorder: RecorderService;
  readonly webhooks: WebhookApi;
  readonly operations: Operations;
  readonly reconciler: CallReconciler;
  readonly callTokenSecret: ISecret;
  /** Present when `recordingsIndex` is on. */
  readonly recordingsIndex?: RecordingsIndex;

  constructor(scope: Construct, id: string, props: RecorderStackProps) {
    super(scope, id, props);
    const { config } = props;
    // Config values are already limited to the RetentionDays enum's numeric values.
    const logRetention = config.logRetentionDays as RetentionDays;

    this.recordings = new RecordingsBucket(this, 'Recordings', {
      retentionDays: config.retentionDays,
      infrequentAccessAfterDays: config.infrequentAccessAfterDays,
      glacierAfterDays: config.glacierAfterDays,
      noncurrentVersionExpirationDays: config.noncurrentVersionExpirationDays,
      accessLogRetentionDays: config.accessLogRetentionDays,
      kmsEncryption: config.bucketEncryption === 'kms',
      ...(config.objectLock ? { objectLock: config.objectLock } : {}),
    });

    // Raw 64-character value (no JSON wrapper, no punctuation): both runtimes use it as an HMAC key.
    const callTokenSecret = new Secret(this, 'CallTokenSecret', {
      description: 'HMAC key for per-call recorder websocket tokens',
      generateSecretString: { passwordLength: 64, excludePunctuation: true, includeSpace: false },
    });
    this.callTokenSecret = callTokenSecret;
    Validations.of(callTokenSecret).acknowledge({
      id: 'AwsSolutions-SMG4',
      reason:
        'Both runtimes accept the current and the previous version, so rotating refuses no call, but a scheduled rotation would need a rotation Lambda for a key that never leaves Secrets Manager, the Lambda and the recorder and signs tokens that live minutes; it is rotated on demand instead (put a new value: docs/configuration.md).',
    });

    const signatureSecret = config.signatureSecretArn
      ? Secret.fromSecretCompleteArn(this, 'VonageSignatureSecret', config.signatureSecretArn)
      : undefined;
    if (!signatureSecret) {
      Annotations.of(this).addWarningV2(
        'call-recorder:unsigned-webhooks',
        'allowUnsignedWebhooks=true: webhooks and websocket handshakes are not checked against Vonage, so anyone who finds the answer URL can stream audio into the bucket. Set signatureSecretArn for real calls.',
      );
    }

    if (config.allowPlaintextAudio) {
      Annotations.of(this).addWarningV2(
        'call-recorder:plaintext-audio',
        'allowPlaintextAudio=true: call audio and its per-call tokens cross the internet unencrypted (ws://). Drop it for real calls (wss:// through CloudFront), or set certificateArn and domainName.',
      );
    }

    this.recorder = new RecorderService(this, 'Recorder', {
      bucket: this.recordings.bucket,
      checkpointBucket: this.recordings.checkpointBucket,
      logBucket: this.recordings.logBucket,
      callTokenSecret,
      ...(signatureSecret ? { signatureSecret } : {}),
      signatureMaxAgeSeconds: config.signatureMaxAgeSeconds,
      minTasks: config.minTasks,
      maxTasks: config.maxTasks,
      ...(config.callsPerTask !== undefined ? { callsPerTask: config.callsPerTask } : {}),
      ...(config.maxCallsPerTask !== undefined ? { maxCallsPerTask: config.maxCallsPerTask } : {}),
      sampleRate: config.sampleRate,
      cpu: config.taskCpu,
      memoryMiB: config.taskMemoryMiB,
      drainSeconds: config.drainSeconds,
      maxCallSeconds: config.maxCallSeconds,
      logRetention,
      logLevel: config.logLevel,
      ...(config.tls ? { tls: config.tls } : {}),
      plaintextAudio: config.allowPlaintextAudio,
    });

    this.webhooks = new WebhookApi(this, 'Webhooks', {
      bucket: this.recordings.bucket,
      callTokenSecret,
      ...(signatureSecret ? { signatureSecret } : {}),
      recorderUrl: this.recorder.recorderUrl,
      greeting: { text: config.greetingText, language: config.greetingLanguage, style: config.greetingStyle },
      sampleRate: config.sampleRate,
      maxCallSeconds: config.maxCallSeconds,
      callTokenTtlSeconds: config.callTokenTtlSeconds,
      signatureMaxAgeSeconds: config.signatureMaxAgeSeconds,
      rateLimit: config.apiRateLimit,
      burstLimit: config.apiBurstLimit,
      logRetention,
      logLevel: config.logLevel,
    });

    // Every completed call is checked for its recording; what is missing is put on the event bus.
    this.reconciler = new CallReconciler(this, 'Reconciler', {
      bucket: this.recordings.bucket,
      webhooks: this.webhooks.function,
      maxCallSeconds: config.maxCallSeconds,
      logRetention,
      logLevel: config.logLevel,
    });

    this.operations = new Operations(this, 'Operations', {
      recorderTargetGroups: this.recorder.targetGroups,
      webhookApi: this.webhooks.api,
      webhookFunction: this.webhooks.function,
      callsPerTask: this.recorder.callsPerTask,
      maxCallsPerTask: this.recorder.maxCallsPerTask,
      ...(config.alarmEmail ? { alarmEmail: config.alarmEmail } : {}),
    });

    new CfnOutput(this, OutputNames.answerUrl, {
      value: this.webhooks.answerUrl,
      description: 'Vonage application answer URL (method: AnswerMethod)',
    });
    // Signed answers must be POSTed, so that the JWT's payload_hash covers the call's uuid.
    new CfnOutput(this, OutputNames.answerMethod, {
      value: signatureSecret ? 'POST' : 'GET',
      description: 'HTTP method the Vonage application must use for the answer URL',
    });
    new CfnOutput(this, OutputNames.eventUrl, {
      value: this.webhooks.eventUrl,
      description: 'Vonage application event URL (POST)',
    });
    new CfnOutput(this, OutputNames.recorderUrl, {
      value: this.recorder.recorderUrl,
      description: 'Base URL of the recording websocket',
    });
    new CfnOutput(this, OutputNames.recordingsBucketName, {
      value: this.recordings.bucket.bucketName,
      description: 'Bucket holding recordings/ and events/',
    });
    new CfnOutput(this, OutputNames.alarmTopicArn, {
      value: this.operations.topic.topicArn,
      description:
        'Encrypted SNS topic every alarm notifies: subscribe e-mail, chat or paging endpoints to it',
    });
    new CfnOutput(this, OutputNames.dashboardName, {
      value: this.operations.dashboard.dashboardName,
      description: 'CloudWatch dashboard of calls, recordings, webhooks and recorder health',
    });

    if (config.recordingsIndex) this.recordingsIndex = this.addRecordingsIndex();
  }

  /** S3 Metadata tables and an Athena workgroup, named in the outputs the console reads. */
  private addRecordingsIndex(): RecordingsIndex {
    const index = new RecordingsIndex(this, 'RecordingsIndex', {
      bucket: this.recordings.bucket,
      logBucket: this.recordings.logBucket,
    });
    new CfnOutput(this, OutputNames.recordingsIndexWorkGroup, {
      value: index.workGroup.ref,
      description: 'Athena workgroup the audit console searches recordings with',
    });
    new CfnOutput(this, OutputNames.recordingsIndexCatalog, {
      value: index.catalog,
      description: "Athena catalog of the recordings bucket's S3 Metadata tables",
    });
    new CfnOutput(this, OutputNames.recordingsIndexDatabase, {
      value: index.database,
      description: "Athena database (table bucket namespace) of the recordings bucket's S3 Metadata tables",
    });
    return index;
  }
}
