import { SendMessageCommand, type SQSClient } from '@aws-sdk/client-sqs';
import { MAX_SQS_DELAY_SECONDS, type ReconcileQueue, type ReconcileRequest } from './reconcile-requests.js';

// Apart from the request's shape, so code that only names the schedule does not load the SQS client.

/** Sends requests to a standard SQS queue with a per-message timer. */
export class SqsReconcileQueue implements ReconcileQueue {
  readonly #client: SQSClient;
  readonly #queueUrl: string;

  constructor(client: SQSClient, queueUrl: string) {
    this.#client = client;
    this.#queueUrl = queueUrl;
  }

  async send(request: ReconcileRequest, delaySeconds: number): Promise<void> {
    await this.#client.send(
      new SendMessageCommand({
        QueueUrl: this.#queueUrl,
        MessageBody: JSON.stringify(request),
        DelaySeconds: Math.min(MAX_SQS_DELAY_SECONDS, Math.max(0, Math.ceil(delaySeconds))),
      }),
    );
  }
}
