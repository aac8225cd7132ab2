import type { Logger } from '@aws-lambda-powertools/logger';
import type { S3Client } from '@aws-sdk/client-s3';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { checkpointBatchKey } from '../../common/recording-keys.js';
import {
  type BatchIndex,
  CallCheckpoint,
  CheckpointStore,
  type InflightCall,
  MAX_BATCH_BYTES,
  MAX_SEGMENT_BYTES,
} from '../src/checkpoint.js';
import type { AudioSpool } from '../src/spool.js';
import { TransferLimiter } from '../src/transfer-limiter.js';

const INTERVAL_MS = 10_000;
/** Ten seconds at 16 kHz. */
const INTERVAL_BYTES = 320_000;

const call: InflightCall = {
  schemaVersion: 1,
  identity: {
    uuid: 'c0ffee00-0000-4000-8000-000000000001',
    conversationUuid: 'CON-1',
    from: '447700900001',
    to: '447700900002',
    startedAt: '2026-11-28T14:00:00.000Z',
    sampleRate: 16000,
  },
  headers: {},
  key: 'recordings/2026/11/28/c0ffee00-0000-4000-8000-000000000001.wav',
  uploadId: null,
};

/** A call's checkpoints over a spool that only says how much audio is on disk; times are ms. */
function checkpointOf(options: { firstCheckpointFraction?: number } = {}) {
  const spool = { storedBytes: 0 };
  const release = vi.fn();
  const checkpoint = new CallCheckpoint(
    {
      call,
      spool: spool as unknown as AudioSpool,
      intervalMs: INTERVAL_MS,
      intervalBytes: INTERVAL_BYTES,
      firstCheckpointFraction: options.firstCheckpointFraction ?? 0.5,
    },
    release,
  );
  checkpoint.lastStartedAt = 0;
  /** What a batch started at `now` takes, stored: as the store does around its PUT. */
  const store = (now: number) => {
    const entry = checkpoint.plan(now);
    if (!entry) return undefined;
    if (entry.length > 0) checkpoint.lastStartedAt = now;
    checkpoint.confirm(entry.offset + entry.length, entry.callJson);
    return entry;
  };
  return { checkpoint, spool, release, store };
}

afterEach(() => {
  vi.useRealTimers();
});

describe('CallCheckpoint.plan', () => {
  it("puts a new call's identity in the next batch, before any audio, and then nothing until audio is due", () => {
    const { checkpoint, store } = checkpointOf();
    expect(checkpoint.plan(0)).toMatchObject({ offset: 0, length: 0, call });
    store(0);
    expect(checkpoint.plan(1)).toBeUndefined();
  });

  it('makes the first audio due after a fraction of the interval, by time or by bytes, and later ones after a whole interval', () => {
    const { checkpoint, spool, store } = checkpointOf({ firstCheckpointFraction: 0.5 });
    store(0);
    spool.storedBytes = 1000;
    expect(checkpoint.plan(4_999)).toBeUndefined();
    expect(checkpoint.plan(5_000)).toMatchObject({ offset: 0, length: 1000, call: undefined });

    spool.storedBytes = INTERVAL_BYTES / 2;
    expect(checkpoint.plan(1)).toMatchObject({ offset: 0, length: INTERVAL_BYTES / 2 });
    store(1);

    // Past the first checkpoint the whole interval applies, in time and in bytes.
    spool.storedBytes = INTERVAL_BYTES / 2 + 1000;
    expect(checkpoint.plan(1 + 9_999)).toBeUndefined();
    expect(checkpoint.plan(1 + 10_000)).toMatchObject({ offset: INTERVAL_BYTES / 2, length: 1000 });
    spool.storedBytes = INTERVAL_BYTES / 2 + INTERVAL_BYTES - 1;
    expect(checkpoint.plan(2)).toBeUndefined();
    spool.storedBytes = INTERVAL_BYTES / 2 + INTERVAL_BYTES;
    expect(checkpoint.plan(2)).toMatchObject({ offset: INTERVAL_BYTES / 2, length: INTERVAL_BYTES });
  });

  it('is never due with no new audio, however long it has been', () => {
    const { checkpoint, store } = checkpointOf();
    store(0);
    expect(checkpoint.plan(10 * INTERVAL_MS)).toBeUndefined();
  });

  it('takes at most one segment of audio per batch, and the next batch goes on from where it ended', () => {
    const { checkpoint, spool, store } = checkpointOf();
    spool.storedBytes = MAX_SEGMENT_BYTES * 2 + 10;
    expect(store(0)).toMatchObject({ offset: 0, length: MAX_SEGMENT_BYTES });
    expect(store(1)).toMatchObject({ offset: MAX_SEGMENT_BYTES, length: MAX_SEGMENT_BYTES });
    // The rest is less than an interval's worth: it waits for the interval.
    expect(store(2)).toBeUndefined();
    expect(store(1 + INTERVAL_MS)).toMatchObject({ offset: 2 * MAX_SEGMENT_BYTES, length: 10 });
    expect(checkpoint.checkpointedBytes).toBe(spool.storedBytes);
  });

  it('plans nothing while a batch holding the call is in flight, nor once its audio cannot be read', () => {
    const { checkpoint, spool } = checkpointOf();
    spool.storedBytes = INTERVAL_BYTES;
    checkpoint.inFlight = true;
    expect(checkpoint.plan(0)).toBeUndefined();
    checkpoint.inFlight = false;
    expect(checkpoint.plan(0)).toBeDefined();
    checkpoint.markUnreadable();
    expect(checkpoint.plan(0)).toBeUndefined();
  });

  it('after hangup makes any tail due at once, without waiting for the interval', () => {
    const { checkpoint, spool, store } = checkpointOf();
    spool.storedBytes = INTERVAL_BYTES;
    store(0);
    spool.storedBytes = INTERVAL_BYTES + 640;
    expect(checkpoint.plan(1)).toBeUndefined();
    checkpoint.stop();
    expect(checkpoint.plan(1)).toMatchObject({ offset: INTERVAL_BYTES, length: 640 });
  });

  it('sends the identity again once the upload id is set, until a batch with that identity is stored', () => {
    const { checkpoint, store } = checkpointOf();
    const first = store(0);
    checkpoint.setUploadId('upload-1');
    const pending = checkpoint.plan(1);
    expect(pending?.call).toEqual({ ...call, uploadId: 'upload-1' });
    // A batch that still carried the old identity does not count.
    checkpoint.confirm(0, first?.callJson);
    expect(checkpoint.plan(1)?.call?.uploadId).toBe('upload-1');
    checkpoint.confirm(0, pending?.callJson);
    expect(checkpoint.plan(1)).toBeUndefined();
  });
});

describe('CallCheckpoint.caughtUp', () => {
  it('resolves true once everything on disk and the identity are stored', async () => {
    vi.useFakeTimers();
    const { checkpoint, spool, store } = checkpointOf();
    spool.storedBytes = 640;
    const caughtUp = checkpoint.caughtUp(10_000);
    vi.advanceTimersByTime(5_000);
    store(5_000);
    await expect(caughtUp).resolves.toBe(true);
  });

  it('resolves false after its timeout, or as soon as the audio cannot be read', async () => {
    vi.useFakeTimers();
    const { checkpoint, spool } = checkpointOf();
    spool.storedBytes = 640;
    const timedOut = checkpoint.caughtUp(10_000);
    vi.advanceTimersByTime(10_000);
    await expect(timedOut).resolves.toBe(false);

    const unreadable = checkpoint.caughtUp(10_000);
    checkpoint.markUnreadable();
    await expect(unreadable).resolves.toBe(false);
    await expect(checkpoint.caughtUp(10_000)).resolves.toBe(false);
  });

  it('hands the call back to its store on finish, and not on stop', () => {
    const { checkpoint, release } = checkpointOf();
    checkpoint.stop();
    expect(release).not.toHaveBeenCalled();
    checkpoint.finish();
    expect(release).toHaveBeenCalledWith(checkpoint);
  });
});

const TASK_ID = 'aaaaaaaa-0000-4000-8000-000000000001';
const TICK_MS = 100;

/** The audio byte at `position` of call number `n`: every call's bytes are told apart. */
const audioByte = (n: number, position: number) => (n * 31 + position) & 0xff;

/** A spool holding `storedBytes` of call `n`'s audio, read as the store reads it. */
function memorySpool(n: number, storedBytes: number): AudioSpool {
  return {
    storedBytes,
    async readInto(target: Buffer, offset: number, position: number, length: number) {
      for (let i = 0; i < length; i++) target[offset + i] = audioByte(n, position + i);
    },
  } as unknown as AudioSpool;
}

/** The store's S3 requests, answered in memory: each PUT body copied as it was sent. */
function recordingS3() {
  const puts = new Map<string, Buffer>();
  const deletes: string[][] = [];
  const send = async (command: {
    constructor: { name: string };
    input: { Key?: string; Body?: Uint8Array | string; Delete?: { Objects: { Key?: string }[] } };
  }) => {
    const name = command.constructor.name;
    if (name === 'PutObjectCommand') puts.set(command.input.Key ?? '', Buffer.from(command.input.Body ?? ''));
    else if (name === 'DeleteObjectsCommand')
      deletes.push((command.input.Delete?.Objects ?? []).map((object) => object.Key ?? ''));
    else throw new Error(`the store was not expected to send ${name}`);
    return {};
  };
  return { s3: { send } as unknown as S3Client, puts, deletes };
}

function parseBatch(body: Buffer): { index: BatchIndex; audio: Buffer } {
  const end = body.indexOf(0x0a);
  return { index: JSON.parse(body.subarray(0, end).toString('utf8')), audio: body.subarray(end + 1) };
}

function storeOf(s3: S3Client) {
  return new CheckpointStore({
    s3,
    bucket: 'checkpoints',
    taskId: TASK_ID,
    intervalMs: 60_000,
    tickMs: TICK_MS,
    limiter: new TransferLimiter(2, { bufferBytes: MAX_BATCH_BYTES }),
    logger: { debug: vi.fn(), info: vi.fn(), warn: vi.fn(), error: vi.fn() } as unknown as Logger,
  });
}

const callNumber = (n: number): InflightCall => ({
  ...call,
  identity: { ...call.identity, uuid: `c0ffee00-0000-4000-8000-${String(n).padStart(12, '0')}` },
});

describe('CheckpointStore batches (one tick, fake timers)', () => {
  it("puts every due call's audio in one object: an index line, then each call's bytes where the index says", async () => {
    vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval'] });
    const { s3, puts } = recordingS3();
    const store = storeOf(s3);
    const sizes = [640, 3200, 0];
    sizes.map((bytes, n) =>
      store.open({
        call: callNumber(n),
        spool: memorySpool(n, bytes),
        intervalMs: 10_000,
        intervalBytes: 640,
        firstCheckpointFraction: 1,
      }),
    );
    await vi.advanceTimersByTimeAsync(TICK_MS);

    expect([...puts.keys()]).toEqual([checkpointBatchKey(TASK_ID, 1)]);
    const { index, audio } = parseBatch(puts.get(checkpointBatchKey(TASK_ID, 1)) ?? Buffer.alloc(0));
    expect(index).toMatchObject({ format: 'checkpoint-batch', version: 1, taskId: TASK_ID, seq: 1 });
    expect(
      index.entries.map(({ uuid, offset, length, at, call }) => ({ uuid, offset, length, at, call })),
    ).toEqual(
      sizes.map((length, n) => ({
        uuid: callNumber(n).identity.uuid,
        offset: 0,
        length,
        at: sizes.slice(0, n).reduce((sum, size) => sum + size, 0),
        call: callNumber(n),
      })),
    );
    for (const entry of index.entries) {
      const n = sizes.findIndex((_, i) => callNumber(i).identity.uuid === entry.uuid);
      const expected = Buffer.from(Array.from({ length: entry.length }, (_, i) => audioByte(n, i)));
      expect(audio.subarray(entry.at, entry.at + entry.length).equals(expected)).toBe(true);
    }
    expect(audio.length).toBe(640 + 3200);
    await store.close();
  });

  it('starts another object in the same tick once a batch would pass MAX_BATCH_BYTES', async () => {
    vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval'] });
    const { s3, puts } = recordingS3();
    const store = storeOf(s3);
    const calls = Math.floor(MAX_BATCH_BYTES / MAX_SEGMENT_BYTES) + 1;
    for (let n = 0; n < calls; n++) {
      store.open({
        call: callNumber(n),
        spool: memorySpool(n, MAX_SEGMENT_BYTES),
        intervalMs: 10_000,
        intervalBytes: 640,
      });
    }
    await vi.advanceTimersByTimeAsync(TICK_MS);

    const bodies = [...puts.values()];
    expect(bodies.length).toBe(2);
    for (const body of bodies) expect(body.length).toBeLessThanOrEqual(MAX_BATCH_BYTES);
    const entries = bodies.flatMap((body) => parseBatch(body).index.entries);
    expect(entries.map((entry) => entry.length)).toEqual(Array(calls).fill(MAX_SEGMENT_BYTES));
    await store.close();
  });

  it('deletes a batch once every call in it is stored, and keeps it while one is not', async () => {
    vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval'] });
    const { s3, deletes } = recordingS3();
    const store = storeOf(s3);
    const [first, second] = [0, 1].map((n) =>
      store.open({ call: callNumber(n), spool: memorySpool(n, 640), intervalMs: 10_000, intervalBytes: 640 }),
    );
    await vi.advanceTimersByTimeAsync(TICK_MS);
    first?.finish();
    await vi.advanceTimersByTimeAsync(TICK_MS);
    expect(deletes).toEqual([]);
    second?.finish();
    await vi.advanceTimersByTimeAsync(TICK_MS);
    expect(deletes).toEqual([[checkpointBatchKey(TASK_ID, 1)]]);
    await store.close();
  });
});
