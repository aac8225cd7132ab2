import { randomUUID } from 'node:crypto';
import { ListObjectsV2Command } from '@aws-sdk/client-s3';
import type { Context } from 'aws-lambda';
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { verifyCallToken } from '../../../common/call-token.js';
import {
  CANNOT_RECORD_TEXT,
  ConfigurationError,
  readWebhookEnvironment,
} from '../../../lambdas/webhooks/index.js';
import { type LocalS3, startLocalS3 } from '../../../test-support/local-s3.js';
import {
  type SecretsManagerDouble,
  startSecretsManagerDouble,
} from '../../../test-support/secrets-manager-double.js';
import {
  CALL_TOKEN_SECRET,
  capturedLogger,
  fixture,
  httpEvent,
  jsonPost,
  nccoOf,
  parseBody,
  SIGNATURE_SECRET,
  vonageToken,
  websocketEndpointOf,
} from '../../../test-support/webhook-events.js';

const TOKEN_ARN = 'arn:aws:secretsmanager:eu-west-2:123456789012:secret:CallToken-AbCdEf';
const SIGNATURE_ARN = 'arn:aws:secretsmanager:eu-west-2:123456789012:secret:VonageSignature-AbCdEf';

const context = {
  functionName: 'webhooks',
  functionVersion: '$LATEST',
  invokedFunctionArn: 'arn:aws:lambda:eu-west-2:123456789012:function:webhooks',
  memoryLimitInMB: '512',
  awsRequestId: 'c6af9ac6-7b61-11e6-9a41-93e8deadbeef',
  getRemainingTimeInMillis: () => 10_000,
} as unknown as Context;

describe('AWS entry (handler.ts)', () => {
  let s3: LocalS3;
  let secretsManager: SecretsManagerDouble;
  let logs: ReturnType<typeof capturedLogger>;

  beforeAll(async () => {
    s3 = await startLocalS3();
    secretsManager = await startSecretsManagerDouble();
    logs = capturedLogger();
  });
  afterAll(async () => {
    logs.restore();
    vi.unstubAllEnvs();
    await secretsManager.close();
    await s3.close();
  });

  beforeEach(() => {
    vi.resetModules();
    secretsManager.reads.length = 0;
    const env: Record<string, string> = {
      AWS_REGION: 'eu-west-2',
      // The local S3 server checks its keys; the Secrets Manager double takes any.
      ...s3.env,
      AWS_ENDPOINT_URL_SECRETS_MANAGER: secretsManager.url,
      S3_ENDPOINT: s3.endpoint,
      RECORDINGS_BUCKET: s3.bucket,
      RECORDER_URL: 'wss://recorder.example.com',
      CALL_TOKEN_SECRET_ARN: TOKEN_ARN,
      VONAGE_SIGNATURE_SECRET_ARN: SIGNATURE_ARN,
      GREETING_TEXT: 'Recording starts now.',
      GREETING_LANGUAGE: 'en-US',
      GREETING_STYLE: '1',
      SAMPLE_RATE: '24000',
      MAX_CALL_SECONDS: '600',
      CALL_TOKEN_TTL_SECONDS: '60',
      SIGNATURE_MAX_AGE_SECONDS: '300',
      POWERTOOLS_SERVICE_NAME: 'webhooks',
      POWERTOOLS_METRICS_NAMESPACE: 'CallRecorder',
      POWERTOOLS_LOG_LEVEL: 'INFO',
    };
    for (const [name, value] of Object.entries(env)) vi.stubEnv(name, value);
  });

  const load = async () => (await import('../../../lambdas/webhooks/handler.js')).handler;

  it('reads its settings from env, its secrets by ARN, answers and stores signed webhooks', async () => {
    secretsManager.put(TOKEN_ARN, CALL_TOKEN_SECRET);
    secretsManager.put(SIGNATURE_ARN, SIGNATURE_SECRET);
    const handler = await load();
    const now = Math.floor(Date.now() / 1000);
    const query = fixture('answer-query');

    const answerBody = JSON.stringify(query);
    const answer = await handler(
      httpEvent({
        method: 'POST',
        path: '/answer',
        body: answerBody,
        contentType: 'application/json',
        headers: { authorization: `Bearer ${vonageToken({ iat: now, body: answerBody })}` },
      }),
      context,
    );
    expect(answer.statusCode).toBe(200);
    expect(nccoOf(answer)[0]).toEqual({
      action: 'talk',
      text: 'Recording starts now.',
      language: 'en-US',
      style: 1,
    });
    expect(nccoOf(answer)[1]?.limit).toBe(600);
    const endpoint = websocketEndpointOf(answer);
    expect(endpoint['content-type']).toBe('audio/l16;rate=24000');
    const token = new URL(endpoint.uri).searchParams.get('token');
    expect(verifyCallToken(CALL_TOKEN_SECRET, query.uuid as string, token)).toMatchObject({ ok: true });

    const body = JSON.stringify(fixture('event-completed'));
    const event = await handler(
      httpEvent({
        path: '/event',
        body,
        contentType: 'application/json',
        headers: { authorization: `Bearer ${vonageToken({ iat: now, body })}` },
      }),
      context,
    );
    expect(event.statusCode).toBe(200);
    const listed = await s3.client.send(new ListObjectsV2Command({ Bucket: s3.bucket, Prefix: 'events/' }));
    expect(listed.Contents?.map((object) => object.Key)).toEqual([
      (parseBody(event) as { stored: string }).stored,
    ]);

    const unsigned = await handler(jsonPost('/event', fixture('event-started')), context);
    expect(unsigned.statusCode).toBe(401);
    // Each secret's two stages fetched once: later requests use the cache.
    expect(secretsManager.reads.sort()).toEqual(
      [TOKEN_ARN, SIGNATURE_ARN].flatMap((arn) => [`${arn} AWSCURRENT`, `${arn} AWSPREVIOUS`]).sort(),
    );
    const text = JSON.stringify(logs.lines());
    expect(text).not.toContain(CALL_TOKEN_SECRET);
    expect(text).not.toContain(SIGNATURE_SECRET);
    // Metrics go out as CloudWatch embedded metric format.
    expect(logs.lines()).toContainEqual(
      expect.objectContaining({
        _aws: expect.objectContaining({
          CloudWatchMetrics: [expect.objectContaining({ Namespace: 'CallRecorder' })],
        }),
        CallsAnswered: 1,
      }),
    );
  });

  it('accepts webhooks signed with the new or the previous signature secret across a rotation', async () => {
    const NEW_SECRET = 'rotated-vonage-signature-secret-9876543210';
    secretsManager.put(TOKEN_ARN, CALL_TOKEN_SECRET);
    secretsManager.put(SIGNATURE_ARN, SIGNATURE_SECRET);
    const handler = await load();
    const post = (secret: string) => {
      const body = JSON.stringify({ ...fixture('event-ringing'), uuid: randomUUID() });
      const now = Math.floor(Date.now() / 1000);
      return handler(
        httpEvent({
          path: '/event',
          body,
          contentType: 'application/json',
          headers: { authorization: `Bearer ${vonageToken({ iat: now, body, secret })}` },
        }),
        context,
      );
    };
    expect((await post(SIGNATURE_SECRET)).statusCode).toBe(200);
    // The operator puts the new value; Vonage signs with it before the 5-minute cache expires. (A
    // refresh on an unknown signature is allowed every 10 s: the clock moves past that.)
    secretsManager.put(SIGNATURE_ARN, NEW_SECRET);
    const start = performance.now();
    const clock = vi.spyOn(performance, 'now').mockImplementation(() => start + 11_000);
    expect((await post(NEW_SECRET)).statusCode).toBe(200);
    // Deliveries signed just before the switch still verify, against AWSPREVIOUS.
    expect((await post(SIGNATURE_SECRET)).statusCode).toBe(200);
    // A value that was never the secret is still refused, after one refresh at most.
    const forged = await post('never-the-signature-secret-0123456789');
    expect(forged.statusCode).toBe(401);
    clock.mockRestore();
  });

  it('when a secret cannot be fetched, still answers a valid NCCO, and 503 for events', async () => {
    vi.stubEnv('CALL_TOKEN_SECRET_ARN', `${TOKEN_ARN}-deleted`);
    vi.stubEnv('VONAGE_SIGNATURE_SECRET_ARN', `${SIGNATURE_ARN}-deleted`);
    const handler = await load();
    const answer = await handler(httpEvent({ path: '/answer', query: fixture('answer-query') }), context);
    expect(answer.statusCode).toBe(200);
    expect(nccoOf(answer)).toEqual([
      { action: 'talk', text: CANNOT_RECORD_TEXT, language: 'en-US', style: 1 },
    ]);
    const event = await handler(jsonPost('/event', fixture('event-started')), context);
    expect(event.statusCode).toBe(503);
    expect(logs.lines()).toContainEqual(
      expect.objectContaining({ level: 'ERROR', message: expect.stringMatching(/could not fetch/) }),
    );
  });

  it('refuses to start without a required variable, naming it', () => {
    expect(() =>
      readWebhookEnvironment({ RECORDER_URL: 'wss://r', CALL_TOKEN_SECRET_ARN: TOKEN_ARN }),
    ).toThrow(new ConfigurationError('environment variable RECORDINGS_BUCKET is required'));
    expect(() =>
      readWebhookEnvironment({
        RECORDINGS_BUCKET: 'b',
        RECORDER_URL: 'wss://r',
        CALL_TOKEN_SECRET_ARN: 'a',
        SAMPLE_RATE: '16k',
      }),
    ).toThrow(/SAMPLE_RATE must be a whole number/);
  });
});
