import type { KeyObject } from 'node:crypto';
import { verifyCallToken } from '../../common/call-token.js';
import { acceptedValues, type SecretVersions } from '../../common/secret-versions.js';
import { checkSignedWebhook, signatureKey } from '../../common/vonage-signature.js';

/** What a websocket handshake presents: the call it is for and its two credentials. */
export interface Handshake {
  readonly uuid: string;
  /** The per-call token from the URI's `token` query parameter. */
  readonly token: string | null;
  /** The `Authorization` header: Vonage's signed JWT when the NCCO asked for it. */
  readonly authorization: string | undefined;
}

/** The secrets a handshake is checked against, each with its previous version during a rotation. */
export interface HandshakeCredentials {
  readonly callToken: SecretVersions;
  /** Vonage's signature secret; absent, no JWT is asked of the handshake. */
  readonly signature: SecretVersions | undefined;
  readonly signatureMaxAgeSeconds: number;
}

export type HandshakeVerdict =
  | { readonly ok: true; readonly token: string; readonly expiresAt: number }
  | {
      readonly ok: false;
      /** Said in the log line and in nothing sent to the client but the status. */
      readonly reason: string;
      /** Signed with a value none of the known ones checks: worth fetching the secrets again. */
      readonly unknownKey: boolean;
    };

const keyObjects = new WeakMap<SecretVersions, KeyObject[]>();

function signatureKeys(versions: SecretVersions): KeyObject[] {
  let keys = keyObjects.get(versions);
  if (!keys) {
    keys = acceptedValues(versions).map(signatureKey);
    keyObjects.set(versions, keys);
  }
  return keys;
}

/**
 * Decides whether a websocket handshake may stream a call: the per-call token must be the one the
 * answer webhook signed for this uuid and not expired; with Vonage's signature secret configured,
 * the handshake must also carry a fresh JWT signed with it. Either secret's previous version is
 * accepted too, so a rotation refuses no call.
 */
export function verifyHandshake(
  handshake: Handshake,
  credentials: HandshakeCredentials,
  nowSeconds: number,
): HandshakeVerdict {
  if (credentials.signature) {
    const jwt = checkSignedWebhook({
      authorization: handshake.authorization,
      rawBody: Buffer.alloc(0),
      keys: signatureKeys(credentials.signature),
      maxAgeSeconds: credentials.signatureMaxAgeSeconds,
      nowSeconds,
    });
    if (!jwt.ok) {
      return { ok: false, reason: `vonage jwt ${jwt.reason}`, unknownKey: jwt.reason === 'bad-signature' };
    }
  }
  let failure: string | undefined;
  for (const secret of acceptedValues(credentials.callToken)) {
    const verdict = verifyCallToken(secret, handshake.uuid, handshake.token, nowSeconds);
    if (verdict.ok) return { ok: true, token: handshake.token as string, expiresAt: verdict.expiresAt };
    // An expired or malformed token fails the same way under every key: no need to try the rest.
    if (verdict.reason !== 'bad-signature')
      return { ok: false, reason: `token ${verdict.reason}`, unknownKey: false };
    failure = verdict.reason;
  }
  return { ok: false, reason: `token ${failure}`, unknownKey: true };
}
