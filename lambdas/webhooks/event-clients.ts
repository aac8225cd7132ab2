import { SQSClient } from '@aws-sdk/client-sqs';
import type { ReconcileQueue } from '../../common/reconcile-requests.js';
import { createS3Client } from '../../common/s3-client.js';
import { SqsReconcileQueue } from '../../common/sqs-reconcile-queue.js';
import type { WebhookEnvironment } from './environment.js';

/** The AWS clients only the event webhook uses. */
export interface EventClients {
  readonly s3: ReturnType<typeof createS3Client>;
  /** Undefined when no reconcile queue is configured. */
  readonly reconcileQueue: ReconcileQueue | undefined;
}

/**
 * Made by the AWS entry (`handler.ts`) on the first event, through a dynamic import of this
 * module, so a cold answer loads neither the S3 nor the SQS client.
 */
export function createEventClients(environment: WebhookEnvironment): EventClients {
  return {
    s3: createS3Client({ endpoint: environment.s3Endpoint }),
    reconcileQueue: environment.reconcileQueueUrl
      ? new SqsReconcileQueue(new SQSClient({}), environment.reconcileQueueUrl)
      : undefined,
  };
}
