import { isSupportedSampleRate, type SampleRate } from '../../common/audio-format.js';
import { MAX_CALL_SECONDS_LIMIT } from '../../common/contract.js';
import { ConfigurationError } from './errors.js';

/** The greeting Vonage speaks before the call is connected to the recorder (an NCCO `talk`). */
export interface Greeting {
  readonly text: string;
  /** BCP-47 language code Vonage supports, e.g. `en-US`. */
  readonly language: string;
  /** Vonage voice style index for the language. */
  readonly style: number;
}

/** Everything the webhooks need, as values: the AWS entry reads them from env and Secrets Manager. */
export interface WebhookConfig {
  readonly bucket: string;
  /** `ws://` or `wss://` base of the recorder, no trailing slash. */
  readonly recorderUrl: string;
  /**
   * Absolute URL Vonage posts the websocket leg's events to.
   * @default `https://<requestContext.domainName>/event`
   */
  readonly eventUrl?: string;
  /** Signs the per-call websocket token (≥ 32 characters). */
  readonly callTokenSecret: string;
  /**
   * Vonage signature secret. Absent: signed-webhook verification is off (a warning is logged).
   * When set, answers must be POSTed (so `payload_hash` covers the call's uuid) and the NCCO asks
   * Vonage to present the same signed JWT on the recorder's websocket handshake.
   */
  readonly signatureSecret?: string;
  /** The secret's previous value, accepted too while a rotation is under way. */
  readonly previousSignatureSecret?: string;
  readonly greeting: Greeting;
  readonly sampleRate: SampleRate;
  /** The connect action's `limit`: the longest a call may last (Vonage allows up to 7200). */
  readonly maxCallSeconds: number;
  /** How long a per-call token is valid after the answer. */
  readonly tokenTtlSeconds: number;
  /** Oldest accepted signed-webhook `iat`, in seconds. */
  readonly signatureMaxAgeSeconds: number;
}

function positiveInteger(name: string, value: number, max = Number.MAX_SAFE_INTEGER): void {
  if (!Number.isInteger(value) || value <= 0 || value > max) {
    throw new ConfigurationError(`${name} must be a whole number from 1 to ${max}, got ${value}`);
  }
}

/** Validates a configuration early, so a bad value fails at start-up rather than on a call. */
export function validateWebhookConfig(config: WebhookConfig): WebhookConfig {
  if (!config.bucket) throw new ConfigurationError('bucket must not be empty');
  if (!/^wss?:\/\/[^/]+(\/.*[^/])?$/.test(config.recorderUrl)) {
    throw new ConfigurationError(
      `recorderUrl must be a ws:// or wss:// URL without a trailing slash, got ${JSON.stringify(config.recorderUrl)}`,
    );
  }
  if (config.eventUrl !== undefined && !/^https?:\/\/\S+$/.test(config.eventUrl)) {
    throw new ConfigurationError(
      `eventUrl must be an absolute http(s) URL, got ${JSON.stringify(config.eventUrl)}`,
    );
  }
  if (config.callTokenSecret.length < 32) {
    throw new ConfigurationError('callTokenSecret must be at least 32 characters');
  }
  if (config.signatureSecret !== undefined && config.signatureSecret.length === 0) {
    throw new ConfigurationError('signatureSecret must not be empty when set');
  }
  if (config.previousSignatureSecret !== undefined && config.signatureSecret === undefined) {
    throw new ConfigurationError('previousSignatureSecret needs signatureSecret');
  }
  if (!config.greeting.text.trim()) throw new ConfigurationError('greeting text must not be empty');
  if (!config.greeting.language) throw new ConfigurationError('greeting language must not be empty');
  if (!Number.isInteger(config.greeting.style) || config.greeting.style < 0) {
    throw new ConfigurationError(`greeting style must be a whole number ≥ 0, got ${config.greeting.style}`);
  }
  if (!isSupportedSampleRate(config.sampleRate)) {
    throw new ConfigurationError(`sampleRate must be 8000, 16000 or 24000, got ${config.sampleRate}`);
  }
  positiveInteger('maxCallSeconds', config.maxCallSeconds, MAX_CALL_SECONDS_LIMIT);
  positiveInteger('tokenTtlSeconds', config.tokenTtlSeconds);
  positiveInteger('signatureMaxAgeSeconds', config.signatureMaxAgeSeconds);
  return config;
}
