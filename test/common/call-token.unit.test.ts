import { describe, expect, it } from 'vitest';
import { signCallToken, verifyCallToken } from '../../common/call-token.js';

const secret = 'a'.repeat(48);
const uuid = 'aaaaaaaa-bbbb-cccc-dddd-0123456789ab';

describe('call token', () => {
  it('verifies a token signed for the same call before it expires', () => {
    const token = signCallToken(secret, uuid, 2_000);
    expect(verifyCallToken(secret, uuid, token, 1_999)).toEqual({ ok: true, expiresAt: 2_000 });
  });

  it('refuses a token for another call, another secret, or after expiry', () => {
    const token = signCallToken(secret, uuid, 2_000);
    expect(verifyCallToken(secret, 'other-uuid', token, 1_000)).toEqual({
      ok: false,
      reason: 'bad-signature',
    });
    expect(verifyCallToken('b'.repeat(48), uuid, token, 1_000)).toEqual({
      ok: false,
      reason: 'bad-signature',
    });
    expect(verifyCallToken(secret, uuid, token, 2_001)).toEqual({ ok: false, reason: 'expired' });
  });

  it('refuses a forged expiry', () => {
    const token = signCallToken(secret, uuid, 2_000);
    const forged = token.replace(/^2000/, '9999');
    expect(verifyCallToken(secret, uuid, forged, 1_000)).toEqual({ ok: false, reason: 'bad-signature' });
  });

  it('names missing and malformed tokens', () => {
    expect(verifyCallToken(secret, uuid, undefined)).toEqual({ ok: false, reason: 'missing' });
    expect(verifyCallToken(secret, uuid, 'not-a-token')).toEqual({ ok: false, reason: 'malformed' });
  });

  it('refuses a short secret', () => {
    expect(() => signCallToken('short', uuid, 2_000)).toThrow(/at least 32 characters/);
  });
});
