import { Logger } from '@aws-lambda-powertools/logger';
import type { Metrics } from '@aws-lambda-powertools/metrics';
import type { S3Client } from '@aws-sdk/client-s3';
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import type { ReconcileQueue, ReconcileRequest } from '../../common/reconcile-requests.js';
import { checkSignedWebhook, signatureKey } from '../../common/vonage-signature.js';
import { type AnswerCall, buildAnswerNcco, buildFallbackNcco, parseAnswerRequest } from './answer.js';
import { validateWebhookConfig, type WebhookConfig } from './config.js';
import {
  MethodNotAllowedError,
  NotFoundError,
  StorageError,
  UnauthorizedError,
  WebhookError,
} from './errors.js';
import { type CallEvent, parseCallEvent, reconcileRequestFor } from './event.js';
import type { StoredEvent } from './event-store.js';
import { readParams, readRequest, type WebhookRequest } from './request.js';

/** The logging the webhooks need; a Powertools `Logger` fits. */
export type WebhookLogger = Pick<Logger, 'info' | 'warn' | 'error'>;
/** The metrics the webhooks emit; a Powertools `Metrics` fits (the caller publishes them). */
export type WebhookMetrics = Pick<Metrics, 'addMetric'>;

export interface WebhookDependencies {
  /**
   * Where call events are stored. A function is called on the first event, so an entry can leave
   * the S3 client unloaded until then: an answer never needs it.
   */
  readonly s3: S3Client | (() => Promise<S3Client>);
  /** @default () => new Date() */
  readonly now?: () => Date;
  /** @default a Powertools `Logger` (structured JSON lines on stdout), service `webhooks` */
  readonly logger?: WebhookLogger;
  /** @default none */
  readonly metrics?: WebhookMetrics;
  /**
   * Where each call leg's `completed` event is queued for the reconciler, and after how long.
   * Queued on every delivery, repeats too: a repeat may be Vonage retrying after a failed send.
   * @default none: calls are not reconciled
   */
  readonly reconcile?: { readonly queue: ReconcileQueue; readonly firstCheckSeconds: number };
}

/** Queues a completed call for the reconciler; a failure answers 503, so Vonage delivers the event again. */
async function queueReconcile(
  reconcile: NonNullable<WebhookDependencies['reconcile']>,
  request: ReconcileRequest,
): Promise<void> {
  try {
    await reconcile.queue.send(request, reconcile.firstCheckSeconds);
  } catch (error) {
    throw new StorageError(
      `could not queue call ${request.callUuid} for reconciling: ${(error as Error).message}`,
      {
        cause: error,
      },
    );
  }
}

export type WebhookHandler = (event: APIGatewayProxyEventV2) => Promise<APIGatewayProxyStructuredResultV2>;

function json(statusCode: number, body: unknown): APIGatewayProxyStructuredResultV2 {
  return {
    statusCode,
    headers: { 'content-type': 'application/json', 'cache-control': 'no-store' },
    body: JSON.stringify(body),
  };
}

/**
 * A failure on our side (5xx): the caller gets a generic message and the request id that the log
 * line of the failure carries, never the error's text: an S3 AccessDenied names the role's ARN,
 * and with it the account id.
 */
function failureResponse(
  statusCode: number,
  error: string,
  message: string,
  requestId: string | undefined,
): APIGatewayProxyStructuredResultV2 {
  return json(statusCode, { error, message, ...(requestId ? { requestId } : {}) });
}

function errorResponse(error: WebhookError): APIGatewayProxyStructuredResultV2 {
  return json(error.statusCode, {
    error: error.code,
    ...(error instanceof UnauthorizedError ? { reason: error.reason } : {}),
    message: error.message,
  });
}

/**
 * The answer when the webhooks cannot be built (e.g. a secret could not be fetched): an answer
 * still gets a valid NCCO telling the caller the call cannot be recorded, anything else a 503 so
 * Vonage delivers it again.
 */
export function unavailableResponse(
  event: APIGatewayProxyEventV2,
  greeting: WebhookConfig['greeting'],
): APIGatewayProxyStructuredResultV2 {
  if ((event.rawPath ?? event.requestContext?.http?.path) === '/answer')
    return json(200, buildFallbackNcco(greeting));
  return failureResponse(
    503,
    'unavailable',
    'the webhooks are not ready; retry later',
    event.requestContext?.requestId,
  );
}

/**
 * Builds the webhooks: `GET|POST /answer` answers an NCCO that greets the caller and connects the
 * call to the recorder; `POST /event` stores each call event in the bucket. The configuration is
 * validated here, so a bad value fails at start-up. Used in-process by the local stack and by the
 * AWS entry (`handler.ts`).
 */
export function createWebhookHandler(config: WebhookConfig, deps: WebhookDependencies): WebhookHandler {
  validateWebhookConfig(config);
  const now = deps.now ?? (() => new Date());
  const logger = deps.logger ?? new Logger({ serviceName: 'webhooks' });
  const metrics = deps.metrics;
  const count = (name: string) => metrics?.addMetric(name, 'Count', 1);
  if (config.signatureSecret === undefined) {
    logger.warn(
      'signed-webhook verification is off: no Vonage signature secret is configured, so anyone who knows the URLs can call them',
    );
  }

  const keys = [config.signatureSecret, config.previousSignatureSecret]
    .filter((secret): secret is string => secret !== undefined)
    .map(signatureKey);

  function authorize(request: WebhookRequest): void {
    if (keys.length === 0) return;
    // A GET answer's JWT binds no body, so one captured token could mint call tokens for any uuid
    // while it is fresh; a POSTed answer's payload_hash covers the uuid.
    if (request.path === '/answer' && request.method !== 'POST') {
      throw new MethodNotAllowedError(
        'signed webhooks are on: the answer webhook must use POST (configure-vonage sets it)',
      );
    }
    const result = checkSignedWebhook({
      authorization: request.headers.authorization,
      rawBody: request.rawBody,
      keys,
      maxAgeSeconds: config.signatureMaxAgeSeconds,
      nowSeconds: Math.floor(now().getTime() / 1000),
    });
    if (!result.ok) throw new UnauthorizedError(result.reason);
  }

  function eventUrlFor(event: APIGatewayProxyEventV2): string {
    if (config.eventUrl) return config.eventUrl;
    const domain = event.requestContext?.domainName;
    if (!domain) throw new Error('no eventUrl configured and the request has no requestContext.domainName');
    return `https://${domain}/event`;
  }

  function refused(
    error: WebhookError,
    request: WebhookRequest,
    callUuid?: unknown,
  ): APIGatewayProxyStructuredResultV2 {
    count(error instanceof UnauthorizedError ? 'WebhookUnauthorized' : 'WebhookRejected');
    logger.warn('webhook refused', {
      path: request.path,
      status: error.statusCode,
      error: error.code,
      detail: error.message,
      ...(typeof callUuid === 'string' ? { callUuid } : {}),
    });
    return errorResponse(error);
  }

  async function answer(event: APIGatewayProxyEventV2, request: WebhookRequest) {
    let call: AnswerCall;
    let params: Record<string, unknown> = {};
    try {
      authorize(request);
      params = readParams(request);
      call = parseAnswerRequest(params);
    } catch (error) {
      if (error instanceof WebhookError) return refused(error, request, params.uuid);
      return fallback(error, params.uuid);
    }
    try {
      const ncco = buildAnswerNcco(call, { ...config, eventUrl: eventUrlFor(event) }, now());
      count('CallsAnswered');
      logger.info('call answered', { callUuid: call.uuid, conversationUuid: call.conversationUuid });
      return json(200, ncco);
    } catch (error) {
      return fallback(error, call.uuid);
    }
  }

  function fallback(error: unknown, callUuid: unknown) {
    count('AnswerFallbacks');
    logger.error('answer failed: the caller is told the call cannot be recorded', {
      callUuid: typeof callUuid === 'string' ? callUuid : null,
      error,
    });
    return json(200, buildFallbackNcco(config.greeting));
  }

  // The S3 code and client load with the first event, not at start: the answer path stays lean.
  async function storeEvent(event: CallEvent): Promise<StoredEvent> {
    const [{ storeCallEvent }, s3] = await Promise.all([
      import('./event-store.js'),
      typeof deps.s3 === 'function' ? deps.s3() : deps.s3,
    ]);
    return storeCallEvent(s3, config.bucket, event);
  }

  async function callEvent(request: WebhookRequest, requestId: string | undefined) {
    let params: Record<string, unknown> = {};
    try {
      authorize(request);
      params = readParams(request);
      const event = parseCallEvent(params);
      const stored = await storeEvent(event);
      const reconcile = deps.reconcile && reconcileRequestFor(event);
      if (deps.reconcile && reconcile) await queueReconcile(deps.reconcile, reconcile);
      count(stored.duplicate ? 'EventDuplicates' : 'EventsStored');
      logger.info(stored.duplicate ? 'event already stored' : 'event stored', {
        callUuid: event.uuid,
        conversationUuid: event.conversationUuid,
        status: event.status,
        key: stored.key,
      });
      return json(200, { stored: stored.key, duplicate: stored.duplicate });
    } catch (error) {
      if (error instanceof WebhookError && error.statusCode < 500)
        return refused(error, request, params.uuid);
      count('EventFailures');
      logger.error('event not stored: Vonage will deliver it again', {
        callUuid: typeof params.uuid === 'string' ? params.uuid : null,
        requestId,
        error,
      });
      if (error instanceof WebhookError) {
        return failureResponse(
          error.statusCode,
          error.code,
          'the event could not be stored; deliver it again',
          requestId,
        );
      }
      return failureResponse(500, 'internal', 'the event could not be processed', requestId);
    }
  }

  return async (event) => {
    const isAnswer = (event.rawPath ?? event.requestContext?.http?.path) === '/answer';
    const requestId = event.requestContext?.requestId;
    try {
      const request = readRequest(event);
      if (isAnswer && (request.method === 'GET' || request.method === 'POST'))
        return await answer(event, request);
      if (request.path === '/event' && request.method === 'POST') return await callEvent(request, requestId);
      return refused(new NotFoundError(`no route for ${request.method} ${request.path}`), request);
    } catch (error) {
      // Only an event shape nothing above expected gets here; an answer must still get an NCCO.
      if (isAnswer) return fallback(error, event.queryStringParameters?.uuid);
      logger.error('webhook failed', { path: event.rawPath, requestId, error });
      return failureResponse(500, 'internal', 'the request could not be processed', requestId);
    }
  };
}
