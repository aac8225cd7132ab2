import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import S3rver from 's3rver';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createS3Client, LOCAL_S3_CREDENTIALS } from '../../common/s3-client.js';
import { type LocalS3, startLocalS3 } from '../../test-support/local-s3.js';
import { type FixtureCall, putRecording } from '../../test-support/recording-fixtures.js';
import { portOpen } from '../../tools/console/local-bucket.js';

/** `recordings console` as an operator runs it: the bin, its printed URL, Ctrl-C. */

const bin = join(import.meta.dirname, '../../bin/recordings.js');
const recording: FixtureCall = {
  uuid: 'c0c0c0c0-0000-4000-8000-000000000001',
  conversationUuid: 'CON-c0c0c0c0-0000-4000-8000-000000000001',
  from: '447700900123',
  to: '442071838750',
  startedAt: new Date('2026-11-20T12:00:00.000Z'),
  sampleRate: 8000,
  pcm: Buffer.alloc(16000, 3),
};

// The local stack's S3 port must be free for `--local` to fall back to the folder on disk.
const localStackUp = await portOpen(4569);

let s3: LocalS3;
let work: string;
const children: ChildProcess[] = [];

beforeAll(async () => {
  s3 = await startLocalS3();
  await putRecording(s3.client, s3.bucket, recording);
  work = await mkdtemp(join(tmpdir(), 'console-cli-'));
});

afterAll(async () => {
  for (const child of children) if (child.exitCode === null) child.kill('SIGKILL');
  await s3?.close();
  if (work) await rm(work, { recursive: true, force: true });
});

/** Starts the bin and resolves with the URL it prints. */
async function startBin(args: string[], options: { cwd?: string; env?: Record<string, string> } = {}) {
  const child = spawn(process.execPath, [bin, 'console', '--port', '0', ...args], {
    cwd: options.cwd ?? process.cwd(),
    env: { ...process.env, ...options.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(child);
  let stdout = '';
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  const url = await new Promise<string>((resolve, reject) => {
    child.stdout?.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
      const match = /open (http:\/\/127\.0\.0\.1:\d+\/\?token=[\w-]+)/.exec(stdout);
      if (match) resolve(match[1] as string);
    });
    child.once('exit', (code) => reject(new Error(`exited ${code} before printing a URL: ${stderr}`)));
  });
  return { child, url, output: () => stdout };
}

async function listThrough(url: string): Promise<{ uuid: string; from: string }[]> {
  const signIn = await fetch(url, { redirect: 'manual' });
  const cookie = signIn.headers.get('set-cookie')?.split(';')[0] ?? '';
  const response = await fetch(new URL('/api/recordings', url), { headers: { cookie } });
  return ((await response.json()) as { rows: { uuid: string; from: string }[] }).rows;
}

describe('recordings console', () => {
  it('prints a tokened 127.0.0.1 URL, serves the bucket, and stops cleanly on Ctrl-C', async () => {
    const { child, url, output } = await startBin(['--bucket', s3.bucket, '--endpoint', s3.endpoint], {
      env: { ...s3.env },
    });
    expect(output()).toContain(`Audit console for bucket ${s3.bucket} at ${s3.endpoint}`);
    expect(await listThrough(url)).toEqual([
      expect.objectContaining({ uuid: recording.uuid, from: recording.from }),
    ]);
    child.kill('SIGINT');
    const [code] = await once(child, 'exit');
    expect(code).toBe(0);
  });

  it('refuses a port that is not a port, before reading anything', async () => {
    const child = spawn(process.execPath, [bin, 'console', '--local', '--port', 'http'], { stdio: 'pipe' });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    const [code] = await once(child, 'exit');
    expect(code).toBe(2);
    expect(stderr).toContain('--port must be a port number (0-65535), got "http"');
  });

  it.skipIf(localStackUp)(
    'with --local and the local stack stopped, serves the bucket left in .local/s3',
    async () => {
      const server = new S3rver({
        address: '127.0.0.1',
        port: 0,
        silent: true,
        directory: join(work, '.local', 's3'),
        configureBuckets: [{ name: 'recordings' }],
      });
      const address = await server.run();
      const client = createS3Client({
        endpoint: `http://127.0.0.1:${address.port}`,
        credentials: LOCAL_S3_CREDENTIALS,
      });
      await putRecording(client, 'recordings', recording);
      client.destroy();
      await server.close();

      const { child, url, output } = await startBin(['--local'], { cwd: work });
      expect(output()).toContain('the local stack is not running: served from disk by the console');
      expect((await listThrough(url)).map((row) => row.uuid)).toEqual([recording.uuid]);
      child.kill('SIGINT');
      expect((await once(child, 'exit'))[0]).toBe(0);
    },
  );
});
