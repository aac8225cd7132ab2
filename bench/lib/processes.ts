import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import type { LeanLoadResult } from './lean-load-generator.js';
import type { LeanChildMessage, LeanRunMessage } from './lean-load-process.js';
import type { LoadResult } from './load-generator.js';
import type { LoadChildMessage, LoadRunMessage } from './load-generator-process.js';

/** The repository root. */
export const ROOT = fileURLToPath(new URL('../../', import.meta.url));

const TSX_IMPORT = ['--import', 'tsx'];

/**
 * `taskset -c <cpus> <command…>` when cpus is set (Linux), else the command itself; under
 * `nice -n <nice>` when that is set. Both exec the command, so the child's pid is the command's.
 */
function pinned(
  cpus: string | undefined,
  command: string,
  args: string[],
  nice?: number,
): [string, string[]] {
  const [pinnedCommand, pinnedArgs]: [string, string[]] =
    cpus === undefined ? [command, args] : ['taskset', ['-c', cpus, command, ...args]];
  return nice ? ['nice', ['-n', String(nice), pinnedCommand, ...pinnedArgs]] : [pinnedCommand, pinnedArgs];
}

/**
 * Bundles a TypeScript entry into one ESM file with esbuild, the way the recorder's image is
 * built, so a benchmark measures plain `node` running bundled code (no on-the-fly transpiling).
 */
export async function bundleEntry(entry: string): Promise<string> {
  const outdir = await mkdtemp(join(tmpdir(), 'bench-bundle-'));
  const outfile = join(outdir, 'main.mjs');
  await build({
    entryPoints: [join(ROOT, entry)],
    outfile,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node24',
    sourcemap: 'linked',
    logLevel: 'error',
    external: ['bufferutil', 'utf-8-validate'],
    // CommonJS dependencies (ws, the AWS SDK) call require() inside an ESM bundle.
    banner: {
      js: "import { createRequire as __createRequire } from 'node:module'; const require = __createRequire(import.meta.url);",
    },
  });
  return outfile;
}

export interface StartedProcess {
  readonly child: ChildProcess;
  readonly pid: number;
  /** Everything the process wrote to stdout and stderr so far. */
  readonly output: string[];
  /** SIGTERM, then wait for exit (SIGKILL after `graceMs`). Resolves with the exit code or signal. */
  stop(graceMs?: number): Promise<number | string | null>;
}

function track(child: ChildProcess, label: string, echo: boolean): StartedProcess {
  const output: string[] = [];
  const exited = once(child, 'exit') as Promise<[number | null, string | null]>;
  for (const stream of [child.stdout, child.stderr]) {
    if (!stream) continue;
    createInterface({ input: stream }).on('line', (line) => {
      output.push(line);
      if (echo) console.error(`[${label}] ${line}`);
    });
  }
  if (child.pid === undefined) throw new Error(`${label} did not start`);
  return {
    child,
    pid: child.pid,
    output,
    async stop(graceMs = 130_000) {
      if (child.exitCode !== null || child.signalCode !== null) return child.exitCode ?? child.signalCode;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      const [code, signal] = await exited;
      clearTimeout(timer);
      return code ?? signal;
    },
  };
}

/** Starts s3rver in its own process; resolves with its endpoint once it listens. */
export async function startS3Process(
  options: {
    cpus?: string;
    directory?: string;
    events?: boolean;
    /** A niceness (1–19): the server then yields its CPU to the load generator sharing it. */
    nice?: number;
  } = {},
): Promise<{
  process: StartedProcess;
  endpoint: string;
  bucket: string;
  directory: string;
  /** With `events`: the objects stored so far, in order, as the server's event notifications told of them. */
  objectsCreated(): ObjectCreated[];
}> {
  const [command, args] = pinned(
    options.cpus,
    process.execPath,
    [...TSX_IMPORT, join(ROOT, 'bench/lib/s3-server-process.ts')],
    options.nice,
  );
  const child = spawn(command, args, {
    cwd: ROOT,
    env: {
      ...process.env,
      ...(options.directory ? { S3_DIRECTORY: options.directory } : {}),
      ...(options.events ? { S3_EVENTS: '1' } : {}),
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const started = track(child, 's3', false);
  const line = await waitForLine(started, (text) => text.startsWith('{"endpoint"'), 30_000);
  const info = JSON.parse(line) as { endpoint: string; bucket: string; directory: string };
  // Parsed once each, as they are asked for: a finalization run asks every 250 ms.
  const created: ObjectCreated[] = [];
  let read = 0;
  const objectsCreated = (): ObjectCreated[] => {
    for (; read < started.output.length; read++) {
      const text = started.output[read]!;
      if (text.startsWith('{"created"'))
        created.push((JSON.parse(text) as { created: ObjectCreated }).created);
    }
    return created;
  };
  return { process: started, ...info, objectsCreated };
}

/** An object the local S3 server stored: `atMs` is when it became readable, in epoch milliseconds. */
export interface ObjectCreated {
  readonly key: string;
  readonly size: number | undefined;
  readonly atMs: number;
}

/**
 * Starts a recorder process (`node <bundle>`, pinned to `cpus`) with the given env and waits
 * until `GET /healthz` answers 200.
 */
export async function startRecorderProcess(options: {
  readonly script: string;
  readonly env: Record<string, string>;
  readonly port: number;
  readonly cpus?: string;
  readonly label?: string;
  readonly echo?: boolean;
  readonly nodeArgs?: string[];
}): Promise<StartedProcess> {
  const [command, args] = pinned(options.cpus, process.execPath, [
    ...(options.nodeArgs ?? []),
    options.script,
  ]);
  const child = spawn(command, args, {
    cwd: ROOT,
    env: { ...process.env, ...options.env, PORT: String(options.port) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const started = track(child, options.label ?? 'recorder', options.echo ?? false);
  await waitForHealth(`http://127.0.0.1:${options.port}/healthz`, child, 30_000, started.output);
  return started;
}

async function waitForHealth(
  url: string,
  child: ChildProcess,
  timeoutMs: number,
  output: string[],
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(
        `process exited (${child.exitCode ?? child.signalCode}) before ${url} answered:\n${output.join('\n')}`,
      );
    }
    try {
      const response = await fetch(url);
      if (response.status === 200) return;
    } catch {
      // Not listening yet: keep polling until the deadline.
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`${url} did not answer 200 within ${timeoutMs} ms:\n${output.join('\n')}`);
}

async function waitForLine(
  started: StartedProcess,
  match: (line: string) => boolean,
  timeoutMs: number,
): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const line = started.output.find(match);
    if (line) return line;
    if (started.child.exitCode !== null) throw new Error(`process exited:\n${started.output.join('\n')}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`no matching output within ${timeoutMs} ms:\n${started.output.join('\n')}`);
}

/**
 * Runs the load generator in its own process (pinned to `cpus`) and resolves with its result.
 * `onProgress` gets its once-a-second counters.
 */
export async function runLoadProcess(
  run: Omit<LoadRunMessage, 'type'>,
  options: {
    cpus?: string;
    onProgress?: (progress: Extract<LoadChildMessage, { type: 'progress' }>) => void;
  } = {},
): Promise<LoadResult> {
  const [command, args] = pinned(options.cpus, process.execPath, [
    '--max-old-space-size=4096',
    // e.g. BENCH_LOADGEN_NODE_ARGS=--cpu-prof to profile the generator itself.
    ...(process.env.BENCH_LOADGEN_NODE_ARGS?.split(' ').filter(Boolean) ?? []),
    ...TSX_IMPORT,
    join(ROOT, 'bench/lib/load-generator-process.ts'),
  ]);
  const child = spawn(command, args, { cwd: ROOT, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  return new Promise<LoadResult>((resolve, reject) => {
    let result: LoadResult | undefined;
    child.on('message', (message: LoadChildMessage) => {
      if (message.type === 'progress') options.onProgress?.(message);
      else if (message.type === 'result') result = message.result;
      else reject(new Error(`load generator failed: ${message.message}`));
    });
    child.on('exit', (code, signal) => {
      if (result) resolve(result);
      else reject(new Error(`load generator exited (${code ?? signal}) without a result`));
    });
    child.send({ type: 'run', ...run } satisfies LoadRunMessage);
  });
}

/** Runs the lean load generator (`lean-load-process.ts`) in its own process, pinned to `cpus`. */
export async function runLeanLoadProcess(
  run: Omit<LeanRunMessage, 'type'>,
  options: { cpus?: string } = {},
): Promise<LeanLoadResult> {
  const [command, args] = pinned(options.cpus, process.execPath, [
    '--max-old-space-size=4096',
    ...(process.env.BENCH_LOADGEN_NODE_ARGS?.split(' ').filter(Boolean) ?? []),
    ...TSX_IMPORT,
    join(ROOT, 'bench/lib/lean-load-process.ts'),
  ]);
  const child = spawn(command, args, { cwd: ROOT, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  return new Promise<LeanLoadResult>((resolve, reject) => {
    let result: LeanLoadResult | undefined;
    child.on('message', (message: LeanChildMessage) => {
      if (message.type === 'result') result = message.result;
      else reject(new Error(`load generator failed: ${message.message}`));
    });
    child.on('exit', (code, signal) => {
      if (result) resolve(result);
      else reject(new Error(`load generator exited (${code ?? signal}) without a result`));
    });
    child.send({ type: 'run', ...run } satisfies LeanRunMessage);
  });
}
