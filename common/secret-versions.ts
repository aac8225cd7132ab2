import {
  GetSecretValueCommand,
  ResourceNotFoundException,
  type SecretsManagerClient,
} from '@aws-sdk/client-secrets-manager';

/**
 * A secret as its verifiers see it during a rotation: the value to sign with, and the one it
 * replaced, still accepted so that nothing signed just before the rotation is refused.
 */
export interface SecretVersions {
  readonly current: string;
  readonly previous?: string;
}

/** Newest first: the values a verifier tries. */
export function acceptedValues(versions: SecretVersions): string[] {
  return versions.previous === undefined || versions.previous === versions.current
    ? [versions.current]
    : [versions.current, versions.previous];
}

export type SecretVersionsFetcher = () => Promise<SecretVersions>;

/** A secret that never rotates (local runs and tests): given as a value. */
export function fixedSecret(current: string, previous?: string): SecretVersionsFetcher {
  const versions = previous === undefined ? { current } : { current, previous };
  return async () => versions;
}

/** A Secrets Manager secret holds no string value (binary, or empty). */
export class SecretValueError extends Error {
  override readonly name = 'SecretValueError';
}

/**
 * Reads a Secrets Manager secret's `AWSCURRENT` and `AWSPREVIOUS` values. Putting a new value
 * (`put-secret-value`, or a rotation function) moves `AWSCURRENT` to it and `AWSPREVIOUS` to the
 * value it replaced; before the first rotation there is no `AWSPREVIOUS`
 * (https://docs.aws.amazon.com/secretsmanager/latest/userguide/whats-in-a-secret.html).
 *
 * Not Powertools' `SecretsProvider`: its cache is keyed by name and transform only, so a second
 * `get` for the `AWSPREVIOUS` stage would be served the cached `AWSCURRENT` value.
 */
export function secretsManagerVersions(
  client: SecretsManagerClient,
  secretId: string,
): SecretVersionsFetcher {
  const stage = async (VersionStage: string): Promise<string | undefined> => {
    try {
      const { SecretString } = await client.send(
        new GetSecretValueCommand({ SecretId: secretId, VersionStage }),
      );
      if (!SecretString)
        throw new SecretValueError(`secret ${secretId} (${VersionStage}) has no string value`);
      return SecretString;
    } catch (error) {
      if (VersionStage === 'AWSPREVIOUS' && error instanceof ResourceNotFoundException) return undefined;
      throw error;
    }
  };
  return async () => {
    const [current, previous] = await Promise.all([stage('AWSCURRENT'), stage('AWSPREVIOUS')]);
    if (current === undefined) throw new SecretValueError(`secret ${secretId} has no current value`);
    return previous === undefined ? { current } : { current, previous };
  };
}

export interface CachedSecretOptions {
  /** Fetch again when the last fetch is older than this. @default 300000 */
  readonly maxAgeMs?: number;
  /** `refresh()` fetches at most this often, however many verifiers ask. @default 10000 */
  readonly minRefreshMs?: number;
  /** Monotonic milliseconds. @default performance.now */
  readonly clock?: () => number;
}

/**
 * A secret's versions, fetched on first use, again once `maxAgeMs` old, and on demand when a
 * verifier meets a signature none of the known values checks (the secret may just have been
 * rotated). Concurrent callers share one fetch; a failed fetch keeps the last good value.
 */
export class CachedSecret {
  readonly #fetch: SecretVersionsFetcher;
  readonly #maxAgeMs: number;
  readonly #minRefreshMs: number;
  readonly #clock: () => number;
  #value: SecretVersions | undefined;
  #fetchedAt = Number.NEGATIVE_INFINITY;
  /** When a fetch last started, so a failing Secrets Manager is asked at most every `minRefreshMs`. */
  #triedAt = Number.NEGATIVE_INFINITY;
  #inFlight: Promise<SecretVersions> | undefined;

  constructor(fetch: SecretVersionsFetcher, options: CachedSecretOptions = {}) {
    this.#fetch = fetch;
    this.#maxAgeMs = options.maxAgeMs ?? 300_000;
    this.#minRefreshMs = options.minRefreshMs ?? 10_000;
    this.#clock = options.clock ?? (() => performance.now());
  }

  /** The versions, fetched first if never fetched or older than `maxAgeMs`. */
  async get(): Promise<SecretVersions> {
    const stale = this.#clock() - this.#fetchedAt > this.#maxAgeMs;
    if (this.#value === undefined || (stale && this.#clock() - this.#triedAt >= this.#minRefreshMs)) {
      try {
        return await this.#load();
      } catch (error) {
        if (this.#value === undefined) throw error;
      }
    }
    return this.#value as SecretVersions;
  }

  /**
   * Fetches again unless the last fetch started less than `minRefreshMs` ago; a caller that finds a
   * fetch under way waits for it, so verifiers racing through one rotation all see its result.
   * Never throws: a failed fetch keeps what was known. Read the versions again with `get()`.
   */
  async refresh(): Promise<void> {
    if (!this.#inFlight && this.#clock() - this.#triedAt < this.#minRefreshMs) return;
    await this.#load().catch(() => undefined);
  }

  #load(): Promise<SecretVersions> {
    if (!this.#inFlight) this.#triedAt = this.#clock();
    this.#inFlight ??= this.#fetch()
      .then((value) => {
        this.#value = value;
        this.#fetchedAt = this.#clock();
        return value;
      })
      .finally(() => {
        this.#inFlight = undefined;
      });
    return this.#inFlight;
  }
}
