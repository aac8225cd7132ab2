import { randomUUID } from 'node:crypto';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Logger } from '@aws-lambda-powertools/logger';
import { CreateBucketCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bytesPerSecond, type SampleRate } from '../../common/audio-format.js';
import { checkpointBatchKey, recordingKey } from '../../common/recording-keys.js';
import { createS3Client } from '../../common/s3-client.js';
import { type LocalS3, startLocalS3 } from '../../test-support/local-s3.js';
import {
  callUrl,
  checkpointedCall,
  closed,
  connectedFrame,
  frames,
  inflightKeys,
  listKeys,
  newCallUuid,
  openSocket,
  SECRET,
  sendAll,
  streamRealTime,
  waitForRecording,
  waitUntil,
} from '../../test-support/recorder.js';
import { metadataDigests } from '../../test-support/recording-fixtures.js';
import { loopPcm, soxi, speechPcm } from '../../test-support/speech.js';
import type { InflightCall } from '../src/checkpoint.js';
import { createRecorder, type Recorder, type RecorderOptions } from '../src/recorder.js';
import { sweepInflight } from '../src/sweeper.js';
import { TransferLimiter } from '../src/transfer-limiter.js';

const silent = new Logger({ logLevel: 'SILENT' });
const rate: SampleRate = 16000;
const INTERVAL_MS = 1000;
let s3: LocalS3;
let work: string;
let pcm: Buffer;
const started: Recorder[] = [];

async function startRecorder(
  intervalMs = INTERVAL_MS,
  more: Partial<RecorderOptions> = {},
): Promise<{ recorder: Recorder; base: string; scratchDir: string }> {
  const scratchDir = await mkdtemp(join(work, 'scratch-'));
  const recorder = createRecorder({
    taskId: randomUUID(),
    bucket: s3.bucket,
    s3: s3.client,
    callTokenSecret: SECRET,
    scratchDir,
    logger: silent,
    checkpointIntervalMs: intervalMs,
    ...more,
  });
  const address = await recorder.listen(0, '127.0.0.1');
  started.push(recorder);
  return { recorder, base: `ws://127.0.0.1:${address.port}`, scratchDir };
}

/**
 * Writes a batch as a recorder does (an index line, then the audio), for a sweeper to find. Each
 * entry's audio follows the previous one's.
 */
async function putBatch(
  taskId: string,
  seq: number,
  entries: { uuid: string; offset: number; audio?: Buffer; call?: InflightCall }[],
  bucket = s3.bucket,
): Promise<void> {
  let at = 0;
  const index = {
    format: 'checkpoint-batch',
    version: 1,
    taskId,
    seq,
    writtenAt: new Date().toISOString(),
    entries: entries.map((entry) => {
      const length = entry.audio?.length ?? 0;
      const out = {
        uuid: entry.uuid,
        offset: entry.offset,
        length,
        at,
        ...(entry.call ? { call: entry.call } : {}),
      };
      at += length;
      return out;
    }),
  };
  const body = Buffer.concat([
    Buffer.from(`${JSON.stringify(index)}\n`),
    ...entries.map((entry) => entry.audio ?? Buffer.alloc(0)),
  ]);
  await s3.client.send(
    new PutObjectCommand({ Bucket: bucket, Key: checkpointBatchKey(taskId, seq), Body: body }),
  );
}

function inflightCall(
  uuid: string,
  startedAt: Date,
  sampleRate: SampleRate,
  uploadId: string | null,
): InflightCall {
  return {
    schemaVersion: 1,
    identity: {
      uuid,
      conversationUuid: `CON-${uuid}`,
      from: '447700900001',
      to: '447700900002',
      startedAt: startedAt.toISOString(),
      sampleRate,
    },
    headers: { campaign: 'autumn' },
    key: recordingKey(uuid, startedAt),
    uploadId,
  };
}

const aMinuteLater = () => new Date(Date.now() + 60_000);

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

describe('S3 checkpoints of live calls', () => {
  it('keep the audio in S3 within one interval (plus a batch) of what was sent; a sweep leaves the running task alone; a normal end removes them', async () => {
    const { recorder, base, scratchDir } = await startRecorder();
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
      const inS3 = (await checkpointedCall(s3.client, s3.bucket, uuid)).audio;
      // Byte-exact: the checkpoints are a prefix of what was sent.
      expect(inS3.equals(pcm.subarray(0, inS3.length))).toBe(true);
      lags.push((sentBytes - inS3.length) / bps);
      await new Promise((resolve) => setTimeout(resolve, 300));
    }
    expect(lags.length).toBeGreaterThanOrEqual(5);
    // The interval (1 s), plus 0.5 s for a checkpoint PUT in flight when the sample is taken.
    expect(Math.max(...lags)).toBeLessThanOrEqual(1.5);

    const { call, batches } = await checkpointedCall(s3.client, s3.bucket, uuid);
    expect(call).toMatchObject({
      identity: { uuid, sampleRate: rate, conversationUuid: `CON-${uuid}` },
      headers: { campaign: 'spring' },
      uploadId: null,
    });
    expect(call?.key).toMatch(new RegExp(`^recordings/\\d{4}/\\d{2}/\\d{2}/${uuid}\\.wav$`));
    expect(batches.every((key) => key.startsWith(`inflight/${recorder.taskId}/`))).toBe(true);

    // Another task's sweeper sees fresh batches: the task is running, nothing is touched.
    const before = await inflightKeys(s3.client, s3.bucket, recorder.taskId);
    const swept = await sweepInflight(sweepOptions(await mkdtemp(join(work, 'other-task-'))));
    expect(swept).toMatchObject({ recovered: 0, live: 1, tasks: 0 });
    expect((await inflightKeys(s3.client, s3.bucket, recorder.taskId)).slice(0, before.length)).toEqual(
      before,
    );

    await stream.done;
    ws.close(1000);
    await end;
    const { wav, metadata } = await waitForRecording(s3.client, s3.bucket, uuid);
    expect(wav.subarray(44).equals(pcm)).toBe(true);
    expect(metadata.interrupted).toBe(false);
    const until = Date.now() + 5000;
    while ((await checkpointedCall(s3.client, s3.bucket, uuid)).batches.length > 0 && Date.now() < until) {
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    expect((await checkpointedCall(s3.client, s3.bucket, uuid)).batches).toEqual([]);
    expect(await readdir(scratchDir)).toEqual([]);
    // Closed with no call left: nothing of the task stays (its heartbeat goes too).
    await recorder.close();
    expect(await inflightKeys(s3.client, s3.bucket, recorder.taskId)).toEqual([]);
  });

  it('put many calls in one batch: about a PUT per tick, not one per call per interval', async () => {
    // 2 s checkpoints: a 200 ms tick, and each call due about once a second (its spool batches).
    const { recorder, base } = await startRecorder(2000);
    const calls = 20;
    const speech = pcm.subarray(0, 5 * bytesPerSecond(rate));
    const uuids = Array.from({ length: calls }, () => newCallUuid());
    const sockets = await Promise.all(uuids.map((uuid) => openSocket(callUrl(base, uuid))));
    const ends = sockets.map((ws) => closed(ws));
    const streams = sockets.map((ws, i) => {
      ws.send(connectedFrame(rate, uuids[i]!));
      return streamRealTime(ws, frames(speech, rate));
    });
    await Promise.all(streams.map((stream) => stream.done));
    // Before hangup, while every batch is still kept: the sequence numbers count the PUTs.
    const keys = await inflightKeys(s3.client, s3.bucket, recorder.taskId);
    const written = Math.max(
      ...keys
        .filter((key) => key.endsWith('.batch'))
        .map((key) => Number(key.split('/').at(-1)!.split('.')[0])),
    );
    let pieces = 0;
    for (const uuid of uuids) {
      const checkpointed = await checkpointedCall(s3.client, s3.bucket, uuid);
      expect(checkpointed.call).toMatchObject({ identity: { uuid } });
      expect(checkpointed.audio.equals(speech.subarray(0, checkpointed.audio.length))).toBe(true);
      // 5 s streamed with 2 s checkpoints: at least 3 s of it are in S3.
      expect(checkpointed.audio.length).toBeGreaterThanOrEqual(3 * bytesPerSecond(rate));
      pieces += checkpointed.pieces;
    }
    // Each call's audio went up in several pieces, yet the PUTs number a fraction of the pieces.
    expect(pieces).toBeGreaterThanOrEqual(calls * 3);
    expect(written).toBeLessThanOrEqual(pieces / 3);
    for (const ws of sockets) ws.close(1000);
    await Promise.all(ends);
    for (const uuid of uuids) await waitForRecording(s3.client, s3.bucket, uuid);
    await recorder.close();
    expect(await inflightKeys(s3.client, s3.bucket, recorder.taskId)).toEqual([]);
  });

  it('survive batch PUTs that fail, and ones reported failed that did land: the audio in S3 stays exact and catches up, and every batch goes once the call is stored', async () => {
    const client = createS3Client({ endpoint: s3.endpoint, credentials: s3.credentials });
    let faultsUntil = 0;
    let faults = 0;
    client.middlewareStack.add(
      (next, context) => async (args) => {
        const key = (args.input as { Key?: string }).Key ?? '';
        if (
          context.commandName !== 'PutObjectCommand' ||
          !key.endsWith('.batch') ||
          Date.now() > faultsUntil
        ) {
          return next(args);
        }
        const unavailable = Object.assign(new Error('injected: S3 unavailable'), {
          $metadata: { httpStatusCode: 503 },
        });
        // Every other fault lands first: the object exists, but the recorder is told it failed.
        if (faults++ % 2 === 0) await next(args);
        throw unavailable;
      },
      { step: 'initialize' },
    );
    let failed = 0;
    const { recorder, base } = await startRecorder(INTERVAL_MS, {
      s3: client,
      retry: { baseDelayMs: 10, maxDelayMs: 50, deadlineMs: 200 },
      metrics: {
        callStarted() {},
        callFinished() {},
        callFailed() {},
        activeCalls() {},
        publish() {},
        checkpointFailed: () => failed++,
      },
    });
    const uuid = newCallUuid();
    const ws = await openSocket(callUrl(base, uuid));
    const end = closed(ws);
    faultsUntil = Date.now() + 2500;
    ws.send(connectedFrame(rate, uuid));
    const audio = frames(pcm, rate);
    const stream = streamRealTime(ws, audio);
    await new Promise((resolve) => setTimeout(resolve, 2500));
    expect(faults).toBeGreaterThan(2);
    expect(failed).toBeGreaterThan(0);
    // After the faults, within the usual bound, S3 holds an exact prefix of what was sent.
    await new Promise((resolve) => setTimeout(resolve, 1500));
    const sentBytes = Buffer.concat(audio.slice(0, stream.sent())).length;
    const { audio: inS3, call } = await checkpointedCall(s3.client, s3.bucket, uuid);
    expect(call).toMatchObject({ identity: { uuid } });
    expect(inS3.equals(pcm.subarray(0, inS3.length))).toBe(true);
    expect((sentBytes - inS3.length) / bytesPerSecond(rate)).toBeLessThanOrEqual(1.5);
    await stream.done;
    ws.close(1000);
    await end;
    const { wav } = await waitForRecording(s3.client, s3.bucket, uuid);
    expect(wav.subarray(44).equals(pcm)).toBe(true);
    // Batches reported failed were kept in the books: the ones that landed go too.
    await waitUntil(async () => (await checkpointedCall(s3.client, s3.bucket, uuid)).batches.length === 0);
    await recorder.close();
    expect(await inflightKeys(s3.client, s3.bucket, recorder.taskId)).toEqual([]);
    client.destroy();
  });

  it('keep a running task with a quiet call from looking stopped: its heartbeat', async () => {
    const { recorder, base } = await startRecorder();
    const uuid = newCallUuid();
    const ws = await openSocket(callUrl(base, uuid));
    const end = closed(ws);
    ws.send(connectedFrame(rate, uuid));
    // No audio for longer than the sweeper's staleness (3 intervals): only the identity batch and
    // the heartbeat are written.
    await new Promise((resolve) => setTimeout(resolve, 4 * INTERVAL_MS));
    expect(await inflightKeys(s3.client, s3.bucket, recorder.taskId)).toContain(
      `inflight/${recorder.taskId}/alive.json`,
    );
    const swept = await sweepInflight(sweepOptions(await mkdtemp(join(work, 'other-task-'))));
    expect(swept).toMatchObject({ recovered: 0, tasks: 0 });
    expect((await listKeys(s3.client, s3.bucket, 'recordings/')).some((key) => key.includes(uuid))).toBe(
      false,
    );
    await sendAll(ws, frames(pcm.subarray(0, 6400), rate));
    ws.close(1000);
    await end;
    const { metadata } = await waitForRecording(s3.client, s3.bucket, uuid);
    expect(metadata).toMatchObject({ interrupted: false, audioBytes: 6400 });
    await recorder.close();
    expect(await inflightKeys(s3.client, s3.bucket, recorder.taskId)).toEqual([]);
  });
});

describe('the inflight sweeper', () => {
  beforeAll(async () => {
    // A bucket of its own: a live-call test above that failed midway may have left its task's
    // checkpoints behind, and a sweep here would find that task too.
    await s3.close();
    s3 = await startLocalS3();
  });

  it('stores each call of a stopped task from its batches as a playable WAV marked interrupted, then removes the batches', async () => {
    const taskId = randomUUID();
    const one = newCallUuid();
    const two = newCallUuid();
    const startedAt = new Date('2026-03-04T05:06:07.000Z');
    const cut = 1.5 * bytesPerSecond(rate) + 640;
    // Batch 1: both calls' identities and first audio. Batch 2: a retry of call one's second
    // piece whose first attempt did land as batch 3 too (overlapping the same bytes), and call
    // two's upload id.
    await putBatch(taskId, 1, [
      { uuid: one, offset: 0, audio: pcm.subarray(0, cut), call: inflightCall(one, startedAt, rate, null) },
      { uuid: two, offset: 0, audio: pcm.subarray(0, 640), call: inflightCall(two, startedAt, rate, null) },
    ]);
    await putBatch(taskId, 2, [
      { uuid: one, offset: cut, audio: pcm.subarray(cut, 2 * cut) },
      {
        uuid: two,
        offset: 640,
        audio: pcm.subarray(640, 1280),
        call: inflightCall(two, startedAt, rate, 'gone'),
      },
    ]);
    await putBatch(taskId, 3, [{ uuid: one, offset: cut, audio: pcm.subarray(cut, 2 * cut + 320) }]);
    const scratchDir = await mkdtemp(join(work, 'sweeper-'));
    // Fresh objects are a running task's...
    expect(await sweepInflight(sweepOptions(scratchDir))).toMatchObject({ recovered: 0, live: 1 });
    // ...the same objects a minute later are a stopped one's.
    const result = await sweepInflight({ ...sweepOptions(scratchDir), now: aMinuteLater });
    expect(result).toMatchObject({ recovered: 2, failed: 0, tasks: 1 });

    const { metadata, wav, wavKey } = await waitForRecording(s3.client, s3.bucket, one, 1000);
    expect(wavKey).toBe(`recordings/2026/03/04/${one}.wav`);
    const expected = pcm.subarray(0, 2 * cut + 320);
    expect(wav.subarray(44).equals(expected)).toBe(true);
    expect(metadata).toMatchObject({
      uuid: one,
      startedAt: startedAt.toISOString(),
      interrupted: true,
      end: { by: 'recovered' },
      audioBytes: expected.length,
      wavBytes: wav.length,
      ...metadataDigests(wav),
      durationSeconds: expected.length / bytesPerSecond(rate),
      headers: { campaign: 'autumn' },
    });
    const file = join(work, `${one}.wav`);
    await writeFile(file, wav);
    expect(await soxi(file)).toMatchObject({
      sampleRate: rate,
      channels: 1,
      bits: 16,
      samples: expected.length / 2,
    });
    const second = await waitForRecording(s3.client, s3.bucket, two, 1000);
    expect(second.wav.subarray(44).equals(pcm.subarray(0, 1280))).toBe(true);
    expect(await inflightKeys(s3.client, s3.bucket, taskId)).toEqual([]);
    expect(await readdir(scratchDir)).toEqual([]);
  });

  it('records a call cut before its first audio checkpoint as an empty WAV marked interrupted', async () => {
    const taskId = randomUUID();
    const uuid = newCallUuid();
    await putBatch(taskId, 1, [{ uuid, offset: 0, call: inflightCall(uuid, new Date(), 8000, null) }]);
    const result = await sweepInflight({
      ...sweepOptions(await mkdtemp(join(work, 'sweeper-'))),
      now: aMinuteLater,
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
    expect(await inflightKeys(s3.client, s3.bucket, taskId)).toEqual([]);
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
    // A stopped task's batch still holding the call (its removal failed), shorter than the recording.
    const taskId = randomUUID();
    const call = inflightCall(uuid, new Date(stored.metadata.startedAt), rate, null);
    await putBatch(taskId, 7, [{ uuid, offset: 0, audio: pcm.subarray(0, 6400), call }]);
    const result = await sweepInflight({
      ...sweepOptions(await mkdtemp(join(work, 'sweeper-'))),
      now: aMinuteLater,
    });
    expect(result).toMatchObject({ recovered: 0, failed: 0, tasks: 1 });
    expect(result.removed).toBeGreaterThanOrEqual(1);
    const after = await waitForRecording(s3.client, s3.bucket, uuid);
    expect(after.wav.equals(stored.wav)).toBe(true);
    expect(after.metadata).toEqual(stored.metadata);
    expect(await inflightKeys(s3.client, s3.bucket, taskId)).toEqual([]);
  });

  it('stores the audio up to a gap in the checkpoints, and says where the gap is', async () => {
    const taskId = randomUUID();
    const uuid = newCallUuid();
    const call = inflightCall(uuid, new Date(), rate, null);
    await putBatch(taskId, 1, [{ uuid, offset: 0, audio: pcm.subarray(0, 6400), call }]);
    // The batch holding 6400–12800 is missing.
    await putBatch(taskId, 3, [{ uuid, offset: 12800, audio: pcm.subarray(12800, 19200) }]);
    const warnings: { message: string; gapAt?: number }[] = [];
    const logger = new Logger({ logLevel: 'WARN' });
    logger.warn = ((message: string, extra: { gapAt?: number }) =>
      void warnings.push({ message, gapAt: extra?.gapAt })) as typeof logger.warn;
    const result = await sweepInflight({
      ...sweepOptions(await mkdtemp(join(work, 'sweeper-'))),
      logger,
      now: aMinuteLater,
    });
    expect(result).toMatchObject({ recovered: 1, failed: 0, tasks: 1 });
    const { wav, metadata } = await waitForRecording(s3.client, s3.bucket, uuid, 1000);
    expect(wav.subarray(44).equals(pcm.subarray(0, 6400))).toBe(true);
    expect(metadata).toMatchObject({ audioBytes: 6400, interrupted: true });
    expect(warnings).toContainEqual({
      message: 'checkpoints have a gap; the audio after it cannot be placed',
      gapAt: 6400,
    });
  });

  it("keeps a stopped task's batches when a call cannot be recovered, and says why", async () => {
    const taskId = randomUUID();
    const uuid = newCallUuid();
    // Audio with no batch naming the call: nothing to build a recording's key from.
    await putBatch(taskId, 1, [{ uuid, offset: 0, audio: pcm.subarray(0, 640) }]);
    const errors: string[] = [];
    const logger = new Logger({ logLevel: 'ERROR' });
    logger.error = ((message: string) => void errors.push(message)) as typeof logger.error;
    const result = await sweepInflight({
      ...sweepOptions(await mkdtemp(join(work, 'sweeper-'))),
      logger,
      now: aMinuteLater,
    });
    expect(result).toMatchObject({ recovered: 0, failed: 1, tasks: 0 });
    expect(errors).toContain('recovering a call from its checkpoints failed; they stay for the next sweep');
    expect(await inflightKeys(s3.client, s3.bucket, taskId)).toEqual([checkpointBatchKey(taskId, 1)]);
  });
});

describe('checkpoints in a bucket of their own (CHECKPOINT_BUCKET)', () => {
  const checkpointBucket = 'checkpoints';
  beforeAll(async () => {
    await s3.client.send(new CreateBucketCommand({ Bucket: checkpointBucket }));
  });

  it('are written there, never in the recordings bucket, and removed once the call is stored', async () => {
    const { recorder, base } = await startRecorder(500, { checkpointBucket });
    const uuid = newCallUuid();
    const ws = await openSocket(callUrl(base, uuid));
    const end = closed(ws);
    ws.send(connectedFrame(rate, uuid));
    const stream = streamRealTime(ws, frames(pcm.subarray(0, 2 * bytesPerSecond(rate)), rate));
    await waitUntil(async () => (await checkpointedCall(s3.client, checkpointBucket, uuid)).audio.length > 0);
    expect(await inflightKeys(s3.client, s3.bucket, recorder.taskId)).toEqual([]);
    await stream.done;
    ws.close(1000);
    await end;
    await waitForRecording(s3.client, s3.bucket, uuid);
    await recorder.close();
    expect(await inflightKeys(s3.client, checkpointBucket, recorder.taskId)).toEqual([]);
  });

  it("are what a sweeper recovers a stopped task's calls from, into the recordings bucket", async () => {
    const taskId = randomUUID();
    const uuid = newCallUuid();
    const startedAt = new Date('2026-03-05T05:06:07.000Z');
    const audio = pcm.subarray(0, bytesPerSecond(rate));
    await putBatch(
      taskId,
      1,
      [{ uuid, offset: 0, audio, call: inflightCall(uuid, startedAt, rate, null) }],
      checkpointBucket,
    );
    const result = await sweepInflight({
      ...sweepOptions(await mkdtemp(join(work, 'sweeper-'))),
      checkpointBucket,
      now: aMinuteLater,
    });
    expect(result).toMatchObject({ recovered: 1, failed: 0, tasks: 1 });
    const { wav, wavKey } = await waitForRecording(s3.client, s3.bucket, uuid, 1000);
    expect(wavKey).toBe(recordingKey(uuid, startedAt));
    expect(wav.subarray(44).equals(audio)).toBe(true);
    expect(await inflightKeys(s3.client, checkpointBucket, taskId)).toEqual([]);
  });
});
