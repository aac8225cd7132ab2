import type { Logger } from '@aws-lambda-powertools/logger';
import type { S3Client } from '@aws-sdk/client-s3';
import { describe, expect, it, vi } from 'vitest';
import { checkpointBatchKey, metadataKey, recordingKey, taskAliveKey } from '../../common/recording-keys.js';
import type { InflightCall } from '../src/checkpoint.js';
import { planAudio, type Segment, type SweepOptions, sweepInflight } from '../src/sweeper.js';
import type { TransferLimiter } from '../src/transfer-limiter.js';

/** A piece of a call's audio: `length` bytes at call offset `offset`, at `start` in batch `key`. */
const segment = (key: string, offset: number, length: number, start = 100): Segment => ({
  key,
  start,
  offset,
  length,
});

describe("planAudio (the sweeper's plan for one call's audio)", () => {
  it('reads the batches one after another when each continues the last', () => {
    expect(planAudio([segment('1.batch', 0, 640), segment('2.batch', 640, 1280, 40)])).toEqual({
      pieces: [
        { key: '1.batch', start: 100, length: 640 },
        { key: '2.batch', start: 40, length: 1280 },
      ],
      audioBytes: 1920,
      gapAt: undefined,
    });
  });

  it('orders the pieces by their place in the call, not by batch', () => {
    const plan = planAudio([segment('2.batch', 640, 640), segment('1.batch', 0, 640)]);
    expect(plan.pieces.map((piece) => piece.key)).toEqual(['1.batch', '2.batch']);
    expect(plan.audioBytes).toBe(1280);
  });

  it('reads bytes a retried batch holds twice only once, skipping into the later piece', () => {
    // A batch reported failed that did land, then sent again with more audio.
    const plan = planAudio([segment('1.batch', 0, 1000, 100), segment('2.batch', 600, 1000, 200)]);
    expect(plan).toEqual({
      pieces: [
        { key: '1.batch', start: 100, length: 1000 },
        { key: '2.batch', start: 600, length: 600 },
      ],
      audioBytes: 1600,
      gapAt: undefined,
    });
  });

  it('takes, of two pieces at the same place, the one that reaches further', () => {
    const plan = planAudio([segment('1.batch', 0, 640), segment('2.batch', 0, 1280)]);
    expect(plan.pieces).toEqual([{ key: '2.batch', start: 100, length: 1280 }]);
    expect(plan.audioBytes).toBe(1280);
  });

  it('ends the audio at a gap and says where, leaving what lies beyond it out', () => {
    expect(planAudio([segment('1.batch', 0, 640), segment('3.batch', 1280, 640)])).toEqual({
      pieces: [{ key: '1.batch', start: 100, length: 640 }],
      audioBytes: 640,
      gapAt: 640,
    });
  });

  it('plans an empty recording for a call with no audio, and a gap at 0 when its first piece is lost', () => {
    expect(planAudio([])).toEqual({ pieces: [], audioBytes: 0, gapAt: undefined });
    expect(planAudio([segment('2.batch', 640, 640)])).toEqual({ pieces: [], audioBytes: 0, gapAt: 0 });
  });
});

const MINUTE = 60_000;
const NOW = new Date('2026-11-28T15:00:00.000Z');
const TASK_STOPPED = 'aaaaaaaa-0000-4000-8000-000000000001';
const TASK_RUNNING = 'aaaaaaaa-0000-4000-8000-000000000002';
const TASK_OWN = 'aaaaaaaa-0000-4000-8000-000000000003';
const CALL_A = 'cccccccc-0000-4000-8000-00000000000a';
const CALL_B = 'cccccccc-0000-4000-8000-00000000000b';
const STARTED = new Date('2026-11-28T14:50:00.000Z');

interface Stored {
  readonly body: Buffer;
  readonly lastModified: Date;
}

/**
 * The requests a sweep makes, answered from memory (ListObjects, ranged GetObject, DeleteObjects):
 * its decisions without a socket. What S3 itself answers is covered against a real server in
 * checkpoint.test.ts.
 */
interface RequestInput {
  readonly Key?: string;
  readonly Prefix?: string;
  readonly Range?: string;
  readonly Delete?: { readonly Objects: readonly { readonly Key?: string }[] };
}

function memoryS3(objects: Map<string, Stored>) {
  const sent: { name: string; key?: string; prefix?: string; keys?: string[] }[] = [];
  const send = async (command: { constructor: { name: string }; input: RequestInput }) => {
    const name = command.constructor.name.replace(/Command$/, '');
    const { input } = command;
    if (name === 'ListObjects') {
      sent.push({ name, prefix: input.Prefix });
      const keys = [...objects.keys()].filter((key) => key.startsWith(input.Prefix ?? '')).sort();
      return {
        IsTruncated: false,
        Contents: keys.map((Key) => ({
          Key,
          Size: objects.get(Key)?.body.length,
          LastModified: objects.get(Key)?.lastModified,
        })),
      };
    }
    if (name === 'GetObject') {
      sent.push({ name, key: input.Key });
      const object = objects.get(input.Key ?? '');
      if (!object) throw Object.assign(new Error('NoSuchKey'), { name: 'NoSuchKey' });
      const [, from, to] = /^bytes=(\d+)-(\d+)$/.exec(input.Range ?? '') ?? [];
      const bytes = object.body.subarray(Number(from), Number(to) + 1);
      return { Body: { transformToByteArray: async () => new Uint8Array(bytes) } };
    }
    if (name === 'DeleteObjects') {
      const keys = (input.Delete?.Objects ?? []).map((object) => object.Key ?? '');
      sent.push({ name, keys });
      for (const key of keys) objects.delete(key);
      return { Errors: [] };
    }
    throw new Error(`the sweep was not expected to send ${name}`);
  };
  return { s3: { send } as unknown as S3Client, sent };
}

function inflightCall(uuid: string): InflightCall {
  return {
    schemaVersion: 1,
    identity: {
      uuid,
      conversationUuid: 'CON-1',
      from: '447700900001',
      to: '447700900002',
      startedAt: STARTED.toISOString(),
      sampleRate: 16000,
    },
    headers: {},
    key: recordingKey(uuid, STARTED),
    uploadId: null,
  };
}

/** A batch object as a recorder writes it: the index line, then each call's audio. */
function batch(taskId: string, seq: number, calls: { uuid: string; audio: number }[]): Buffer {
  let at = 0;
  const entries = calls.map(({ uuid, audio }) => {
    const entry = { uuid, offset: 0, length: audio, at, call: inflightCall(uuid) };
    at += audio;
    return entry;
  });
  const index = {
    format: 'checkpoint-batch',
    version: 1,
    taskId,
    seq,
    writtenAt: NOW.toISOString(),
    entries,
  };
  return Buffer.concat([Buffer.from(`${JSON.stringify(index)}\n`), Buffer.alloc(at)]);
}

function bucketWithTasks(): Map<string, Stored> {
  const ago = (ms: number) => new Date(NOW.getTime() - ms);
  const calls = [
    { uuid: CALL_A, audio: 640 },
    { uuid: CALL_B, audio: 1280 },
  ];
  return new Map<string, Stored>([
    [
      checkpointBatchKey(TASK_STOPPED, 1),
      { body: batch(TASK_STOPPED, 1, calls), lastModified: ago(10 * MINUTE) },
    ],
    [taskAliveKey(TASK_STOPPED), { body: Buffer.from('{}'), lastModified: ago(9 * MINUTE) }],
    [
      checkpointBatchKey(TASK_RUNNING, 1),
      { body: batch(TASK_RUNNING, 1, calls), lastModified: ago(30 * MINUTE) },
    ],
    [taskAliveKey(TASK_RUNNING), { body: Buffer.from('{}'), lastModified: ago(MINUTE) }],
    [checkpointBatchKey(TASK_OWN, 1), { body: batch(TASK_OWN, 1, calls), lastModified: ago(30 * MINUTE) }],
    // Both calls already stored by their recorder: a JSON beside one WAV, a longer WAV for the other.
    [metadataKey(CALL_A, STARTED), { body: Buffer.from('{}'), lastModified: ago(8 * MINUTE) }],
    [recordingKey(CALL_B, STARTED), { body: Buffer.alloc(44 + 2 * 1280), lastModified: ago(8 * MINUTE) }],
  ]);
}

const quietLogger = () =>
  ({ debug: vi.fn(), info: vi.fn(), warn: vi.fn(), error: vi.fn() }) as unknown as Logger;

const sweepOf = (s3: S3Client, options: Partial<SweepOptions> = {}) =>
  sweepInflight({
    s3,
    bucket: 'recordings',
    scratchDir: '/nonexistent',
    staleMs: 5 * MINUTE,
    limiter: undefined as unknown as TransferLimiter,
    partSizeBytes: 5 * 1024 * 1024,
    logger: quietLogger(),
    ownTaskId: TASK_OWN,
    now: () => NOW,
    ...options,
  });

describe('sweepInflight: which tasks and calls it takes', () => {
  it('leaves running tasks and its own alone, unread, and clears a stopped task whose calls are stored', async () => {
    const objects = bucketWithTasks();
    const { s3, sent } = memoryS3(objects);
    const result = await sweepOf(s3);

    expect(result).toEqual({ recovered: 0, removed: 2, live: 2, tasks: 1, failed: 0 });
    const read = sent.filter((request) => request.name === 'GetObject').map((request) => request.key);
    expect(read).toEqual([checkpointBatchKey(TASK_STOPPED, 1)]);
    expect(sent.filter((request) => request.name === 'DeleteObjects')).toEqual([
      {
        name: 'DeleteObjects',
        keys: [checkpointBatchKey(TASK_STOPPED, 1), taskAliveKey(TASK_STOPPED)],
      },
    ]);
    expect([...objects.keys()].filter((key) => key.startsWith('inflight/'))).toEqual([
      checkpointBatchKey(TASK_RUNNING, 1),
      taskAliveKey(TASK_RUNNING),
      checkpointBatchKey(TASK_OWN, 1),
    ]);
  });

  it("keeps a stopped task's batches while one of its calls is owned by this process", async () => {
    const objects = bucketWithTasks();
    const { s3, sent } = memoryS3(objects);
    const result = await sweepOf(s3, { skip: (uuid) => uuid === CALL_B });

    expect(result).toEqual({ recovered: 0, removed: 1, live: 2, tasks: 0, failed: 0 });
    expect(sent.some((request) => request.name === 'DeleteObjects')).toBe(false);
    expect(objects.has(checkpointBatchKey(TASK_STOPPED, 1))).toBe(true);
  });

  it('counts a task as running until its newest object is older than staleMs', async () => {
    const { s3 } = memoryS3(bucketWithTasks());
    // The stopped task's newest object (its heartbeat) is 9 minutes old.
    expect(await sweepOf(s3, { staleMs: 9 * MINUTE + 1 })).toMatchObject({ live: 3, tasks: 0 });
    expect(await sweepOf(s3, { staleMs: 9 * MINUTE })).toMatchObject({ live: 2, tasks: 1 });
  });
});
