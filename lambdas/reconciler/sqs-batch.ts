import type { SQSBatchResponse, SQSEvent } from 'aws-lambda';
import { parseReconcileRequest, ReconcileRequestError } from '../../common/reconcile-requests.js';
import type { Reconciler, ReconcilerLogger } from './reconcile.js';

/**
 * Runs each message of an SQS batch through the reconciler and reports the ones that failed
 * (`ReportBatchItemFailures`), so only those are received again, and after the queue's receive
 * limit dead-lettered, while the rest of the batch is done.
 * https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-configure.html
 */
export async function reconcileBatch(
  event: SQSEvent,
  reconcile: Reconciler,
  logger: ReconcilerLogger,
): Promise<SQSBatchResponse> {
  const batchItemFailures: SQSBatchResponse['batchItemFailures'] = [];
  for (const record of event.Records) {
    try {
      await reconcile(parseReconcileRequest(record.body));
    } catch (error) {
      logger.error(
        error instanceof ReconcileRequestError ? 'not a reconcile request' : 'reconciling a call failed',
        { messageId: record.messageId, error },
      );
      batchItemFailures.push({ itemIdentifier: record.messageId });
    }
  }
  return { batchItemFailures };
}
