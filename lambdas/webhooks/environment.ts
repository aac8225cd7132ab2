import type { SampleRate } from '../../common/audio-format.js';
import { DEFAULT_MAX_CALL_SECONDS, WebhooksEnv } from '../../common/contract.js';
import { ConfigurationError } from './errors.js';

/** The Lambda's settings from its environment: secrets are referenced by ARN, never by value. */
export interface WebhookEnvironment {
  readonly bucket: string;
  readonly recorderUrl: string;
  readonly callTokenSecretArn: string;
  readonly signatureSecretArn: string | undefined;
  readonly greeting: { readonly text: string; readonly language: string; readonly style: number };
  readonly sampleRate: SampleRate;
  readonly maxCallSeconds: number;
  readonly tokenTtlSeconds: number;
  readonly signatureMaxAgeSeconds: number;
  /** A custom S3 endpoint (local runs only). */
  readonly s3Endpoint: string | undefined;
  /** The SQS queue each call leg's `completed` event is sent to for reconciling; unset: none. */
  readonly reconcileQueueUrl: string | undefined;
}

export const DEFAULT_GREETING = 'This call is recorded.';

function required(env: NodeJS.ProcessEnv, name: string): string {
  const value = env[name]?.trim();
  if (!value) throw new ConfigurationError(`environment variable ${name} is required`);
  return value;
}

function optional(env: NodeJS.ProcessEnv, name: string): string | undefined {
  const value = env[name]?.trim();
  return value ? value : undefined;
}

function integer(env: NodeJS.ProcessEnv, name: string, fallback: number): number {
  const raw = optional(env, name);
  if (raw === undefined) return fallback;
  if (!/^\d+$/.test(raw))
    throw new ConfigurationError(`environment variable ${name} must be a whole number, got ${raw}`);
  return Number(raw);
}

/**
 * Reads the webhooks' environment once, at cold start. Throws a `ConfigurationError` naming the
 * variable when a required one is missing or a number is not one; value ranges are checked by
 * `validateWebhookConfig`.
 */
export function readWebhookEnvironment(env: NodeJS.ProcessEnv): WebhookEnvironment {
  return {
    bucket: required(env, WebhooksEnv.recordingsBucket),
    recorderUrl: required(env, WebhooksEnv.recorderUrl),
    callTokenSecretArn: required(env, WebhooksEnv.callTokenSecretArn),
    signatureSecretArn: optional(env, WebhooksEnv.vonageSignatureSecretArn),
    greeting: {
      text: optional(env, WebhooksEnv.greetingText) ?? DEFAULT_GREETING,
      language: optional(env, WebhooksEnv.greetingLanguage) ?? 'en-US',
      style: integer(env, WebhooksEnv.greetingStyle, 0),
    },
    sampleRate: integer(env, WebhooksEnv.sampleRate, 16000) as SampleRate,
    maxCallSeconds: integer(env, WebhooksEnv.maxCallSeconds, DEFAULT_MAX_CALL_SECONDS),
    tokenTtlSeconds: integer(env, WebhooksEnv.callTokenTtlSeconds, 300),
    signatureMaxAgeSeconds: integer(env, WebhooksEnv.signatureMaxAgeSeconds, 300),
    s3Endpoint: optional(env, WebhooksEnv.s3Endpoint),
    reconcileQueueUrl: optional(env, WebhooksEnv.reconcileQueueUrl),
  };
}
