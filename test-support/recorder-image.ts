import { readFile } from 'node:fs/promises';
import { join } from 'node:path';

/** How the recorder's container image starts it, read from `fargate/Dockerfile`. */
const DOCKERFILE = join(import.meta.dirname, '..', 'fargate', 'Dockerfile');

/**
 * The node flags the recorder's image starts it with (the `--` words of `fargate/Dockerfile`'s
 * exec-form CMD), so the benchmark runs the recorder as it is deployed.
 */
export async function imageNodeFlags(): Promise<string[]> {
  const dockerfile = await readFile(DOCKERFILE, 'utf8');
  const cmd = dockerfile
    .split('\n')
    .filter((line) => line.startsWith('CMD '))
    .at(-1);
  if (!cmd) throw new Error('fargate/Dockerfile has no CMD');
  const words = JSON.parse(cmd.slice(4)) as string[];
  return words.filter((word) => word.startsWith('--'));
}

/**
 * The environment the recorder's image sets (the `ENV` lines of `fargate/Dockerfile`'s last stage,
 * `KEY=VALUE` pairs, `\` continuations joined), so the benchmark runs the recorder as deployed.
 */
export async function imageEnv(): Promise<Record<string, string>> {
  const dockerfile = (await readFile(DOCKERFILE, 'utf8')).replace(/\\\n/g, ' ');
  const lines = dockerfile.split('\n');
  const lastStage = lines.findLastIndex((line) => line.startsWith('FROM '));
  const env: Record<string, string> = {};
  for (const line of lines.slice(lastStage + 1)) {
    if (!line.startsWith('ENV ')) continue;
    for (const pair of line.slice(4).trim().split(/\s+/)) {
      const equals = pair.indexOf('=');
      if (equals > 0) env[pair.slice(0, equals)] = pair.slice(equals + 1);
    }
  }
  return env;
}
