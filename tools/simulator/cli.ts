import { readFile } from 'node:fs/promises';
import { Command, InvalidArgumentError, Option } from 'commander';
import type { AudioSource } from './audio.js';
import { SimulatorConfigError, SimulatorError } from './errors.js';
import { readStackOutputs, STACK_NAME } from './outputs.js';
import type { SigningIdentity } from './signature.js';
import { type SimulateCallOptions, type SimulatedCall, simulateCalls } from './simulate-call.js';
import { type DtmfTone, redactedUri } from './websocket-leg.js';

/** The local stack's answer URL, the default target. */
const LOCAL_ANSWER_URL = 'http://127.0.0.1:3000/answer';

function positiveNumber(value: string): number {
  const number = Number(value);
  if (!(number > 0) || !Number.isFinite(number)) throw new InvalidArgumentError('expected a positive number');
  return number;
}

function wholeNumber(value: string): number {
  const number = Number(value);
  if (!Number.isInteger(number) || number < 1) throw new InvalidArgumentError('expected a whole number ≥ 1');
  return number;
}

/** `5@1000,#@2500:400` → digit 5 at 1000 ms; # at 2500 ms held 400 ms. */
export function parseDtmf(value: string): DtmfTone[] {
  return value.split(',').map((item) => {
    const match = /^([0-9*#A-Da-d])@(\d+)(?::(\d+))?$/.exec(item.trim());
    if (!match)
      throw new InvalidArgumentError(`expected digit@milliseconds[:duration], e.g. 5@1000, got "${item}"`);
    return {
      digit: (match[1] as string).toUpperCase(),
      atMs: Number(match[2]),
      ...(match[3] ? { durationMs: Number(match[3]) } : {}),
    };
  });
}

interface CliOptions {
  answerUrl?: string;
  eventUrl?: string;
  outputs?: string;
  stack: string;
  method?: 'GET' | 'POST';
  from?: string;
  to?: string;
  wav?: string;
  text?: string;
  voice?: string;
  speed: number;
  fast?: boolean;
  dtmf?: DtmfTone[];
  calls: number;
  timeout: number;
  signatureSecretFile?: string;
  apiKey?: string;
  applicationId?: string;
  websocketEvents: boolean;
  json?: boolean;
  quiet?: boolean;
}

async function signingIdentity(options: CliOptions): Promise<SigningIdentity | undefined> {
  let secret = process.env.VONAGE_SIGNATURE_SECRET;
  if (options.signatureSecretFile) {
    try {
      secret = (await readFile(options.signatureSecretFile, 'utf8')).trim();
    } catch (error) {
      throw new SimulatorConfigError(
        `cannot read the signature secret file ${options.signatureSecretFile} (${(error as NodeJS.ErrnoException).code ?? error})`,
      );
    }
  }
  if (!secret) return undefined;
  return {
    secret,
    ...(options.apiKey ? { apiKey: options.apiKey } : {}),
    ...(options.applicationId ? { applicationId: options.applicationId } : {}),
  };
}

function audioSource(options: CliOptions): AudioSource | undefined {
  if (options.wav && options.text) throw new SimulatorConfigError('give either --wav or --text, not both');
  if (options.wav) return { wavFile: options.wav };
  if (options.text) return { text: options.text, ...(options.voice ? { voice: options.voice } : {}) };
  return undefined;
}

function summary(call: SimulatedCall): string {
  const dtmf = call.dtmfSent.length > 0 ? `, DTMF ${call.dtmfSent.map((tone) => tone.digit).join('')}` : '';
  return (
    `call ${call.uuid} (conversation ${call.conversationUuid}): streamed ${call.audioSeconds.toFixed(2)} s ` +
    `(${call.framesSent} frames at ${call.sampleRate} Hz${dtmf}), closed ${call.closeCode} by ${call.closedBy}, ` +
    `${call.events.length} events delivered`
  );
}

function forJson(call: SimulatedCall): Record<string, unknown> {
  const { pcm: _pcm, plan, events, ...rest } = call;
  return {
    ...rest,
    // The websocket leg's `to` is the NCCO uri: its per-call token stays out of the output.
    events: events.map((event) =>
      event.leg === 'websocket'
        ? { ...event, body: { ...event.body, to: redactedUri(String(event.body.to)) } }
        : event,
    ),
    greeting: plan.greeting,
    contentType: plan.websocket.contentType,
    audioBytes: call.pcm.length,
  };
}

async function main(argv: string[]): Promise<number> {
  const program = new Command()
    .name('npm run call --')
    .description(
      'Place simulated Vonage calls: answer webhook, NCCO checks, call events, and audio streamed over the NCCO websocket.',
    )
    .option('--answer-url <url>', `answer URL (default: ${LOCAL_ANSWER_URL}, the local stack)`)
    .option('--event-url <url>', 'event URL (default: the answer URL with /answer → /event)')
    .option('--outputs <file>', 'read AnswerUrl and EventUrl from a deployed stack (cdk-outputs.json)')
    .option('--stack <name>', 'stack name inside the outputs file', STACK_NAME)
    .addOption(
      new Option('--method <method>', 'answer webhook method (default: POST when signing, else GET)').choices(
        ['GET', 'POST'],
      ),
    )
    .option('--from <number>', 'caller number (default 447700900001)')
    .option('--to <number>', 'called number (default 447700900000)')
    .option('--wav <file>', 'stream this audio file (any format sox reads; resampled to the NCCO rate)')
    .option('--text <sentence>', 'stream this sentence, spoken by espeak-ng (default: a test sentence)')
    .option('--voice <name>', 'espeak-ng voice for --text')
    .option('--speed <n>', 'pace: 1 = real time, 4 = four times faster', positiveNumber, 1)
    .option('--fast', 'stream as fast as the socket takes it')
    .option(
      '--dtmf <list>',
      'DTMF key presses, digit@ms[:duration], comma separated (e.g. 5@1000,#@2500)',
      parseDtmf,
    )
    .option('--calls <n>', 'concurrent calls', wholeNumber, 1)
    .option('--timeout <ms>', 'timeout per webhook and websocket handshake', wholeNumber, 5000)
    .option(
      '--signature-secret-file <file>',
      'sign webhooks with the Vonage signature secret in this file (or set VONAGE_SIGNATURE_SECRET)',
    )
    .option('--api-key <key>', 'api_key claim of signed webhooks')
    .option('--application-id <id>', 'application_id claim of signed webhooks')
    .option('--no-websocket-events', "do not post the websocket leg's own events")
    .option('--json', 'print each call as JSON')
    .option('--quiet', 'print only the summary lines')
    .addHelpText(
      'after',
      '\nExamples:\n  npm run call -- --text "Hello there" --dtmf 5@1000 --fast\n  npm run call -- --outputs cdk-outputs.json --wav message.wav --calls 5',
    );
  program.parse(argv);
  const options = program.opts<CliOptions>();

  let answerUrl = options.answerUrl;
  let eventUrl = options.eventUrl;
  if (options.outputs) {
    const outputs = await readStackOutputs(options.outputs, options.stack);
    answerUrl ??= outputs.answerUrl;
    eventUrl ??= outputs.eventUrl;
  }
  answerUrl ??= LOCAL_ANSWER_URL;
  const signature = await signingIdentity(options);
  const audio = audioSource(options);

  const hangUp = new AbortController();
  const onSignal = () => {
    if (hangUp.signal.aborted) process.exit(130);
    process.stderr.write('hanging up (Ctrl-C again to quit at once)\n');
    hangUp.abort();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);

  const callOptions: SimulateCallOptions = {
    answerUrl,
    ...(options.method ? { answerMethod: options.method } : {}),
    speed: options.fast ? Number.POSITIVE_INFINITY : options.speed,
    timeoutMs: options.timeout,
    websocketLegEvents: options.websocketEvents,
    signal: hangUp.signal,
    ...(eventUrl ? { eventUrl } : {}),
    ...(options.from ? { from: options.from } : {}),
    ...(options.to ? { to: options.to } : {}),
    ...(audio ? { audio } : {}),
    ...(options.dtmf ? { dtmf: options.dtmf } : {}),
    ...(signature ? { signature } : {}),
    ...(options.quiet || options.json ? {} : { log: (line: string) => process.stderr.write(`${line}\n`) }),
  };
  const outcomes = await simulateCalls(callOptions, options.calls);
  let failed = 0;
  for (const outcome of outcomes) {
    if (outcome.ok) {
      process.stdout.write(
        `${options.json ? JSON.stringify(forJson(outcome.call)) : summary(outcome.call)}\n`,
      );
    } else {
      failed += 1;
      process.stderr.write(`error: ${oneLine(outcome.error)}\n`);
    }
  }
  if (outcomes.length > 1) {
    process.stderr.write(
      `${outcomes.length - failed} of ${outcomes.length} calls completed, ${failed} failed\n`,
    );
  }
  return failed === 0 ? 0 : 1;
}

function oneLine(error: unknown): string {
  if (error instanceof SimulatorError) {
    return error.callUuid && !error.message.includes(error.callUuid)
      ? `${error.message} [call ${error.callUuid}]`
      : error.message;
  }
  return error instanceof Error ? `${error.name}: ${error.message}`.replace(/\s*\n\s*/g, ' ') : String(error);
}

try {
  process.exitCode = await main(process.argv);
} catch (error) {
  process.stderr.write(`error: ${oneLine(error)}\n`);
  process.exitCode = 1;
}
