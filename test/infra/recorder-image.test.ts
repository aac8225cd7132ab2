import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { RECORDER_IMAGE_EXCLUDES } from '../../lib/constructs/recorder-service.js';
import { repoRoot } from './support.js';

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
