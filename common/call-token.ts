import { createHmac, timingSafeEqual } from 'node:crypto';

/**
 * The per-call websocket token. The answer webhook signs one for each call and puts it in the
 * NCCO's websocket URI; the recorder verifies it at the handshake, so only calls this stack
 * answered can stream audio into the bucket.
 *
 * Format: `<expiresAtEpochSeconds>.<base64url(HMAC-SHA256(secret, "<uuid>.<expiresAt>"))>`.
 */

export type CallTokenFailure = 'missing' | 'malformed' | 'expired' | 'bad-signature';

export type CallTokenVerification = { ok: true; expiresAt: number } | { ok: false; reason: CallTokenFailure };

const TOKEN_PATTERN = /^(\d{1,12})\.([A-Za-z0-9_-]{43})$/;

function mac(secret: string, uuid: string, expiresAt: number): Buffer {
  return createHmac('sha256', secret).update(`${uuid}.${expiresAt}`).digest();
}

function assertSecret(secret: string): void {
  if (secret.length < 32) {
    throw new Error(`call token secret must be at least 32 characters, got ${secret.length}`);
  }
}

/** Signs a token for one call uuid, valid until `expiresAt` (epoch seconds). */
export function signCallToken(secret: string, uuid: string, expiresAt: number): string {
  assertSecret(secret);
  if (!Number.isInteger(expiresAt) || expiresAt <= 0) {
    throw new Error(`call token expiry must be a positive whole number of seconds, got ${expiresAt}`);
  }
  return `${expiresAt}.${mac(secret, uuid, expiresAt).toString('base64url')}`;
}

/**
 * Verifies a token for a call uuid. Compares in constant time and checks the expiry against
 * `nowSeconds` (epoch seconds).
 */
export function verifyCallToken(
  secret: string,
  uuid: string,
  token: string | null | undefined,
  nowSeconds: number = Math.floor(Date.now() / 1000),
): CallTokenVerification {
  assertSecret(secret);
  if (!token) return { ok: false, reason: 'missing' };
  const match = TOKEN_PATTERN.exec(token);
  if (!match) return { ok: false, reason: 'malformed' };
  const expiresAt = Number(match[1]);
  const given = Buffer.from(match[2] as string, 'base64url');
  const expected = mac(secret, uuid, expiresAt);
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
    return { ok: false, reason: 'bad-signature' };
  }
  if (expiresAt < nowSeconds) return { ok: false, reason: 'expired' };
  return { ok: true, expiresAt };
}
