import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { GetObjectCommand, HeadObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import type { SampleRate } from '../../common/audio-format.js';
import { recordingKey } from '../../common/recording-keys.js';
import { createS3Client, LOCAL_S3_CREDENTIALS, LOCAL_S3_ENV } from '../../common/s3-client.js';
import { startLocalS3 } from '../../test-support/local-s3.js';
import { imageEnv, imageNodeFlags } from '../../test-support/recorder-image.js';
import { loopPcm, speechPcm } from '../../test-support/speech.js';
import { type CallResult, expectedPcm } from './load-generator.js';
import {
  bundleEntry,
  type ObjectCreated,
  ROOT,
  type StartedProcess,
  startRecorderProcess,
  startS3Process,
} from './processes.js';

const execFileAsync = promisify(execFile);

/**
 * Which CPU the recorder under test has to itself (`BENCH_RECORDER_CPU`, default 1), and which
 * the load generator and the S3 server share (the other one). On a VM the two vCPUs need not be
 * equally fast: check with `taskset -c N` on a busy loop, and give the faster one to whichever
 * side must not be the bottleneck.
 */
export const CPUS = (() => {
  const recorder = process.env.BENCH_RECORDER_CPU ?? '1';
  return { recorder, others: recorder === '1' ? '0' : '1' };
})();

/**
 * The S3 server stands in for a remote service, yet shares the load generator's CPU here: run at
 * this niceness (`BENCH_S3_NICE`, default 10; 0 for none) it yields that CPU whenever the generator
 * has frames due, so a recorder that uses S3 during calls (its checkpoints) does not make the
 * generator late, and so its own lag measure inconclusive, through the server's CPU.
 */
const S3_NICE = Number(process.env.BENCH_S3_NICE ?? 10);

/**
 * What a benchmark runs: the recorder, the baseline, and (capacity only) the floor, a bare `ws`
 * server that discards every frame and stores nothing.
 */
export type TargetName = 'recorder' | 'baseline' | 'floor';

export const TARGET_ENTRIES: Record<TargetName, string> = {
  recorder: 'fargate/src/main.ts',
  baseline: 'bench/baseline/main.ts',
  floor: 'bench/floor/main.ts',
};

/** A recorder process with its own local S3 server, ready for calls. */
export interface Target {
  readonly name: TargetName;
  readonly url: string;
  readonly secret: string;
  readonly endpoint: string;
  readonly bucket: string;
  readonly s3: S3Client;
  readonly recorder: StartedProcess;
  /** The local S3 server's process id (its CPU is the environment's, not the recorder's); none on RGW. */
  readonly s3Pid: number | undefined;
  /**
   * With `s3Events`: every object stored so far and when it became readable. Undefined on RGW,
   * which sends no notifications here: callers list the bucket instead.
   */
  readonly objectsCreated: (() => ObjectCreated[]) | undefined;
  stop(): Promise<void>;
}

export interface TargetOptions {
  /** CPUs for the recorder process (taskset list). @default CPUS.recorder */
  readonly recorderCpus?: string;
  /** CPUs for the S3 server process. @default CPUS.others */
  readonly s3Cpus?: string;
  readonly port?: number;
  /** Extra env for the recorder process. */
  readonly env?: Record<string, string>;
  /** Node flags for the process: the recorder's come after the image's own (a later V8 flag wins). */
  readonly nodeArgs?: readonly string[];
  /** A recorder bundle built elsewhere (e.g. at another commit) instead of the working tree's. */
  readonly script?: string;
  /** Have the S3 server report each object as it is stored (`Target.objectsCreated`). */
  readonly s3Events?: boolean;
}

/** Where a target stores its recordings: a fresh s3rver process, or a fresh bucket on RGW. */
interface TargetS3 {
  readonly endpoint: string;
  readonly bucket: string;
  readonly env: Readonly<Record<string, string>>;
  readonly client: S3Client;
  readonly pid: number | undefined;
  readonly objectsCreated: (() => ObjectCreated[]) | undefined;
  stop(): Promise<void>;
}

/**
 * `BENCH_S3=rgw` (after `source <(bash scripts/rgw.sh env)`) stores on Ceph's RADOS Gateway, a
 * real S3 implementation whose multipart completion writes a manifest rather than re-reading the
 * parts as s3rver does; the default is s3rver in a process of its own.
 */
async function startTargetS3(options: TargetOptions): Promise<TargetS3> {
  if (process.env.BENCH_S3 === 'rgw') {
    const rgw = await startLocalS3({ server: 'rgw' });
    return {
      endpoint: rgw.endpoint,
      bucket: rgw.bucket,
      env: rgw.env,
      client: rgw.client,
      pid: undefined,
      objectsCreated: undefined,
      stop: () => rgw.close(),
    };
  }
  const s3 = await startS3Process({
    cpus: options.s3Cpus ?? CPUS.others,
    events: options.s3Events ?? false,
    nice: S3_NICE,
  });
  const client = createS3Client({ endpoint: s3.endpoint, credentials: LOCAL_S3_CREDENTIALS });
  return {
    endpoint: s3.endpoint,
    bucket: s3.bucket,
    env: LOCAL_S3_ENV,
    client,
    pid: s3.process.pid,
    objectsCreated: options.s3Events ? s3.objectsCreated : undefined,
    async stop() {
      client.destroy();
      await s3.process.stop(10_000);
      await rm(s3.directory, { recursive: true, force: true });
    },
  };
}

/** Bundles and starts one recorder (pinned) against a fresh local S3 server process (or RGW bucket). */
export async function startTarget(name: TargetName, options: TargetOptions = {}): Promise<Target> {
  const script =
    options.script ??
    (name === 'recorder' ? await bundleRecorder() : await bundleEntry(TARGET_ENTRIES[name]));
  const s3 = await startTargetS3(options);
  const scratch = await mkdtemp(join(tmpdir(), `bench-${name}-scratch-`));
  const secret = randomBytes(32).toString('hex');
  const port = options.port ?? 18000 + Math.floor(Math.random() * 2000);
  const recorder = await startRecorderProcess({
    script,
    port,
    cpus: options.recorderCpus ?? CPUS.recorder,
    label: name,
    echo: process.env.BENCH_ECHO === '1',
    ...(name === 'recorder'
      ? {
          nodeArgs: [
            ...(await imageNodeFlags()),
            // e.g. BENCH_RECORDER_NODE_ARGS='--cpu-prof --cpu-prof-dir=/tmp/prof' to profile the recorder.
            ...(process.env.BENCH_RECORDER_NODE_ARGS?.split(' ').filter(Boolean) ?? []),
            ...(options.nodeArgs ?? []),
          ],
        }
      : name === 'floor'
        ? // e.g. BENCH_FLOOR_NODE_ARGS='--cpu-prof --cpu-prof-dir=/tmp/prof' to profile the floor.
          {
            nodeArgs: [
              ...(process.env.BENCH_FLOOR_NODE_ARGS?.split(' ').filter(Boolean) ?? []),
              ...(options.nodeArgs ?? []),
            ],
          }
        : {}),
    env: {
      // The image's environment first (MALLOC_MMAP_THRESHOLD_ among it); the run's own settings win.
      ...(name === 'recorder' ? await imageEnv() : {}),
      HOST: '127.0.0.1',
      RECORDINGS_BUCKET: s3.bucket,
      CALL_TOKEN_SECRET: secret,
      S3_ENDPOINT: s3.endpoint,
      ...s3.env,
      AWS_REGION: 'us-east-1',
      SCRATCH_DIR: scratch,
      LOG_LEVEL: 'WARN',
      POWERTOOLS_LOG_LEVEL: 'WARN',
      // One process is driven past a task's call cap and faster than real time (--speed); the
      // scratch-disk check reserves MAX_CALL_SECONDS at 24 kHz per call (33.6 MB at 700 s, the
      // longest bench call being 600 s), so 1000 calls need about 34 GB free.
      ...(name === 'recorder' ? { MAX_CALLS: '100000', MAX_AUDIO_SPEED: '0', MAX_CALL_SECONDS: '700' } : {}),
      // e.g. BENCH_RECORDER_ENV='CHECKPOINT_SECONDS=0' to measure the recorder with a setting changed.
      ...(name === 'recorder' ? parseEnvList(process.env.BENCH_RECORDER_ENV) : {}),
      ...options.env,
    },
  });
  return {
    name,
    url: `ws://127.0.0.1:${port}`,
    secret,
    endpoint: s3.endpoint,
    bucket: s3.bucket,
    s3: s3.client,
    recorder,
    s3Pid: s3.pid,
    objectsCreated: s3.objectsCreated,
    async stop() {
      await recorder.stop();
      await s3.stop();
      await rm(scratch, { recursive: true, force: true });
    },
  };
}

/** `A=1 B=2` → `{ A: '1', B: '2' }`. */
export function parseEnvList(list: string | undefined): Record<string, string> {
  return Object.fromEntries(
    (list ?? '')
      .split(/\s+/)
      .filter(Boolean)
      .map((pair) => [pair.slice(0, pair.indexOf('=')), pair.slice(pair.indexOf('=') + 1)]),
  );
}

/** The recorder bundled exactly as its container image bundles it (`node fargate/bundle.mjs <outfile>`). */
export async function bundleRecorder(root = ROOT): Promise<string> {
  const outfile = join(await mkdtemp(join(tmpdir(), 'bench-recorder-')), 'main.mjs');
  await execFileAsync(process.execPath, [join(root, 'fargate/bundle.mjs'), outfile], { cwd: root });
  return outfile;
}

/** Real speech, looped to `seconds`, written to a temporary raw PCM file for a load generator. */
export async function speechFile(
  sampleRate: SampleRate = 16000,
  seconds = 30,
): Promise<{ pcm: Buffer; file: string }> {
  const speech = await speechPcm(
    'Thank you for calling. This call is recorded for quality and training purposes. ' +
      'Please say your account number after the tone, then press the pound key.',
    sampleRate,
  );
  const pcm = loopPcm(speech, sampleRate, seconds);
  const dir = await mkdtemp(join(tmpdir(), 'bench-pcm-'));
  const file = join(dir, 'speech.raw');
  await writeFile(file, pcm);
  return { pcm, file };
}

export interface Verification {
  readonly calls: number;
  /** Calls whose WAV holds exactly the audio sent, with a correct header. */
  readonly complete: number;
  /** Frames sent but missing from the stored WAVs (all calls together). */
  readonly framesLost: number;
  /** Calls with no object, a wrong size, a bad header or different audio; up to 10 described. */
  readonly failures: string[];
  readonly failed: number;
}

/**
 * Checks every call's WAV in S3 against what the load generator sent: size, RIFF header sizes
 * and the PCM itself, byte for byte. `fullCompare: false` checks sizes with HEAD only.
 */
export async function verifyRecordings(
  s3: S3Client,
  bucket: string,
  calls: readonly CallResult[],
  pcm: Buffer,
  options: { fullCompare?: boolean; concurrency?: number; frameSize?: number; waitMs?: number } = {},
): Promise<Verification> {
  if (options.waitMs) await waitForSizes(s3, bucket, calls, options.waitMs);
  const frameSize = options.frameSize ?? 640;
  const failures: string[] = [];
  let complete = 0;
  let framesLost = 0;
  let failed = 0;
  const queue = [...calls];
  const fail = (call: CallResult, why: string) => {
    failed += 1;
    if (failures.length < 10) failures.push(`${call.uuid}: ${why}`);
  };
  const check = async (call: CallResult): Promise<void> => {
    const keys = [
      ...new Set([
        call.storedKey,
        recordingKey(call.uuid, new Date(call.openedAt)),
        recordingKey(call.uuid, new Date()),
      ]),
    ].filter((key): key is string => key !== undefined);
    for (const key of keys) {
      try {
        if (options.fullCompare === false) {
          const head = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: key }));
          const audio = (head.ContentLength ?? 0) - 44;
          if (audio === call.bytesSent) complete += 1;
          else {
            framesLost += Math.max(0, Math.ceil((call.bytesSent - audio) / frameSize));
            fail(call, `stored ${audio} audio bytes, sent ${call.bytesSent}`);
          }
          return;
        }
        const object = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
        const body = Buffer.from(
          await (object.Body as { transformToByteArray(): Promise<Uint8Array> }).transformToByteArray(),
        );
        const audio = body.subarray(44);
        const why = checkWav(body, call, pcm);
        if (why === undefined) complete += 1;
        else {
          framesLost += Math.max(0, Math.ceil((call.bytesSent - audio.length) / frameSize));
          fail(call, why);
        }
        return;
      } catch (error) {
        const name = (error as { name?: string }).name;
        if (name !== 'NoSuchKey' && name !== 'NotFound') throw error;
      }
    }
    framesLost += call.framesSent;
    fail(call, `no recording (sent ${call.framesSent} frames)`);
  };
  await Promise.all(
    Array.from({ length: options.concurrency ?? 8 }, async () => {
      for (let call = queue.shift(); call; call = queue.shift()) await check(call);
    }),
  );
  return { calls: calls.length, complete, framesLost, failures, failed };
}

/** Waits (up to `waitMs`) until every call's WAV is in S3 at the size of the audio it sent. */
async function waitForSizes(
  s3: S3Client,
  bucket: string,
  calls: readonly CallResult[],
  waitMs: number,
): Promise<void> {
  const deadline = Date.now() + waitMs;
  const pending = [...calls];
  while (pending.length > 0 && Date.now() < deadline) {
    const call = pending[0] as CallResult;
    const key = recordingKey(call.uuid, new Date(call.openedAt));
    const size = await s3
      .send(new HeadObjectCommand({ Bucket: bucket, Key: key }))
      .then((head) => head.ContentLength)
      .catch((error: { name?: string }) => {
        if (error.name !== 'NotFound') throw error;
        return undefined;
      });
    if (size === 44 + call.bytesSent) pending.shift();
    else await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

/** Why a WAV does not hold exactly the call's audio, or undefined when it does. */
export function checkWav(body: Buffer, call: CallResult, pcm: Buffer): string | undefined {
  if (
    body.length < 44 ||
    body.toString('latin1', 0, 4) !== 'RIFF' ||
    body.toString('latin1', 8, 12) !== 'WAVE'
  ) {
    return `not a WAV (${body.length} bytes)`;
  }
  const audio = body.subarray(44);
  if (body.readUInt32LE(4) !== body.length - 8)
    return `RIFF size ${body.readUInt32LE(4)}, file ${body.length}`;
  if (body.readUInt32LE(40) !== audio.length)
    return `data size ${body.readUInt32LE(40)}, holds ${audio.length}`;
  if (audio.length !== call.bytesSent) return `stored ${audio.length} audio bytes, sent ${call.bytesSent}`;
  if (!audio.equals(expectedPcm(pcm, call.pcmOffset, call.bytesSent)))
    return 'audio differs from what was sent';
  return undefined;
}
