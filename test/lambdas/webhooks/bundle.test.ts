import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { GetObjectCommand } from '@aws-sdk/client-s3';
import type { APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebhooksEnv } from '../../../common/contract.js';
import { bundleLambda, LAMBDA_INDEX_FILE } from '../../../lib/constructs/lambda-bundle.js';
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

const run = promisify(execFile);
const TOKEN_ARN = 'arn:aws:secretsmanager:eu-west-2:123456789012:secret:CallToken-AbCdEf';
const SIGNATURE_ARN = 'arn:aws:secretsmanager:eu-west-2:123456789012:secret:VonageSignature-AbCdEf';

// Imports the bundle as the runtime does, hands it each event in turn, and writes the results to a file
// (stdout carries the function's own log lines).
const INVOKE = `
import { readFileSync, writeFileSync } from 'node:fs';
const [bundle, eventsFile, resultsFile] = process.argv.slice(1);
const { handler } = await import(bundle);
const context = { awsRequestId: 'c6af9ac6-7b61-11e6-9a41-93e8deadbeef', functionName: 'webhooks' };
const results = [];
for (const event of JSON.parse(readFileSync(eventsFile, 'utf8'))) results.push(await handler(event, context));
writeFileSync(resultsFile, JSON.stringify(results));
`;

describe('the bundle the stack deploys (lib/constructs/lambda-bundle.ts), run in a Node process of its own', () => {
  const work = mkdtempSync(join(tmpdir(), 'webhooks-bundle-'));
  let s3: LocalS3;
  let secretsManager: SecretsManagerDouble;

  beforeAll(async () => {
    s3 = await startLocalS3();
    secretsManager = await startSecretsManagerDouble();
    secretsManager.put(TOKEN_ARN, CALL_TOKEN_SECRET);
    secretsManager.put(SIGNATURE_ARN, SIGNATURE_SECRET);
    bundleLambda(join(import.meta.dirname, '../../../lambdas/webhooks/handler.ts'), join(work, 'asset'));
  });
  afterAll(async () => {
    await secretsManager.close();
    await s3.close();
    rmSync(work, { recursive: true, force: true });
  });

  it('answers a signed call, then loads its event chunk and stores the event in S3', async () => {
    const now = Math.floor(Date.now() / 1000);
    const answerBody = JSON.stringify(fixture('answer-query'));
    const eventBody = JSON.stringify(fixture('event-completed'));
    const signed = (body: string) => ({ authorization: `Bearer ${vonageToken({ iat: now, body })}` });
    const contentType = 'application/json';
    writeFileSync(
      join(work, 'events.json'),
      JSON.stringify([
        httpEvent({
          method: 'POST',
          path: '/answer',
          body: answerBody,
          contentType,
          headers: signed(answerBody),
        }),
        httpEvent({ path: '/event', body: eventBody, contentType, headers: signed(eventBody) }),
      ]),
    );
    await run(
      process.execPath,
      [
        '--input-type=module',
        '-e',
        INVOKE,
        join(work, 'asset', LAMBDA_INDEX_FILE),
        join(work, 'events.json'),
        join(work, 'results.json'),
      ],
      {
        cwd: work,
        env: {
          PATH: process.env.PATH ?? '',
          AWS_REGION: 'eu-west-2',
          ...s3.env,
          AWS_ENDPOINT_URL_SECRETS_MANAGER: secretsManager.url,
          [WebhooksEnv.s3Endpoint]: s3.endpoint,
          [WebhooksEnv.recordingsBucket]: s3.bucket,
          [WebhooksEnv.recorderUrl]: 'wss://recorder.example.com',
          [WebhooksEnv.callTokenSecretArn]: TOKEN_ARN,
          [WebhooksEnv.vonageSignatureSecretArn]: SIGNATURE_ARN,
        },
      },
    );
    const [answer, event] = JSON.parse(readFileSync(join(work, 'results.json'), 'utf8')) as [
      APIGatewayProxyStructuredResultV2,
      APIGatewayProxyStructuredResultV2,
    ];
    expect(answer.statusCode).toBe(200);
    expect(nccoOf(answer).map((action) => action.action)).toEqual(['talk', 'connect']);
    expect(event.statusCode).toBe(200);
    const { stored } = parseBody(event) as { stored: string };
    const object = await s3.client.send(new GetObjectCommand({ Bucket: s3.bucket, Key: stored }));
    expect(JSON.parse(await object.Body!.transformToString())).toMatchObject({ status: 'completed' });
  });
});
