import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics } from '@aws-lambda-powertools/metrics';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2, Context } from 'aws-lambda';
import { DEFAULT_RECONCILE_SCHEDULE, type ReconcileQueue } from '../../common/reconcile-requests.js';
import { CachedSecret, type SecretVersions, secretsManagerVersions } from '../../common/secret-versions.js';
import { createWebhookHandler, unavailableResponse, type WebhookHandler } from './app.js';
import { readWebhookEnvironment } from './environment.js';
import type { EventClients } from './event-clients.js';

/**
 * The AWS entry of the webhooks Lambda (HTTP API, payload format 2.0). Configuration is read once
 * per cold start; the secrets are fetched from Secrets Manager by ARN and cached, so a new value is
 * picked up within `SECRET_CACHE_SECONDS` without a cold start, or at once when a signed request
 * fails to verify with what is cached. The signature secret's previous value is accepted too, so a
 * rotation refuses no webhook. Secret values are never logged.
 */

const SECRET_CACHE_SECONDS = 300;

const environment = readWebhookEnvironment(process.env);
const logger = new Logger();
const metrics = new Metrics();

// S3 and SQS serve events only: loaded with the first event, so a cold answer does not wait for them.
let eventClients: Promise<EventClients> | undefined;
function loadEventClients(): Promise<EventClients> {
  eventClients ??= import('./event-clients.js').then(({ createEventClients }) =>
    createEventClients(environment),
  );
  return eventClients;
}
const s3 = () => loadEventClients().then((clients) => clients.s3);
const reconcileQueue: ReconcileQueue = {
  async send(request, delaySeconds) {
    const { reconcileQueue: queue } = await loadEventClients();
    await queue?.send(request, delaySeconds);
  },
};
// The first check's timer; the reconciler times the later one itself.
const reconcile = environment.reconcileQueueUrl
  ? { queue: reconcileQueue, firstCheckSeconds: DEFAULT_RECONCILE_SCHEDULE.firstCheckSeconds }
  : undefined;
const secretsManager = new SecretsManagerClient({});
const cached = (arn: string) =>
  new CachedSecret(secretsManagerVersions(secretsManager, arn), { maxAgeMs: SECRET_CACHE_SECONDS * 1000 });
const callTokenSecret = cached(environment.callTokenSecretArn);
const signatureSecret = environment.signatureSecretArn ? cached(environment.signatureSecretArn) : undefined;

let built: { callToken: string; signature: SecretVersions | undefined; handle: WebhookHandler } | undefined;

async function webhooks(): Promise<WebhookHandler> {
  const [callToken, signature] = await Promise.all([
    callTokenSecret.get().then((versions) => versions.current),
    signatureSecret?.get(),
  ]);
  if (
    !built ||
    built.callToken !== callToken ||
    built.signature?.current !== signature?.current ||
    built.signature?.previous !== signature?.previous
  ) {
    const handle = createWebhookHandler(
      {
        bucket: environment.bucket,
        recorderUrl: environment.recorderUrl,
        callTokenSecret: callToken,
        ...(signature === undefined ? {} : { signatureSecret: signature.current }),
        ...(signature?.previous === undefined ? {} : { previousSignatureSecret: signature.previous }),
        greeting: environment.greeting,
        sampleRate: environment.sampleRate,
        maxCallSeconds: environment.maxCallSeconds,
        tokenTtlSeconds: environment.tokenTtlSeconds,
        signatureMaxAgeSeconds: environment.signatureMaxAgeSeconds,
      },
      { s3, logger, metrics, ...(reconcile ? { reconcile } : {}) },
    );
    built = { callToken, signature, handle };
  }
  return built.handle;
}

/** A signature that no cached value checks may be the first one made with a just-rotated secret. */
function badSignature(result: APIGatewayProxyStructuredResultV2): boolean {
  return (
    result.statusCode === 401 && typeof result.body === 'string' && result.body.includes('"bad-signature"')
  );
}

export async function handler(
  event: APIGatewayProxyEventV2,
  context: Context,
): Promise<APIGatewayProxyStructuredResultV2> {
  logger.addContext(context);
  try {
    let handle: WebhookHandler;
    try {
      handle = await webhooks();
    } catch (error) {
      metrics.addMetric('SecretsUnavailable', 'Count', 1);
      logger.error('webhooks unavailable: could not fetch or apply the secrets', {
        path: event.rawPath,
        requestId: event.requestContext?.requestId,
        error,
      });
      return unavailableResponse(event, environment.greeting);
    }
    const result = await handle(event);
    if (!signatureSecret || !badSignature(result)) return result;
    await signatureSecret.refresh();
    const current = await webhooks();
    // Rebuilt only when the refresh found new values: then this request is checked against them.
    return current === handle ? result : await current(event);
  } finally {
    metrics.publishStoredMetrics();
  }
}
