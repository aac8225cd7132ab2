/**
 * `npm start`: the whole call recorder on this machine (S3 API, webhooks, recorder) until Ctrl-C.
 */
import { describeStack, localStackCommand, type StartOptions, stackOptions } from './options.js';
import { startLocalStack } from './stack.js';

async function main(): Promise<void> {
  const program = localStackCommand(
    'npm start --',
    'Run the call recorder on this machine: S3 API, webhooks and recorder.',
  );
  program.parse(process.argv);
  const options = stackOptions(program.opts<StartOptions>());
  const stack = await startLocalStack({
    ...options,
    // Refusals are what a user needs to see; successes are in the webhooks' own log lines.
    onRequest: (entry) => {
      if (entry.status >= 400) process.stdout.write(`${entry.method} ${entry.path} → ${entry.status}\n`);
    },
  });
  process.stdout.write(
    `Call recorder running locally:\n${describeStack(stack, options.signatureSecret !== undefined)}\n` +
      'Place a call:  npm run call -- --text "Hello, this is a test." --fast\n' +
      'Ctrl-C to stop (live calls are drained first).\n',
  );

  let stoppingSince: number | undefined;
  const stop = (signal: NodeJS.Signals) => {
    if (stoppingSince !== undefined) {
      // Ctrl-C reaches this process both from the terminal and relayed by tsx: only a later one is news.
      if (performance.now() - stoppingSince > 1000) {
        process.stderr.write('already stopping; waiting for recordings to be stored\n');
      }
      return;
    }
    stoppingSince = performance.now();
    process.stdout.write(`${signal}: draining ${stack.activeCalls()} live call(s), then stopping\n`);
    stack.stop().then(
      () => {
        process.stdout.write('stopped\n');
        process.exit(0);
      },
      (error: unknown) => {
        process.stderr.write(`error: stopping failed: ${(error as Error).message}\n`);
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}

main().catch((error: unknown) => {
  process.stderr.write(`error: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
