/**
 * How many calls one recorder task takes, and the scratch disk that needs: the numbers behind the
 * recorder's `MAX_CALLS` and the task's ephemeral storage.
 *
 * Measured (BENCHMARKS.md, "Recorder capacity"): one Node process recording real-time 16 kHz calls
 * with checkpoints on used 32–40% of one x86 core at 500 calls and about 91% at 1000, i.e.
 * 0.64–0.91 ms of CPU per call-second. RSS: 161–410 KiB per call over 93–181 MiB idle.
 */

/** CPU per second of one live call, rounded up from the 0.91 ms measured at 1000 calls. */
export const CPU_SECONDS_PER_CALL_SECOND = 0.001;
/**
 * Share of the task's vCPU that steady streaming may use. The rest is for the bursts at hangup
 * (SHA-256 and the last parts), garbage collection and sweeps, and for the difference between the
 * measured x86 core and a Fargate ARM64 vCPU, which has not been measured.
 */
export const CPU_SHARE_FOR_CALLS = 0.25;
/**
 * Auto scaling holds the average calls per task at this share of the cap (the `callsPerTask`
 * default): when calls arrive faster than new tasks start (a one-minute metric, a 60 s scale-out
 * cooldown, then a task's start-up), each task still takes 40% more calls before it refuses one.
 */
export const SCALING_TARGET_SHARE = 0.6;
/** Memory budget per call (measured 218–410 KiB) and for the process itself (measured 93–181 MiB). */
export const MIB_PER_CALL = 1;
export const BASE_MIB = 256;
/** Fargate's ephemeral storage range when set (GiB). */
export const MIN_EPHEMERAL_GIB = 21;
export const MAX_EPHEMERAL_GIB = 200;
/**
 * Disk beyond the calls' audio: the image's layers, journals, the recorder's 64 MiB reserve, and
 * the difference when a call picks 24 kHz where the stack asked for less (admission control
 * reserves a new call at 24 kHz).
 */
export const DISK_MARGIN_GIB = 2;
/** Headroom on the audio itself (file-system overhead, spool files of failed uploads). */
export const DISK_AUDIO_FACTOR = 1.1;

const GIB = 1024 ** 3;

export interface TaskCapacityInput {
  /** Task vCPU units (1024 = one vCPU). */
  readonly cpu: number;
  readonly memoryMiB: number;
  readonly maxCallSeconds: number;
  /** The rate the answer webhook asks Vonage for. */
  readonly sampleRate: number;
  /** A cap chosen by the user (`maxCallsPerTask`); the derived one when absent. */
  readonly maxCallsPerTask?: number;
}

export interface TaskCapacity {
  /** Calls one task takes at once (`MAX_CALLS`). */
  readonly maxCalls: number;
  /** The task's ephemeral storage (21–200 GiB). */
  readonly ephemeralStorageGiB: number;
  /** Why the cap is what it is, for the synth output and the docs. */
  readonly limitedBy: 'cpu' | 'memory' | 'disk' | 'configured';
}

/** A cap that needs more scratch disk than Fargate gives a task. */
export class CapacityError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CapacityError';
  }
}

/** The `callsPerTask` default: the calls per task auto scaling aims at, below the cap `maxCalls`. */
export function defaultCallsPerTask(maxCalls: number): number {
  return Math.max(1, Math.floor(maxCalls * SCALING_TARGET_SHARE));
}

/**
 * The per-task call cap and the disk it needs:
 * - cpu: vCPU × 0.25 ÷ 0.001 s per call-second (250 calls per vCPU; 125 at the default 0.5 vCPU)
 * - memory: (memory − 256 MiB) ÷ 1 MiB (768 at the default 1 GiB)
 * - disk: cap × maxCallSeconds × 2 × rate × 1.1 + 2 GiB, rounded up, at least 21 GiB; over
 *   200 GiB the derived cap is lowered to fit, a configured one is an error.
 *
 * @throws {CapacityError} when a configured cap needs more than 200 GiB.
 */
export function taskCapacity(input: TaskCapacityInput): TaskCapacity {
  const bytesPerCall = input.maxCallSeconds * 2 * input.sampleRate;
  const diskGiB = (calls: number) =>
    Math.max(
      MIN_EPHEMERAL_GIB,
      Math.ceil((calls * bytesPerCall * DISK_AUDIO_FACTOR) / GIB) + DISK_MARGIN_GIB,
    );
  const fitsOnDisk = Math.floor(
    ((MAX_EPHEMERAL_GIB - DISK_MARGIN_GIB) * GIB) / (bytesPerCall * DISK_AUDIO_FACTOR),
  );

  if (input.maxCallsPerTask !== undefined) {
    const needed = diskGiB(input.maxCallsPerTask);
    if (needed > MAX_EPHEMERAL_GIB) {
      throw new CapacityError(
        `maxCallsPerTask ${input.maxCallsPerTask} needs ${needed} GiB of scratch disk for ${input.maxCallSeconds} s calls at ${input.sampleRate} Hz; Fargate gives a task at most ${MAX_EPHEMERAL_GIB} GiB: use at most ${fitsOnDisk}, or lower maxCallSeconds`,
      );
    }
    return { maxCalls: input.maxCallsPerTask, ephemeralStorageGiB: needed, limitedBy: 'configured' };
  }
  const byCpu = Math.floor(((input.cpu / 1024) * CPU_SHARE_FOR_CALLS) / CPU_SECONDS_PER_CALL_SECOND);
  const byMemory = Math.floor((input.memoryMiB - BASE_MIB) / MIB_PER_CALL);
  let maxCalls = Math.max(1, Math.min(byCpu, byMemory));
  let limitedBy: TaskCapacity['limitedBy'] = byCpu <= byMemory ? 'cpu' : 'memory';
  if (maxCalls > fitsOnDisk) {
    maxCalls = Math.max(1, fitsOnDisk);
    limitedBy = 'disk';
  }
  return { maxCalls, ephemeralStorageGiB: diskGiB(maxCalls), limitedBy };
}
