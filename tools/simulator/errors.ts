/**
 * Everything that can make a simulated call fail, each with a one-line message that says what
 * happened and what was expected, so the CLI can print it as is.
 */

/** The base of every simulator failure. `callUuid` names the call it happened on. */
export class SimulatorError extends Error {
  override readonly name: string = 'SimulatorError';
  constructor(
    message: string,
    readonly callUuid?: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

/** The answer URL refused the connection, timed out, or answered with something other than 2xx. */
export class AnswerUrlError extends SimulatorError {
  override readonly name = 'AnswerUrlError';
}

/** The answer URL's body was not an NCCO this call can follow. */
export class NccoError extends SimulatorError {
  override readonly name = 'NccoError';
}

/** An event webhook was not accepted (refused, timed out, or non-2xx). */
export class EventWebhookError extends SimulatorError {
  override readonly name = 'EventWebhookError';
}

/** The websocket at the NCCO's uri could not be opened or was lost mid-call. */
export class WebsocketError extends SimulatorError {
  override readonly name = 'WebsocketError';
  constructor(
    message: string,
    callUuid?: string,
    /** The HTTP status of a refused upgrade, when there was one. */
    readonly httpStatus?: number,
    options?: ErrorOptions,
  ) {
    super(message, callUuid, options);
  }
}

/** The audio to stream could not be read, spoken or resampled. */
export class AudioSourceError extends SimulatorError {
  override readonly name = 'AudioSourceError';
}

/** The simulator was given options it cannot work with (bad URL, missing outputs, …). */
export class SimulatorConfigError extends SimulatorError {
  override readonly name = 'SimulatorConfigError';
}

/** Describes a failed fetch/connection in a few words: `connection refused`, `timed out after 5000 ms`, … */
export function describeNetworkError(error: unknown, timeoutMs: number): string {
  if (error instanceof Error) {
    if (error.name === 'TimeoutError' || error.name === 'AbortError')
      return `timed out after ${timeoutMs} ms`;
    const code = (error.cause as { code?: unknown } | undefined)?.code ?? (error as { code?: unknown }).code;
    switch (code) {
      case 'ECONNREFUSED':
        return 'connection refused';
      case 'ECONNRESET':
        return 'connection reset';
      case 'ENOTFOUND':
        return 'host not found';
      case 'ETIMEDOUT':
      case 'UND_ERR_CONNECT_TIMEOUT':
        return 'connection timed out';
      default: {
        const detail = error.cause instanceof Error ? error.cause.message : error.message;
        return typeof code === 'string' ? `${code}: ${detail}` : detail;
      }
    }
  }
  return String(error);
}
