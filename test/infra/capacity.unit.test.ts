import { describe, expect, it } from 'vitest';
import { CapacityError, defaultCallsPerTask, taskCapacity } from '../../lib/capacity.js';

const GIB = 1024 ** 3;

describe('taskCapacity', () => {
  it('gives the default task (0.5 vCPU, 1 GiB) 125 calls, limited by CPU, and disk for 125 two-hour calls', () => {
    const capacity = taskCapacity({ cpu: 512, memoryMiB: 1024, maxCallSeconds: 7200, sampleRate: 16000 });
    expect(capacity).toEqual({ maxCalls: 125, ephemeralStorageGiB: 32, limitedBy: 'cpu' });
    // 125 × 7200 s × 32 kB/s = 28.8 GB of audio fits with room to spare.
    expect(capacity.ephemeralStorageGiB * GIB).toBeGreaterThan(125 * 7200 * 32000 * 1.1);
  });

  it('scales with vCPU (memory never binds at Fargate sizes) and never asks for less disk than Fargate allows', () => {
    // 0.25 vCPU: 62 calls; 256 MiB over the base would allow 256.
    expect(taskCapacity({ cpu: 256, memoryMiB: 512, maxCallSeconds: 600, sampleRate: 8000 })).toEqual({
      maxCalls: 62,
      ephemeralStorageGiB: 21,
      limitedBy: 'cpu',
    });
    expect(taskCapacity({ cpu: 4096, memoryMiB: 300, maxCallSeconds: 60, sampleRate: 8000 })).toMatchObject({
      maxCalls: 44,
      limitedBy: 'memory',
    });
    expect(taskCapacity({ cpu: 4096, memoryMiB: 8192, maxCallSeconds: 60, sampleRate: 8000 })).toMatchObject({
      maxCalls: 1000,
      limitedBy: 'cpu',
    });
    expect(taskCapacity({ cpu: 2048, memoryMiB: 4096, maxCallSeconds: 60, sampleRate: 8000 })).toMatchObject({
      maxCalls: 500,
    });
  });

  it('lowers a derived cap that would need more than 200 GiB of disk', () => {
    const capacity = taskCapacity({ cpu: 4096, memoryMiB: 8192, maxCallSeconds: 7200, sampleRate: 24000 });
    expect(capacity.limitedBy).toBe('disk');
    expect(capacity.ephemeralStorageGiB).toBeLessThanOrEqual(200);
    expect(capacity.maxCalls).toBe(Math.floor((198 * GIB) / (7200 * 48000 * 1.1)));
  });

  it('takes a configured cap and sizes the disk for it, or refuses one that cannot fit in 200 GiB', () => {
    expect(
      taskCapacity({
        cpu: 512,
        memoryMiB: 1024,
        maxCallSeconds: 3600,
        sampleRate: 16000,
        maxCallsPerTask: 40,
      }),
    ).toEqual({ maxCalls: 40, ephemeralStorageGiB: 21, limitedBy: 'configured' });
    expect(() =>
      taskCapacity({
        cpu: 512,
        memoryMiB: 1024,
        maxCallSeconds: 7200,
        sampleRate: 24000,
        maxCallsPerTask: 1000,
      }),
    ).toThrow(
      new CapacityError(
        'maxCallsPerTask 1000 needs 357 GiB of scratch disk for 7200 s calls at 24000 Hz; Fargate gives a task at most 200 GiB: use at most 559, or lower maxCallSeconds',
      ),
    );
  });

  it('aims auto scaling at 60% of the cap, so each task can still take 40% more calls while new ones start', () => {
    const { maxCalls } = taskCapacity({ cpu: 512, memoryMiB: 1024, maxCallSeconds: 7200, sampleRate: 16000 });
    expect(defaultCallsPerTask(maxCalls)).toBe(75);
    expect(defaultCallsPerTask(250)).toBe(150);
    expect(defaultCallsPerTask(1)).toBe(1);
  });
});
