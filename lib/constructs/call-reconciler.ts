import { Duration, Validations } from 'aws-cdk-lib';
import { EventBus, type IEventBus } from 'aws-cdk-lib/aws-events';
import { PolicyStatement, type Role } from 'aws-cdk-lib/aws-iam';
import type { Function as LambdaFunction } from 'aws-cdk-lib/aws-lambda';
import { SqsEventSource } from 'aws-cdk-lib/aws-lambda-event-sources';
import { RetentionDays } from 'aws-cdk-lib/aws-logs';
import type { IBucket } from 'aws-cdk-lib/aws-s3';
import { Queue, QueueEncryption } from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { DEFAULT_MAX_CALL_SECONDS, MetricNames, ReconcilerEnv, WebhooksEnv } from '../../common/contract.js';
import { DEFAULT_CRASH_LOSS_BOUND_SECONDS } from '../../common/duration-tolerance.js';
import { DEFAULT_RECONCILE_SCHEDULE, finalCheckSeconds } from '../../common/reconcile-requests.js';
import { EVENTS_PREFIX, RECORDINGS_PREFIX } from '../../common/recording-keys.js';
import { nagRef } from '../nag.js';
import { createNodeLambda } from './node-lambda.js';

/** How long one batch may take: a two-hour WAV (230 MB at 16 kHz) is read and hashed in seconds. */
const FUNCTION_TIMEOUT_SECONDS = 120;
/** Receives before a request is dead-lettered: a check that failed five times needs a person. */
const MAX_RECEIVE_COUNT = 5;

export interface CallReconcilerProps {
  /** The recordings bucket: the reconciler reads `events/` and `recordings/` there. */
  readonly bucket: IBucket;
  /** The webhooks Lambda: it sends each call leg's `completed` event to the queue. */
  readonly webhooks: LambdaFunction;
  /**
   * Where `Recording Missing` and `Recording Duration Mismatch` go.
   * @default the account's default event bus
   */
  readonly eventBus?: IEventBus;
  /**
   * The recorder's `CHECKPOINT_SECONDS`: the most a recovered recording may lack.
   * @default 10
   */
  readonly checkpointSeconds?: number;
  /**
   * The recorder's `INFLIGHT_STALE_SECONDS`: it times the final check (after a crashed task is swept).
   * @default 60
   */
  readonly inflightStaleSeconds?: number;
  /**
   * Longest call, in seconds: how far back a call's first events may lie.
   * @default DEFAULT_MAX_CALL_SECONDS (7200)
   */
  readonly maxCallSeconds?: number;
  /** @default RetentionDays.ONE_MONTH */
  readonly logRetention?: RetentionDays;
  /** @default 'INFO' */
  readonly logLevel?: string;
}

/**
 * Checks every completed call for its recording: an SQS queue holds each call (message timers,
 * then a re-send for the later check), a Lambda reads the bucket and puts `Recording Missing` /
 * `Recording Duration Mismatch` on the event bus. Failed checks go to a dead-letter queue.
 */
export class CallReconciler extends Construct {
  readonly queue: Queue;
  readonly deadLetterQueue: Queue;
  readonly function: LambdaFunction;

  constructor(scope: Construct, id: string, props: CallReconcilerProps) {
    super(scope, id);
    const eventBus = props.eventBus ?? EventBus.fromEventBusName(this, 'DefaultBus', 'default');
    const { queue, deadLetterQueue } = this.buildQueues();
    this.queue = queue;
    this.deadLetterQueue = deadLetterQueue;
    const { fn, role } = this.buildFunction(props, eventBus);
    this.function = fn;

    // Partial batch responses: one failed check is retried alone, the rest of the batch is done.
    fn.addEventSource(new SqsEventSource(queue, { batchSize: 10, reportBatchItemFailures: true }));
    // The reconciler sends a request back for its later check; the webhooks send the first.
    queue.grantSendMessages(fn);
    queue.grantSendMessages(props.webhooks);
    props.webhooks.addEnvironment(WebhooksEnv.reconcileQueueUrl, queue.queueUrl);
    fn.addEnvironment(ReconcilerEnv.reconcileQueueUrl, queue.queueUrl);
    this.grantReads(fn, props.bucket);
    eventBus.grantPutEventsTo(fn);
    this.acknowledgeFindings(role, props.bucket);
  }

  /** Standard queues (FIFO ones take no per-message timers), SSE, TLS only. */
  private buildQueues(): { queue: Queue; deadLetterQueue: Queue } {
    const deadLetterQueue = new Queue(this, 'DeadLetterQueue', {
      encryption: QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      retentionPeriod: Duration.days(14),
    });
    const queue = new Queue(this, 'Queue', {
      encryption: QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      // Lambda's guidance: at least six times the function's timeout.
      visibilityTimeout: Duration.seconds(6 * FUNCTION_TIMEOUT_SECONDS),
      // A request waits at most 15 minutes per send; four days leaves room for a long outage.
      retentionPeriod: Duration.days(4),
      deadLetterQueue: { queue: deadLetterQueue, maxReceiveCount: MAX_RECEIVE_COUNT },
    });
    return { queue, deadLetterQueue };
  }

  private buildFunction(props: CallReconcilerProps, eventBus: IEventBus): { fn: LambdaFunction; role: Role } {
    const inflightStale = props.inflightStaleSeconds ?? 60;
    return createNodeLambda(this, {
      entry: 'lambdas/reconciler/handler.ts',
      description: 'Checks each completed call for its recording',
      roleDescription: 'Call reconciler: read events and recordings, put recording events, use its queue',
      timeout: Duration.seconds(FUNCTION_TIMEOUT_SECONDS),
      logRetention: props.logRetention ?? RetentionDays.ONE_MONTH,
      serviceName: MetricNames.reconcilerService,
      ...(props.logLevel ? { logLevel: props.logLevel } : {}),
      environment: {
        [ReconcilerEnv.recordingsBucket]: props.bucket.bucketName,
        [ReconcilerEnv.eventBusName]: eventBus.eventBusName,
        [ReconcilerEnv.firstCheckSeconds]: String(DEFAULT_RECONCILE_SCHEDULE.firstCheckSeconds),
        [ReconcilerEnv.finalCheckSeconds]: String(finalCheckSeconds(inflightStale)),
        [ReconcilerEnv.checkpointSeconds]: String(
          props.checkpointSeconds ?? DEFAULT_CRASH_LOSS_BOUND_SECONDS,
        ),
        [ReconcilerEnv.maxCallSeconds]: String(props.maxCallSeconds ?? DEFAULT_MAX_CALL_SECONDS),
      },
    });
  }

  /** Reads only: the call's events and its recording's objects, and listing those two prefixes. */
  private grantReads(fn: LambdaFunction, bucket: IBucket): void {
    fn.addToRolePolicy(
      new PolicyStatement({
        actions: ['s3:GetObject'],
        resources: [bucket.arnForObjects(`${EVENTS_PREFIX}*`), bucket.arnForObjects(`${RECORDINGS_PREFIX}*`)],
      }),
    );
    fn.addToRolePolicy(
      new PolicyStatement({
        actions: ['s3:ListBucket'],
        resources: [bucket.bucketArn],
        conditions: { StringLike: { 's3:prefix': [`${EVENTS_PREFIX}*`, `${RECORDINGS_PREFIX}*`] } },
      }),
    );
    bucket.encryptionKey?.grant(fn, 'kms:Decrypt');
  }

  private acknowledgeFindings(role: Role, bucket: IBucket): void {
    const bucketArn = nagRef(bucket, 'Arn');
    for (const prefix of [EVENTS_PREFIX, RECORDINGS_PREFIX]) {
      Validations.of(role).acknowledge({
        id: `AwsSolutions-IAM5[Resource::${bucketArn}/${prefix}*]`,
        reason: `A call's ${prefix} keys are made per call and per day; the grant is GetObject on that prefix only.`,
      });
    }
  }
}
