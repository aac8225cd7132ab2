/**
 * Errors the operator CLIs turn into one line on stderr and an exit code. Anything else that
 * escapes a command is a bug and is reported the same way, with exit code 1.
 */

/** Exit codes shared by both CLIs. */
export const ExitCode = {
  ok: 0,
  /** The command ran but found a problem (verify failures) or could not finish (API or S3 error). */
  failure: 1,
  /** Bad flags or values: nothing was attempted. */
  usage: 2,
} as const;

/** An error whose message is meant for the operator as it stands. */
export class CliError extends Error {
  override readonly name: string = 'CliError';
  constructor(
    message: string,
    readonly exitCode: number = ExitCode.failure,
  ) {
    super(message);
  }
}

/** A flag value that cannot be used (a date that does not parse, an unknown duration unit, …). */
export class UsageError extends CliError {
  override readonly name = 'UsageError';
  constructor(message: string) {
    super(message, ExitCode.usage);
  }
}

/** The stack outputs are missing, unreadable, or lack a required key. */
export class StackOutputsError extends CliError {
  override readonly name = 'StackOutputsError';
}

/** No recording with the requested call uuid in the bucket. */
export class RecordingNotFoundError extends CliError {
  override readonly name = 'RecordingNotFoundError';
}
