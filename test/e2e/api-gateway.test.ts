import { once } from 'node:events';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { APIGatewayProxyEventV2, APIGatewayProxyResultV2 } from 'aws-lambda';
import { afterEach, describe, expect, it } from 'vitest';
import { createHttpApiServer } from '../../tools/local/api-gateway.js';

let server: Server | undefined;
const received: APIGatewayProxyEventV2[] = [];

afterEach(async () => {
  received.length = 0;
  server?.closeAllConnections();
  await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
  server = undefined;
});

async function start(
  result: (event: APIGatewayProxyEventV2) => APIGatewayProxyResultV2 | Promise<never>,
): Promise<string> {
  server = createHttpApiServer({
    handler: () => async (event) => {
      received.push(event);
      return result(event);
    },
    onError: () => {},
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

describe('the local HTTP API in front of the webhooks handler', () => {
  it('hands the handler a payload 2.0 event for GET /answer, as API Gateway does', async () => {
    const base = await start(() => ({
      statusCode: 200,
      headers: { 'Content-Type': 'application/json' },
      body: '[]',
    }));
    const response = await fetch(`${base}/answer?to=447700900000&from=447700900001&uuid=abc&tag=a&tag=b`, {
      headers: { 'X-Custom': 'One', Authorization: 'Bearer x.y.z' },
    });
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('application/json');
    expect(await response.text()).toBe('[]');
    const event = received[0]!;
    expect(event).toMatchObject({
      version: '2.0',
      routeKey: 'GET /answer',
      rawPath: '/answer',
      rawQueryString: 'to=447700900000&from=447700900001&uuid=abc&tag=a&tag=b',
      queryStringParameters: { to: '447700900000', from: '447700900001', uuid: 'abc', tag: 'a,b' },
      isBase64Encoded: false,
      requestContext: {
        domainName: base.slice('http://'.length),
        http: { method: 'GET', path: '/answer', sourceIp: '127.0.0.1' },
        routeKey: 'GET /answer',
        stage: '$default',
      },
    });
    expect(event.headers['x-custom']).toBe('One');
    expect(event.headers.authorization).toBe('Bearer x.y.z');
    expect(event.body).toBeUndefined();
    expect(event.requestContext.time).toMatch(/^\d{2}\/[A-Z][a-z]{2}\/\d{4}:\d{2}:\d{2}:\d{2} \+0000$/);
  });

  it('passes a JSON body as text and a binary body base64-encoded', async () => {
    const base = await start(() => ({ statusCode: 204 }));
    await fetch(`${base}/event`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{"status":"started"}',
    });
    await fetch(`${base}/event`, {
      method: 'POST',
      headers: { 'content-type': 'application/octet-stream' },
      body: new Uint8Array([0, 255, 1]),
    });
    expect(received[0]).toMatchObject({
      routeKey: 'POST /event',
      body: '{"status":"started"}',
      isBase64Encoded: false,
    });
    expect(received[0]!.queryStringParameters).toBeUndefined();
    expect(received[1]).toMatchObject({
      body: Buffer.from([0, 255, 1]).toString('base64'),
      isBase64Encoded: true,
    });
  });

  it.each([
    ['PUT', '/answer'],
    ['GET', '/event'],
    ['GET', '/'],
    ['POST', '/answer/extra'],
  ])('answers %s %s with 404 Not Found, as an HTTP API with no such route does', async (method, path) => {
    const base = await start(() => ({ statusCode: 200 }));
    const response = await fetch(`${base}${path}`, { method });
    expect(response.status).toBe(404);
    expect(await response.json()).toEqual({ message: 'Not Found' });
    expect(received).toHaveLength(0);
  });

  it('answers 500 Internal Server Error when the handler throws', async () => {
    const base = await start(() => Promise.reject(new Error('boom')));
    const response = await fetch(`${base}/answer`);
    expect(response.status).toBe(500);
    expect(await response.json()).toEqual({ message: 'Internal Server Error' });
  });

  it('answers a bare string result as 200 JSON', async () => {
    const base = await start(() => '{"ok":true}');
    const response = await fetch(`${base}/answer`, { method: 'POST' });
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ ok: true });
  });
});
