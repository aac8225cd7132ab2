import type { LogLevel } from '@aws-lambda-powertools/logger/types';
import { Command, InvalidArgumentError, Option } from 'commander';
import { isSupportedSampleRate, type SampleRate } from '../../common/audio-format.js';
import { LOCAL_DEFAULTS, type LocalStack, type LocalStackOptions } from './stack.js';

function port(value: string): number {
  const number = Number(value);
  if (!Number.isInteger(number) || number < 0 || number > 65535)
    throw new InvalidArgumentError('expected a port 0-65535');
  return number;
}

function seconds(value: string): number {
  const number = Number(value);
  if (!Number.isInteger(number) || number < 1 || number > 3600)
    throw new InvalidArgumentError('expected whole seconds, 1-3600');
  return number;
}

function sampleRate(value: string): SampleRate {
  const number = Number(value);
  if (!isSupportedSampleRate(number)) throw new InvalidArgumentError('expected 8000, 16000 or 24000');
  return number;
}

export interface StartOptions {
  host: string;
  webhooksPort: number;
  recorderPort: number;
  s3Port: number;
  bucket: string;
  dataDir: string;
  sampleRate: SampleRate;
  greeting: string;
  logLevel: LogLevel;
  drainTimeout: number;
}

/** The command-line flags of the local stack; each also reads an environment variable. */
export function localStackCommand(
  name: string,
  description: string,
  defaultLogLevel: LogLevel = 'INFO',
): Command {
  return new Command()
    .name(name)
    .description(description)
    .addOption(
      new Option('--host <address>', 'address to listen on').env('LOCAL_HOST').default(LOCAL_DEFAULTS.host),
    )
    .addOption(
      new Option('--webhooks-port <port>', 'webhooks (answer and event URLs)')
        .env('WEBHOOKS_PORT')
        .argParser(port)
        .default(LOCAL_DEFAULTS.webhooksPort),
    )
    .addOption(
      new Option('--recorder-port <port>', 'recorder websocket')
        .env('RECORDER_PORT')
        .argParser(port)
        .default(LOCAL_DEFAULTS.recorderPort),
    )
    .addOption(
      new Option('--s3-port <port>', 'S3 API').env('S3_PORT').argParser(port).default(LOCAL_DEFAULTS.s3Port),
    )
    .addOption(
      new Option('--bucket <name>', 'recordings bucket')
        .env('RECORDINGS_BUCKET')
        .default(LOCAL_DEFAULTS.bucket),
    )
    .addOption(
      new Option('--data-dir <path>', 'where the S3 objects and live audio are kept')
        .env('LOCAL_DATA_DIR')
        .default(LOCAL_DEFAULTS.dataDir),
    )
    .addOption(
      new Option('--sample-rate <hz>', 'audio rate the NCCO asks for')
        .env('SAMPLE_RATE')
        .argParser(sampleRate)
        .default(LOCAL_DEFAULTS.sampleRate),
    )
    .addOption(
      new Option('--greeting <text>', 'what callers hear first')
        .env('GREETING_TEXT')
        .default(LOCAL_DEFAULTS.greeting),
    )
    .addOption(
      new Option('--log-level <level>', 'webhooks and recorder logs')
        .env('LOG_LEVEL')
        .choices(['DEBUG', 'INFO', 'WARN', 'ERROR', 'SILENT'])
        .default(defaultLogLevel),
    )
    .addOption(
      new Option('--drain-timeout <seconds>', 'on Ctrl-C, how long live calls may go on')
        .env('DRAIN_TIMEOUT_SECONDS')
        .argParser(seconds)
        .default(10),
    )
    .addHelpText(
      'after',
      '\nSigned webhooks: set VONAGE_SIGNATURE_SECRET to verify them (give the simulator the same value).',
    );
}

/** The stack options from parsed flags and the environment. */
export function stackOptions(options: StartOptions): LocalStackOptions {
  const signatureSecret = process.env.VONAGE_SIGNATURE_SECRET;
  return {
    host: options.host,
    webhooksPort: options.webhooksPort,
    recorderPort: options.recorderPort,
    s3Port: options.s3Port,
    bucket: options.bucket,
    dataDir: options.dataDir,
    sampleRate: options.sampleRate,
    greeting: options.greeting,
    logLevel: options.logLevel,
    drainTimeoutMs: options.drainTimeout * 1000,
    ...(signatureSecret ? { signatureSecret } : {}),
  };
}

/** What the stack is, where, in a few lines (no secrets). */
export function describeStack(stack: LocalStack, signed: boolean): string {
  return [
    `  answer URL    ${stack.answerUrl}`,
    `  event URL     ${stack.eventUrl}`,
    `  recorder URL  ${stack.recorderUrl}`,
    `  S3 API        ${stack.s3Endpoint}  bucket "${stack.bucket}"  (objects in ${stack.dataDir}/s3)`,
    `  events        ${stack.eventsFile}  (recording events, one EventBridge entry a line)`,
    `  signed webhooks: ${signed ? "verified, and Vonage's JWT required on the websocket handshake" : 'not verified (set VONAGE_SIGNATURE_SECRET to turn on)'}`,
  ].join('\n');
}
