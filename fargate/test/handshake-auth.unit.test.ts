import { describe, expect, it } from 'vitest';
import { signCallToken } from '../../common/call-token.js';
import { signWebhook } from '../../tools/simulator/signature.js';
import { verifyHandshake } from '../src/upgrade-auth.js';

const NOW = 1_800_000_000;
const OLD_TOKEN_KEY = 'call-token-key-before-rotation-0123456789abcdef';
const NEW_TOKEN_KEY = 'call-token-key-after-rotation-0123456789abcdefg';
const VONAGE_SECRET = 'vonage-signature-secret-0123456789abcdef';
const NEW_VONAGE_SECRET = 'vonage-signature-secret-rotated-0123456789';

describe('verifyHandshake', () => {
  const uuid = '2c9f6a4e-0d0b-4c53-9a8e-1f5a2e3b4c5d';
  const credentials = (signature?: { current: string; previous?: string }) => ({
    callToken: { current: NEW_TOKEN_KEY, previous: OLD_TOKEN_KEY },
    signature,
    signatureMaxAgeSeconds: 300,
  });
  const token = (key: string, expiresAt = NOW + 60) => signCallToken(key, uuid, expiresAt);
  const bearer = (secret: string, iat = NOW) => `Bearer ${signWebhook({ secret }, '', iat)}`;

  it('accepts a token made with the current or the previous key, and says which expiry it carries', () => {
    for (const key of [NEW_TOKEN_KEY, OLD_TOKEN_KEY]) {
      expect(
        verifyHandshake({ uuid, token: token(key), authorization: undefined }, credentials(), NOW),
      ).toEqual({
        ok: true,
        token: token(key),
        expiresAt: NOW + 60,
      });
    }
  });

  it('refuses a token no known key made, flagging it as worth a fresh look at the secret', () => {
    const verdict = verifyHandshake(
      { uuid, token: token('a-key-never-configured-0123456789abcdef'), authorization: undefined },
      credentials(),
      NOW,
    );
    expect(verdict).toEqual({ ok: false, reason: 'token bad-signature', unknownKey: true });
  });

  it('refuses an expired, missing or malformed token without asking for the secret again', () => {
    for (const [given, reason] of [
      [token(NEW_TOKEN_KEY, NOW - 1), 'token expired'],
      [null, 'token missing'],
      ['x.y', 'token malformed'],
    ] as const) {
      expect(verifyHandshake({ uuid, token: given, authorization: undefined }, credentials(), NOW)).toEqual({
        ok: false,
        reason,
        unknownKey: false,
      });
    }
  });

  it("with Vonage's signature secret set, asks for a fresh JWT signed with it (or its previous value)", () => {
    const signed = credentials({ current: NEW_VONAGE_SECRET, previous: VONAGE_SECRET });
    const handshake = (authorization: string | undefined) => ({
      uuid,
      token: token(NEW_TOKEN_KEY),
      authorization,
    });
    expect(verifyHandshake(handshake(undefined), signed, NOW)).toMatchObject({
      ok: false,
      reason: 'vonage jwt missing-token',
    });
    expect(verifyHandshake(handshake(bearer(VONAGE_SECRET, NOW - 301)), signed, NOW)).toMatchObject({
      ok: false,
      reason: 'vonage jwt stale-iat',
      unknownKey: false,
    });
    expect(verifyHandshake(handshake(bearer('some-other-secret-0123456789')), signed, NOW)).toMatchObject({
      ok: false,
      reason: 'vonage jwt bad-signature',
      unknownKey: true,
    });
    expect(verifyHandshake(handshake(bearer(NEW_VONAGE_SECRET)), signed, NOW).ok).toBe(true);
    expect(verifyHandshake(handshake(bearer(VONAGE_SECRET)), signed, NOW).ok).toBe(true);
  });
});
