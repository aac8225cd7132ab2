import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { AdmissionControl, AudioRateLimit, MAX_BYTES_PER_SECOND, statfsFreeSpace } from '../src/admission.js';

const MiB = 1024 * 1024;
const call = (remaining: number) => ({ remainingScratchBytes: () => remaining });

describe('AdmissionControl', () => {
  it('refuses the call over the cap and admits again once one ends', async () => {
    const admission = new AdmissionControl({
      maxCalls: 2,
      maxCallSeconds: 60,
      freeSpace: async () => 10_000 * MiB,
    });
    await admission.refresh();
    expect(admission.admit([call(0)])).toEqual({ ok: true });
    const full = admission.admit([call(0), call(0)]);
    expect(full).toEqual({ ok: false, reason: 'at capacity (2 of 2 calls)' });
    expect(admission.admit([call(0)]).ok).toBe(true);
  });

  it('needs room for one whole call at the highest rate beyond what live calls may still write', async () => {
    let free = 0;
    const admission = new AdmissionControl({
      maxCalls: 100,
      maxCallSeconds: 100,
      freeSpace: async () => free,
      reserveBytes: 0,
    });
    const perCall = 100 * MAX_BYTES_PER_SECOND;
    expect(admission.bytesPerNewCall).toBe(perCall);
    free = 3 * perCall;
    await admission.refresh();
    expect(admission.admit([call(perCall), call(perCall)]).ok).toBe(true);
    // One byte short: the live calls' remaining audio plus one new call no longer fit.
    expect(admission.admit([call(perCall), call(perCall + 1)])).toEqual({
      ok: false,
      reason: expect.stringMatching(/^scratch disk too full \(\d+ MiB free, \d+ MiB needed for 2 live calls/),
    });
    // The disk fills up (say, recordings S3 would not take): the next sample refuses even an idle task.
    free = perCall - 1;
    await admission.refresh();
    expect(admission.admit([]).ok).toBe(false);
  });

  it('refuses everything until the free space has been sampled once', () => {
    const admission = new AdmissionControl({ maxCalls: 5, maxCallSeconds: 10, freeSpace: async () => 1e12 });
    expect(admission.admit([]).ok).toBe(false);
  });

  it('keeps the last sample when sampling fails', async () => {
    let fail = false;
    const admission = new AdmissionControl({
      maxCalls: 5,
      maxCallSeconds: 10,
      freeSpace: async () => {
        if (fail) throw new Error('EIO');
        return 1e12;
      },
    });
    await admission.refresh();
    fail = true;
    await expect(admission.refresh()).rejects.toThrow('EIO');
    expect(admission.freeBytes).toBe(1e12);
  });

  it('reads real free space with statfs', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'admission-'));
    try {
      const free = await statfsFreeSpace(dir)();
      expect(free).toBeGreaterThan(0);
    } finally {
      await rm(dir, { recursive: true });
    }
  });

  it('rejects a cap below 1', () => {
    expect(() => new AdmissionControl({ maxCalls: 0, maxCallSeconds: 1, freeSpace: async () => 0 })).toThrow(
      /maxCalls/,
    );
  });
});

describe('AudioRateLimit', () => {
  const FRAME = 0.02;

  /** Feeds 20 ms frames at `speed` × real time for `wallSeconds`; returns the wall second it tripped, if it did. */
  function run(
    limit: AudioRateLimit,
    startMs: number,
    speed: number,
    wallSeconds: number,
  ): number | undefined {
    const frames = Math.round((wallSeconds * speed) / FRAME);
    for (let i = 0; i < frames; i++) {
      const at = startMs + (i * FRAME * 1000) / speed;
      if (!limit.take(FRAME, at)) return (at - startMs) / 1000;
    }
    return undefined;
  }

  it('never trips a real-time sender, however long the call', () => {
    const limit = new AudioRateLimit(0);
    expect(run(limit, 0, 1, 7200)).toBeUndefined();
  });

  it('lets a catch-up after a stall through, and keeps the call going afterwards', () => {
    const limit = new AudioRateLimit(0);
    expect(run(limit, 0, 1, 60)).toBeUndefined();
    // 25 s of silence on the wire (a stalled network), then the backlog at once, then real time again.
    for (let i = 0; i < 25 / FRAME; i++) expect(limit.take(FRAME, 85_000)).toBe(true);
    expect(run(limit, 85_000, 1, 600)).toBeUndefined();
  });

  it('allows jitter: frames bunched in pairs and triples', () => {
    const limit = new AudioRateLimit(0);
    for (let t = 0; t < 600_000; t += 60) {
      for (let k = 0; k < 3; k++) expect(limit.take(FRAME, t)).toBe(true);
    }
  });

  it('trips a sender at twice real time once the burst is spent, not before', () => {
    const limit = new AudioRateLimit(0, { burstSeconds: 60, maxSpeed: 1.25 });
    const tripped = run(limit, 0, 2, 600);
    // 60 s of credit drained at 2 − 1.25 = 0.75 audio s per wall second.
    expect(tripped).toBeGreaterThan(79);
    expect(tripped).toBeLessThan(81);
    expect(new AudioRateLimit(0).burstSeconds).toBe(120);
  });

  it('trips a sender that dumps audio as fast as the socket allows within seconds of audio', () => {
    const limit = new AudioRateLimit(0);
    let taken = 0;
    while (limit.take(FRAME, 0)) taken += FRAME;
    // The whole 120 s burst, give or take one frame of floating-point drift, then nothing.
    expect(taken).toBeGreaterThan(120 - 2 * FRAME);
    expect(taken).toBeLessThan(120 + FRAME);
  });

  it('tolerates a sender a little fast (a clock running 10% ahead)', () => {
    const limit = new AudioRateLimit(0);
    expect(run(limit, 0, 1.1, 7200)).toBeUndefined();
  });

  it('rejects a speed below real time', () => {
    expect(() => new AudioRateLimit(0, { maxSpeed: 0.5 })).toThrow(/maxSpeed/);
  });
});
