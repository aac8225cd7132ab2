/**
 * Nothing overwrites a stored recording, on the multipart path: a recording over one part is
 * completed with `If-None-Match: *`, and S3 answers 412 when the key holds an object, or 409
 * ConditionalRequestConflict when a conflicting write raced it (and the upload is then gone).
 * Neither s3rver nor Ceph RGW answers either on CompleteMultipartUpload, so here the local S3
 * server sits behind the fault proxy's conditional-write double (test-support/fault-proxy.ts),
 * which answers them as AWS documents. Parts are 64 KiB, so a few seconds of audio are multipart.
 */
import { randomUUID } from 'node:crypto';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CreateBucketCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { bytesPerSecond, type SampleRate } from '../../common/audio-format.js';
import { checkpointBatchKey, metadataKey, recordingKey } from '../../common/recording-keys.js';
import type { RecordingMetadata } from '../../common/recording-metadata.js';
import { createS3Client } from '../../common/s3-client.js';
import { wavHeader } from '../../common/wav.js';
import { type FaultProxy, startFaultProxy } from '../../test-support/fault-proxy.js';
import { type LocalS3, startLocalS3 } from '../../test-support/local-s3.js';
import { LogLines } from '../../test-support/log-lines.js';
import {
  callUrl,
  closed,
  connectedFrame,
  frames,
  inflightKeys,
  newCallUuid,
  openSocket,
  readObject,
  SECRET,
  sendAll,
  waitForRecording,
  waitUntil,
} from '../../test-support/recorder.js';
import { metadataDigests } from '../../test-support/recording-fixtures.js';
import { loopPcm, soxi, speechPcm } from '../../test-support/speech.js';
import type { InflightCall } from '../src/checkpoint.js';
import { createRecorder, type Recorder } from '../src/recorder.js';
import { recoverSpools } from '../src/recovery.js';
import { writeJournal } from '../src/spool.js';
import { sweepInflight } from '../src/sweeper.js';
import { TransferLimiter } from '../src/transfer-limiter.js';

const rate: SampleRate = 16000;
const PART_BYTES = 64 * 1024;

/** An S3 client through the double that records the name of each command it sends. */
function proxiedClient(): { client: S3Client; sent: string[]; count: (name: string) => number } {
  const client = createS3Client({ endpoint: proxy.endpoint, credentials: s3.credentials });
  const sent: string[] = [];
  client.middlewareStack.add(
    (next, context) => async (args) => {
      sent.push(context.commandName as string);
      return next(args);
    },
    { step: 'initialize' },
  );
  clients.push(client);
  return { client, sent, count: (name) => sent.filter((command) => command === name).length };
}

let s3: LocalS3;
let proxy: FaultProxy;
let work: string;
let speech: Buffer;
/** Every object s3rver stored, in order (its ObjectCreated events). */
const created: string[] = [];
const recorders: Recorder[] = [];
const clients: S3Client[] = [];

/** Answers the first CompleteMultipartUpload from now on 409, as S3 does to a raced conditional write. */
function conflictOnFirstComplete(): void {
  let completes = 0;
  proxy.setFault({
    kind: 'conflict409',
    match: ({ method, url }) => method === 'POST' && url.includes('uploadId=') && completes++ === 0,
  });
}

async function startTask() {
  const scratchDir = await mkdtemp(join(work, 'scratch-'));
  const log = new LogLines();
  const s3Client = proxiedClient();
  const recorder = createRecorder({
    bucket: s3.bucket,
    s3: s3Client.client,
    callTokenSecret: SECRET,
    scratchDir,
    taskId: randomUUID(),
    checkpointIntervalMs: 500,
    partSizeBytes: PART_BYTES,
    logger: log,
  });
  recorders.push(recorder);
  const address = await recorder.listen(0, '127.0.0.1');
  return { recorder, base: `ws://127.0.0.1:${address.port}`, scratchDir, log, ...s3Client };
}

/** One call over a websocket: the connected frame, `pcm` as 20 ms frames, a normal close. */
async function call(url: string, uuid: string, pcm: Buffer): Promise<void> {
  const ws = await openSocket(url);
  const end = closed(ws);
  await sendAll(ws, [connectedFrame(rate, uuid), ...frames(pcm, rate)]);
  ws.close(1000);
  await end;
}

/** Audio of `seconds`, not speech: another connection's, or another disk's. */
function otherAudio(seconds: number, fill: number): Buffer {
  return Buffer.alloc(seconds * bytesPerSecond(rate), fill);
}

const partsOf = (audioBytes: number) => Math.ceil((44 + audioBytes) / PART_BYTES);
const storedTimes = (key: string) => created.filter((name) => name === key).length;

function identityOf(uuid: string, startedAt: Date) {
  return {
    uuid,
    conversationUuid: `CON-${uuid}`,
    from: '447700900001',
    to: '447700900002',
    startedAt: startedAt.toISOString(),
    sampleRate: rate,
  };
}

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'multipart-no-overwrite-'));
  s3 = await startLocalS3({ onObjectCreated: ({ key }) => created.push(key) });
  proxy = await startFaultProxy({ target: s3.endpoint, conditionalWrites: { s3: s3.client } });
  // 5 s of speech: 160,000 bytes, three 64 KiB parts.
  speech = loopPcm(await speechPcm('This call is recorded. Press five to continue.', rate), rate, 5);
  expect(partsOf(speech.length)).toBe(3);
});

afterEach(() => proxy.setFault(undefined));

afterAll(async () => {
  await Promise.all(recorders.map((recorder) => recorder.close()));
  for (const client of clients) client.destroy();
  await proxy?.close();
  await s3?.close();
  await rm(work, { recursive: true, force: true });
});

describe('a live call over one part', () => {
  it('replayed onto a stored recording leaves it byte for byte, logs "already stored" and leaves no spool or checkpoint', async () => {
    const first = await startTask();
    const uuid = newCallUuid();
    const url = callUrl(first.base, uuid);
    await call(url, uuid, speech);
    const stored = await waitForRecording(s3.client, s3.bucket, uuid);
    expect(stored.wav.subarray(44).equals(speech)).toBe(true);
    expect(first.count('CompleteMultipartUploadCommand')).toBe(1);
    const jsonKey = metadataKey(uuid, new Date(stored.metadata.startedAt));
    const storedJson = await readObject(s3.client, s3.bucket, jsonKey);

    // The same token replayed against other tasks, with longer and with shorter audio (both
    // multipart): each completes its own upload onto the stored key and is refused.
    for (const audio of [otherAudio(8, 0x5a), otherAudio(4.5, 0x11)]) {
      expect(partsOf(audio.length)).toBeGreaterThan(2);
      const other = await startTask();
      await call(url.replace(first.base, other.base), uuid, audio);
      await waitUntil(async () => other.recorder.activeCalls() === 0);
      expect(other.count('CompleteMultipartUploadCommand')).toBe(1);
      expect(other.log.messages('WARN')).toEqual([
        expect.stringContaining('a recording of this call is already stored'),
      ]);
      expect(other.log.messages('ERROR')).toEqual([]);
      // Its parts are not left billed, its audio is not on the disk, and once the task stops no
      // checkpoint of it is left for a sweeper.
      expect(other.sent).toContain('AbortMultipartUploadCommand');
      expect(await readdir(other.scratchDir)).toEqual([]);
      await other.recorder.close();
      expect(await inflightKeys(s3.client, s3.bucket, other.recorder.taskId)).toEqual([]);
    }

    expect((await readObject(s3.client, s3.bucket, stored.wavKey)).equals(stored.wav)).toBe(true);
    expect((await readObject(s3.client, s3.bucket, jsonKey)).equals(storedJson)).toBe(true);
    expect(storedTimes(stored.wavKey)).toBe(1);
  });

  it('whose CompleteMultipartUpload is answered 409 is uploaded again and stored once, byte-exact', async () => {
    const task = await startTask();
    const uuid = newCallUuid();
    conflictOnFirstComplete();
    await call(callUrl(task.base, uuid), uuid, speech);
    const { metadata, wav, wavKey } = await waitForRecording(s3.client, s3.bucket, uuid);
    expect(wav.subarray(44).equals(speech)).toBe(true);
    expect(metadata).toMatchObject(metadataDigests(wav));
    const file = join(work, `${uuid}.wav`);
    await writeFile(file, wav);
    expect((await soxi(file)).samples).toBe(speech.length / 2);
    // A second upload, every part sent again from the spool file, completed once.
    expect(task.count('CreateMultipartUploadCommand')).toBe(2);
    expect(task.count('UploadPartCommand')).toBe(2 * partsOf(speech.length));
    expect(task.count('CompleteMultipartUploadCommand')).toBe(2);
    expect(proxy.stats().faulted.conflict409).toBe(1);
    expect(storedTimes(wavKey)).toBe(1);
    await waitUntil(async () => task.recorder.activeCalls() === 0);
    // The conflict and the new upload are in the log, with S3's status.
    expect(task.log.lines).toContainEqual(
      expect.objectContaining({
        level: 'WARN',
        message: 'S3 request failed; retrying',
        text: expect.stringMatching(/"operation":"CompleteMultipartUpload".*HTTP 409/),
      }),
    );
    expect(task.log.messages('ERROR')).toEqual([]);
    expect(await readdir(task.scratchDir)).toEqual([]);
  });
});

describe('disk recovery of a call over one part', () => {
  /** What a recorder that crashed mid-call leaves on its disk: the audio and its journal. */
  async function leaveOnDisk(uuid: string, startedAt: Date, audio: Buffer): Promise<string> {
    const scratchDir = await mkdtemp(join(work, 'recovery-'));
    const spoolPath = join(scratchDir, `${uuid}.1.pcm`);
    await writeFile(spoolPath, audio);
    await writeJournal(spoolPath, {
      identity: identityOf(uuid, startedAt),
      headers: {},
      bucket: s3.bucket,
      key: recordingKey(uuid, startedAt),
      spoolPath,
      uploadId: null,
    });
    return scratchDir;
  }

  async function recover(scratchDir: string) {
    const log = new LogLines();
    const { client, count } = proxiedClient();
    const journals = (await readdir(scratchDir))
      .filter((name) => name.endsWith('.journal.json'))
      .map((name) => join(scratchDir, name));
    const recovered = await recoverSpools({
      journals,
      s3: client,
      limiter: new TransferLimiter(2),
      partSizeBytes: PART_BYTES,
      logger: log,
    });
    return { recovered, log, count };
  }

  it('keeps a recording already stored at the key and drops the copy on the disk', async () => {
    const { base } = await startTask();
    const uuid = newCallUuid();
    await call(callUrl(base, uuid), uuid, speech);
    const stored = await waitForRecording(s3.client, s3.bucket, uuid);
    const jsonKey = metadataKey(uuid, new Date(stored.metadata.startedAt));
    const storedJson = await readObject(s3.client, s3.bucket, jsonKey);

    const scratchDir = await leaveOnDisk(uuid, new Date(stored.metadata.startedAt), otherAudio(6, 0x22));
    const { recovered, log, count } = await recover(scratchDir);
    expect(recovered).toBe(0);
    expect(count('CompleteMultipartUploadCommand')).toBe(1);
    expect(log.messages('WARN')).toEqual([
      expect.stringContaining('a recording of this call is already stored'),
    ]);
    expect(log.messages('ERROR')).toEqual([]);
    expect(await readdir(scratchDir)).toEqual([]);
    expect((await readObject(s3.client, s3.bucket, stored.wavKey)).equals(stored.wav)).toBe(true);
    expect((await readObject(s3.client, s3.bucket, jsonKey)).equals(storedJson)).toBe(true);
    expect(storedTimes(stored.wavKey)).toBe(1);
  });

  it('uploads again after a 409 on CompleteMultipartUpload and stores the call once, byte-exact', async () => {
    const uuid = newCallUuid();
    const startedAt = new Date();
    const scratchDir = await leaveOnDisk(uuid, startedAt, speech);
    conflictOnFirstComplete();
    const { recovered, log, count } = await recover(scratchDir);
    expect(recovered).toBe(1);
    expect(count('CreateMultipartUploadCommand')).toBe(2);
    expect(count('CompleteMultipartUploadCommand')).toBe(2);
    expect(log.messages('ERROR')).toEqual([]);
    const { metadata, wav, wavKey } = await waitForRecording(s3.client, s3.bucket, uuid, 1000);
    expect(wav.subarray(44).equals(speech)).toBe(true);
    expect(metadata).toMatchObject({
      ...metadataDigests(wav),
      interrupted: true,
      end: { by: 'recovered' },
    });
    expect(storedTimes(wavKey)).toBe(1);
    expect(await readdir(scratchDir)).toEqual([]);
  });
});

describe('the inflight sweeper, recovering a call over one part', () => {
  /** Checkpoints in a bucket of their own: a sweep here sees only the stopped task made below. */
  const checkpointBucket = 'multipart-checkpoints';

  beforeAll(async () => {
    await s3.client.send(new CreateBucketCommand({ Bucket: checkpointBucket }));
  });

  /** A stopped task's one batch holding all of a call's audio, as its recorder wrote it. */
  async function stoppedTask(uuid: string, startedAt: Date, audio: Buffer): Promise<string> {
    const taskId = randomUUID();
    const call: InflightCall = {
      schemaVersion: 1,
      identity: identityOf(uuid, startedAt),
      headers: {},
      key: recordingKey(uuid, startedAt),
      uploadId: null,
    };
    const index = {
      format: 'checkpoint-batch',
      version: 1,
      taskId,
      seq: 1,
      writtenAt: new Date().toISOString(),
      entries: [{ uuid, offset: 0, length: audio.length, at: 0, call }],
    };
    await s3.client.send(
      new PutObjectCommand({
        Bucket: checkpointBucket,
        Key: checkpointBatchKey(taskId, 1),
        Body: Buffer.concat([Buffer.from(`${JSON.stringify(index)}\n`), audio]),
      }),
    );
    return taskId;
  }

  async function sweep() {
    const log = new LogLines();
    const { client, count } = proxiedClient();
    const result = await sweepInflight({
      s3: client,
      bucket: s3.bucket,
      checkpointBucket,
      scratchDir: await mkdtemp(join(work, 'sweeper-')),
      staleMs: 3000,
      limiter: new TransferLimiter(2),
      partSizeBytes: PART_BYTES,
      logger: log,
      now: () => new Date(Date.now() + 60_000),
    });
    return { result, log, count };
  }

  it('keeps a recording stored at the key after it looked, and drops the checkpoints', async () => {
    const uuid = newCallUuid();
    const startedAt = new Date();
    const taskId = await stoppedTask(uuid, startedAt, speech);
    // Another connection's WAV, shorter than the checkpoints and its metadata not yet written:
    // the sweeper's look finds nothing that wins, so its Complete is what meets it.
    const key = recordingKey(uuid, startedAt);
    const theirs = Buffer.concat([wavHeader({ sampleRate: rate }, 32_000), otherAudio(1, 0x33)]);
    await s3.client.send(new PutObjectCommand({ Bucket: s3.bucket, Key: key, Body: theirs }));

    const { result, log, count } = await sweep();
    expect(result).toMatchObject({ recovered: 0, removed: 1, failed: 0, tasks: 1 });
    expect(count('CompleteMultipartUploadCommand')).toBe(1);
    expect(log.messages('INFO')).toContainEqual(
      expect.stringContaining('a recording of this call was stored meanwhile; kept'),
    );
    expect(log.messages('ERROR')).toEqual([]);
    expect((await readObject(s3.client, s3.bucket, key)).equals(theirs)).toBe(true);
    expect(storedTimes(key)).toBe(1);
    expect(await inflightKeys(s3.client, checkpointBucket, taskId)).toEqual([]);
  });

  it('uploads again after a 409 on CompleteMultipartUpload and stores the call once, byte-exact', async () => {
    const uuid = newCallUuid();
    const startedAt = new Date();
    const taskId = await stoppedTask(uuid, startedAt, speech);
    conflictOnFirstComplete();
    const { result, log, count } = await sweep();
    expect(result).toMatchObject({ recovered: 1, failed: 0, tasks: 1 });
    expect(count('CreateMultipartUploadCommand')).toBe(2);
    expect(count('CompleteMultipartUploadCommand')).toBe(2);
    expect(log.messages('ERROR')).toEqual([]);
    const { metadata, wav, wavKey } = await waitForRecording(s3.client, s3.bucket, uuid, 1000);
    expect(wav.subarray(44).equals(speech)).toBe(true);
    expect(metadata as RecordingMetadata).toMatchObject({ ...metadataDigests(wav), interrupted: true });
    expect(storedTimes(wavKey)).toBe(1);
    expect(await inflightKeys(s3.client, checkpointBucket, taskId)).toEqual([]);
  });
});
