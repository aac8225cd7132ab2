import { S3Client, type S3ClientConfig } from '@aws-sdk/client-s3';

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
  if (!options.endpoint) {
    return new S3Client({ region, logger, ...options.overrides });
  }
  return new S3Client({
    region,
    logger,
    endpoint: options.endpoint,
    forcePathStyle: true,
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
    // A local S3-compatible server accepts any credentials; never reach for real ones.
    credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' },
    ...options.overrides,
  });
}
