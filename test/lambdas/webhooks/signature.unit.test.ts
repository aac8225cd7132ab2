import { verifySignature } from '@vonage/jwt';
import jwt from 'jsonwebtoken';
import { describe, expect, it } from 'vitest';
import { checkSignedWebhook, signatureKey } from '../../../lambdas/webhooks/index.js';
import { SIGNATURE_SECRET } from '../../../test-support/webhook-events.js';

const NOW_SECONDS = new Date('2026-11-28T14:00:10.000Z').getTime() / 1000;

describe('checkSignedWebhook', () => {
  it('decides the signature exactly as @vonage/jwt verifySignature does', () => {
    const claims = { iat: NOW_SECONDS, jti: 'j-1', iss: 'Vonage' };
    const good = jwt.sign(claims, SIGNATURE_SECRET, { algorithm: 'HS256' });
    const [header, , signature] = good.split('.');
    const tampered = `${header}.${Buffer.from(JSON.stringify({ ...claims, iss: 'Mallory' })).toString('base64url')}.${signature}`;
    const tokens = {
      good,
      tampered,
      'another secret': jwt.sign(claims, 'z'.repeat(40), { algorithm: 'HS256' }),
      'HS512 with the secret': jwt.sign(claims, SIGNATURE_SECRET, { algorithm: 'HS512' }),
      'expired exp': jwt.sign({ ...claims, exp: Math.floor(Date.now() / 1000) - 10 }, SIGNATURE_SECRET),
    };
    const key = signatureKey(SIGNATURE_SECRET);
    const decisions = Object.entries(tokens).map(([name, token]) => {
      const ours = checkSignedWebhook({
        authorization: `Bearer ${token}`,
        rawBody: Buffer.alloc(0),
        keys: [key],
        maxAgeSeconds: 300,
        nowSeconds: NOW_SECONDS,
      });
      return [name, ours.ok, verifySignature(token, SIGNATURE_SECRET)];
    });
    expect(decisions).toEqual(Object.keys(tokens).map((name) => [name, name === 'good', name === 'good']));
  });
});
