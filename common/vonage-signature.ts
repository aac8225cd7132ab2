import { createHash, createSecretKey, type KeyObject, timingSafeEqual } from 'node:crypto';
import jwt from 'jsonwebtoken';

/** Why a signed-webhook check failed. */
export type SignatureFailure =
  | 'missing-token'
  | 'malformed-token'
  | 'bad-signature'
  | 'missing-iat'
  | 'stale-iat'
  | 'future-iat'
  | 'missing-payload-hash'
  | 'payload-hash-mismatch';

/** How far in the future an `iat` may lie before it is refused (clock skew between Vonage and AWS). */
export const MAX_CLOCK_SKEW_SECONDS = 60;

export interface SignedWebhookCheck {
  /** The `Authorization` header value, if any. */
  readonly authorization: string | undefined;
  /** The request body exactly as received. */
  readonly rawBody: Buffer;
  /**
   * The Vonage account's signature secret, as made by `signatureKey`: the current value first, then
   * the previous one while a rotation is under way (a token signed with either is accepted).
   */
  readonly keys: readonly KeyObject[];
  /** Oldest accepted `iat`, as an age in seconds. */
  readonly maxAgeSeconds: number;
  readonly nowSeconds: number;
}

export type SignedWebhookResult =
  | { ok: true; claims: Record<string, unknown> }
  | { ok: false; reason: SignatureFailure };

const BEARER = /^Bearer\s+([A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+)\s*$/i;

/**
 * The signature secret as a key object, made once. `@vonage/jwt`'s `verifySignature(token, secret)`
 * hands jsonwebtoken a string, which first tries (and fails) to parse it as a public key on every
 * call: about 40× the cost of the check itself (bench/lambda/run.ts measures both).
 */
export function signatureKey(secret: string): KeyObject {
  return createSecretKey(Buffer.from(secret, 'utf8'));
}

function signatureValid(token: string, key: KeyObject): boolean {
  try {
    // The same check as `@vonage/jwt` `verifySignature` (jsonwebtoken, which also refuses an
    // `exp` or `nbf` that does not hold), narrowed to HS256, the algorithm Vonage signs with.
    jwt.verify(token, key, { algorithms: ['HS256'] });
    return true;
  } catch {
    return false;
  }
}

function decodeSegment(segment: string): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(Buffer.from(segment, 'base64url').toString('utf8'));
    return value !== null && typeof value === 'object' && !Array.isArray(value)
      ? (value as Record<string, unknown>)
      : undefined;
  } catch {
    return undefined;
  }
}

function sameHex(given: string, expected: string): boolean {
  const a = Buffer.from(given.toLowerCase(), 'utf8');
  const b = Buffer.from(expected, 'utf8');
  return a.length === b.length && timingSafeEqual(a, b);
}

/**
 * Vonage's signed JWT, checked where it arrives: the webhooks (`Authorization` of each answer and
 * event request) and the recorder (the websocket handshake, when the NCCO's connect endpoint asks
 * for `authorization: {"type": "vonage"}`, Vonage sends the same JWT it signs webhooks with).
 *
 * Checks a Vonage signed webhook: an HS256 JWT in `Authorization: Bearer`, signed with the
 * account's signature secret. A signature check alone does not bind the token to this request,
 * so the freshness of `iat` and, for a request with a body, `payload_hash` (SHA-256 hex of the
 * raw body) are checked too.
 */
export function checkSignedWebhook(check: SignedWebhookCheck): SignedWebhookResult {
  if (!check.authorization) return { ok: false, reason: 'missing-token' };
  const match = BEARER.exec(check.authorization);
  if (!match) return { ok: false, reason: 'malformed-token' };
  const token = match[1] as string;
  const [headerSegment, payloadSegment] = token.split('.') as [string, string, string];
  const header = decodeSegment(headerSegment);
  const claims = decodeSegment(payloadSegment);
  if (!header || !claims) return { ok: false, reason: 'malformed-token' };
  // Vonage signs with HS256 only; refusing other algorithms up front closes algorithm-confusion tricks.
  if (header.alg !== 'HS256' || !check.keys.some((key) => signatureValid(token, key))) {
    return { ok: false, reason: 'bad-signature' };
  }
  const iat = claims.iat;
  if (typeof iat !== 'number' || !Number.isFinite(iat)) return { ok: false, reason: 'missing-iat' };
  if (check.nowSeconds - iat > check.maxAgeSeconds) return { ok: false, reason: 'stale-iat' };
  if (iat - check.nowSeconds > MAX_CLOCK_SKEW_SECONDS) return { ok: false, reason: 'future-iat' };
  if (check.rawBody.length > 0) {
    const hash = claims.payload_hash;
    if (typeof hash !== 'string' || hash.length === 0) return { ok: false, reason: 'missing-payload-hash' };
    const expected = createHash('sha256').update(check.rawBody).digest('hex');
    if (!sameHex(hash, expected)) return { ok: false, reason: 'payload-hash-mismatch' };
  }
  return { ok: true, claims };
}
