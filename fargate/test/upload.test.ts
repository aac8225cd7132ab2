import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { GetObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createS3Client } from '../../common/s3-client.js';
import { wavHeader } from '../../common/wav.js';
import { type FaultProxy, startFaultProxy } from '../../test-support/fault-proxy.js';
import { type LocalS3, startLocalS3 } from '../../test-support/local-s3.js';
import { AudioSpool } from '../src/spool.js';
import { TransferLimiter } from '../src/transfer-limiter.js';
import { MIN_PART_BYTES, RecordingUpload } from '../src/upload.js';

// S3's smallest part but the last: a real server (the RGW leg) refuses smaller ones at Complete.
const PART = MIN_PART_BYTES;
const STALL_MS = 1500;

let s3: LocalS3;
let proxy: FaultProxy;
let client: S3Client;
let work: string;

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'upload-test-'));
  s3 = await startLocalS3();
  proxy = await startFaultProxy({ target: s3.endpoint });
  client = createS3Client({ endpoint: proxy.endpoint, credentials: s3.credentials });
});

afterAll(async () => {
  client?.destroy();
  await proxy?.close();
  await s3?.close();
  await rm(work, { recursive: true, force: true });
});

async function until(condition: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!condition()) {
    if (performance.now() > deadline) throw new Error('timed out');
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

describe('RecordingUpload at hangup', () => {
  it('sends part 1 beside a mid-call part still on its way, not after it, and stores the WAV byte for byte', async () => {
    // Every UploadPart is noted as it reaches S3; part 2 is held for STALL_MS, then delivered.
    const requests: { part: number; at: number }[] = [];
    proxy.setFault({
      kind: 'stall',
      stallMs: STALL_MS,
      match: ({ method, url }) => {
        const part = /[?&]partNumber=(\d+)/.exec(url)?.[1];
        if (method === 'PUT' && part) requests.push({ part: Number(part), at: performance.now() });
        return part === '2';
      },
    });
    const key = 'recordings/2026/12/01/upload-in-flight.wav';
    let upload: RecordingUpload | undefined;
    const spool = new AudioSpool(join(work, 'in-flight.pcm'), (stored) => upload?.progress(stored), 4096);
    upload = new RecordingUpload({
      s3: client,
      bucket: s3.bucket,
      key,
      objectMetadata: {},
      format: { sampleRate: 16000 },
      spool,
      partSizeBytes: PART,
      limiter: new TransferLimiter(4),
    });
    // Three and a half parts of audio: part 2 is going up (held) when the call ends.
    const audio = randomBytes(Math.floor(3.5 * PART));
    spool.append(audio);
    await spool.flush();
    await until(() => requests.some((request) => request.part === 2));
    const part2At = requests.find((request) => request.part === 2)!.at;

    const stored = await upload.finish();
    proxy.setFault(undefined);

    const part1At = requests.find((request) => request.part === 1)?.at;
    expect(part1At).toBeDefined();
    // Before: part 1 waited for part 2's answer, STALL_MS after it was sent.
    expect(part1At! - part2At).toBeLessThan(STALL_MS / 2);
    expect(stored.timings.midCallPart).toBeGreaterThanOrEqual(STALL_MS / 2);
    expect(stored.parts).toBe(4);
    const object = await s3.client.send(new GetObjectCommand({ Bucket: s3.bucket, Key: key }));
    const wav = Buffer.from(await object.Body!.transformToByteArray());
    expect(wav.equals(Buffer.concat([wavHeader({ sampleRate: 16000 }, audio.length), audio]))).toBe(true);
    expect(stored).toMatchObject({
      audioSha256: createHash('sha256').update(audio).digest('hex'),
      wavHeaderHex: wav.subarray(0, 44).toString('hex'),
    });
    await spool.remove();
  });
});
