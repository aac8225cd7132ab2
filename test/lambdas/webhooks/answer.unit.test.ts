import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { verifyCallToken } from '../../../common/call-token.js';
import { createS3Client, LOCAL_S3_CREDENTIALS } from '../../../common/s3-client.js';
import {
  CANNOT_RECORD_TEXT,
  createWebhookHandler,
  MAX_WEBSOCKET_HEADER_BYTES,
  type WebhookConfig,
} from '../../../lambdas/webhooks/index.js';
import {
  CALL_TOKEN_SECRET,
  capturedLogger,
  fixture,
  httpEvent,
  jsonPost,
  nccoOf,
  parseBody,
  webhookConfig,
  websocketEndpointOf,
} from '../../../test-support/webhook-events.js';

const NOW = new Date('2026-11-28T14:00:00.000Z');
const NOW_SECONDS = NOW.getTime() / 1000;

describe('answer webhook', () => {
  // The answer never touches the bucket: a client for a port nothing listens on proves it.
  const s3 = createS3Client({ endpoint: 'http://127.0.0.1:9', credentials: LOCAL_S3_CREDENTIALS });
  let logs: ReturnType<typeof capturedLogger>;

  beforeAll(() => {
    logs = capturedLogger();
  });
  afterAll(() => {
    logs.restore();
    s3.destroy();
  });

  const handlerWith = (config: Partial<WebhookConfig> = {}, now: () => Date = () => NOW) =>
    createWebhookHandler(webhookConfig(config), { s3, now, logger: logs.logger });

  const query = fixture('answer-query');

  it('answers a GET with the greeting and a connect to the recorder, key by key', async () => {
    const result = await handlerWith()(httpEvent({ path: '/answer', query }));
    expect(result.statusCode).toBe(200);
    expect(result.headers?.['content-type']).toBe('application/json');
    const ncco = parseBody(result) as Record<string, unknown>[];
    expect(ncco).toHaveLength(2);
    const [talk, connect] = ncco as [Record<string, unknown>, Record<string, unknown>];
    expect(Object.keys(talk).sort()).toEqual(['action', 'language', 'style', 'text']);
    expect(talk.action).toBe('talk');
    expect(talk.text).toBe('This call is recorded.');
    expect(talk.language).toBe('en-GB');
    expect(talk.style).toBe(2);

    expect(Object.keys(connect).sort()).toEqual(['action', 'endpoint', 'eventUrl', 'limit']);
    expect(connect.action).toBe('connect');
    expect(connect.eventUrl).toEqual(['https://abc123.execute-api.eu-west-2.amazonaws.com/event']);
    expect(connect.limit).toBe(3600);
    const endpoints = connect.endpoint as Record<string, unknown>[];
    expect(endpoints).toHaveLength(1);
    const endpoint = endpoints[0] as Record<string, unknown>;
    expect(Object.keys(endpoint).sort()).toEqual(['content-type', 'headers', 'type', 'uri']);
    expect(endpoint.type).toBe('websocket');
    expect(endpoint['content-type']).toBe('audio/l16;rate=16000');
    expect(endpoint.headers).toEqual({
      uuid: '63f61863-4a51-4f6b-86e1-46edebcf9356',
      conversation_uuid: 'CON-f972836a-550f-45fa-956c-12a2ab5b7d22',
      from: '447700900001',
      to: '447700900000',
    });
    const uri = new URL(endpoint.uri as string);
    expect(`${uri.protocol}//${uri.host}${uri.pathname}`).toBe(
      'wss://recorder.example.com/calls/63f61863-4a51-4f6b-86e1-46edebcf9356',
    );
    expect([...uri.searchParams.keys()]).toEqual(['token']);
  });

  it('signs a token the recorder accepts for this call only, until the TTL runs out', async () => {
    const endpoint = websocketEndpointOf(await handlerWith()(httpEvent({ path: '/answer', query })));
    const token = new URL(endpoint.uri).searchParams.get('token');
    const uuid = '63f61863-4a51-4f6b-86e1-46edebcf9356';
    expect(verifyCallToken(CALL_TOKEN_SECRET, uuid, token, NOW_SECONDS)).toEqual({
      ok: true,
      expiresAt: NOW_SECONDS + 120,
    });
    expect(verifyCallToken(CALL_TOKEN_SECRET, uuid, token, NOW_SECONDS + 121)).toEqual({
      ok: false,
      reason: 'expired',
    });
    expect(verifyCallToken(CALL_TOKEN_SECRET, 'another-call', token, NOW_SECONDS)).toEqual({
      ok: false,
      reason: 'bad-signature',
    });
  });

  it('reads a POST JSON body, a form body and a base64-encoded form alike', async () => {
    const handle = handlerWith({ eventUrl: 'https://hooks.example.com/event', sampleRate: 8000 });
    const form = new URLSearchParams(query as Record<string, string>).toString();
    const results = await Promise.all([
      handle(jsonPost('/answer', fixture('answer-body'))),
      handle(httpEvent({ path: '/answer', body: form, contentType: 'application/x-www-form-urlencoded' })),
      handle(
        httpEvent({
          path: '/answer',
          body: form,
          contentType: 'application/x-www-form-urlencoded',
          base64: true,
        }),
      ),
    ]);
    for (const result of results) {
      expect(result.statusCode).toBe(200);
      expect(nccoOf(result)[1]?.eventUrl).toEqual(['https://hooks.example.com/event']);
      const endpoint = websocketEndpointOf(result);
      expect(endpoint['content-type']).toBe('audio/l16;rate=8000');
      expect(endpoint.headers.from).toBe('447700900001');
    }
  });

  it('cuts long caller ids so the websocket headers stay within 512 bytes, never mid-character', async () => {
    const from = `sip:${'é'.repeat(120)}@example.com`;
    const to = `sip:${'😀'.repeat(40)}@pbx.example.com`;
    const { headers } = websocketEndpointOf(
      await handlerWith()(httpEvent({ path: '/answer', query: { ...query, from, to } })),
    );
    expect(Buffer.byteLength(JSON.stringify(headers))).toBeLessThanOrEqual(MAX_WEBSOCKET_HEADER_BYTES);
    expect(headers.uuid).toBe(query.uuid);
    expect(headers.conversation_uuid).toBe(query.conversation_uuid);
    expect(from.startsWith(headers.from ?? '-')).toBe(true);
    expect(to.startsWith(headers.to ?? '-')).toBe(true);
    expect(headers.from?.length).toBeGreaterThan(10);
    expect(headers.to).not.toMatch(/[\ud800-\udfff]$/u);
  });

  it.each([
    ['no uuid', { ...query, uuid: undefined }, /uuid is required/],
    ['a uuid that could shape a key', { ...query, uuid: '../../etc' }, /uuid must be/],
    ['no conversation uuid', { ...query, conversation_uuid: '' }, /conversation_uuid is required/],
    ['a bad number', { ...query, from: '44770090000x' }, /from is not a phone number/],
    ['no callee', { ...query, to: undefined }, /to is required/],
  ])('refuses a query with %s: 400 with a clear JSON error', async (_, params, message) => {
    const defined = Object.fromEntries(Object.entries(params).filter(([, value]) => value !== undefined));
    const result = await handlerWith()(httpEvent({ path: '/answer', query: defined }));
    expect(result.statusCode).toBe(400);
    expect(parseBody(result)).toMatchObject({
      error: 'bad-request',
      message: expect.stringMatching(message),
    });
  });

  it('refuses a POST body that is not JSON (400) or not a supported type (415)', async () => {
    const handle = handlerWith();
    const broken = await handle(
      httpEvent({ path: '/answer', body: '{"uuid":', contentType: 'application/json' }),
    );
    expect(broken.statusCode).toBe(400);
    expect(parseBody(broken)).toMatchObject({ message: expect.stringMatching(/not valid JSON/) });
    const xml = await handle(httpEvent({ path: '/answer', body: '<uuid/>', contentType: 'text/xml' }));
    expect(xml.statusCode).toBe(415);
  });

  it('still answers a valid NCCO when it fails inside, and logs the error with the call uuid', async () => {
    const before = logs.lines().length;
    // No configured event URL and a request without a domain name: the connect cannot be built.
    const result = await handlerWith()(httpEvent({ path: '/answer', query, domainName: null }));
    expect(result.statusCode).toBe(200);
    expect(parseBody(result)).toEqual([
      { action: 'talk', text: CANNOT_RECORD_TEXT, language: 'en-GB', style: 2 },
    ]);
    const logged = logs.lines().slice(before);
    expect(logged).toContainEqual(
      expect.objectContaining({
        level: 'ERROR',
        callUuid: query.uuid,
        message: expect.stringMatching(/cannot be recorded/),
        error: expect.objectContaining({ message: expect.stringMatching(/domainName/) }),
      }),
    );
  });

  it('falls back the same way when the clock fails', async () => {
    const result = await handlerWith({}, () => {
      throw new Error('clock unavailable');
    })(httpEvent({ path: '/answer', query }));
    expect(result.statusCode).toBe(200);
    expect(nccoOf(result)[0]?.text).toBe(CANNOT_RECORD_TEXT);
  });

  it('answers 404 for any other route', async () => {
    const result = await handlerWith()(httpEvent({ path: '/answer/extra', query }));
    expect(result.statusCode).toBe(404);
    expect((await handlerWith()(httpEvent({ method: 'PUT', path: '/answer' }))).statusCode).toBe(404);
  });
});
