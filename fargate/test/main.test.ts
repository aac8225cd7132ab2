import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bytesPerSecond, type SampleRate } from '../../common/audio-format.js';
import { type LocalS3, startLocalS3 } from '../../test-support/local-s3.js';
import {
  callUrl,
  checkpointedCall,
  closed,
  connectedFrame,
  frames,
  newCallUuid,
  openSocket,
  SECRET,
  sendAll,
  streamRealTime,
  waitForRecording,
  waitUntil,
} from '../../test-support/recorder.js';
import { imageEnv, imageNodeFlags } from '../../test-support/recorder-image.js';
import { metadataDigests } from '../../test-support/recording-fixtures.js';
import { loopPcm, soxi, speechPcm } from '../../test-support/speech.js';

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
  /** Every JSON line it wrote to stderr (Powertools writes WARN and ERROR there). */
  readonly warnings: Record<string, unknown>[];
  readonly exited: Promise<number | null>;
}

/** Starts the recorder as its own process (as the container does) and waits for it to listen. */
async function startProcess(
  args: string[],
  scratchDir: string,
  extraEnv: Record<string, string> = {},
): Promise<Started> {
  const child = spawn(process.execPath, args, {
    cwd: root,
    env: {
      PATH: process.env.PATH,
      PORT: '0',
      HOST: '127.0.0.1',
      RECORDINGS_BUCKET: s3.bucket,
      CALL_TOKEN_SECRET: SECRET,
      S3_ENDPOINT: s3.endpoint,
      ...s3.env,
      AWS_REGION: 'us-east-1',
      SCRATCH_DIR: scratchDir,
      DRAIN_TIMEOUT_SECONDS: '1',
      LOG_LEVEL: 'INFO',
      NODE_NO_WARNINGS: '1',
      ...extraEnv,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(child);
  const lines: Record<string, unknown>[] = [];
  const warnings: Record<string, unknown>[] = [];
  let stderr = '';
  child.stderr!.on('data', (chunk) => {
    stderr += chunk;
    const complete = stderr.slice(0, stderr.lastIndexOf('\n') + 1);
    warnings.length = 0;
    for (const line of complete.split('\n')) {
      try {
        warnings.push(JSON.parse(line) as Record<string, unknown>);
      } catch {
        // not a JSON line
      }
    }
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
  return { child, port, lines, warnings, exited };
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
      // Structured logs carry the call uuid, and where the time after hangup went.
      const stored = recorder.lines.find(
        (line) => line.message === 'recording stored' && line.callUuid === call.uuid,
      );
      expect(stored).toMatchObject({
        uploadLatencyMs: expect.any(Number),
        finalizeMs: {
          flush: expect.any(Number),
          put: expect.any(Number),
          metadata: expect.any(Number),
          cleanUp: expect.any(Number),
        },
      });
    }
    const emf = recorder.lines.filter((line) => '_aws' in line);
    expect(emf.reduce((sum, line) => sum + Number(line.CallsStarted ?? 0), 0)).toBe(2);
    expect(emf.reduce((sum, line) => sum + Number(line.CallsFinished ?? 0), 0)).toBe(2);
    expect(
      emf.some((line) => Array.isArray(line.UploadLatency) || typeof line.UploadLatency === 'number'),
    ).toBe(true);
    expect(await readdir(scratchDir)).toEqual([]);
  });

  it('on SIGTERM while S3 refuses every request, exits 1 just before the stop timeout, naming the call not stored and keeping its audio on disk', async () => {
    // An S3 endpoint that answers 503 SlowDown to everything, as during a regional S3 incident.
    const refusing = createServer((request, response) => {
      request.resume();
      response.writeHead(503, { 'content-type': 'application/xml' });
      response.end('<Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message></Error>');
    });
    await new Promise<void>((resolve) => refusing.listen(0, '127.0.0.1', resolve));
    try {
      const endpoint = `http://127.0.0.1:${(refusing.address() as AddressInfo).port}`;
      const scratchDir = await mkdtemp(join(work, 'scratch-'));
      const recorder = await startProcess(['--import', 'tsx', 'fargate/src/main.ts'], scratchDir, {
        S3_ENDPOINT: endpoint,
        STOP_TIMEOUT_SECONDS: '5',
      });
      const uuid = newCallUuid();
      const ws = await openSocket(callUrl(`ws://127.0.0.1:${recorder.port}`, uuid));
      const audio = frames(pcm, rate);
      await sendAll(ws, [connectedFrame(rate, uuid), ...audio]);
      ws.close(1000);
      await closed(ws);
      const signalled = Date.now();
      recorder.child.kill('SIGTERM');
      expect(await recorder.exited).toBe(1);
      // 3 s before the 5 s stop timeout, not at it (where SIGKILL would have come) nor at once.
      const elapsed = Date.now() - signalled;
      expect(elapsed).toBeGreaterThanOrEqual(1500);
      expect(elapsed).toBeLessThan(4500);
      const lastWord = recorder.warnings.find((line) =>
        String(line.message).startsWith('stop timeout reached'),
      );
      expect(lastWord).toMatchObject({ level: 'ERROR', count: 1, calls: [uuid] });
      // The audio stays on the scratch disk for a recovery run, whole.
      const spool = (await readdir(scratchDir)).find(
        (name) => name.startsWith(uuid) && name.endsWith('.pcm'),
      );
      expect(spool).toBeDefined();
      expect((await readFile(join(scratchDir, spool!))).equals(Buffer.concat(audio))).toBe(true);
    } finally {
      refusing.close();
    }
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
    // The spool file goes once the metadata is stored.
    await waitUntil(async () => (await readdir(scratchDir)).length === 0);
    // The disk copy is the complete one: the earlier run's S3 checkpoints are removed, not swept.
    await waitUntil(async () => (await checkpointedCall(s3.client, s3.bucket, uuid)).batches.length === 0);
    const again = await waitForRecording(s3.client, s3.bucket, uuid);
    expect(again.wav.equals(wav)).toBe(true);
    second.child.kill('SIGTERM');
    expect(await second.exited).toBe(0);
  });

  it('after SIGKILL mid-call with the scratch disk gone, a new recorder recovers the audio from S3 checkpoints, losing at most one interval', async () => {
    const env = { CHECKPOINT_SECONDS: '1', INFLIGHT_STALE_SECONDS: '2' };
    const first = await startProcess(
      ['--import', 'tsx', 'fargate/src/main.ts'],
      await mkdtemp(join(work, 'scratch-')),
      env,
    );
    const uuid = newCallUuid();
    const ws = await openSocket(callUrl(`ws://127.0.0.1:${first.port}`, uuid));
    const end = closed(ws);
    ws.send(connectedFrame(rate, uuid));
    const speech = loopPcm(pcm, rate, 8);
    const audio = frames(speech, rate);
    const stream = streamRealTime(ws, audio);
    await new Promise((resolve) => setTimeout(resolve, 4500));
    first.child.kill('SIGKILL');
    await first.exited;
    stream.stop();
    const sentBytes = Buffer.concat(audio.slice(0, stream.sent())).length;
    await end;

    // A new task, once the call's checkpoints look abandoned (INFLIGHT_STALE_SECONDS), on another,
    // empty scratch disk: its sweep at start takes the call.
    await new Promise((resolve) => setTimeout(resolve, 2000));
    const freshDisk = await mkdtemp(join(work, 'scratch-'));
    const second = await startProcess(['--import', 'tsx', 'fargate/src/main.ts'], freshDisk, env);
    const { metadata, wav } = await waitForRecording(s3.client, s3.bucket, uuid, 15_000);
    const file = join(work, `${uuid}.wav`);
    await writeFile(file, wav);
    const info = await soxi(file);
    const recovered = wav.subarray(44);
    expect(info).toMatchObject({ sampleRate: rate, channels: 1, bits: 16, samples: recovered.length / 2 });
    expect(recovered.length).toBeGreaterThan(0);
    expect(recovered.equals(speech.subarray(0, recovered.length))).toBe(true);
    // Lost: at most CHECKPOINT_SECONDS (1 s), plus 0.5 s for the checkpoint PUT in flight.
    const lostSeconds = (sentBytes - recovered.length) / bytesPerSecond(rate);
    expect(lostSeconds).toBeGreaterThanOrEqual(0);
    expect(lostSeconds).toBeLessThanOrEqual(1.5);
    expect(metadata).toMatchObject({
      interrupted: true,
      end: { by: 'recovered' },
      conversationUuid: `CON-${uuid}`,
      audioBytes: recovered.length,
      ...metadataDigests(wav),
    });
    await waitUntil(async () => (await checkpointedCall(s3.client, s3.bucket, uuid)).batches.length === 0);
    await waitUntil(async () =>
      second.warnings.some(
        (line) => line.message === 'recovered a recording from its checkpoints' && line.callUuid === uuid,
      ),
    );
    expect(await readdir(freshDisk)).toEqual([]);
    second.child.kill('SIGTERM');
    expect(await second.exited).toBe(0);
  });

  it('bundled as the Dockerfile bundles it, started with its flags and environment, answers /healthz and records a call', async () => {
    const out = join(work, 'bundle', 'main.mjs');
    await run(process.execPath, ['fargate/bundle.mjs', out], { cwd: root });
    const scratchDir = await mkdtemp(join(work, 'scratch-'));
    // The image's port and scratch folder are the container's; the rest (NODE_ENV, malloc) as deployed.
    const { PORT: _port, SCRATCH_DIR: _scratch, ...imageSettings } = await imageEnv();
    expect(Object.keys(imageSettings)).toContain('MALLOC_MMAP_THRESHOLD_');
    const recorder = await startProcess([...(await imageNodeFlags()), out], scratchDir, imageSettings);
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
