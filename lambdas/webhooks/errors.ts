import type { SignatureFailure } from '../../common/vonage-signature.js';

export type { SignatureFailure };

/**
 * Domain errors of the webhooks, each carrying the HTTP status it answers with. Anything thrown
 * that is not one of these is an internal failure.
 */

/** Base of every error the webhooks answer with a JSON `{ error, reason?, message }` body. */
export abstract class WebhookError extends Error {
  abstract readonly statusCode: number;
  /** A short machine-readable code for the JSON body. */
  abstract readonly code: string;
}

/** The request is malformed: a missing or invalid field, an unreadable body. */
export class BadRequestError extends WebhookError {
  override readonly name = 'BadRequestError';
  readonly statusCode = 400;
  readonly code = 'bad-request';
}

/** The body's media type is neither JSON nor a form. */
export class UnsupportedMediaTypeError extends WebhookError {
  override readonly name = 'UnsupportedMediaTypeError';
  readonly statusCode = 415;
  readonly code = 'unsupported-media-type';
}

/** The request is not signed by Vonage with the configured signature secret. */
export class UnauthorizedError extends WebhookError {
  override readonly name = 'UnauthorizedError';
  readonly statusCode = 401;
  readonly code = 'unauthorized';
  constructor(readonly reason: SignatureFailure) {
    super(`webhook signature check failed: ${reason}`);
  }
}

/** The route exists, but not for this method (e.g. a GET answer while signed webhooks are on). */
export class MethodNotAllowedError extends WebhookError {
  override readonly name = 'MethodNotAllowedError';
  readonly statusCode = 405;
  readonly code = 'method-not-allowed';
}

/** No route for this method and path. */
export class NotFoundError extends WebhookError {
  override readonly name = 'NotFoundError';
  readonly statusCode = 404;
  readonly code = 'not-found';
}

/** The bucket could not store an event: a 5xx makes Vonage deliver it again. */
export class StorageError extends WebhookError {
  override readonly name = 'StorageError';
  readonly statusCode = 503;
  readonly code = 'storage-unavailable';
}

/** A required environment variable is missing or invalid (thrown at cold start). */
export class ConfigurationError extends Error {
  override readonly name = 'ConfigurationError';
}
