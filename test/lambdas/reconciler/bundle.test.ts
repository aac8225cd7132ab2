import type { SQSBatchResponse, SQSEvent } from 'aws-lambda';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ReconcilerEnv } from '../../../common/contract.js';
import type { ReconcileRequest } from '../../../common/reconcile-requests.js';
import { invokeBundledLambda } from '../../../test-support/bundled-lambda.js';
import { type EventBridgeDouble, startEventBridgeDouble } from '../../../test-support/eventbridge-double.js';
import { type LocalS3, startLocalS3 } from '../../../test-support/local-s3.js';
import { callEvents, putEvent } from '../../../test-support/recording-fixtures.js';

const RATE = 16000;

describe('the reconciler bundle the stack deploys (lib/constructs/lambda-bundle.ts), in a Node process of its own', () => {
  let s3: LocalS3;
  let eventBridge: EventBridgeDouble;
  beforeAll(async () => {
    s3 = await startLocalS3();
    eventBridge = await startEventBridgeDouble();
  });
  afterAll(async () => {
    await eventBridge.close();
    await s3.close();
  });

  it('reports a call answered and completed with no recording as missing at its final check, on the default bus', async () => {
    const uuid = 'cafe0000-0000-4000-8000-00000000b0d1';
    const conversationUuid = `CON-${uuid}`;
    const events = callEvents(
      {
        uuid,
        conversationUuid,
        from: '447700900001',
        to: '447700900000',
        startedAt: new Date('2026-11-30T12:00:00.000Z'),
        sampleRate: RATE,
        pcm: Buffer.alloc(RATE * 2 * 5),
      },
      { websocketUuid: `ws-${uuid}`, websocketSeconds: 5, callSeconds: 8 },
    );
    for (const event of events) await putEvent(s3.client, s3.bucket, event);
    const request: ReconcileRequest = {
      version: 1,
      callUuid: uuid,
      conversationUuid,
      completedAt: (events.at(-1) as Record<string, string>).timestamp as string,
      check: 'final',
    };
    const sqsEvent: SQSEvent = {
      Records: [
        {
          messageId: 'd3b6e0a4-5f0e-4c1a-9a55-6f7f1b9c0001',
          receiptHandle: 'receipt',
          body: JSON.stringify(request),
          attributes: {
            ApproximateReceiveCount: '1',
            SentTimestamp: String(Date.now()),
            SenderId: 'AIDAEXAMPLE',
            ApproximateFirstReceiveTimestamp: String(Date.now()),
          },
          messageAttributes: {},
          md5OfBody: '',
          eventSource: 'aws:sqs',
          eventSourceARN: 'arn:aws:sqs:eu-west-2:123456789012:reconcile',
          awsRegion: 'eu-west-2',
        },
      ],
    };
    const [response] = (await invokeBundledLambda('lambdas/reconciler/handler.ts', [sqsEvent], {
      AWS_REGION: 'eu-west-2',
      ...s3.env,
      AWS_ENDPOINT_URL_EVENTBRIDGE: eventBridge.url,
      [ReconcilerEnv.s3Endpoint]: s3.endpoint,
      [ReconcilerEnv.recordingsBucket]: s3.bucket,
      // The final check sends nothing back; a request to this queue would fail the test.
      [ReconcilerEnv.reconcileQueueUrl]: 'http://127.0.0.1:9/123456789012/reconcile',
      [ReconcilerEnv.eventBusName]: 'default',
    })) as SQSBatchResponse[];
    expect(response).toEqual({ batchItemFailures: [] });
    expect(eventBridge.entries.map((entry) => entry.DetailType)).toEqual(['Recording Missing']);
    expect(JSON.parse(eventBridge.entries[0]?.Detail ?? '{}')).toMatchObject({
      uuid,
      reason: 'not-stored',
      expectedKey: `recordings/2026/11/30/${uuid}.wav`,
    });
    expect(eventBridge.entries[0]?.EventBusName).toBe('default');
  });
});
