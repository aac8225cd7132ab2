import type { S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createS3Client, LOCAL_S3_CREDENTIALS } from '../../../common/s3-client.js';
import { createWebhookHandler } from '../../../lambdas/webhooks/index.js';
import { startS3ErrorDouble } from '../../../test-support/s3-error-double.js';
import {
  capturedLogger,
  fixture,
  jsonPost,
  parseBody,
  webhookConfig,
} from '../../../test-support/webhook-events.js';

/** The account id in the refusal: distinct from the one the request fixtures carry. */
const ACCOUNT_ID = '444455556666';
/** S3's AccessDenied as it reads to a role whose policy lacks the action: it names the role and account. */
const ACCESS_DENIED = `User: arn:aws:sts::${ACCOUNT_ID}:assumed-role/RecorderStack-WebhooksRole-1A2B3C/RecorderStack-Webhooks is not authorized to perform: s3:PutObject on resource: "arn:aws:s3:::recordings/events/x.json" because no identity-based policy allows the s3:PutObject action`;

describe('event webhook when S3 refuses with AccessDenied', () => {
  let double: Awaited<ReturnType<typeof startS3ErrorDouble>>;
  let client: S3Client;
  let logs: ReturnType<typeof capturedLogger>;

  beforeAll(async () => {
    double = await startS3ErrorDouble({ status: 403, code: 'AccessDenied', message: ACCESS_DENIED });
    client = createS3Client({
      endpoint: double.endpoint,
      credentials: LOCAL_S3_CREDENTIALS,
      overrides: { maxAttempts: 1 },
    });
    logs = capturedLogger();
  });

  afterAll(async () => {
    logs.restore();
    client.destroy();
    await double.close();
  });

  it('answers the caller a generic 503 with the request id, and logs the full error under that id', async () => {
    const request = jsonPost('/event', fixture('event-answered'));
    const requestId = request.requestContext.requestId;
    const result = await createWebhookHandler(webhookConfig(), { s3: client, logger: logs.logger })(request);

    expect(result.statusCode).toBe(503);
    expect(result.body).not.toContain('arn:');
    expect(result.body).not.toContain(ACCOUNT_ID);
    expect(result.body).not.toContain('AccessDenied');
    expect(parseBody(result)).toEqual({
      error: 'storage-unavailable',
      message: 'the event could not be stored; deliver it again',
      requestId,
    });

    const logged = logs.lines().find((line) => line.level === 'ERROR');
    expect(logged).toMatchObject({ requestId, callUuid: '63f61863-4a51-4f6b-86e1-46edebcf9356' });
    expect(JSON.stringify(logged)).toContain(`AccessDenied (HTTP 403): User: arn:aws:sts::${ACCOUNT_ID}:`);
  });
});
