import { S3Client, type S3ClientConfig } from '@aws-sdk/client-s3';

/**
 * Without a logger the SDK prints some warnings with `console.warn`, among them one per failed
 * request whose body is a stream ("non-retryable streaming request"): callers here retry those
 * themselves, with a fresh stream, and log each retry. That one is dropped; other warnings still
 * reach the console. Its per-command records (info on success, error on failure, with the
 * command's input) stay off, as with no logger: callers log what failed, without request bodies.
 * A service passes its structured logger in `overrides`.
 */
const quietSdkLogger = {
  trace: () => {},
  debug: () => {},
  info: () => {},
  warn: (...content: unknown[]) => {
    if (!content.some((part) => String(part).includes('non-retryable streaming request')))
      console.warn(...content);
  },
  error: () => {},
};

export interface S3ClientOptions {
  /**
   * A custom S3 API endpoint, e.g. the embedded local server `http://127.0.0.1:4569`.
   * @default the AWS endpoint for the region (default credential chain)
   */
  readonly endpoint?: string;
  /** @default process.env.AWS_REGION, else us-east-1 */
  readonly region?: string;
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
  if (!options.endpoint) {
    return new S3Client({ region, logger: quietSdkLogger, ...options.overrides });
  }
  return new S3Client({
    region,
    logger: quietSdkLogger,
    endpoint: options.endpoint,
    forcePathStyle: true,
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
    // A local S3-compatible server accepts any credentials; never reach for real ones.
    credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' },
    ...options.overrides,
  });
}
