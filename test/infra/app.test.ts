import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { repoRoot } from '../../test-support/stack-synth.js';

const run = promisify(execFile);

/** cdk.json's context (feature flags and defaults), which the CLI hands every synth. */
const cdkJsonContext = JSON.parse(readFileSync(`${repoRoot}cdk.json`, 'utf8')).context;

/** Runs the CDK app as `cdk synth` does (the app command from cdk.json), with the given context. */
let outdir: string;
beforeAll(() => {
  outdir = mkdtempSync(join(tmpdir(), 'cdk-app-'));
});
afterAll(() => rmSync(outdir, { recursive: true, force: true }));

/** What the CLI prints as warnings: the stack's `aws:cdk:warning` metadata entries. */
function warnings(): string[] {
  const metadata = JSON.parse(readFileSync(`${outdir}/CallRecorder.metadata.json`, 'utf8')) as Record<
    string,
    { type: string; data: unknown }[]
  >;
  return Object.values(metadata)
    .flat()
    .filter((entry) => entry.type === 'aws:cdk:warning')
    .map((entry) => String(entry.data));
}

async function synthApp(context: Record<string, string>): Promise<{ code: number; output: string }> {
  try {
    const { stdout, stderr } = await run('npx', ['tsx', 'bin/call-recorder.ts'], {
      cwd: repoRoot,
      env: {
        ...process.env,
        CDK_CONTEXT_JSON: JSON.stringify({ ...cdkJsonContext, ...context, 'aws:cdk:bundling-stacks': [] }),
        CDK_OUTDIR: outdir,
        // The CLI sets these from the profile; ALB access-log delivery needs a concrete region.
        CDK_DEFAULT_REGION: 'eu-west-1',
      },
    });
    return { code: 0, output: stdout + stderr };
  } catch (error) {
    const failed = error as { code?: number; stdout?: string; stderr?: string };
    return { code: failed.code ?? 1, output: `${failed.stdout ?? ''}${failed.stderr ?? ''}` };
  }
}

describe('the CDK app', () => {
  it('stops with no context, naming signatureSecretArn, how to create it, and the trial opt-in', async () => {
    const { code, output } = await synthApp({});
    expect(code).not.toBe(0);
    expect(output).toContain('signatureSecretArn is required');
    expect(output).toContain('allowUnsignedWebhooks=true');
  });

  it('synthesizes unsigned only on request, with a warning that says what is open', async () => {
    const { code, output } = await synthApp({ allowUnsignedWebhooks: 'true' });
    expect(code, output).toBe(0);
    expect(warnings()).toContainEqual(
      expect.stringMatching(/allowUnsignedWebhooks=true: .*anyone who finds the answer URL/),
    );
  });
});
