import { GetObjectCommand } from '@aws-sdk/client-s3';
import type { APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebhooksEnv } from '../../../common/contract.js';
import { invokeBundledLambda } from '../../../test-support/bundled-lambda.js';
import { type LocalS3, startLocalS3 } from '../../../test-support/local-s3.js';
import {
  type SecretsManagerDouble,
  startSecretsManagerDouble,
} from '../../../test-support/secrets-manager-double.js';
import {
  CALL_TOKEN_SECRET,
  fixture,
  httpEvent,
  nccoOf,
  parseBody,
  SIGNATURE_SECRET,
  vonageToken,
} from '../../../test-support/webhook-events.js';

const TOKEN_ARN = 'arn:aws:secretsmanager:eu-west-2:123456789012:secret:CallToken-AbCdEf';
const SIGNATURE_ARN = 'arn:aws:secretsmanager:eu-west-2:123456789012:secret:VonageSignature-AbCdEf';

describe('the webhooks bundle the stack deploys (lib/constructs/lambda-bundle.ts), in a Node process of its own', () => {
  let s3: LocalS3;
  let secretsManager: SecretsManagerDouble;

  beforeAll(async () => {
    s3 = await startLocalS3();
    secretsManager = await startSecretsManagerDouble();
    secretsManager.put(TOKEN_ARN, CALL_TOKEN_SECRET);
    secretsManager.put(SIGNATURE_ARN, SIGNATURE_SECRET);
  });
  afterAll(async () => {
    await secretsManager.close();
    await s3.close();
  });

  it('answers a signed call, then loads its event chunk and stores the event in S3', async () => {
    const now = Math.floor(Date.now() / 1000);
    const answerBody = JSON.stringify(fixture('answer-query'));
    const eventBody = JSON.stringify(fixture('event-completed'));
    const signed = (body: string) => ({ authorization: `Bearer ${vonageToken({ iat: now, body })}` });
    const contentType = 'application/json';
    const [answer, event] = (await invokeBundledLambda(
      'lambdas/webhooks/handler.ts',
      [
        httpEvent({
          method: 'POST',
          path: '/answer',
          body: answerBody,
          contentType,
          headers: signed(answerBody),
        }),
        httpEvent({ path: '/event', body: eventBody, contentType, headers: signed(eventBody) }),
      ],
      {
        AWS_REGION: 'eu-west-2',
        ...s3.env,
        AWS_ENDPOINT_URL_SECRETS_MANAGER: secretsManager.url,
        [WebhooksEnv.s3Endpoint]: s3.endpoint,
        [WebhooksEnv.recordingsBucket]: s3.bucket,
        [WebhooksEnv.recorderUrl]: 'wss://recorder.example.com',
        [WebhooksEnv.callTokenSecretArn]: TOKEN_ARN,
        [WebhooksEnv.vonageSignatureSecretArn]: SIGNATURE_ARN,
      },
    )) as APIGatewayProxyStructuredResultV2[];
    expect(answer?.statusCode).toBe(200);
    expect(nccoOf(answer!).map((action) => action.action)).toEqual(['talk', 'connect']);
    expect(event?.statusCode).toBe(200);
    const { stored } = parseBody(event!) as { stored: string };
    const object = await s3.client.send(new GetObjectCommand({ Bucket: s3.bucket, Key: stored }));
    expect(JSON.parse(await object.Body!.transformToString())).toMatchObject({ status: 'completed' });
  });
});
