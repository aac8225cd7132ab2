import { createHash, randomUUID } from 'node:crypto';
import jwt from 'jsonwebtoken';

/** The account and application a signed webhook claims to come from. */
export interface SigningIdentity {
  /** The Vonage account's signature secret (HS256 key). */
  readonly secret: string;
  /** @default 'abcd1234' (a made-up account key) */
  readonly apiKey?: string;
  /** @default a fixed made-up application id */
  readonly applicationId?: string;
}

export const DEFAULT_API_KEY = 'abcd1234';
export const DEFAULT_APPLICATION_ID = 'aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee';

/** SHA-256 hex of a webhook's payload, as Vonage puts it in the `payload_hash` claim. */
export function payloadHash(payload: string): string {
  return createHash('sha256').update(payload, 'utf8').digest('hex');
}

/**
 * The payload Vonage hashes for a GET webhook: the query parameters as a JSON object, in the
 * order they appear in the URL, serialized without whitespace. For a POST it is the body itself.
 */
export function queryPayload(params: URLSearchParams): string {
  return JSON.stringify(Object.fromEntries(params.entries()));
}

/**
 * Signs one webhook as Vonage does when signed callbacks are on: a JWT (HS256, the signature
 * secret) with `iat`, a fresh `jti`, `iss: 'Vonage'`, `payload_hash`, `api_key` and
 * `application_id`, sent as `Authorization: Bearer <jwt>`.
 */
export function signWebhook(
  identity: SigningIdentity,
  payload: string,
  nowSeconds = Math.floor(Date.now() / 1000),
): string {
  return jwt.sign(
    {
      iat: nowSeconds,
      jti: randomUUID(),
      iss: 'Vonage',
      payload_hash: payloadHash(payload),
      api_key: identity.apiKey ?? DEFAULT_API_KEY,
      application_id: identity.applicationId ?? DEFAULT_APPLICATION_ID,
    },
    identity.secret,
    { algorithm: 'HS256' },
  );
}
