import { type ChildProcess, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Logger } from '@aws-lambda-powertools/logger';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bytesPerSecond, type SampleRate } from '../../common/audio-format.js';
import { JsonLinesEventSink, MemoryEventSink } from '../../common/recording-event-sinks.js';
import type { PutEventsEntry, RecordingEvent, RecordingEventSink } from '../../common/recording-events.js';
import { createS3Client } from '../../common/s3-client.js';
import { type EventBridgeDouble, startEventBridgeDouble } from '../../test-support/eventbridge-double.js';
import { startFaultProxy } from '../../test-support/fault-proxy.js';
import { type LocalS3, startLocalS3 } from '../../test-support/local-s3.js';
import {
  callUrl,
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
import { loopPcm, speechPcm } from '../../test-support/speech.js';
import { readEventsFile } from '../../tools/local/recordings.js';
import { noMetrics, type RecorderMetrics } from '../src/metrics.js';
import { createRecorder, type RecorderOptions } from '../src/recorder.js';

const rate: SampleRate = 16000;
const root = join(import.meta.dirname, '..', '..');
let s3: LocalS3;
let work: string;
let pcm: Buffer;
const cleanups: (() => Promise<unknown>)[] = [];

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'recording-events-'));
  [s3, pcm] = await Promise.all([startLocalS3(), speechPcm('One two three four five.', rate)]);
});

afterAll(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup().catch(() => {});
  await s3?.close();
  await rm(work, { recursive: true, force: true });
});

/** Errors the recorder logs, kept for the test to read. */
function capturingLogger(errors: Record<string, unknown>[]): Logger {
  const logger = new Logger({ serviceName: 'recorder', logLevel: 'ERROR' });
  logger.error = (message: unknown, ...extra: unknown[]) => {
    errors.push({ message, ...Object.assign({}, ...(extra as object[])) });
  };
  return logger;
}

async function startRecorder(events: RecordingEventSink, overrides: Partial<RecorderOptions> = {}) {
  const scratchDir = await mkdtemp(join(work, 'scratch-'));
  const recorder = createRecorder({
    bucket: s3.bucket,
    s3: s3.client,
    callTokenSecret: SECRET,
    scratchDir,
    logger: new Logger({ serviceName: 'recorder', logLevel: 'SILENT' }),
    events,
    ...overrides,
  });
  const address = await recorder.listen(0, '127.0.0.1');
  cleanups.push(() => recorder.close());
  return { recorder, base: `ws://127.0.0.1:${address.port}`, scratchDir };
}

/** A whole call: connected frame, the audio, a normal close. */
async function placeCall(base: string, audio: Buffer): Promise<string> {
  const uuid = newCallUuid();
  const ws = await openSocket(callUrl(base, uuid));
  const end = closed(ws);
  await sendAll(ws, [connectedFrame(rate, uuid), ...frames(audio, rate)]);
  ws.close(1000);
  await end;
  return uuid;
}

function detailOf(entry: PutEventsEntry): Record<string, unknown> {
  return JSON.parse(entry.Detail) as Record<string, unknown>;
}

describe('recording events from the recorder', () => {
  it('a call that hangs up normally: one Recording Stored line, as PutEvents takes it, naming the stored WAV', async () => {
    const file = join(work, 'stored.jsonl');
    const { base } = await startRecorder(new JsonLinesEventSink(file));
    const uuid = await placeCall(base, pcm);
    const { metadata, wav } = await waitForRecording(s3.client, s3.bucket, uuid);
    await waitUntil(async () => (await readEventsFile(file)).length > 0);
    const entries = await readEventsFile(file);
    expect(entries).toHaveLength(1);
    expect(entries[0]).toMatchObject({
      Source: 'call-recorder',
      DetailType: 'Recording Stored',
      EventBusName: 'default',
    });
    expect(detailOf(entries[0]!)).toEqual({
      schemaVersion: 1,
      eventId: `stored:${uuid}`,
      uuid,
      conversationUuid: `CON-${uuid}`,
      from: '447700900001',
      to: '447700900002',
      startedAt: metadata.startedAt,
      bucket: s3.bucket,
      recordingKey: metadata.recordingKey,
      durationSeconds: pcm.length / bytesPerSecond(rate),
      wavBytes: wav.length,
      audioSha256: createHash('sha256').update(wav.subarray(44)).digest('hex'),
    });
  });

  it('a call cut by the idle timeout: Recording Interrupted with the reason, close code and seconds kept, and no Stored', async () => {
    const sink = new MemoryEventSink();
    const { base } = await startRecorder(sink, { idleTimeoutMs: 400 });
    const uuid = newCallUuid();
    const ws = await openSocket(callUrl(base, uuid));
    const end = closed(ws);
    await sendAll(ws, [connectedFrame(rate, uuid), ...frames(pcm, rate)]);
    // Then silence: the recorder closes the socket and stores what came.
    const { code } = await end;
    const { metadata } = await waitForRecording(s3.client, s3.bucket, uuid);
    await waitUntil(async () => sink.events.length > 0);
    expect(code).toBe(metadata.end.code);
    expect(sink.events.map((event) => event.kind)).toEqual(['interrupted']);
    expect(sink.events[0]!.detail).toMatchObject({
      eventId: `interrupted:${uuid}`,
      reason: 'idle-timeout',
      closeCode: code,
      keptSeconds: pcm.length / bytesPerSecond(rate),
      durationSeconds: pcm.length / bytesPerSecond(rate),
      recordingKey: metadata.recordingKey,
      audioSha256: (metadata as { audioSha256: string }).audioSha256,
    });
  });

  it('a drain that closes a live call: Recording Interrupted, reason drain, close code 1001', async () => {
    const sink = new MemoryEventSink();
    const { base, recorder } = await startRecorder(sink, { drainTimeoutMs: 300 });
    const uuid = newCallUuid();
    const ws = await openSocket(callUrl(base, uuid));
    const end = closed(ws);
    ws.send(connectedFrame(rate, uuid));
    const stream = streamRealTime(ws, frames(loopPcm(pcm, rate, 10), rate));
    await new Promise((resolve) => setTimeout(resolve, 500));
    await recorder.drain();
    stream.stop();
    expect((await end).code).toBe(1001);
    expect(sink.events.map((event) => [event.kind, event.detail.uuid])).toEqual([['interrupted', uuid]]);
    expect(sink.events[0]!.detail).toMatchObject({ reason: 'drain', closeCode: 1001 });
  });

  it('S3 refusing every write: Recording Failed naming the scratch file that holds the audio, and no Stored', async () => {
    const proxy = await startFaultProxy({ target: s3.endpoint });
    cleanups.push(() => proxy.close());
    proxy.setFault({ kind: 'error503', match: ({ method }) => method === 'PUT' || method === 'POST' });
    const client = createS3Client({ endpoint: proxy.endpoint, credentials: s3.credentials });
    cleanups.push(async () => client.destroy());
    const sink = new MemoryEventSink();
    const { base, scratchDir } = await startRecorder(sink, {
      s3: client,
      retry: { baseDelayMs: 20, maxDelayMs: 100, deadlineMs: 800 },
      checkpointIntervalMs: 0,
    });
    const uuid = await placeCall(base, pcm);
    await waitUntil(async () => sink.events.length > 0, 15_000);
    expect(sink.events.map((event) => event.kind)).toEqual(['failed']);
    const detail = sink.events[0]!.detail as Extract<RecordingEvent, { kind: 'failed' }>['detail'];
    expect(detail).toMatchObject({
      eventId: `failed:${uuid}`,
      uuid,
      bucket: s3.bucket,
      recordingKey: expect.stringMatching(new RegExp(`^recordings/\\d{4}/\\d{2}/\\d{2}/${uuid}\\.wav$`)),
      reason: expect.stringContaining('SlowDown'),
      audioAt: { kind: 'scratch', location: expect.stringContaining(scratchDir) },
      durationSeconds: pcm.length / bytesPerSecond(rate),
    });
    // Where the event says, the call's audio is, byte for byte.
    expect((await readFile(detail.audioAt.location)).equals(pcm)).toBe(true);
  });

  it('an event bus that refuses the put: the recording is stored all the same; the failure is logged and counted', async () => {
    const errors: Record<string, unknown>[] = [];
    let failedPuts = 0;
    const metrics: RecorderMetrics = { ...noMetrics, recordingEventFailed: () => failedPuts++ };
    const refusing: RecordingEventSink = {
      put: async () => {
        throw new Error('AccessDeniedException: not authorized to perform events:PutEvents');
      },
    };
    const { base } = await startRecorder(refusing, { metrics, logger: capturingLogger(errors) });
    const uuid = await placeCall(base, pcm);
    const { wav } = await waitForRecording(s3.client, s3.bucket, uuid);
    expect(wav.subarray(44).equals(pcm)).toBe(true);
    await waitUntil(async () => failedPuts === 1);
    expect(errors).toEqual([
      expect.objectContaining({
        message: 'putting a recording event failed; the recording is not affected',
        callUuid: uuid,
        detailType: 'Recording Stored',
        eventId: `stored:${uuid}`,
      }),
    ]);
  });
});

describe('recording events from the recorder process (EventBridge double)', () => {
  let eventBridge: EventBridgeDouble;
  const children: ChildProcess[] = [];

  beforeAll(async () => {
    eventBridge = await startEventBridgeDouble();
  });

  afterAll(async () => {
    for (const child of children) if (child.exitCode === null) child.kill('SIGKILL');
    await eventBridge?.close();
  });

  /** `fargate/src/main.ts` as the container runs it, putting its events to the double. */
  async function startProcess(scratchDir: string, env: Record<string, string> = {}) {
    const child = spawn(process.execPath, ['--import', 'tsx', 'fargate/src/main.ts'], {
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
        AWS_ENDPOINT_URL_EVENTBRIDGE: eventBridge.url,
        EVENT_BUS_NAME: 'call-recordings',
        SCRATCH_DIR: scratchDir,
        LOG_LEVEL: 'INFO',
        NODE_NO_WARNINGS: '1',
        ...env,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    children.push(child);
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    const port = await new Promise<number>((resolve, reject) => {
      let buffered = '';
      child.stdout!.on('data', (chunk) => {
        buffered += chunk;
        const match = /"message":"recorder listening"[^\n]*"port":(\d+)/.exec(buffered);
        if (match) resolve(Number(match[1]));
      });
      exited.then((code) => reject(new Error(`recorder exited with ${code} before listening`)));
    });
    return { child, port, exited };
  }

  const recovered = (uuid: string) =>
    eventBridge.entries.filter(
      (entry) => entry.DetailType === 'Recording Recovered' && detailOf(entry).uuid === uuid,
    );

  it('after SIGKILL mid-call, the next start on the same scratch disk puts Recording Recovered (disk, 2 s bound)', async () => {
    const scratchDir = await mkdtemp(join(work, 'scratch-'));
    const first = await startProcess(scratchDir);
    const uuid = newCallUuid();
    const ws = await openSocket(callUrl(`ws://127.0.0.1:${first.port}`, uuid));
    const end = closed(ws);
    await sendAll(ws, [connectedFrame(rate, uuid), ...frames(pcm, rate)]);
    // Past the spool's 1 s flush interval: everything received is on disk.
    await new Promise((resolve) => setTimeout(resolve, 2500));
    first.child.kill('SIGKILL');
    await first.exited;
    await end;

    const second = await startProcess(scratchDir);
    const { metadata, wav } = await waitForRecording(s3.client, s3.bucket, uuid);
    await waitUntil(async () => recovered(uuid).length > 0, 10_000);
    expect(recovered(uuid)).toHaveLength(1);
    expect(recovered(uuid)[0]).toMatchObject({ Source: 'call-recorder', EventBusName: 'call-recordings' });
    expect(detailOf(recovered(uuid)[0]!)).toMatchObject({
      eventId: `recovered:${uuid}`,
      recoveredBy: 'disk',
      maxLostSeconds: 2,
      recordingKey: metadata.recordingKey,
      durationSeconds: pcm.length / bytesPerSecond(rate),
      audioSha256: createHash('sha256').update(wav.subarray(44)).digest('hex'),
    });
    // Nothing else is said of the call: it never ended normally, and was not stored twice.
    expect(eventBridge.entries.filter((entry) => detailOf(entry).uuid === uuid)).toHaveLength(1);
    second.child.kill('SIGTERM');
    expect(await second.exited).toBe(0);
  });

  it('after SIGKILL with the scratch disk gone, a new recorder puts Recording Recovered (sweeper, CHECKPOINT_SECONDS bound)', async () => {
    const env = { CHECKPOINT_SECONDS: '1', INFLIGHT_STALE_SECONDS: '2' };
    const first = await startProcess(await mkdtemp(join(work, 'scratch-')), env);
    const uuid = newCallUuid();
    const ws = await openSocket(callUrl(`ws://127.0.0.1:${first.port}`, uuid));
    const end = closed(ws);
    ws.send(connectedFrame(rate, uuid));
    const stream = streamRealTime(ws, frames(loopPcm(pcm, rate, 8), rate));
    await new Promise((resolve) => setTimeout(resolve, 3500));
    first.child.kill('SIGKILL');
    await first.exited;
    stream.stop();
    await end;

    // Once the call's checkpoints look abandoned, a task on another, empty disk sweeps them.
    await new Promise((resolve) => setTimeout(resolve, 2000));
    const second = await startProcess(await mkdtemp(join(work, 'scratch-')), env);
    const { metadata, wav } = await waitForRecording(s3.client, s3.bucket, uuid, 15_000);
    await waitUntil(async () => recovered(uuid).length > 0, 10_000);
    expect(recovered(uuid)).toHaveLength(1);
    expect(detailOf(recovered(uuid)[0]!)).toMatchObject({
      eventId: `recovered:${uuid}`,
      recoveredBy: 'sweeper',
      maxLostSeconds: 1,
      recordingKey: metadata.recordingKey,
      durationSeconds: metadata.durationSeconds,
      wavBytes: wav.length,
      audioSha256: createHash('sha256').update(wav.subarray(44)).digest('hex'),
    });
    second.child.kill('SIGTERM');
    expect(await second.exited).toBe(0);
  });
});
