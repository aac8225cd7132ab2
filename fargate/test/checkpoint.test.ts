import { createHash } from 'node:crypto';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Logger } from '@aws-lambda-powertools/logger';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bytesPerSecond, type SampleRate } from '../../common/audio-format.js';
import { checkpointKey, inflightCallKey, recordingKey } from '../../common/recording-keys.js';
import { type LocalS3, startLocalS3 } from '../../test-support/local-s3.js';
import { loopPcm, soxi, speechPcm } from '../../test-support/speech.js';
import type { InflightCall } from '../src/checkpoint.js';
import { TransferLimiter } from '../src/retry.js';
import { createRecorder, type Recorder } from '../src/server.js';
import { sweepInflight } from '../src/sweeper.js';
import {
  callUrl,
  closed,
  connectedFrame,
  frames,
  inflightObjects,
  newCallUuid,
  openSocket,
  readObject,
  SECRET,
  sendAll,
  streamRealTime,
  waitForRecording,
} from './support.js';

const silent = new Logger({ logLevel: 'SILENT' });
const rate: SampleRate = 16000;
const INTERVAL_MS = 1000;
let s3: LocalS3;
let work: string;
let pcm: Buffer;
const started: Recorder[] = [];

async function startRecorder(): Promise<{ recorder: Recorder; base: string; scratchDir: string }> {
  const scratchDir = await mkdtemp(join(work, 'scratch-'));
  const recorder = createRecorder({
    bucket: s3.bucket,
    s3: s3.client,
    callTokenSecret: SECRET,
    scratchDir,
    logger: silent,
    checkpointIntervalMs: INTERVAL_MS,
  });
  const address = await recorder.listen(0, '127.0.0.1');
  started.push(recorder);
  return { recorder, base: `ws://127.0.0.1:${address.port}`, scratchDir };
}

/** The checkpoints' audio, in offset order; fails unless each starts where the previous ended. */
async function checkpointedAudio(uuid: string): Promise<Buffer> {
  const objects = (await inflightObjects(s3.client, s3.bucket, uuid)).filter((o) => o.key.endsWith('.pcm'));
  const parts: Buffer[] = [];
  let offset = 0;
  for (const object of objects) {
    expect(object.key).toBe(checkpointKey(uuid, offset));
    const body = await readObject(s3.client, s3.bucket, object.key);
    parts.push(body);
    offset += body.length;
  }
  return Buffer.concat(parts);
}

function sweepOptions(scratchDir: string) {
  return {
    s3: s3.client,
    bucket: s3.bucket,
    scratchDir,
    staleMs: 3 * INTERVAL_MS,
    limiter: new TransferLimiter(2),
    partSizeBytes: 5 * 1024 * 1024,
    logger: silent,
  };
}

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'recorder-checkpoint-'));
  s3 = await startLocalS3();
  pcm = loopPcm(await speechPcm('Your call is being recorded. Please hold the line.', rate), rate, 4);
});

afterAll(async () => {
  await Promise.all(started.map((recorder) => recorder.close()));
  await s3?.close();
  await rm(work, { recursive: true, force: true });
});

describe('S3 checkpoints of a live call', () => {
  it('keep the audio in S3 within one interval (plus a batch) of what was sent; a sweep leaves the live call alone; a normal end removes them', async () => {
    const { base, scratchDir } = await startRecorder();
    const uuid = newCallUuid();
    const audio = frames(pcm, rate);
    const ws = await openSocket(callUrl(base, uuid));
    const end = closed(ws);
    ws.send(connectedFrame(rate, uuid, { campaign: 'spring' }));
    const stream = streamRealTime(ws, audio);
    const bps = bytesPerSecond(rate);
    const lags: number[] = [];
    // Sample the lag while the call runs (from 1.5 s on; the first checkpoint needs an interval).
    await new Promise((resolve) => setTimeout(resolve, 1500));
    while (stream.sent() < audio.length - 25) {
      const sentBytes = Buffer.concat(audio.slice(0, stream.sent())).length;
      const inS3 = await checkpointedAudio(uuid);
      // Byte-exact: the checkpoints are a prefix of what was sent.
      expect(inS3.equals(pcm.subarray(0, inS3.length))).toBe(true);
      lags.push((sentBytes - inS3.length) / bps);
      await new Promise((resolve) => setTimeout(resolve, 300));
    }
    expect(lags.length).toBeGreaterThanOrEqual(5);
    // The interval (1 s), plus 0.5 s for a checkpoint PUT in flight when the sample is taken.
    expect(Math.max(...lags)).toBeLessThanOrEqual(1.5);

    const call = JSON.parse(
      (await readObject(s3.client, s3.bucket, inflightCallKey(uuid))).toString(),
    ) as InflightCall;
    expect(call).toMatchObject({
      identity: { uuid, sampleRate: rate, conversationUuid: `CON-${uuid}` },
      headers: { campaign: 'spring' },
      uploadId: null,
    });
    expect(call.key).toMatch(new RegExp(`^recordings/\\d{4}/\\d{2}/\\d{2}/${uuid}\\.wav$`));

    // Another task's sweeper sees fresh checkpoints: the call is live, nothing is touched.
    const before = await inflightObjects(s3.client, s3.bucket, uuid);
    const swept = await sweepInflight(sweepOptions(await mkdtemp(join(work, 'other-task-'))));
    expect(swept).toMatchObject({ recovered: 0, live: 1 });
    expect((await inflightObjects(s3.client, s3.bucket, uuid)).slice(0, before.length)).toEqual(before);

    await stream.done;
    ws.close(1000);
    await end;
    const { wav, metadata } = await waitForRecording(s3.client, s3.bucket, uuid);
    expect(wav.subarray(44).equals(pcm)).toBe(true);
    expect(metadata.interrupted).toBe(false);
    const until = Date.now() + 5000;
    while ((await inflightObjects(s3.client, s3.bucket, uuid)).length > 0 && Date.now() < until) {
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    expect(await inflightObjects(s3.client, s3.bucket, uuid)).toEqual([]);
    expect(await readdir(scratchDir)).toEqual([]);
  });
});

describe('the inflight sweeper', () => {
  it('stores an abandoned call from its checkpoints as a playable WAV marked interrupted, then removes them', async () => {
    const uuid = newCallUuid();
    const startedAt = new Date('2026-03-04T05:06:07.000Z');
    const key = `recordings/2026/03/04/${uuid}.wav`;
    const call: InflightCall = {
      schemaVersion: 1,
      identity: {
        uuid,
        conversationUuid: `CON-${uuid}`,
        from: '447700900001',
        to: '447700900002',
        startedAt: startedAt.toISOString(),
        sampleRate: rate,
      },
      headers: { campaign: 'autumn' },
      key,
      uploadId: 'no-such-upload',
    };
    const put = (Key: string, Body: Buffer | string) =>
      s3.client.send(new PutObjectCommand({ Bucket: s3.bucket, Key, Body }));
    const cut = 1.5 * bytesPerSecond(rate) + 640;
    await put(inflightCallKey(uuid), JSON.stringify(call));
    await put(checkpointKey(uuid, 0), pcm.subarray(0, cut));
    await put(checkpointKey(uuid, cut), pcm.subarray(cut, 2 * cut));
    const scratchDir = await mkdtemp(join(work, 'sweeper-'));
    // Fresh objects are a live call's...
    expect(await sweepInflight(sweepOptions(scratchDir))).toMatchObject({ recovered: 0, live: 1 });
    // ...the same objects a minute later are an abandoned one's.
    const later = () => new Date(Date.now() + 60_000);
    const result = await sweepInflight({ ...sweepOptions(scratchDir), now: later });
    expect(result).toMatchObject({ recovered: 1, failed: 0 });

    const { metadata, wav, wavKey } = await waitForRecording(s3.client, s3.bucket, uuid, 1000);
    expect(wavKey).toBe(key);
    expect(wav.subarray(44).equals(pcm.subarray(0, 2 * cut))).toBe(true);
    expect(metadata).toMatchObject({
      uuid,
      startedAt: startedAt.toISOString(),
      interrupted: true,
      end: { by: 'recovered' },
      audioBytes: 2 * cut,
      wavBytes: wav.length,
      sha256: createHash('sha256').update(wav).digest('hex'),
      durationSeconds: (2 * cut) / bytesPerSecond(rate),
      headers: { campaign: 'autumn' },
    });
    const file = join(work, `${uuid}.wav`);
    await writeFile(file, wav);
    expect(await soxi(file)).toMatchObject({ sampleRate: rate, channels: 1, bits: 16, samples: cut });
    expect(await inflightObjects(s3.client, s3.bucket, uuid)).toEqual([]);
    expect(await readdir(scratchDir)).toEqual([]);
  });

  it('records a call cut before its first audio checkpoint as an empty WAV marked interrupted', async () => {
    const uuid = newCallUuid();
    const startedAt = new Date();
    const key = recordingKey(uuid, startedAt);
    const call: InflightCall = {
      schemaVersion: 1,
      identity: {
        uuid,
        conversationUuid: null,
        from: null,
        to: null,
        startedAt: startedAt.toISOString(),
        sampleRate: 8000,
      },
      headers: {},
      key,
      uploadId: null,
    };
    await s3.client.send(
      new PutObjectCommand({ Bucket: s3.bucket, Key: inflightCallKey(uuid), Body: JSON.stringify(call) }),
    );
    const result = await sweepInflight({
      ...sweepOptions(await mkdtemp(join(work, 'sweeper-'))),
      now: () => new Date(Date.now() + 60_000),
    });
    expect(result).toMatchObject({ recovered: 1, failed: 0 });
    const { metadata, wav } = await waitForRecording(s3.client, s3.bucket, uuid, 1000);
    expect(wav.length).toBe(44);
    expect(metadata).toMatchObject({
      audioBytes: 0,
      durationSeconds: 0,
      interrupted: true,
      end: { by: 'recovered' },
    });
    const file = join(work, `${uuid}.wav`);
    await writeFile(file, wav);
    expect(await soxi(file)).toMatchObject({ sampleRate: 8000, samples: 0 });
    expect(await inflightObjects(s3.client, s3.bucket, uuid)).toEqual([]);
  });

  it('never replaces a stored recording with its checkpoints: it only removes them', async () => {
    const { base } = await startRecorder();
    const uuid = newCallUuid();
    const ws = await openSocket(callUrl(base, uuid));
    const end = closed(ws);
    await sendAll(ws, [connectedFrame(rate, uuid), ...frames(pcm, rate)]);
    ws.close(1000);
    await end;
    const stored = await waitForRecording(s3.client, s3.bucket, uuid);
    // Checkpoints left behind (their removal failed), shorter than the recording.
    const call = { schemaVersion: 1, identity: { ...stored.metadata }, headers: {}, key: stored.wavKey };
    await s3.client.send(
      new PutObjectCommand({ Bucket: s3.bucket, Key: inflightCallKey(uuid), Body: JSON.stringify(call) }),
    );
    await s3.client.send(
      new PutObjectCommand({ Bucket: s3.bucket, Key: checkpointKey(uuid, 0), Body: pcm.subarray(0, 6400) }),
    );
    const result = await sweepInflight({
      ...sweepOptions(await mkdtemp(join(work, 'sweeper-'))),
      now: () => new Date(Date.now() + 60_000),
    });
    expect(result).toMatchObject({ recovered: 0, failed: 0 });
    expect(result.removed).toBeGreaterThanOrEqual(1);
    const after = await waitForRecording(s3.client, s3.bucket, uuid);
    expect(after.wav.equals(stored.wav)).toBe(true);
    expect(after.metadata).toEqual(stored.metadata);
    expect(await inflightObjects(s3.client, s3.bucket, uuid)).toEqual([]);
  });
});
