import { createHash, randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { Logger } from '@aws-lambda-powertools/logger';
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import jwt from 'jsonwebtoken';
import { vi } from 'vitest';
import type { WebhookConfig } from '../lambdas/webhooks/index.js';

/** A Vonage-shaped fixture from test/fixtures/vonage. */
export function fixture(name: string): Record<string, unknown> {
  return JSON.parse(readFileSync(new URL(`../test/fixtures/vonage/${name}.json`, import.meta.url), 'utf8'));
}

export const CALL_TOKEN_SECRET = 'AllLettersAndDigits0123456789xyzABCDEFGHIJKLMNOPQRcccccccccccccccc';
export const SIGNATURE_SECRET = 'vonage-signature-secret-0123456789abcdef';

export function webhookConfig(overrides: Partial<WebhookConfig> = {}): WebhookConfig {
  return {
    bucket: 'recordings',
    recorderUrl: 'wss://recorder.example.com',
    callTokenSecret: CALL_TOKEN_SECRET,
    greeting: { text: 'This call is recorded.', language: 'en-GB', style: 2 },
    sampleRate: 16000,
    maxCallSeconds: 3600,
    tokenTtlSeconds: 120,
    signatureMaxAgeSeconds: 300,
    ...overrides,
  };
}

export interface HttpEventOptions {
  readonly method?: 'GET' | 'POST' | 'PUT';
  readonly path: string;
  readonly query?: Record<string, unknown>;
  readonly body?: string;
  readonly contentType?: string;
  readonly headers?: Record<string, string>;
  readonly base64?: boolean;
  readonly domainName?: string | null;
}

/** An API Gateway HTTP API (payload 2.0) event as AWS delivers it. */
export function httpEvent(options: HttpEventOptions): APIGatewayProxyEventV2 {
  const method = options.method ?? (options.body === undefined ? 'GET' : 'POST');
  const query = options.query
    ? Object.fromEntries(Object.entries(options.query).map(([name, value]) => [name, String(value)]))
    : undefined;
  const domainName =
    options.domainName === undefined ? 'abc123.execute-api.eu-west-2.amazonaws.com' : options.domainName;
  const headers: Record<string, string> = {
    host: domainName ?? 'localhost',
    'user-agent': 'Vonage',
    ...(options.contentType ? { 'content-type': options.contentType } : {}),
    ...options.headers,
  };
  const event = {
    version: '2.0',
    routeKey: `${method} ${options.path}`,
    rawPath: options.path,
    rawQueryString: query ? new URLSearchParams(query).toString() : '',
    headers,
    ...(query ? { queryStringParameters: query } : {}),
    requestContext: {
      accountId: '123456789012',
      apiId: 'abc123',
      ...(domainName ? { domainName, domainPrefix: domainName.split('.')[0] } : {}),
      http: {
        method,
        path: options.path,
        protocol: 'HTTP/1.1',
        sourceIp: '203.0.113.7',
        userAgent: 'Vonage',
      },
      requestId: randomUUID(),
      routeKey: `${method} ${options.path}`,
      stage: '$default',
      time: '28/Nov/2026:14:00:00 +0000',
      timeEpoch: Date.parse('2026-11-28T14:00:00Z'),
    },
    isBase64Encoded: options.base64 ?? false,
    ...(options.body === undefined
      ? {}
      : { body: options.base64 ? Buffer.from(options.body).toString('base64') : options.body }),
  };
  return event as APIGatewayProxyEventV2;
}

/** A JSON POST as Vonage sends events (and POST answers). */
export function jsonPost(
  path: string,
  body: unknown,
  headers: Record<string, string> = {},
): APIGatewayProxyEventV2 {
  return httpEvent({ path, body: JSON.stringify(body), contentType: 'application/json', headers });
}

export function sha256Hex(body: string): string {
  return createHash('sha256').update(body).digest('hex');
}

/** A signed-webhook JWT shaped like Vonage's (HS256, iat, jti, iss, payload_hash, api_key, application_id). */
export function vonageToken(options: {
  secret?: string;
  iat: number;
  body?: string;
  payloadHash?: string | null;
  algorithm?: jwt.Algorithm;
}): string {
  const claims: Record<string, unknown> = {
    iat: options.iat,
    jti: randomUUID(),
    iss: 'Vonage',
    api_key: 'abcd1234',
    application_id: 'aaaaaaaa-bbbb-cccc-dddd-0123456789ab',
  };
  if (options.payloadHash !== null) {
    const hash = options.payloadHash ?? (options.body === undefined ? undefined : sha256Hex(options.body));
    if (hash !== undefined) claims.payload_hash = hash;
  }
  return jwt.sign(claims, options.secret ?? SIGNATURE_SECRET, {
    algorithm: options.algorithm ?? 'HS256',
  });
}

export function parseBody(result: APIGatewayProxyStructuredResultV2): unknown {
  return JSON.parse(result.body ?? '');
}

/** A real Powertools Logger whose JSON lines are captured from stdout and stderr. */
export function capturedLogger(): {
  logger: Logger;
  lines: () => Record<string, unknown>[];
  restore: () => void;
} {
  const written: string[] = [];
  const spies = [process.stdout, process.stderr].map((stream) => {
    const original = stream.write.bind(stream);
    return vi.spyOn(stream, 'write').mockImplementation((chunk, ...rest) => {
      const text = String(chunk);
      if (!text.startsWith('{')) return original(chunk, ...(rest as []));
      written.push(text);
      return true;
    });
  });
  const logger = new Logger({ serviceName: 'webhooks-test', logLevel: 'INFO' });
  return {
    logger,
    lines: () => written.flatMap((text) => text.trim().split('\n')).map((line) => JSON.parse(line)),
    restore: () => {
      for (const spy of spies) spy.mockRestore();
    },
  };
}

export interface WebsocketEndpoint {
  readonly type: string;
  readonly uri: string;
  readonly 'content-type': string;
  readonly headers: Record<string, string>;
  readonly authorization?: { readonly type: string; readonly value?: string };
}

/** An NCCO action as the tests read it back from a response. */
export interface NccoActionShape {
  readonly action: string;
  readonly text?: string;
  readonly language?: string;
  readonly style?: number;
  readonly eventUrl?: string[];
  readonly limit?: number;
  readonly endpoint?: WebsocketEndpoint[];
}

export function nccoOf(result: APIGatewayProxyStructuredResultV2): NccoActionShape[] {
  return parseBody(result) as NccoActionShape[];
}

/** The connect action's websocket endpoint; throws when the NCCO has none. */
export function websocketEndpointOf(result: APIGatewayProxyStructuredResultV2): WebsocketEndpoint {
  const endpoint = nccoOf(result).find((action) => action.action === 'connect')?.endpoint?.[0];
  if (!endpoint) throw new Error(`no websocket endpoint in ${result.body}`);
  return endpoint;
}
