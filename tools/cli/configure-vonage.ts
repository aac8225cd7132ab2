import { Command, Option } from 'commander';
import { OutputNames } from '../../common/contract.js';
import { CliError, ExitCode } from './errors.js';
import { type CliIo, runProgram } from './run.js';
import {
  DEFAULT_STACK_NAME,
  readOutputsFile,
  readStackOutputs,
  requireOutput,
  type StackOutputs,
} from './stack-outputs.js';
import {
  type ConfigureResult,
  configureVonageApplication,
  createVonageClient,
  credentialsFromEnv,
  type HttpMethod,
  type Webhook,
} from './vonage-application.js';

/** Where `cdk deploy --outputs-file` is told to write in this project's docs. */
export const DEFAULT_OUTPUTS_FILE = 'cdk-outputs.json';

const HELP = `
Credentials come from the environment only (never from flags, which end up in shell history):
  VONAGE_API_KEY, VONAGE_API_SECRET   the account's API key and secret
  VONAGE_APPLICATION_ID               the Voice application to point at the stack
  VONAGE_API_HOST, VONAGE_REST_HOST   optional, e.g. https://api-eu.vonage.com

The stack's AnswerUrl, EventUrl and AnswerMethod outputs come from ${DEFAULT_OUTPUTS_FILE} (written by
\`cdk deploy --outputs-file ${DEFAULT_OUTPUTS_FILE}\`), another file with --outputs, or from
CloudFormation with --stack NAME (default AWS credential chain).

When the stack verifies Vonage's signed webhooks (AnswerMethod POST), the answer webhook is set to
POST, so the signature's payload_hash covers the call's uuid, and the application's signed voice
webhooks are turned on.

Examples:
  configure-vonage --dry-run
  configure-vonage --outputs cdk-outputs.json --number 447700900000
  configure-vonage --stack CallRecorder`;

/** Vonage calls webhooks from the internet: a loopback address cannot be reached. */
const LOOPBACK = /^(localhost|127(\.\d{1,3}){3}|\[::1\])$/i;

function checkUrl(value: string, output: string, io: CliIo): string {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new CliError(`stack output ${output} is not a URL: ${JSON.stringify(value)}`);
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') {
    throw new CliError(`stack output ${output} must be an http(s) URL, got ${value}`);
  }
  if (LOOPBACK.test(url.hostname)) {
    io.stderr.write(`warning: ${output} ${value} is a loopback address: Vonage cannot reach it\n`);
  }
  return value;
}

const describeWebhook = (webhook: Webhook | null) =>
  webhook ? `${webhook.httpMethod} ${webhook.address}` : '(not set)';

export function formatConfigureResult(result: ConfigureResult, dryRun: boolean): string {
  const lines = [`Application ${JSON.stringify(result.applicationName)} (${result.applicationId})`];
  const line = (label: string, change: ConfigureResult['answerUrl']) => {
    const after = describeWebhook(change.after);
    const before = describeWebhook(change.before);
    lines.push(`  ${label} ${before === after ? `${after} (unchanged)` : `${before} → ${after}`}`);
  };
  line('answer_url:', result.answerUrl);
  line('event_url: ', result.eventUrl);
  if (result.signedCallbacks) {
    const { before, after } = result.signedCallbacks;
    lines.push(
      `  signed webhooks: ${before === after ? `${after ? 'on' : 'off'} (unchanged)` : `${before ? 'on' : 'off'} → ${after ? 'on' : 'off'}`}`,
    );
  }
  if (!result.changed) lines.push('Webhooks already point at the stack: nothing sent.');
  else if (dryRun) lines.push('Dry run: no change sent.');
  else lines.push('Updated the application.');
  if (result.number) {
    const n = result.number;
    if (!n.changed) lines.push(`Number ${n.msisdn} (${n.country}) is already linked to this application.`);
    else {
      lines.push(`Number ${n.msisdn} (${n.country}): application ${n.before ?? '(none)'} → ${n.after}`);
      lines.push(dryRun ? 'Dry run: number not linked.' : 'Linked the number.');
    }
  }
  return lines.join('\n');
}

export function buildConfigureVonageProgram(io: CliIo, env: NodeJS.ProcessEnv = process.env): Command {
  return new Command('configure-vonage')
    .description("Point a Vonage Voice application's answer and event webhooks at the deployed stack.")
    .configureOutput({ writeOut: (text) => io.stdout.write(text), writeErr: (text) => io.stderr.write(text) })
    .exitOverride()
    .showHelpAfterError('(run with --help for usage)')
    .option(
      '--outputs <file>',
      `stack outputs file from cdk deploy --outputs-file (default ${DEFAULT_OUTPUTS_FILE})`,
    )
    .option(
      '--stack <name>',
      `stack name (default ${DEFAULT_STACK_NAME}); without --outputs, read from CloudFormation`,
    )
    .addOption(
      new Option(
        '--answer-method <method>',
        "HTTP method Vonage uses for the answer webhook (default: the stack's AnswerMethod output, else GET)",
      ).choices(['GET', 'POST']),
    )
    .option('--number <msisdn>', 'also link this number (E.164, e.g. 447700900000) to the application')
    .option('--dry-run', 'show the change without sending it')
    .option('--json', 'print the result as JSON')
    .addHelpText('after', HELP)
    .action(
      async (flags: {
        outputs?: string;
        stack?: string;
        answerMethod?: HttpMethod;
        number?: string;
        dryRun?: boolean;
        json?: boolean;
      }) => {
        const credentials = credentialsFromEnv(env);
        const stackName = flags.stack ?? DEFAULT_STACK_NAME;
        let outputs: StackOutputs;
        let source: string;
        if (flags.stack && !flags.outputs) {
          outputs = await readStackOutputs(stackName);
          source = `stack ${stackName}`;
        } else {
          const file = flags.outputs ?? DEFAULT_OUTPUTS_FILE;
          outputs = await readOutputsFile(file, stackName);
          source = `stack ${stackName} in ${file}`;
        }
        const answerUrl = checkUrl(
          requireOutput(outputs, OutputNames.answerUrl, source),
          OutputNames.answerUrl,
          io,
        );
        const eventUrl = checkUrl(
          requireOutput(outputs, OutputNames.eventUrl, source),
          OutputNames.eventUrl,
          io,
        );
        const signed = outputs[OutputNames.answerMethod] === 'POST';
        if (signed && flags.answerMethod === 'GET') {
          throw new CliError(
            `${source} verifies signed webhooks, which needs the answer webhook on POST (its payload_hash then covers the call's uuid); drop --answer-method GET`,
          );
        }
        const answerMethod: HttpMethod = flags.answerMethod ?? (signed ? 'POST' : 'GET');
        const vonage = createVonageClient(credentials, {
          apiHost: env.VONAGE_API_HOST,
          restHost: env.VONAGE_REST_HOST,
        });
        const result = await configureVonageApplication({
          vonage,
          applicationId: credentials.applicationId,
          // The stack serves the event webhook on POST only.
          webhooks: {
            answerUrl: { address: answerUrl, httpMethod: answerMethod },
            eventUrl: { address: eventUrl, httpMethod: 'POST' },
          },
          ...(signed ? { signedCallbacks: true } : {}),
          ...(flags.number ? { number: flags.number } : {}),
          ...(flags.dryRun ? { dryRun: true } : {}),
        });
        const text = flags.json
          ? JSON.stringify(result, null, 2)
          : formatConfigureResult(result, flags.dryRun ?? false);
        io.stdout.write(`${text}\n`);
      },
    );
}

/** Runs the CLI; resolves to the process exit code. */
export async function runConfigureVonageCli(
  argv: readonly string[],
  io: CliIo,
  env: NodeJS.ProcessEnv = process.env,
): Promise<number> {
  return runProgram(buildConfigureVonageProgram(io, env), argv, io, () => ExitCode.ok);
}
