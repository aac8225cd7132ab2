import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { Logger } from '@aws-lambda-powertools/logger';
import { GetObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { checkWav } from '../bench/lib/harness.js';
import type { CallResult } from '../bench/lib/load-generator.js';
import { ROOT } from '../bench/lib/processes.js';
import { signCallToken } from '../common/call-token.js';
import { checkDigest, wavDigestOf } from '../common/recording-digest.js';
import { metadataKey, recordingKey } from '../common/recording-keys.js';
import type { RecordingMetadata } from '../common/recording-metadata.js';
import { createS3Client, LOCAL_S3_CREDENTIALS } from '../common/s3-client.js';
import { createRecorder, type Recorder, type RecorderOptions } from '../fargate/src/recorder.js';
import { callUri, LegOpenError, openLeg } from '../tools/simulator/leg-client.js';
import { loopPcm, speechPcm } from './speech.js';

/**
 * `RELIABILITY_SCALE=full` runs the counts and durations the reliability figures quote; the
 * default (CI) scale keeps every test bounded on a 2-core runner.
 */
export const FULL = process.env.RELIABILITY_SCALE === 'full';

export function scaled<T>(ci: T, full: T): T {
  return FULL ? full : ci;
}

export const SECRET = randomBytes(32).toString('hex');

let speechCache: Promise<Buffer> | undefined;

/** About 37 s of real speech at 16 kHz, looped by the load generator (each call from its own offset). */
export function speech(): Promise<Buffer> {
  speechCache ??= speechPcm(
    'Thank you for calling. This call is recorded for quality and training purposes. ' +
      'Please say your account number after the tone, then press the pound key.',
    16000,
  ).then((pcm) => loopPcm(pcm, 16000, 37));
  return speechCache;
}

export interface InProcessRecorder {
  readonly url: string;
  readonly recorder: Recorder;
  readonly scratchDir: string;
  close(): Promise<void>;
}

/** The recorder built with `createRecorder`, listening on a free loopback port, storing through `s3Endpoint`. */
export async function startRecorder(
  s3Endpoint: string,
  bucket: string,
  options: Partial<RecorderOptions> = {},
): Promise<InProcessRecorder> {
  const scratchDir = await mkdtemp(join(tmpdir(), 'reliability-scratch-'));
  const s3 = createS3Client({ endpoint: s3Endpoint, credentials: LOCAL_S3_CREDENTIALS });
  const recorder = createRecorder({
    bucket,
    s3,
    callTokenSecret: SECRET,
    scratchDir,
    logger: new Logger({
      serviceName: 'recorder',
      logLevel: (process.env.RELIABILITY_LOG_LEVEL ?? 'SILENT') as 'SILENT',
    }),
    ...options,
  });
  const address = await recorder.listen(0, '127.0.0.1');
  return {
    url: `ws://127.0.0.1:${address.port}`,
    recorder,
    scratchDir,
    async close() {
      await recorder.close();
      s3.destroy();
      await rm(scratchDir, { recursive: true, force: true });
    },
  };
}

export interface RecorderChild {
  readonly url: string;
  readonly child: ChildProcess;
  readonly output: string[];
  readonly exited: Promise<[number | null, NodeJS.Signals | null]>;
  readonly scratchDir: string;
}

/** The recorder's real entry point (`tsx fargate/src/main.ts`) as a child process, configured by env. */
export async function startRecorderProcess(
  env: Record<string, string>,
  options: { cpus?: string } = {},
): Promise<RecorderChild> {
  const scratchDir = env.SCRATCH_DIR ?? (await mkdtemp(join(tmpdir(), 'reliability-scratch-')));
  const port = 20000 + Math.floor(Math.random() * 20000);
  const args = ['--import', 'tsx', join(ROOT, 'fargate/src/main.ts')];
  // Pinned (taskset), the recorder gets one core to itself, as in the benchmarks.
  const [command, argv] = options.cpus
    ? ['taskset', ['-c', options.cpus, process.execPath, ...args]]
    : [process.execPath, args];
  const child = spawn(command, argv, {
    cwd: ROOT,
    env: {
      ...process.env,
      PORT: String(port),
      HOST: '127.0.0.1',
      CALL_TOKEN_SECRET: SECRET,
      SCRATCH_DIR: scratchDir,
      AWS_REGION: 'us-east-1',
      LOG_LEVEL: 'WARN',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const output: string[] = [];
  for (const stream of [child.stdout, child.stderr]) {
    createInterface({ input: stream! }).on('line', (line) => output.push(line));
  }
  const exited = once(child, 'exit') as Promise<[number | null, NodeJS.Signals | null]>;
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (child.exitCode !== null)
      throw new Error(`recorder exited (${child.exitCode}):\n${output.join('\n')}`);
    const healthy = await fetch(`http://127.0.0.1:${port}/healthz`)
      .then((response) => response.status === 200)
      .catch(() => false);
    if (healthy) break;
    if (Date.now() > deadline) throw new Error(`recorder did not become healthy:\n${output.join('\n')}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return { url: `ws://127.0.0.1:${port}`, child, output, exited, scratchDir };
}

async function readJson(s3: S3Client, bucket: string, key: string): Promise<RecordingMetadata | undefined> {
  try {
    const object = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
    const text = await object.Body!.transformToString();
    try {
      return JSON.parse(text) as RecordingMetadata;
    } catch {
      // The local S3 server writes an object's file in place, so a read racing the write can see
      // part of it (real S3 never shows a partial object): read again on the next round.
      return undefined;
    }
  } catch (error) {
    if ((error as { name?: string }).name === 'NoSuchKey') return undefined;
    throw error;
  }
}

/** Waits until every call's metadata JSON (the recorder writes it last) is in S3; returns them by uuid. */
export async function waitForMetadata(
  s3: S3Client,
  bucket: string,
  calls: readonly CallResult[],
  timeoutMs: number,
): Promise<Map<string, RecordingMetadata>> {
  const found = new Map<string, RecordingMetadata>();
  const deadline = Date.now() + timeoutMs;
  while (found.size < calls.length && Date.now() < deadline) {
    for (const call of calls) {
      if (found.has(call.uuid)) continue;
      for (const date of [new Date(call.openedAt), new Date()]) {
        const metadata = await readJson(s3, bucket, metadataKey(call.uuid, date));
        if (metadata) {
          found.set(call.uuid, metadata);
          break;
        }
      }
    }
    if (found.size < calls.length) await new Promise((resolve) => setTimeout(resolve, 250));
  }
  return found;
}

export interface RecordingCheck {
  /** Calls whose WAV holds exactly the audio sent (header, size and every byte) and whose metadata agrees. */
  readonly complete: number;
  readonly framesLost: number;
  /** Up to 10 descriptions of what was wrong. */
  readonly problems: string[];
  readonly metadata: Map<string, RecordingMetadata>;
}

/**
 * The user's view of a set of calls: each has a WAV in S3 holding byte for byte the audio the
 * client sent, and a metadata JSON whose sizes and SHA-256 match that WAV.
 */
export async function checkRecordings(
  s3: S3Client,
  bucket: string,
  calls: readonly CallResult[],
  pcm: Buffer,
  timeoutMs = 60_000,
): Promise<RecordingCheck> {
  const metadata = await waitForMetadata(s3, bucket, calls, timeoutMs);
  const problems: string[] = [];
  const note = (text: string) => {
    if (problems.length < 10) problems.push(text);
  };
  let complete = 0;
  let framesLost = 0;
  const check = async (call: CallResult): Promise<void> => {
    const meta = metadata.get(call.uuid);
    const key = meta?.recordingKey ?? recordingKey(call.uuid, new Date(call.openedAt));
    let body: Buffer;
    try {
      const object = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
      body = Buffer.from(await object.Body!.transformToByteArray());
    } catch (error) {
      if ((error as { name?: string }).name !== 'NoSuchKey') throw error;
      framesLost += call.framesSent;
      note(`${call.uuid}: no WAV at ${key} (sent ${call.framesSent} frames)`);
      return;
    }
    framesLost += Math.max(0, Math.ceil((call.bytesSent - Math.max(0, body.length - 44)) / 640));
    const wrong = checkWav(body, call, pcm);
    if (wrong) {
      note(`${call.uuid}: ${wrong}`);
      return;
    }
    if (!meta) {
      note(`${call.uuid}: WAV complete but no metadata JSON`);
      return;
    }
    const digest = checkDigest(meta, wavDigestOf(body));
    if (meta.audioBytes !== call.bytesSent || meta.wavBytes !== body.length || !digest.ok) {
      note(
        `${call.uuid}: metadata says ${meta.audioBytes} audio bytes, WAV has ${body.length - 44}; digest: ${digest.detail}`,
      );
      return;
    }
    if (meta.recordingKey !== recordingKey(call.uuid, new Date(meta.startedAt))) {
      note(`${call.uuid}: metadata recordingKey ${meta.recordingKey} is not the key for its start time`);
      return;
    }
    complete += 1;
  };
  const queue = [...calls];
  await Promise.all(
    Array.from({ length: 8 }, async () => {
      for (let call = queue.shift(); call; call = queue.shift()) await check(call);
    }),
  );
  return { complete, framesLost, problems, metadata };
}

/** A call URL with a valid token (or the given one; `null` for none). */
export function callUrl(
  base: string,
  uuid: string,
  token: string | null = signCallToken(SECRET, uuid, Math.floor(Date.now() / 1000) + 600),
): string {
  return callUri(base, uuid, token);
}

/**
 * What a websocket upgrade gets: 101 when it is accepted (the socket is closed again at once),
 * else the HTTP status of the refusal; 0 when the connection failed without a response.
 */
export async function upgradeStatus(url: string): Promise<number> {
  try {
    (await openLeg(url)).terminate();
    return 101;
  } catch (error) {
    if (error instanceof LegOpenError) return error.status ?? 0;
    throw error;
  }
}
