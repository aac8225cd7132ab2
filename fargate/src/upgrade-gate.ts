import { type IncomingHttpHeaders, STATUS_CODES } from 'node:http';
import type { Duplex } from 'node:stream';
import { CALL_PATH_PREFIX } from '../../common/contract.js';
import { isValidCallUuid } from '../../common/recording-keys.js';
import type { CachedSecret } from '../../common/secret-versions.js';
import type { AdmissionControl, AdmittedCall } from './admission.js';
import {
  type Handshake,
  type HandshakeCredentials,
  type HandshakeVerdict,
  verifyHandshake,
} from './upgrade-auth.js';

/** A handshake refused before the upgrade. */
export class HandshakeRefusedError extends Error {
  constructor(
    readonly status: number,
    reason: string,
  ) {
    super(reason);
    this.name = 'HandshakeRefusedError';
  }
}

/** `/calls/<uuid>`: exactly one path segment after the prefix. */
const CALL_PATH = new RegExp(`^${CALL_PATH_PREFIX}([^/]+)$`);

/** The call uuid and query of an upgrade's request target; 400 or 404 when it names no call. */
export function parseCallTarget(target: string | undefined): { uuid: string; query: URLSearchParams } {
  let url: URL;
  try {
    url = new URL(target ?? '/', 'http://recorder');
  } catch {
    throw new HandshakeRefusedError(400, 'request target is not a valid URL');
  }
  const uuid = CALL_PATH.exec(url.pathname)?.[1];
  if (!uuid || !isValidCallUuid(uuid)) throw new HandshakeRefusedError(404, 'not a call path');
  return { uuid, query: url.searchParams };
}

/** Writes a plain HTTP response on a socket that asked to upgrade, then closes it. */
export function refuseUpgrade(socket: Duplex, status: number, body: string): void {
  if (!socket.writable) {
    socket.destroy();
    return;
  }
  socket.once('finish', () => socket.destroy());
  socket.end(
    `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nConnection: close\r\nContent-Type: text/plain\r\n` +
      `Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
  );
}

/** What the gate asks of the recorder at each upgrade. */
export interface GateCalls {
  /** New calls are refused (the recorder drains). */
  refusing(): boolean;
  /** The call is already connected or still finalizing here. */
  has(uuid: string): boolean;
  /** Every call not yet stored, for admission. */
  sessions(): Iterable<AdmittedCall>;
}

export interface UpgradeGateOptions {
  readonly callTokenSecret: CachedSecret;
  readonly vonageSignatureSecret: CachedSecret | undefined;
  readonly signatureMaxAgeSeconds: number;
  readonly admission: AdmissionControl;
  readonly calls: GateCalls;
  readonly now: () => Date;
}

/** A call the gate let through: its uuid and the token it used. */
export interface AuthorizedCall {
  readonly uuid: string;
  readonly token: string;
  readonly expiresAt: number;
}

/**
 * Decides each websocket upgrade before it happens: the path names a call, the recorder is not
 * draining, the handshake's credentials hold (fetching the secrets again once if they may just
 * have been rotated), the call is not connected already, its token was not used before, and
 * admission has room. Holds the tokens already used until they expire, so a replayed URI cannot
 * overwrite a recording.
 */
export class UpgradeGate {
  readonly #options: UpgradeGateOptions;
  /** Token → its expiry (epoch seconds). */
  readonly #usedTokens = new Map<string, number>();

  constructor(options: UpgradeGateOptions) {
    this.#options = options;
  }

  /** Resolves to the call, or rejects with a HandshakeRefusedError carrying the HTTP status. */
  async authorize(request: { url?: string; headers: IncomingHttpHeaders }): Promise<AuthorizedCall> {
    const { calls, admission } = this.#options;
    const { uuid, query } = parseCallTarget(request.url);
    if (calls.refusing()) throw new HandshakeRefusedError(503, 'recorder is draining');
    const verdict = await this.#verify({
      uuid,
      token: query.get('token'),
      authorization: request.headers.authorization,
    });
    if (!verdict.ok) throw new HandshakeRefusedError(401, verdict.reason);
    // Checked again: the recorder may have started draining while the secrets were fetched.
    if (calls.refusing()) throw new HandshakeRefusedError(503, 'recorder is draining');
    if (calls.has(uuid)) throw new HandshakeRefusedError(409, 'call already connected');
    if (this.#usedTokens.has(verdict.token)) throw new HandshakeRefusedError(401, 'token already used');
    const admitted = admission.admit(calls.sessions());
    if (!admitted.ok) throw new HandshakeRefusedError(503, admitted.reason);
    // Marked here, in the same turn as the checks, so a concurrent replay cannot pass them too.
    this.#usedTokens.set(verdict.token, verdict.expiresAt);
    return { uuid, token: verdict.token, expiresAt: verdict.expiresAt };
  }

  /** Forgets used tokens that have expired (they are refused as expired from then on). */
  forgetExpiredTokens(): void {
    const nowSeconds = this.#nowSeconds();
    for (const [token, expiresAt] of this.#usedTokens)
      if (expiresAt < nowSeconds) this.#usedTokens.delete(token);
  }

  async #verify(handshake: Handshake): Promise<HandshakeVerdict> {
    const verdict = verifyHandshake(handshake, await this.#credentials(), this.#nowSeconds());
    if (verdict.ok || !verdict.unknownKey) return verdict;
    // Made with a value newer than the one cached: the secret may just have been rotated.
    const { callTokenSecret, vonageSignatureSecret } = this.#options;
    await Promise.all([callTokenSecret.refresh(), vonageSignatureSecret?.refresh()]);
    return verifyHandshake(handshake, await this.#credentials(), this.#nowSeconds());
  }

  async #credentials(): Promise<HandshakeCredentials> {
    const { callTokenSecret, vonageSignatureSecret, signatureMaxAgeSeconds } = this.#options;
    const [callToken, signature] = await Promise.all([callTokenSecret.get(), vonageSignatureSecret?.get()]);
    return { callToken, signature, signatureMaxAgeSeconds };
  }

  #nowSeconds(): number {
    return Math.floor(this.#options.now().getTime() / 1000);
  }
}
