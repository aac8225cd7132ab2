import { ListObjectsV2Command } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createWebhookHandler } from '../../../lambdas/webhooks/index.js';
import { type LocalS3, startLocalS3 } from '../../../test-support/local-s3.js';
import {
  capturedLogger,
  fixture,
  httpEvent,
  nccoOf,
  parseBody,
  SIGNATURE_SECRET,
  vonageToken,
  webhookConfig,
  websocketEndpointOf,
} from '../../../test-support/webhook-events.js';

const NOW = new Date('2026-11-28T14:00:10.000Z');
const NOW_SECONDS = NOW.getTime() / 1000;

describe('signed webhooks', () => {
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

  const signed = () =>
    createWebhookHandler(webhookConfig({ bucket: s3.bucket, signatureSecret: SIGNATURE_SECRET }), {
      s3: s3.client,
      now: () => NOW,
      logger: logs.logger,
    });

  async function storedKeys(): Promise<string[]> {
    const listed = await s3.client.send(new ListObjectsV2Command({ Bucket: s3.bucket, Prefix: 'events/' }));
    return (listed.Contents ?? []).map((object) => object.Key as string);
  }

  const query = fixture('answer-query');
  const answerBody = JSON.stringify(query);
  const eventBody = JSON.stringify(fixture('event-started'));
  const bearer = (token: string) => ({ authorization: `Bearer ${token}` });
  const postAnswer = (headers: Record<string, string>, body = answerBody) =>
    httpEvent({ method: 'POST', path: '/answer', body, contentType: 'application/json', headers });

  it('accepts an answer and an event signed with the secret, fresh, with the right payload hash', async () => {
    const handler = signed();
    const answer = await handler(postAnswer(bearer(vonageToken({ iat: NOW_SECONDS - 2, body: answerBody }))));
    expect(answer.statusCode).toBe(200);
    expect(nccoOf(answer).map((action) => action.action)).toEqual(['talk', 'connect']);
    // Vonage is asked to present the same signed JWT on the recorder's websocket handshake.
    expect(websocketEndpointOf(answer).authorization).toEqual({ type: 'vonage' });

    const token = vonageToken({ iat: NOW_SECONDS - 2, body: eventBody });
    const event = await handler(
      httpEvent({ path: '/event', body: eventBody, contentType: 'application/json', headers: bearer(token) }),
    );
    expect(event.statusCode).toBe(200);
    expect(await storedKeys()).toHaveLength(1);
  });

  const late = NOW_SECONDS - 301;
  it.each([
    ['no Authorization header', {}, 'missing-token'],
    ['a Basic Authorization header', { authorization: 'Basic dXNlcjpwYXNz' }, 'malformed-token'],
    ['a bearer value that is not a JWT', { authorization: 'Bearer not-a-jwt' }, 'malformed-token'],
    [
      'a token signed with another secret',
      bearer(vonageToken({ secret: 'x'.repeat(40), iat: NOW_SECONDS, body: eventBody })),
      'bad-signature',
    ],
    [
      'a token claiming alg none with a forged signature',
      bearer(vonageToken({ iat: NOW_SECONDS, body: eventBody, algorithm: 'none' }).concat('AAAA')),
      'bad-signature',
    ],
    ['an iat older than the window', bearer(vonageToken({ iat: late, body: eventBody })), 'stale-iat'],
    ['an iat in the future', bearer(vonageToken({ iat: NOW_SECONDS + 3600, body: eventBody })), 'future-iat'],
    [
      'the hash of another body',
      bearer(vonageToken({ iat: NOW_SECONDS, body: `${eventBody} ` })),
      'payload-hash-mismatch',
    ],
    [
      'no payload hash',
      bearer(vonageToken({ iat: NOW_SECONDS, body: eventBody, payloadHash: null })),
      'missing-payload-hash',
    ],
  ])('refuses an event with %s: 401 with the reason, nothing stored', async (_, headers, reason) => {
    const before = await storedKeys();
    const result = await signed()(
      httpEvent({ path: '/event', body: eventBody, contentType: 'application/json', headers }),
    );
    expect(result.statusCode).toBe(401);
    expect(parseBody(result)).toMatchObject({ error: 'unauthorized', reason });
    expect(await storedKeys()).toEqual(before);
  });

  it('refuses an answer signed with another secret, too old, or for another call: 401, no NCCO', async () => {
    const otherCall = JSON.stringify({ ...query, uuid: 'aaaaaaaa-0000-4000-8000-000000000000' });
    const attempts: [string, string][] = [
      [vonageToken({ secret: 'y'.repeat(40), iat: NOW_SECONDS, body: answerBody }), answerBody],
      [vonageToken({ iat: late, body: answerBody }), answerBody],
      // A captured token replayed for another uuid: its payload_hash no longer matches.
      [vonageToken({ iat: NOW_SECONDS, body: answerBody }), otherCall],
    ];
    for (const [token, body] of attempts) {
      const result = await signed()(postAnswer(bearer(token), body));
      expect(result.statusCode).toBe(401);
      expect(parseBody(result)).toMatchObject({ error: 'unauthorized' });
    }
  });

  it('refuses a GET answer while signing is on, saying the answer webhook must be POST', async () => {
    const result = await signed()(
      httpEvent({ path: '/answer', query, headers: bearer(vonageToken({ iat: NOW_SECONDS })) }),
    );
    expect(result.statusCode).toBe(405);
    expect(parseBody(result)).toMatchObject({
      error: 'method-not-allowed',
      message: expect.stringMatching(/must use POST/),
    });
  });

  it('accepts a webhook signed with the previous signature secret during a rotation', async () => {
    const handler = createWebhookHandler(
      webhookConfig({
        bucket: s3.bucket,
        signatureSecret: 'the-new-vonage-signature-secret-000000',
        previousSignatureSecret: SIGNATURE_SECRET,
      }),
      { s3: s3.client, now: () => NOW, logger: logs.logger },
    );
    const result = await handler(postAnswer(bearer(vonageToken({ iat: NOW_SECONDS, body: answerBody }))));
    expect(result.statusCode).toBe(200);
  });

  it('checks the hash against the raw bytes when API Gateway base64-encodes the body', async () => {
    const body = JSON.stringify({ ...fixture('event-ringing'), conversation_uuid: 'CON-signed-b64' });
    const result = await signed()(
      httpEvent({
        path: '/event',
        body,
        base64: true,
        contentType: 'application/json',
        headers: bearer(vonageToken({ iat: NOW_SECONDS, body })),
      }),
    );
    expect(result.statusCode).toBe(200);
  });

  it('without a signature secret, accepts unsigned requests (GET answers too), asks no handshake JWT, and warns once when built', async () => {
    const before = logs.lines().length;
    const handler = createWebhookHandler(webhookConfig({ bucket: s3.bucket }), {
      s3: s3.client,
      logger: logs.logger,
    });
    for (let i = 0; i < 2; i++) {
      const answer = await handler(httpEvent({ path: '/answer', query }));
      expect(answer.statusCode).toBe(200);
      expect(websocketEndpointOf(answer)).not.toHaveProperty('authorization');
    }
    const warnings = logs
      .lines()
      .slice(before)
      .filter((line) => line.level === 'WARN' && /verification is off/.test(String(line.message)));
    expect(warnings).toHaveLength(1);
  });
});
