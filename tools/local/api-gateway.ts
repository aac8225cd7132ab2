import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { APIGatewayProxyEventV2, APIGatewayProxyResultV2 } from 'aws-lambda';

/** A Lambda handler for HTTP API payload format 2.0. */
export type HttpApiHandler = (event: APIGatewayProxyEventV2) => Promise<APIGatewayProxyResultV2>;

/** The HTTP API's routes, as `cdk` declares them: nothing else reaches the Lambda. */
export const WEBHOOK_ROUTES: readonly string[] = ['GET /answer', 'POST /answer', 'POST /event'];

/** API Gateway HTTP APIs refuse request bodies over 10 MB. */
const MAX_BODY_BYTES = 10 * 1024 * 1024;
/** The HTTP API integration timeout. */
const INTEGRATION_TIMEOUT_MS = 30_000;

/** Media types API Gateway passes to the Lambda as text; anything else arrives base64-encoded. */
function isTextual(contentType: string | undefined): boolean {
  const type = (contentType ?? '').split(';')[0]?.trim().toLowerCase() ?? '';
  return (
    type === '' ||
    type.startsWith('text/') ||
    type === 'application/json' ||
    type.endsWith('+json') ||
    type === 'application/x-www-form-urlencoded' ||
    type === 'application/xml' ||
    type.endsWith('+xml') ||
    type === 'application/javascript'
  );
}

/** `28/Nov/2026:23:11:42 +0000`, the format of `requestContext.time`. */
function requestTime(date: Date): string {
  const months = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
  const pad = (value: number) => String(value).padStart(2, '0');
  return `${pad(date.getUTCDate())}/${months[date.getUTCMonth()]}/${date.getUTCFullYear()}:${pad(date.getUTCHours())}:${pad(
    date.getUTCMinutes(),
  )}:${pad(date.getUTCSeconds())} +0000`;
}

/**
 * Builds the event API Gateway (HTTP API, payload 2.0) would hand the Lambda for this request:
 * lower-case headers (repeats joined with commas), `rawQueryString` as sent, decoded
 * `queryStringParameters` (repeats joined with commas), the body as text or base64, and a
 * `requestContext` with the method, path, source IP and the Host as `domainName`.
 */
export function toHttpApiEvent(
  request: IncomingMessage,
  body: Buffer,
  routeKey: string,
  now = new Date(),
): APIGatewayProxyEventV2 {
  const url = new URL(request.url ?? '/', 'http://localhost');
  const headers: Record<string, string> = {};
  const cookies: string[] = [];
  for (let index = 0; index < request.rawHeaders.length; index += 2) {
    const name = (request.rawHeaders[index] as string).toLowerCase();
    const value = request.rawHeaders[index + 1] as string;
    if (name === 'cookie') {
      cookies.push(
        ...value
          .split(';')
          .map((cookie) => cookie.trim())
          .filter(Boolean),
      );
      continue;
    }
    headers[name] = headers[name] === undefined ? value : `${headers[name]},${value}`;
  }
  const query: Record<string, string> = {};
  for (const [name, value] of url.searchParams)
    query[name] = query[name] === undefined ? value : `${query[name]},${value}`;
  const rawQueryString = url.search.startsWith('?') ? url.search.slice(1) : '';
  const domainName = (headers.host ?? 'localhost').split(',')[0] as string;
  const textual = isTextual(headers['content-type']);
  const event: APIGatewayProxyEventV2 = {
    version: '2.0',
    routeKey,
    rawPath: url.pathname,
    rawQueryString,
    headers,
    requestContext: {
      accountId: 'anonymous',
      apiId: 'local',
      domainName,
      domainPrefix: domainName.split('.')[0]?.split(':')[0] ?? domainName,
      http: {
        method: request.method ?? 'GET',
        path: url.pathname,
        protocol: `HTTP/${request.httpVersion}`,
        sourceIp: request.socket.remoteAddress?.replace(/^::ffff:/, '') ?? '127.0.0.1',
        userAgent: headers['user-agent'] ?? '',
      },
      requestId: randomUUID(),
      routeKey,
      stage: '$default',
      time: requestTime(now),
      timeEpoch: now.getTime(),
    },
    isBase64Encoded: body.length > 0 && !textual,
  };
  if (cookies.length > 0) event.cookies = cookies;
  if (rawQueryString !== '') event.queryStringParameters = query;
  if (body.length > 0) event.body = textual ? body.toString('utf8') : body.toString('base64');
  return event;
}

function send(
  response: ServerResponse,
  status: number,
  body: string,
  headers: Record<string, string> = {},
): void {
  response.writeHead(status, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(body),
    ...headers,
  });
  response.end(body);
}

/** Turns a Lambda's result into the HTTP response API Gateway would send. */
function writeResult(response: ServerResponse, result: APIGatewayProxyResultV2): void {
  // A bare value (not a {statusCode} object) is answered as 200 JSON, as API Gateway does.
  if (typeof result !== 'object' || result === null || !('statusCode' in result)) {
    send(response, 200, typeof result === 'string' ? result : JSON.stringify(result));
    return;
  }
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(result.headers ?? {}))
    headers[name.toLowerCase()] = String(value);
  const body =
    result.body === undefined
      ? Buffer.alloc(0)
      : Buffer.from(result.body, result.isBase64Encoded ? 'base64' : 'utf8');
  if (result.cookies?.length) response.setHeader('set-cookie', result.cookies);
  response.writeHead(result.statusCode ?? 200, { ...headers, 'content-length': body.length });
  response.end(body);
}

/** What the adapter tells its owner about each request (for a console line or a test). */
export interface HttpApiAccessLog {
  readonly method: string;
  readonly path: string;
  readonly status: number;
  readonly durationMs: number;
}

export interface HttpApiServerOptions {
  /** Resolved per request, so the handler can be set after the port is known. */
  readonly handler: () => HttpApiHandler;
  readonly routes?: readonly string[];
  readonly onRequest?: (entry: HttpApiAccessLog) => void;
  /** Handler failures (answered 500 as API Gateway would); the error is never swallowed silently. */
  readonly onError?: (error: unknown, event: APIGatewayProxyEventV2) => void;
}

/**
 * A small local stand-in for an API Gateway HTTP API in front of one Lambda: exactly the routes
 * given (anything else is `404 {"message":"Not Found"}`, as API Gateway answers an unmatched
 * method or path), a payload 2.0 event per request, 500 when the handler throws, 503 after the
 * 30 s integration timeout, 413 over 10 MB.
 */
export function createHttpApiServer(options: HttpApiServerOptions): Server {
  const routes = new Set(options.routes ?? WEBHOOK_ROUTES);
  return createServer((request, response) => {
    const started = performance.now();
    const path = new URL(request.url ?? '/', 'http://localhost').pathname;
    const routeKey = `${request.method} ${path}`;
    response.on('finish', () =>
      options.onRequest?.({
        method: request.method ?? '',
        path,
        status: response.statusCode,
        durationMs: performance.now() - started,
      }),
    );
    if (!routes.has(routeKey)) {
      request.resume();
      send(response, 404, '{"message":"Not Found"}');
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    let tooLarge = false;
    request.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_BODY_BYTES) tooLarge = true;
      else chunks.push(chunk);
    });
    request.on('error', () => response.destroy());
    request.on('end', async () => {
      if (tooLarge) {
        send(response, 413, '{"message":"Request Entity Too Large"}');
        return;
      }
      const event = toHttpApiEvent(request, Buffer.concat(chunks), routeKey);
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<'timeout'>((resolve) => {
        timer = setTimeout(() => resolve('timeout'), INTEGRATION_TIMEOUT_MS);
      });
      try {
        const result = await Promise.race([options.handler()(event), timeout]);
        if (result === 'timeout') send(response, 503, '{"message":"Service Unavailable"}');
        else writeResult(response, result);
      } catch (error) {
        options.onError?.(error, event);
        send(response, 500, '{"message":"Internal Server Error"}');
      } finally {
        clearTimeout(timer);
      }
    });
  });
}
