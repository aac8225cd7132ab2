import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ReconcileQueue, ReconcileRequest } from '../../../common/reconcile-requests.js';
import { createWebhookHandler } from '../../../lambdas/webhooks/index.js';
import { type LocalS3, startLocalS3 } from '../../../test-support/local-s3.js';
import {
  capturedLogger,
  fixture,
  jsonPost,
  parseBody,
  webhookConfig,
} from '../../../test-support/webhook-events.js';

describe('event webhook → reconcile queue', () => {
  let s3: LocalS3;
  let logs: ReturnType<typeof capturedLogger>;
  beforeAll(async () => {
    s3 = await startLocalS3();
    logs = capturedLogger();
  });
  afterAll(async () => {
    logs.restore();
    await s3.close();
  });

  function handlerWith(queue: ReconcileQueue) {
    return createWebhookHandler(webhookConfig({ bucket: s3.bucket }), {
      s3: s3.client,
      logger: logs.logger,
      reconcile: { queue, firstCheckSeconds: 900 },
    });
  }

  it("queues the call leg's completed event for its first check, and no other event", async () => {
    const sent: { request: ReconcileRequest; delaySeconds: number }[] = [];
    const handle = handlerWith({
      send: async (request, delaySeconds) => void sent.push({ request, delaySeconds }),
    });
    for (const name of ['event-started', 'event-answered', 'event-websocket-answered']) {
      expect((await handle(jsonPost('/event', fixture(name)))).statusCode).toBe(200);
    }
    const websocketCompleted = {
      ...fixture('event-websocket-answered'),
      status: 'completed',
      duration: '60',
      timestamp: '2026-11-28T14:01:03.900Z',
    };
    expect((await handle(jsonPost('/event', websocketCompleted))).statusCode).toBe(200);
    expect(sent).toEqual([]);

    expect((await handle(jsonPost('/event', fixture('event-completed')))).statusCode).toBe(200);
    expect(sent).toEqual([
      {
        request: {
          version: 1,
          callUuid: '63f61863-4a51-4f6b-86e1-46edebcf9356',
          conversationUuid: 'CON-f972836a-550f-45fa-956c-12a2ab5b7d22',
          completedAt: '2026-11-28T14:01:04.010Z',
          check: 'first',
        },
        delaySeconds: 900,
      },
    ]);
  });

  it('answers 503 when the queue refuses, and queues the repeat Vonage then delivers', async () => {
    const sent: ReconcileRequest[] = [];
    let refuse = true;
    const handle = handlerWith({
      send: async (request) => {
        if (refuse) throw new Error('SQS throttled');
        sent.push(request);
      },
    });
    const event = { ...fixture('event-completed'), timestamp: '2026-11-28T15:00:00.000Z' };
    const refused = await handle(jsonPost('/event', event));
    expect(refused.statusCode).toBe(503);
    expect(JSON.stringify(parseBody(refused))).not.toContain('SQS throttled');
    refuse = false;
    const repeat = await handle(jsonPost('/event', event));
    expect(repeat.statusCode).toBe(200);
    expect(parseBody(repeat)).toMatchObject({ duplicate: true });
    expect(sent.map((request) => request.completedAt)).toEqual(['2026-11-28T15:00:00.000Z']);
  });
});
