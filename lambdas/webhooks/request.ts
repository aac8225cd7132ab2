import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import { BadRequestError, UnsupportedMediaTypeError } from './errors.js';

/** What the webhooks need of an HTTP API (payload 2.0) request. */
export interface WebhookRequest {
  readonly method: string;
  readonly path: string;
  /** Header lookup by lower-case name. */
  readonly headers: Readonly<Record<string, string>>;
  /** The body's bytes exactly as sent (base64-decoded when API Gateway encoded it). */
  readonly rawBody: Buffer;
  readonly query: Readonly<Record<string, string>>;
}

/** Normalizes an API Gateway event: lower-case headers, decoded body, query as a flat record. */
export function readRequest(event: APIGatewayProxyEventV2): WebhookRequest {
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(event.headers ?? {})) {
    if (value !== undefined) headers[name.toLowerCase()] = value;
  }
  const body = event.body ?? '';
  const rawBody = event.isBase64Encoded ? Buffer.from(body, 'base64') : Buffer.from(body, 'utf8');
  const query: Record<string, string> = {};
  if (event.queryStringParameters) {
    for (const [name, value] of Object.entries(event.queryStringParameters)) {
      if (value !== undefined) query[name] = value;
    }
  } else if (event.rawQueryString) {
    for (const [name, value] of new URLSearchParams(event.rawQueryString)) query[name] ??= value;
  }
  return {
    method: (event.requestContext?.http?.method ?? 'GET').toUpperCase(),
    path: event.rawPath ?? event.requestContext?.http?.path ?? '/',
    headers,
    rawBody,
    query,
  };
}

/**
 * The request's parameters: the query for a request without a body, else the body parsed as
 * JSON (an object) or as a form. Vonage sends GET answers as a query and POST answers and events
 * as JSON; a form is accepted too, as the Voice API allows it.
 */
export function readParams(request: WebhookRequest): Record<string, unknown> {
  if (request.rawBody.length === 0) return { ...request.query };
  const mediaType = (request.headers['content-type'] ?? '').split(';')[0]?.trim().toLowerCase() ?? '';
  const text = request.rawBody.toString('utf8');
  if (mediaType === 'application/x-www-form-urlencoded') {
    const params: Record<string, unknown> = {};
    for (const [name, value] of new URLSearchParams(text)) params[name] ??= value;
    return params;
  }
  if (mediaType === 'application/json' || mediaType.endsWith('+json') || mediaType === '') {
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch (error) {
      throw new BadRequestError(`body is not valid JSON: ${(error as Error).message}`);
    }
    if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
      throw new BadRequestError('body must be a JSON object');
    }
    return parsed as Record<string, unknown>;
  }
  throw new UnsupportedMediaTypeError(
    `content-type ${JSON.stringify(mediaType)} is not supported: send application/json or application/x-www-form-urlencoded`,
  );
}
