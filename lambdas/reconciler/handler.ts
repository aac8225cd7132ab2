import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics } from '@aws-lambda-powertools/metrics';
import { SQSClient } from '@aws-sdk/client-sqs';
import type { Context, SQSBatchResponse, SQSEvent } from 'aws-lambda';
import { EventBridgeEventSink } from '../../common/recording-event-sinks.js';
import { createS3Client } from '../../common/s3-client.js';
import { SqsReconcileQueue } from '../../common/sqs-reconcile-queue.js';
import { readReconcilerEnvironment } from './environment.js';
import { createReconciler } from './reconcile.js';
import { reconcileBatch } from './sqs-batch.js';

/**
 * The AWS entry of the reconciler, fed by an SQS event source mapping with partial batch
 * responses (`sqs-batch.ts`). Configuration is read once per cold start.
 */

const environment = readReconcilerEnvironment(process.env);
const logger = new Logger();
const metrics = new Metrics();
const reconcile = createReconciler({
  s3: createS3Client({ endpoint: environment.s3Endpoint }),
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
  try {
    return await reconcileBatch(event, reconcile, logger);
  } finally {
    metrics.publishStoredMetrics();
  }
}
