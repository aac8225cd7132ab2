import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics } from '@aws-lambda-powertools/metrics';
import { getSecret } from '@aws-lambda-powertools/parameters/secrets';
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2, Context } from 'aws-lambda';
import { createS3Client } from '../../common/s3-client.js';
import { createWebhookHandler, unavailableResponse, type WebhookHandler } from './app.js';
import { readWebhookEnvironment } from './environment.js';
import { ConfigurationError } from './errors.js';

/**
 * The AWS entry of the webhooks Lambda (HTTP API, payload format 2.0). Configuration is read once
 * per cold start; the secrets are fetched from Secrets Manager by ARN and cached, so a rotated
 * secret is picked up within `SECRET_CACHE_SECONDS` without a cold start. Secret values are never
 * logged.
 */

const SECRET_CACHE_SECONDS = 300;

const environment = readWebhookEnvironment(process.env);
const logger = new Logger();
const metrics = new Metrics();
const s3 = createS3Client({ endpoint: environment.s3Endpoint });

let built:
  | { callTokenSecret: string; signatureSecret: string | undefined; handle: WebhookHandler }
  | undefined;

async function secretValue(arn: string): Promise<string> {
  const value = await getSecret(arn, { maxAge: SECRET_CACHE_SECONDS, throwOnMissing: true });
  if (typeof value !== 'string' || value.length === 0) {
    throw new ConfigurationError(`secret ${arn} has no SecretString`);
  }
  return value;
}

async function webhooks(): Promise<WebhookHandler> {
  const [callTokenSecret, signatureSecret] = await Promise.all([
    secretValue(environment.callTokenSecretArn),
    environment.signatureSecretArn ? secretValue(environment.signatureSecretArn) : undefined,
  ]);
  if (!built || built.callTokenSecret !== callTokenSecret || built.signatureSecret !== signatureSecret) {
    const handle = createWebhookHandler(
      {
        bucket: environment.bucket,
        recorderUrl: environment.recorderUrl,
        callTokenSecret,
        ...(signatureSecret === undefined ? {} : { signatureSecret }),
        greeting: environment.greeting,
        sampleRate: environment.sampleRate,
        maxCallSeconds: environment.maxCallSeconds,
        tokenTtlSeconds: environment.tokenTtlSeconds,
        signatureMaxAgeSeconds: environment.signatureMaxAgeSeconds,
      },
      { s3, logger, metrics },
    );
    built = { callTokenSecret, signatureSecret, handle };
  }
  return built.handle;
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
        error,
      });
      return unavailableResponse(event, environment.greeting);
    }
    return await handle(event);
  } finally {
    metrics.publishStoredMetrics();
  }
}
