import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SampleRate } from '../../common/audio-format.js';
import { type LocalS3, startLocalS3 } from '../../test-support/local-s3.js';
import { speechPcm } from '../../test-support/speech.js';
import {
  callUrl,
  closed,
  connectedFrame,
  frames,
  newCallUuid,
  openSocket,
  SECRET,
  sendAll,
  waitForRecording,
} from './support.js';

const run = promisify(execFile);
const root = join(import.meta.dirname, '..', '..');

let s3: LocalS3;
let work: string;
let pcm: Buffer;
const rate: SampleRate = 16000;
const children: ChildProcess[] = [];

interface Started {
  readonly child: ChildProcess;
  readonly port: number;
  /** Every JSON line the process wrote to stdout so far. */
  readonly lines: Record<string, unknown>[];
  readonly exited: Promise<number | null>;
}

/** Starts the recorder as its own process (as the container does) and waits for it to listen. */
async function startProcess(args: string[], scratchDir: string): Promise<Started> {
  const child = spawn(process.execPath, args, {
    cwd: root,
    env: {
      PATH: process.env.PATH,
      PORT: '0',
      HOST: '127.0.0.1',
      RECORDINGS_BUCKET: s3.bucket,
      CALL_TOKEN_SECRET: SECRET,
      S3_ENDPOINT: s3.endpoint,
      AWS_REGION: 'us-east-1',
      SCRATCH_DIR: scratchDir,
      DRAIN_TIMEOUT_SECONDS: '1',
      LOG_LEVEL: 'INFO',
      NODE_NO_WARNINGS: '1',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(child);
  const lines: Record<string, unknown>[] = [];
  let stderr = '';
  child.stderr!.on('data', (chunk) => {
    stderr += chunk;
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const port = await new Promise<number>((resolve, reject) => {
    let buffered = '';
    child.stdout!.on('data', (chunk) => {
      buffered += chunk;
      let newline = buffered.indexOf('\n');
      while (newline >= 0) {
        const line = buffered.slice(0, newline);
        buffered = buffered.slice(newline + 1);
        newline = buffered.indexOf('\n');
        try {
          const entry = JSON.parse(line) as Record<string, unknown>;
          lines.push(entry);
          if (entry.message === 'recorder listening') resolve(entry.port as number);
        } catch {
          // not a JSON line
        }
      }
    });
    exited.then((code) => reject(new Error(`recorder exited with ${code} before listening: ${stderr}`)));
  });
  return { child, port, lines, exited };
}

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'recorder-main-'));
  [s3, pcm] = await Promise.all([startLocalS3(), speechPcm('One two three four five six seven.', rate)]);
});

afterAll(async () => {
  for (const child of children) if (child.exitCode === null) child.kill('SIGKILL');
  await s3?.close();
  await rm(work, { recursive: true, force: true });
});

describe('the recorder process', () => {
  it('on SIGTERM drains live calls: closed with 1001, recordings complete, metrics written, exit 0', async () => {
    const scratchDir = await mkdtemp(join(work, 'scratch-'));
    const recorder = await startProcess(['--import', 'tsx', 'fargate/src/main.ts'], scratchDir);
    const base = `ws://127.0.0.1:${recorder.port}`;
    const calls = await Promise.all(
      [0, 1].map(async () => {
        const uuid = newCallUuid();
        const ws = await openSocket(callUrl(base, uuid));
        const end = closed(ws);
        const audio = frames(pcm, rate);
        await sendAll(ws, [connectedFrame(rate, uuid), ...audio]);
        return { uuid, end, audio };
      }),
    );
    recorder.child.kill('SIGTERM');
    for (const call of calls) expect(await call.end).toMatchObject({ code: 1001 });
    expect(await recorder.exited).toBe(0);

    for (const call of calls) {
      const { metadata, wav } = await waitForRecording(s3.client, s3.bucket, call.uuid, 2000);
      expect(wav.subarray(44).equals(Buffer.concat(call.audio))).toBe(true);
      expect(metadata.end).toMatchObject({ by: 'drain', code: 1001 });
      // Structured logs carry the call uuid.
      expect(
        recorder.lines.some((line) => line.message === 'recording stored' && line.callUuid === call.uuid),
      ).toBe(true);
    }
    const emf = recorder.lines.filter((line) => '_aws' in line);
    expect(emf.reduce((sum, line) => sum + Number(line.CallsStarted ?? 0), 0)).toBe(2);
    expect(emf.reduce((sum, line) => sum + Number(line.CallsFinished ?? 0), 0)).toBe(2);
    expect(
      emf.some((line) => Array.isArray(line.UploadLatency) || typeof line.UploadLatency === 'number'),
    ).toBe(true);
    expect(await readdir(scratchDir)).toEqual([]);
  });

  it('after SIGKILL mid-call, the next start on the same scratch disk recovers the audio received', async () => {
    const scratchDir = await mkdtemp(join(work, 'scratch-'));
    const first = await startProcess(['--import', 'tsx', 'fargate/src/main.ts'], scratchDir);
    const uuid = newCallUuid();
    const ws = await openSocket(callUrl(`ws://127.0.0.1:${first.port}`, uuid));
    const end = closed(ws);
    const audio = frames(pcm, rate);
    await sendAll(ws, [connectedFrame(rate, uuid), ...audio]);
    // Past the spool's 1 s flush interval: everything received is on disk.
    await new Promise((resolve) => setTimeout(resolve, 2500));
    first.child.kill('SIGKILL');
    await first.exited;
    await end;

    const second = await startProcess(['--import', 'tsx', 'fargate/src/main.ts'], scratchDir);
    const { metadata, wav } = await waitForRecording(s3.client, s3.bucket, uuid);
    expect(wav.subarray(44).equals(Buffer.concat(audio))).toBe(true);
    expect(metadata).toMatchObject({
      interrupted: true,
      end: { by: 'recovered' },
      conversationUuid: `CON-${uuid}`,
    });
    expect(await readdir(scratchDir)).toEqual([]);
    second.child.kill('SIGTERM');
    expect(await second.exited).toBe(0);
  });

  it('bundled as the Dockerfile bundles it, starts with node, answers /healthz and records a call', async () => {
    const out = join(work, 'bundle', 'main.mjs');
    await run(process.execPath, ['fargate/bundle.mjs', out], { cwd: root });
    const scratchDir = await mkdtemp(join(work, 'scratch-'));
    const recorder = await startProcess(['--enable-source-maps', out], scratchDir);
    const health = await fetch(`http://127.0.0.1:${recorder.port}/healthz`);
    expect(health.status).toBe(200);
    expect(await health.json()).toMatchObject({ status: 'ok' });

    const uuid = newCallUuid();
    const ws = await openSocket(callUrl(`ws://127.0.0.1:${recorder.port}`, uuid));
    const end = closed(ws);
    const audio = frames(pcm, rate);
    await sendAll(ws, [connectedFrame(rate, uuid), ...audio]);
    ws.close(1000);
    await end;
    const { wav } = await waitForRecording(s3.client, s3.bucket, uuid);
    expect(wav.subarray(44).equals(Buffer.concat(audio))).toBe(true);

    recorder.child.kill('SIGTERM');
    expect(await recorder.exited).toBe(0);
  });
});
