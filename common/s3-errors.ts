/** What the SDK puts on an error an S3 API answered (absent on network and client-side errors). */
interface S3ServiceErrorShape {
  readonly Code?: string;
  readonly $metadata?: { readonly httpStatusCode?: number };
}

/** The HTTP status an S3 API answered with; undefined for errors that never reached a server. */
export function s3HttpStatus(error: unknown): number | undefined {
  return (error as S3ServiceErrorShape | null | undefined)?.$metadata?.httpStatusCode;
}

/** The SDK's message when the server's `<Message>` is empty or missing. */
const NO_MESSAGE = 'UnknownError';
/** The SDK's names for an answer without a code (a HEAD refusal has no body). */
const NO_CODE = new Set([NO_MESSAGE, 'Unknown']);

/**
 * One line naming an S3 error as the server sent it: its code (the XML `<Code>`, which the SDK
 * makes the error's name), the HTTP status and the message when there is one, e.g.
 * `InvalidAccessKeyId (HTTP 403)` or `NoSuchBucket (HTTP 404): The specified bucket does not exist`.
 * S3-compatible servers may answer with an empty `<Message>`, which the SDK turns into the bare
 * message "UnknownError"; errors that never reached a server keep their name and message.
 */
export function describeS3Error(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const { Code, $metadata } = error as S3ServiceErrorShape;
  const status = $metadata?.httpStatusCode;
  const message = error.message.split('\n')[0] ?? '';
  if (status === undefined) {
    return error.name === 'Error' || !message ? message || error.name : `${error.name}: ${message}`;
  }
  const code = Code ?? error.name;
  const known = code && !NO_CODE.has(code) && code !== String(status);
  const head = known ? `${code} (HTTP ${status})` : `HTTP ${status}`;
  return message && message !== NO_MESSAGE && message !== code ? `${head}: ${message}` : head;
}
