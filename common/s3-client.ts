import { S3Client, type S3ClientConfig } from '@aws-sdk/client-s3';

/**
 * The fixed keys of the embedded local S3 server (s3rver's defaults), which checks them. Only the
 * local stack, the tests and the benchmarks use them, passed explicitly (or as AWS_ACCESS_KEY_ID /
 * AWS_SECRET_ACCESS_KEY to the processes they start); every other client uses the credential chain.
 */
export const LOCAL_S3_CREDENTIALS = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' } as const;

/** {@link LOCAL_S3_CREDENTIALS} as the environment of a process started against the local server. */
export const LOCAL_S3_ENV = {
  AWS_ACCESS_KEY_ID: LOCAL_S3_CREDENTIALS.accessKeyId,
  AWS_SECRET_ACCESS_KEY: LOCAL_S3_CREDENTIALS.secretAccessKey,
} as const;

/** Where the SDK's warnings go: `debug` for the ones callers here already cover, `warn` for the rest. */
export interface SdkWarnings {
  debug(text: string): void;
  warn(text: string): void;
}

/** The default: other warnings to the console, as the SDK prints them without a logger. */
const consoleWarnings: SdkWarnings = { debug: () => {}, warn: (text) => console.warn(text) };

/**
 * Without a logger the SDK prints some warnings with `console.warn`, among them one per failed
 * request whose body is a stream ("non-retryable streaming request"): callers here retry those
 * themselves, with a fresh stream, and log each retry, so that one goes to `debug`. Its
 * per-command records (info on success, error on failure, with the command's input) stay off, as
 * with no logger: callers log what failed, without request bodies.
 */
function sdkLogger(sink: SdkWarnings): NonNullable<S3ClientConfig['logger']> {
  return {
    trace: () => {},
    debug: () => {},
    info: () => {},
    warn: (...content: unknown[]) => {
      const text = content.map(String).join(' ');
      if (text.includes('non-retryable streaming request')) sink.debug(text);
      else sink.warn(text);
    },
    error: () => {},
  };
}

export interface S3ClientOptions {
  /**
   * A custom S3 API endpoint, e.g. the embedded local server `http://127.0.0.1:4569`.
   * @default the AWS endpoint for the region (default credential chain)
   */
  readonly endpoint?: string;
  /** @default process.env.AWS_REGION, else us-east-1 */
  readonly region?: string;
  /**
   * Keys to sign with, e.g. {@link LOCAL_S3_CREDENTIALS} for the local server.
   * @default the SDK's default credential chain (environment, profile, container or instance role),
   * with or without a custom endpoint
   */
  readonly credentials?: S3ClientConfig['credentials'];
  /** Where the SDK's warnings go (a service's structured logger). @default the console */
  readonly warnings?: SdkWarnings;
  /** Extra client settings (retry strategy, request handler) layered on top. */
  readonly overrides?: Partial<S3ClientConfig>;
}

/**
 * The one place S3 clients are made, for the Lambda, the recorder and the CLIs alike.
 *
 * Against a custom endpoint the SDK's default flexible checksums are turned off: they send
 * stream bodies `aws-chunked`, which S3-compatible servers such as s3rver store verbatim,
 * silently corrupting the object. Path-style addressing avoids bucket-name DNS on loopback.
 */
export function createS3Client(options: S3ClientOptions = {}): S3Client {
  const region = options.region ?? process.env.AWS_REGION ?? 'us-east-1';
  const logger = sdkLogger(options.warnings ?? consoleWarnings);
  const credentials = options.credentials ? { credentials: options.credentials } : {};
  if (!options.endpoint) {
    return new S3Client({ region, logger, ...credentials, ...options.overrides });
  }
  return new S3Client({
    region,
    logger,
    endpoint: options.endpoint,
    forcePathStyle: true,
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
    ...credentials,
    ...options.overrides,
  });
}
