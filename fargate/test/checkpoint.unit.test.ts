import { afterEach, describe, expect, it, vi } from 'vitest';
import { CallCheckpoint, type InflightCall, MAX_SEGMENT_BYTES } from '../src/checkpoint.js';
import type { AudioSpool } from '../src/spool.js';

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
