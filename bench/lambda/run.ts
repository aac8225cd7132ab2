/**
 * Benchmark of the webhooks Lambda: bundle size, cold module-init time and warm per-request time.
 *
 *   npx tsx bench/lambda/run.ts [--cold-runs 30] [--requests 20000]
 *
 * The deployed build is made by the stack's own bundler (lib/constructs/lambda-bundle.ts: esbuild,
 * ESM, minified, node24, the AWS SDK bundled in, code splitting). Cold init: fresh `node`
 * processes each time `await import(index.mjs)`, after loading `node:http`, which the Lambda
 * runtime's own client has loaded before it imports a function (aws-lambda-nodejs-runtime-interface-
 * client, src/client/rapid-client.ts). Rotated with the floor (a build of only the Secrets Manager
 * client an answer needs) and with single-file layouts, so the shares are differences of medians
 * measured side by side. Warm: a worker process imports the build and calls `handler` in a loop
 * (see warm-worker.ts).
 */

import { execFile, spawn } from 'node:child_process';
import { rmSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { cpus, loadavg } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { gzipSync } from 'node:zlib';
import { verifySignature } from '@vonage/jwt';
import { build, type Metafile } from 'esbuild';
import jwt from 'jsonwebtoken';
import { MetricNames } from '../../common/contract.js';
import { checkSignedWebhook, signatureKey } from '../../common/vonage-signature.js';
import {
  bundleLambda,
  LAMBDA_ESBUILD_OPTIONS,
  LAMBDA_INDEX_FILE,
} from '../../lib/constructs/lambda-bundle.js';
import { median, quantile, ratio } from '../lib/stats.js';

const run = promisify(execFile);
const root = resolve(import.meta.dirname, '../..');
const outDir = join(root, '.local', 'bench-lambda');

function option(name: string, fallback: number): number {
  const index = process.argv.indexOf(`--${name}`);
  return index >= 0 ? Number(process.argv[index + 1]) : fallback;
}

const coldRuns = option('cold-runs', 30);
const requests = option('requests', 20000);

/**
 * Single-file layouts, for comparison: the AWS SDK external (loaded from node_modules, as the
 * runtime provides it; the layout deployed before splitting) or bundled in without splitting.
 */
async function singleFile(
  sdk: 'external' | 'bundled',
): Promise<{ file: string; bytes: number; gzipBytes: number; metafile: Metafile }> {
  const file = join(outDir, sdk === 'external' ? 'single-sdk-external.mjs' : 'single-sdk-bundled.mjs');
  const result = await build({
    ...LAMBDA_ESBUILD_OPTIONS,
    entryPoints: [join(root, 'lambdas/webhooks/handler.ts')],
    outfile: file,
    external: sdk === 'external' ? ['@aws-sdk/*'] : [],
    metafile: true,
    write: false,
  });
  const output = result.outputFiles[0];
  if (!output) throw new Error('esbuild produced no output');
  await mkdir(outDir, { recursive: true });
  await writeFile(file, output.contents);
  return {
    file,
    bytes: output.contents.length,
    gzipBytes: gzipSync(output.contents).length,
    metafile: result.metafile,
  };
}

interface SplitBuild {
  readonly index: string;
  readonly metafile: Metafile;
}

/** A build by the stack's own bundler into `.local/bench-lambda/<name>`. */
function splitBuild(name: string, entry: string): SplitBuild {
  const dir = join(outDir, name);
  rmSync(dir, { recursive: true, force: true });
  return { index: join(dir, LAMBDA_INDEX_FILE), metafile: bundleLambda(entry, dir) };
}

/** The outputs a cold start reads: the index and the chunks it imports statically, transitively. */
function readAtStart({ metafile }: SplitBuild): string[] {
  const index = Object.keys(metafile.outputs).find((path) => path.endsWith(`/${LAMBDA_INDEX_FILE}`));
  const seen = new Set<string>();
  const visit = (path: string) => {
    if (seen.has(path)) return;
    seen.add(path);
    for (const imported of metafile.outputs[path]?.imports ?? []) {
      if (imported.kind === 'import-statement' && !imported.external) visit(imported.path);
    }
  };
  if (index) visit(index);
  return [...seen];
}

const kib = (bytes: number) => `${(bytes / 1024).toFixed(1)} KiB`;
const jsBytes = (metafile: Metafile, paths: string[]) =>
  paths
    .filter((path) => path.endsWith('.mjs'))
    .reduce((sum, path) => sum + (metafile.outputs[path]?.bytes ?? 0), 0);

/** Bytes of the minified output by package (own code = lambdas/ and common/), over `paths`. */
function byPackage(metafile: Metafile, paths = Object.keys(metafile.outputs)): [string, number][] {
  const totals = new Map<string, number>();
  for (const output of paths.map((path) => metafile.outputs[path]).filter((o) => o !== undefined)) {
    for (const [input, { bytesInOutput }] of Object.entries(output.inputs)) {
      const name = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(input)?.[1] ?? '(project code)';
      totals.set(name, (totals.get(name) ?? 0) + bytesInOutput);
    }
  }
  return [...totals].sort((a, b) => b[1] - a[1]);
}

const benchEnv: Record<string, string> = {
  AWS_REGION: 'eu-west-2',
  AWS_ACCESS_KEY_ID: 'bench',
  AWS_SECRET_ACCESS_KEY: 'bench',
  RECORDINGS_BUCKET: 'recordings',
  RECORDER_URL: 'wss://recorder.example.com',
  CALL_TOKEN_SECRET_ARN: 'arn:aws:secretsmanager:eu-west-2:123456789012:secret:CallToken-AbCdEf',
  GREETING_TEXT: 'This call is recorded.',
  GREETING_LANGUAGE: 'en-US',
  GREETING_STYLE: '0',
  SAMPLE_RATE: '16000',
  MAX_CALL_SECONDS: '7200',
  CALL_TOKEN_TTL_SECONDS: '300',
  SIGNATURE_MAX_AGE_SECONDS: '300',
  POWERTOOLS_SERVICE_NAME: 'webhooks',
  POWERTOOLS_METRICS_NAMESPACE: MetricNames.namespace,
  POWERTOOLS_LOG_LEVEL: 'INFO',
};

/**
 * One fresh process importing the specifiers: wall and CPU milliseconds of the imports alone,
 * after the untimed `preload` (what the runtime has loaded before it imports the function).
 */
async function importTime(specifiers: string[], preload: string[]): Promise<{ wall: number; cpu: number }> {
  const code = `${preload.map((specifier) => `await import(${JSON.stringify(specifier)});`).join(' ')}
    const c0 = process.cpuUsage(); const t0 = performance.now(); ${specifiers
      .map((specifier) => `await import(${JSON.stringify(specifier)});`)
      .join(' ')} const wall = performance.now() - t0; const c = process.cpuUsage(c0);
    process.stderr.write('\\ninit=' + wall + ',' + (c.user + c.system) / 1000 + '\\n');`;
  const { stderr } = await run(process.execPath, ['--input-type=module', '-e', code], {
    cwd: root,
    env: { ...process.env, ...benchEnv },
  });
  const match = /init=([\d.]+),([\d.]+)/.exec(stderr);
  if (!match) throw new Error(`init run printed ${stderr}`);
  return { wall: Number(match[1]), cpu: Number(match[2]) };
}

const ms = (value: number) => `${value.toFixed(value < 10 ? 3 : 1)} ms`;

function warm(signed: boolean): Promise<Record<string, number>> {
  const child = spawn(
    process.execPath,
    [
      '--import',
      'tsx',
      join(root, 'bench/lambda/warm-worker.ts'),
      String(requests),
      signed ? 'signed' : 'unsigned',
    ],
    {
      cwd: root,
      env: { ...process.env, ...benchEnv, BENCH_BUNDLE: pathToFileURL(deployed.index).href },
      // The handler logs to stdout on every request, as on Lambda; here that output is discarded.
      stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
    },
  );
  return new Promise((resolvePromise, reject) => {
    let result: Record<string, number> | undefined;
    child.on('message', (message) => {
      result = message as Record<string, number>;
    });
    child.on('error', reject);
    child.on('exit', (code) =>
      result ? resolvePromise(result) : reject(new Error(`warm worker exited with ${code} and no result`)),
    );
  });
}

const deployed = splitBuild('deployed', join(root, 'lambdas/webhooks/handler.ts'));
// The floor: the one SDK client an answer needs, made at init as the handler makes it, built the same way.
const floorEntry = join(outDir, 'floor-entry.ts');
await mkdir(outDir, { recursive: true });
await writeFile(
  floorEntry,
  "import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';\nexport const client = new SecretsManagerClient({});\n",
);
const floor = splitBuild('floor', floorEntry);
const external = await singleFile('external');
const single = await singleFile('bundled');
console.log(
  `node ${process.version}, ${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}, load average ${loadavg()[0]?.toFixed(1)} at start`,
);
const atStart = readAtStart(deployed);
const allOutputs = Object.keys(deployed.metafile.outputs);
console.log(
  `deployed build: ${kib(jsBytes(deployed.metafile, allOutputs))} in ${allOutputs.filter((path) => path.endsWith('.mjs')).length} files; ` +
    `a cold start reads ${kib(jsBytes(deployed.metafile, atStart))} (${atStart.length} files), by package:`,
);
for (const [name, bytes] of byPackage(deployed.metafile, atStart).slice(0, 12)) {
  console.log(`  ${name.padEnd(34)} ${(bytes / 1024).toFixed(1).padStart(6)} KiB`);
}
console.log(
  `own code and libraries without the AWS SDK (single file, SDK external): ${kib(external.bytes)} minified, ${kib(external.gzipBytes)} gzipped (target ≤ 150 KB)`,
);

const RUNTIME_PRELOAD = ['node:http'];
const url = (file: string) => pathToFileURL(file).href;
const variants = [
  { name: 'deployed: split, SDK bundled', specifiers: [url(deployed.index)], preload: RUNTIME_PRELOAD },
  {
    name: 'floor: the Secrets Manager client alone',
    specifiers: [url(floor.index)],
    preload: RUNTIME_PRELOAD,
  },
  {
    name: `one file, SDK bundled (${(single.bytes / 1024).toFixed(0)} KiB)`,
    specifiers: [url(single.file)],
    preload: RUNTIME_PRELOAD,
  },
  {
    name: "one file, the runtime's SDK (node_modules)",
    specifiers: [url(external.file)],
    preload: RUNTIME_PRELOAD,
  },
  { name: 'deployed, node:http not preloaded', specifiers: [url(deployed.index)], preload: [] },
];
// One discarded round warms the file cache; then rotate so every variant sees the same machine load.
for (const variant of variants) await importTime(variant.specifiers, variant.preload);
const times = variants.map(() => [] as { wall: number; cpu: number }[]);
for (let i = 0; i < coldRuns; i++) {
  for (const [index, variant] of variants.entries()) {
    times[index]?.push(await importTime(variant.specifiers, variant.preload));
  }
}
console.log(
  `cold init, ${coldRuns} fresh processes each, median (p90) of the import alone, node:http loaded first as the runtime has it (target ≤ 100 ms):`,
);
for (const [index, variant] of variants.entries()) {
  const runs = times[index] ?? [];
  const wall = runs.map((run) => run.wall);
  const cpu = runs.map((run) => run.cpu);
  console.log(
    `  ${variant.name.padEnd(44)} wall ${ms(median(wall))} (${ms(quantile(wall, 0.9))}), CPU ${ms(median(cpu))} (${ms(quantile(cpu, 0.9))})`,
  );
}
const medianOf = (index: number, kind: 'wall' | 'cpu') =>
  median((times[index] ?? []).map((run) => run[kind]));
console.log(
  `  deployed − floor (our code and Powertools): wall ≈ ${ms(medianOf(0, 'wall') - medianOf(1, 'wall'))}, CPU ≈ ${ms(medianOf(0, 'cpu') - medianOf(1, 'cpu'))}; ` +
    `the runtime's SDK ÷ deployed: ${ratio(medianOf(3, 'wall'), medianOf(0, 'wall'), 2)} wall`,
);

for (const signed of [true, false]) {
  const result = await warm(signed);
  console.log(
    `warm ${signed ? 'POST /answer, signed webhook verified' : 'GET /answer, verification off'} (${result.requests} requests after ${result.warmup} warm-up): ` +
      `p50 ${ms(result.p50 ?? Number.NaN)}, p90 ${ms(result.p90 ?? Number.NaN)}, p99 ${ms(result.p99 ?? Number.NaN)}, max ${ms(result.max ?? Number.NaN)}; CPU ${(result.cpuMicrosPerRequest ?? Number.NaN).toFixed(0)} µs/request (target p99 ≤ 2 ms)`,
  );
}

/** The signature check alone, both ways, interleaved in batches: median microseconds per check. */
function signatureChecks(batches = 30, perBatch = 300): { vonage: number; ours: number } {
  const secret = 'bench-vonage-signature-secret-0123456789';
  const key = signatureKey(secret);
  const now = Math.floor(Date.now() / 1000);
  const token = jwt.sign({ iat: now, jti: 'bench', iss: 'Vonage' }, secret, { algorithm: 'HS256' });
  const check = () =>
    checkSignedWebhook({
      authorization: `Bearer ${token}`,
      rawBody: Buffer.alloc(0),
      keys: [key],
      maxAgeSeconds: 300,
      nowSeconds: now,
    });
  const timeBatch = (fn: () => unknown) => {
    const start = process.hrtime.bigint();
    for (let i = 0; i < perBatch; i++) fn();
    return Number(process.hrtime.bigint() - start) / 1e3 / perBatch;
  };
  const vonage: number[] = [];
  const ours: number[] = [];
  timeBatch(() => verifySignature(token, secret));
  timeBatch(check);
  for (let i = 0; i < batches; i++) {
    vonage.push(timeBatch(() => verifySignature(token, secret)));
    ours.push(timeBatch(check));
  }
  return { vonage: median(vonage), ours: median(ours) };
}

const checks = signatureChecks();
console.log(
  `signature check per request (median of 30 interleaved batches): @vonage/jwt verifySignature(token, secret) ${checks.vonage.toFixed(1)} µs; ` +
    `checkSignedWebhook (jsonwebtoken with a cached KeyObject, plus iat and payload_hash) ${checks.ours.toFixed(1)} µs; ${ratio(checks.vonage, checks.ours, 1)}`,
);
console.log(`load average ${loadavg()[0]?.toFixed(1)} at end`);
