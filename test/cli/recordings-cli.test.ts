import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { CloudFormationClient } from '@aws-sdk/client-cloudformation';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { captureIo } from '../../test-support/cli-io.js';
import {
  type CloudFormationDouble,
  startCloudFormationDouble,
} from '../../test-support/cloudformation-double.js';
import { type LocalS3, startLocalS3 } from '../../test-support/local-s3.js';
import { putRecording } from '../../test-support/recording-fixtures.js';
import { loopPcm, speechPcm } from '../../test-support/speech.js';
import { StackOutputsError } from '../../tools/cli/errors.js';
import type { RecordingRow } from '../../tools/cli/list.js';
import { runRecordingsCli } from '../../tools/cli/recordings.js';
import { resolveTarget } from '../../tools/cli/s3-target.js';
import { readOutputsFile, readStackOutputs } from '../../tools/cli/stack-outputs.js';

const run = promisify(execFile);
const bin = join(import.meta.dirname, '../../bin/recordings.js');
const UUID = 'eeeeeeee-5555-4555-8555-000000000005';

let s3: LocalS3;
let cloudFormation: CloudFormationDouble;
let dir: string;

beforeAll(async () => {
  s3 = await startLocalS3({ bucket: 'callrecorder-recordings-1a2b3c' });
  cloudFormation = await startCloudFormationDouble({
    CallRecorder: { AnswerUrl: 'https://x.example.com/answer', RecordingsBucketName: s3.bucket },
    NoBucket: { AnswerUrl: 'https://x.example.com/answer' },
  });
  dir = await mkdtemp(join(tmpdir(), 'recordings-bin-'));
  await writeFile(
    join(dir, 'cdk-outputs.json'),
    JSON.stringify({ CallRecorder: { RecordingsBucketName: s3.bucket } }),
  );
  const pcm = loopPcm(await speechPcm('One moment please.', 8000), 8000, 1.5);
  await putRecording(s3.client, s3.bucket, {
    uuid: UUID,
    conversationUuid: 'CON-eeeeeeee-0000-4000-8000-000000000005',
    from: '447700900005',
    to: '442071838755',
    startedAt: new Date('2026-11-20T12:00:00.000Z'),
    sampleRate: 8000,
    pcm,
  });
});

afterAll(async () => {
  await s3?.close();
  await cloudFormation?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

async function cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const env = {
    PATH: process.env.PATH,
    // CloudFormation at the double; S3 through --endpoint, signed with the local server's keys
    // from the environment (the credential chain); the double takes any. Never real credentials.
    AWS_ENDPOINT_URL_CLOUDFORMATION: cloudFormation.url,
    AWS_REGION: 'eu-west-2',
    ...s3.env,
    AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
  };
  try {
    const { stdout, stderr } = await run(process.execPath, [bin, ...args], { cwd: dir, env });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const failed = error as { code: number; stdout: string; stderr: string };
    return { code: failed.code, stdout: failed.stdout, stderr: failed.stderr };
  }
}

describe('recordings (the bin)', () => {
  it('finds the bucket through the stack outputs in CloudFormation and prints JSON', async () => {
    const result = await cli(['list', '--json', '--stack', 'CallRecorder', '--endpoint', s3.endpoint]);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    const rows = JSON.parse(result.stdout) as RecordingRow[];
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({
      uuid: UUID,
      from: '447700900005',
      durationSeconds: 1.5,
    });
    expect(cloudFormation.requests.at(-1)).toMatchObject({
      Action: 'DescribeStacks',
      StackName: 'CallRecorder',
    });
  });

  it('exits 1 with one line for an unknown call, 2 for a bad flag, and prints a presigned URL', async () => {
    const missing = await cli([
      'show',
      'ffffffff-0000-4000-8000-000000000000',
      '--outputs',
      'cdk-outputs.json',
      '--endpoint',
      s3.endpoint,
    ]);
    expect(missing.code).toBe(1);
    expect(missing.stdout).toBe('');
    expect(missing.stderr).toBe(
      `error: no recording for call ffffffff-0000-4000-8000-000000000000 in bucket ${s3.bucket}\n`,
    );
    const usage = captureIo();
    const args = ['url', UUID, '--expires', 'soon', '--bucket', s3.bucket, '--endpoint', s3.endpoint];
    expect(await runRecordingsCli(args, usage)).toBe(2);
    expect(usage.err()).toBe('error: --expires must look like 90, 90s, 15m, 1h30m or 7d, got "soon"\n');
    const unknown = captureIo();
    expect(await runRecordingsCli(['list', '--wide'], unknown)).toBe(2);
    expect(unknown.err()).toBe("error: unknown option '--wide'\n(run with --help for usage)\n");
    const url = captureIo();
    const urlArgs = ['url', UUID, '--expires', '15m', '--bucket', s3.bucket, '--endpoint', s3.endpoint];
    // Presigning signs with the credential chain's keys, the local server's here.
    for (const [name, value] of Object.entries(s3.env)) vi.stubEnv(name, value);
    expect(await runRecordingsCli(urlArgs, url)).toBe(0);
    vi.unstubAllEnvs();
    expect(url.out()).toMatch(
      new RegExp(`^${s3.endpoint}/${s3.bucket}/recordings/2026/11/20/${UUID}\\.wav\\?.*X-Amz-Expires=900`),
    );
  });
});

describe('targets and stack outputs', () => {
  const client = () =>
    new CloudFormationClient({
      endpoint: cloudFormation.url,
      region: 'eu-west-2',
      credentials: { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'example' },
    });

  it('reads outputs from CloudFormation, and says which stack or output is missing', async () => {
    expect(await readStackOutputs('CallRecorder', client())).toEqual({
      AnswerUrl: 'https://x.example.com/answer',
      RecordingsBucketName: s3.bucket,
    });
    await expect(readStackOutputs('Nope', client())).rejects.toThrow(
      'stack Nope not found in CloudFormation (Stack with id Nope does not exist)',
    );
    await expect(resolveTarget({ stack: 'NoBucket' }, { cloudFormation: client() })).rejects.toThrow(
      'stack NoBucket has no RecordingsBucketName output (it has: AnswerUrl)',
    );
  });

  it('reads outputs files and explains what is wrong with one', async () => {
    await writeFile(join(dir, 'other.json'), JSON.stringify({ Other: { A: 'b' } }));
    await writeFile(join(dir, 'broken.json'), '{ "CallRecorder": ');
    await expect(readOutputsFile(join(dir, 'other.json'))).rejects.toThrow(
      `outputs file ${join(dir, 'other.json')} has no stack CallRecorder (it has: Other)`,
    );
    await expect(readOutputsFile(join(dir, 'broken.json'))).rejects.toThrow(StackOutputsError);
    await expect(readOutputsFile(join(dir, 'nowhere.json'))).rejects.toThrow(
      /not found: deploy with `cdk deploy --outputs-file/,
    );
  });

  it('defaults --local to the local stack and refuses mixed targets', async () => {
    const local = await resolveTarget({ local: true });
    expect(local.bucket).toBe('recordings');
    expect(local.description).toBe('bucket recordings at http://127.0.0.1:4569');
    local.s3.destroy();
    await expect(resolveTarget({ local: true, stack: 'CallRecorder' })).rejects.toThrow(/pick one/);
  });
});
