import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics } from '@aws-lambda-powertools/metrics';
import { SQSClient } from '@aws-sdk/client-sqs';
import type { Context, SQSBatchResponse, SQSEvent } from 'aws-lambda';
import {
  parseReconcileRequest,
  ReconcileRequestError,
  SqsReconcileQueue,
} from '../../common/reconcile-requests.js';
import { EventBridgeEventSink } from '../../common/recording-event-sinks.js';
import { createS3Client } from '../../common/s3-client.js';
import { readReconcilerEnvironment } from './environment.js';
import { createReconciler } from './reconcile.js';

/**
 * The AWS entry of the reconciler: an SQS event source mapping with partial batch responses, so
 * one failed check is retried alone (then dead-lettered after the queue's receive limit) while
 * the rest of the batch is done.
 * https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-configure.html
 */

const environment = readReconcilerEnvironment(process.env);
const logger = new Logger();
const metrics = new Metrics();
const reconcile = createReconciler({
  s3: createS3Client({}),
  bucket: environment.bucket,
  sink: new EventBridgeEventSink({ eventBusName: environment.eventBusName }),
  queue: new SqsReconcileQueue(new SQSClient({}), environment.queueUrl),
  schedule: environment.schedule,
  crashLossBoundSeconds: environment.crashLossBoundSeconds,
  maxCallSeconds: environment.maxCallSeconds,
  logger,
  metrics,
});

export async function handler(event: SQSEvent, context: Context): Promise<SQSBatchResponse> {
  logger.addContext(context);
  const batchItemFailures: SQSBatchResponse['batchItemFailures'] = [];
  try {
    for (const record of event.Records) {
      try {
        await reconcile(parseReconcileRequest(record.body));
      } catch (error) {
        // Retried until the queue's receive limit, then kept in the dead-letter queue for a look.
        logger.error(
          error instanceof ReconcileRequestError ? 'not a reconcile request' : 'reconciling a call failed',
          { messageId: record.messageId, error },
        );
        batchItemFailures.push({ itemIdentifier: record.messageId });
      }
    }
  } finally {
    metrics.publishStoredMetrics();
  }
  return { batchItemFailures };
}
