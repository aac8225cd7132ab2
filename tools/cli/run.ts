import { type Command, CommanderError } from 'commander';
import { describeS3Error } from '../../common/s3-errors.js';
import { CliError, ExitCode } from './errors.js';

/** Where output goes; tests and the bins pass the process streams. */
export interface CliIo {
  readonly stdout: NodeJS.WritableStream;
  readonly stderr: NodeJS.WritableStream & { isTTY?: boolean };
}

/** Shared by both CLIs: parse, run, and map errors to one stderr line and an exit code. */
export async function runProgram(
  program: Command,
  argv: readonly string[],
  io: CliIo,
  exitCode: () => number = () => ExitCode.ok,
): Promise<number> {
  try {
    await program.parseAsync([...argv], { from: 'user' });
    return exitCode();
  } catch (error) {
    if (error instanceof CommanderError) {
      // Commander has already printed the message (or the help).
      return error.exitCode === 0 ? ExitCode.ok : ExitCode.usage;
    }
    io.stderr.write(`error: ${describeError(error)}\n`);
    return error instanceof CliError ? error.exitCode : ExitCode.failure;
  }
}

/** One line for an operator: known AWS and network failures get a hint, not a stack trace. */
export function describeError(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  if (error instanceof CliError) return error.message;
  const code = (error as NodeJS.ErrnoException).code;
  const causes = error instanceof AggregateError ? error.errors : [];
  if (
    code === 'ECONNREFUSED' ||
    causes.some((cause) => (cause as NodeJS.ErrnoException).code === 'ECONNREFUSED')
  ) {
    return `cannot connect (${error.message || 'connection refused'}): check the endpoint; for --local, is the local stack running (npm start)?`;
  }
  switch (error.name) {
    case 'NoSuchBucket':
      return `the bucket does not exist (${describeS3Error(error)})`;
    case 'CredentialsProviderError':
      return `no AWS credentials found: set AWS_PROFILE or log in (aws sso login) (${error.message})`;
    case 'AccessDenied':
      return `access denied by S3: ${describeS3Error(error)}`;
    case 'InvalidAccessKeyId':
    case 'SignatureDoesNotMatch':
      return `the S3 endpoint refused these credentials: ${describeS3Error(error)}; they come from the default chain (AWS_PROFILE, AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, …)`;
    default:
      // An S3 answer is named by its code and status: S3-compatible servers may send no message.
      if ('$metadata' in error) return describeS3Error(error);
      return error.message.split('\n')[0] || error.name;
  }
}
