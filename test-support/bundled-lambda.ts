import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { bundleLambda, LAMBDA_INDEX_FILE } from '../lib/constructs/lambda-bundle.js';

const run = promisify(execFile);
const repoRoot = join(import.meta.dirname, '..');

// Imports the bundle as the runtime does, hands it each event in turn, and writes the results to a
// file (stdout carries the function's own log lines).
const INVOKE = `
import { readFileSync, writeFileSync } from 'node:fs';
const [bundle, eventsFile, resultsFile] = process.argv.slice(1);
const { handler } = await import(bundle);
const context = { awsRequestId: 'c6af9ac6-7b61-11e6-9a41-93e8deadbeef', functionName: 'test' };
const results = [];
for (const event of JSON.parse(readFileSync(eventsFile, 'utf8'))) results.push(await handler(event, context));
writeFileSync(resultsFile, JSON.stringify(results));
`;

/**
 * Builds a Lambda as the stack does (`bundleLambda`, from the repository root) into a temporary
 * folder with no node_modules above it, and invokes its `handler` once per event in a Node process
 * of its own, with only `env` (and PATH) for environment. Resolves with the handler's results.
 */
export async function invokeBundledLambda(
  entry: string,
  events: readonly unknown[],
  env: Readonly<Record<string, string>>,
): Promise<unknown[]> {
  const work = await mkdtemp(join(tmpdir(), 'bundled-lambda-'));
  try {
    bundleLambda(join(repoRoot, entry), join(work, 'asset'));
    await writeFile(join(work, 'events.json'), JSON.stringify(events));
    await run(
      process.execPath,
      [
        '--input-type=module',
        '-e',
        INVOKE,
        join(work, 'asset', LAMBDA_INDEX_FILE),
        join(work, 'events.json'),
        join(work, 'results.json'),
      ],
      { cwd: work, env: { PATH: process.env.PATH ?? '', ...env } },
    );
    return JSON.parse(await readFile(join(work, 'results.json'), 'utf8')) as unknown[];
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}
