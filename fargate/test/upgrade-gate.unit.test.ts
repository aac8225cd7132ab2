/**
 * The recorder's verdict on each websocket upgrade, before any socket is upgraded, under an
 * injected clock. handshake-auth.test.ts checks the same answers over real HTTP upgrades.
 */
import { describe, expect, it } from 'vitest';
import { signCallToken } from '../../common/call-token.js';
import { CachedSecret, type SecretVersions } from '../../common/secret-versions.js';
import { AdmissionControl, type AdmittedCall } from '../src/admission.js';
import { HandshakeRefusedError, parseCallTarget, UpgradeGate } from '../src/upgrade-gate.js';

const NOW_SECONDS = 1_800_000_000;
const KEY = 'call-token-key-0123456789abcdefghijklmnop';
const ROTATED_KEY = 'call-token-key-rotated-0123456789abcdefgh';
const UUID = '2c9f6a4e-0d0b-4c53-9a8e-1f5a2e3b4c5d';
const OTHER_UUID = '3d0a7b5f-1e1c-4d64-8b9f-2a6b3f4c5d6e';

/** A gate over calls the test holds, with a secret whose fetches it counts. */
async function gateOf(options: { maxCalls?: number; secret?: () => SecretVersions } = {}) {
  const state = {
    refusing: false,
    nowSeconds: NOW_SECONDS,
    calls: new Map<string, AdmittedCall>(),
    secretFetches: 0,
  };
  const secret = options.secret ?? (() => ({ current: KEY }));
  const admission = new AdmissionControl({
    maxCalls: options.maxCalls ?? Number.POSITIVE_INFINITY,
    maxCallSeconds: 7200,
    freeSpace: async () => Number.POSITIVE_INFINITY,
  });
  await admission.refresh();
  const gate = new UpgradeGate({
    callTokenSecret: new CachedSecret(
      async () => {
        state.secretFetches++;
        return secret();
      },
      { minRefreshMs: 0 },
    ),
    vonageSignatureSecret: undefined,
    signatureMaxAgeSeconds: 300,
    admission,
    calls: {
      refusing: () => state.refusing,
      has: (uuid) => state.calls.has(uuid),
      sessions: () => state.calls.values(),
    },
    now: () => new Date(state.nowSeconds * 1000),
  });
  return { gate, state };
}

const token = (uuid = UUID, key = KEY, expiresAt = NOW_SECONDS + 60) => signCallToken(key, uuid, expiresAt);
const upgrade = (path: string) => ({ url: path, headers: {} });
const callPath = (uuid = UUID, t = token(uuid)) => `/calls/${uuid}?token=${encodeURIComponent(t)}`;

async function refusal(promise: Promise<unknown>): Promise<{ status: number; reason: string }> {
  const error = await promise.then(
    () => undefined,
    (caught: unknown) => caught,
  );
  expect(error).toBeInstanceOf(HandshakeRefusedError);
  return { status: (error as HandshakeRefusedError).status, reason: (error as Error).message };
}

describe('the upgrade gate', () => {
  it('lets a call through with the token the answer webhook signed for its uuid', async () => {
    const { gate } = await gateOf();
    await expect(gate.authorize(upgrade(callPath()))).resolves.toEqual({
      uuid: UUID,
      token: token(),
      expiresAt: NOW_SECONDS + 60,
    });
  });

  it.each([
    ['/healthz', 404],
    ['/calls/', 404],
    ['/calls/not_a_call?token=x', 404],
    [`/calls/${UUID}/more?token=x`, 404],
    ['//[bad', 400],
  ])('answers %s with %i before looking at any credential', async (path, status) => {
    const { gate, state } = await gateOf();
    expect((await refusal(gate.authorize(upgrade(path)))).status).toBe(status);
    expect(state.secretFetches).toBe(0);
  });

  it('refuses with 401 a token for another call, an expired one and none at all', async () => {
    const { gate } = await gateOf();
    const paths = [
      callPath(UUID, token(OTHER_UUID)),
      callPath(UUID, token(UUID, KEY, NOW_SECONDS - 1)),
      `/calls/${UUID}`,
    ];
    for (const path of paths) expect((await refusal(gate.authorize(upgrade(path)))).status).toBe(401);
  });

  it('refuses a replayed token with 401 until it expires, and then as expired', async () => {
    const { gate, state } = await gateOf();
    await gate.authorize(upgrade(callPath()));
    expect(await refusal(gate.authorize(upgrade(callPath())))).toEqual({
      status: 401,
      reason: 'token already used',
    });
    state.nowSeconds = NOW_SECONDS + 61;
    gate.forgetExpiredTokens();
    expect(await refusal(gate.authorize(upgrade(callPath())))).toEqual({
      status: 401,
      reason: 'token expired',
    });
  });

  it('refuses with 409 a second connection for a call it holds, with a fresh token', async () => {
    const { gate, state } = await gateOf();
    state.calls.set(UUID, { remainingScratchBytes: () => 0 });
    const fresh = token(UUID, KEY, NOW_SECONDS + 90);
    expect((await refusal(gate.authorize(upgrade(callPath(UUID, fresh))))).status).toBe(409);
  });

  it('refuses with 503 while draining, and once admission has no room', async () => {
    const draining = await gateOf();
    draining.state.refusing = true;
    expect(await refusal(draining.gate.authorize(upgrade(callPath())))).toEqual({
      status: 503,
      reason: 'recorder is draining',
    });

    const full = await gateOf({ maxCalls: 1 });
    full.state.calls.set(OTHER_UUID, { remainingScratchBytes: () => 0 });
    const refused = await refusal(full.gate.authorize(upgrade(callPath())));
    expect(refused).toEqual({ status: 503, reason: 'at capacity (1 of 1 calls)' });
    // Refused calls do not use up their token: the same URI is let in once there is room.
    full.state.calls.clear();
    await expect(full.gate.authorize(upgrade(callPath()))).resolves.toMatchObject({ uuid: UUID });
  });

  it('fetches the secret again for a token made with a key it does not know (a rotation)', async () => {
    let versions: SecretVersions = { current: KEY };
    const { gate, state } = await gateOf({ secret: () => versions });
    await gate.authorize(upgrade(callPath(OTHER_UUID)));
    expect(state.secretFetches).toBe(1);
    versions = { current: ROTATED_KEY, previous: KEY };
    await expect(gate.authorize(upgrade(callPath(UUID, token(UUID, ROTATED_KEY))))).resolves.toMatchObject({
      uuid: UUID,
    });
    expect(state.secretFetches).toBe(2);
  });
});

describe('parseCallTarget', () => {
  it('takes the uuid from /calls/<uuid> and keeps the query', () => {
    const { uuid, query } = parseCallTarget(`/calls/${UUID}?token=abc`);
    expect(uuid).toBe(UUID);
    expect(query.get('token')).toBe('abc');
  });
});
