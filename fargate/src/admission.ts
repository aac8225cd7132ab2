/**
 * Admission control, per recorder task: how many calls it takes, whether its scratch disk can
 * hold one more, and how fast one call may send audio. Pure logic under an injected clock and
 * disk; the server and the call session only ask it.
 */
import { statfs } from 'node:fs/promises';
import { bytesPerSecond, SUPPORTED_SAMPLE_RATES } from '../../common/audio-format.js';

/** The most bytes a second any call may write: its rate is known only from its first frame. */
export const MAX_BYTES_PER_SECOND = bytesPerSecond(Math.max(...SUPPORTED_SAMPLE_RATES) as 24000);

/** Free bytes on the scratch volume, for an unprivileged process (`statfs` `bavail`). */
export type FreeSpaceSource = () => Promise<number>;

/** Reads the free space of the file system that holds `dir`. */
export function statfsFreeSpace(dir: string): FreeSpaceSource {
  return async () => {
    const stats = await statfs(dir);
    return stats.bavail * stats.bsize;
  };
}

/** What admission needs to know of a call that is not yet stored. */
export interface AdmittedCall {
  /** Bytes this call may still write to the scratch disk before it must end. */
  remainingScratchBytes(): number;
}

export interface AdmissionOptions {
  /** Most calls (open or still finalizing) at once; more are refused with 503. */
  readonly maxCalls: number;
  /** Longest call: what a new call may write is `maxCallSeconds` at the highest rate. */
  readonly maxCallSeconds: number;
  /** Free space of the scratch volume. */
  readonly freeSpace: FreeSpaceSource;
  /** Space kept free beyond every call's worst case (journals, file system slack). @default 64 MiB */
  readonly reserveBytes?: number;
}

/** Why a call was refused, for the handshake's log line. */
export type AdmissionVerdict = { ok: true } | { ok: false; reason: string };

/**
 * Decides whether one more call fits. The disk check uses the free space last sampled (`refresh`,
 * once a tick) minus what the calls already admitted may still write, so a burst of upgrades
 * between two samples cannot overbook the disk.
 */
export class AdmissionControl {
  readonly maxCalls: number;
  /** Scratch bytes one new call may need: `maxCallSeconds` at the highest rate. */
  readonly bytesPerNewCall: number;
  readonly #freeSpace: FreeSpaceSource;
  readonly #reserveBytes: number;
  #freeBytes: number | undefined;
  #sampling: Promise<void> | undefined;

  constructor(options: AdmissionOptions) {
    const cap = options.maxCalls;
    if (!(cap >= 1) || (!Number.isInteger(cap) && cap !== Number.POSITIVE_INFINITY))
      throw new RangeError(`maxCalls must be a whole number of at least 1, got ${cap}`);
    this.maxCalls = options.maxCalls;
    this.bytesPerNewCall = options.maxCallSeconds * MAX_BYTES_PER_SECOND;
    this.#freeSpace = options.freeSpace;
    this.#reserveBytes = options.reserveBytes ?? 64 * 1024 * 1024;
  }

  /** The free space last sampled (undefined before the first sample). */
  get freeBytes(): number | undefined {
    return this.#freeBytes;
  }

  /** Samples the free space; concurrent calls share one sample. A failed sample keeps the last one. */
  refresh(): Promise<void> {
    this.#sampling ??= this.#freeSpace()
      .then((bytes) => {
        this.#freeBytes = bytes;
      })
      .finally(() => {
        this.#sampling = undefined;
      });
    return this.#sampling;
  }

  /** Whether a new call may join `calls` (every call not yet stored). */
  admit(calls: Iterable<AdmittedCall>): AdmissionVerdict {
    let count = 0;
    let committed = 0;
    for (const call of calls) {
      count++;
      committed += Math.max(0, call.remainingScratchBytes());
    }
    if (count >= this.maxCalls)
      return { ok: false, reason: `at capacity (${count} of ${this.maxCalls} calls)` };
    // Never sampled (the recorder samples before it listens): nothing is known, so nothing is promised.
    const free = this.#freeBytes ?? 0;
    const needed = committed + this.bytesPerNewCall + this.#reserveBytes;
    if (free < needed) {
      return {
        ok: false,
        reason: `scratch disk too full (${mib(free)} MiB free, ${mib(needed)} MiB needed for ${count} live calls and one more)`,
      };
    }
    return { ok: true };
  }
}

function mib(bytes: number): number {
  return Math.round(bytes / (1024 * 1024));
}

export interface AudioRateOptions {
  /** Audio seconds a sender may run ahead of the wall clock (a catch-up after a stall). @default 120 */
  readonly burstSeconds?: number;
  /** Sustained audio seconds per wall second allowed. @default 1.25 */
  readonly maxSpeed?: number;
}

/**
 * A token bucket of audio seconds against wall seconds. It starts full at `burstSeconds`, refills
 * at `maxSpeed` audio seconds per wall second, and each frame takes its duration. A real-time
 * sender keeps it full; jitter and a catch-up after a stall of up to `burstSeconds` fit in it; a
 * sender much faster than real time, sustained, empties it.
 */
export class AudioRateLimit {
  readonly burstSeconds: number;
  readonly maxSpeed: number;
  // Numbers from the start (see CallSession): both change with every frame.
  #tokens = 0;
  #lastMs = 0;

  constructor(nowMs: number, options: AudioRateOptions = {}) {
    this.burstSeconds = options.burstSeconds ?? 120;
    this.maxSpeed = options.maxSpeed ?? 1.25;
    if (!(this.burstSeconds > 0) || !(this.maxSpeed >= 1))
      throw new RangeError(
        `burstSeconds must be positive and maxSpeed at least 1, got ${this.burstSeconds} and ${this.maxSpeed}`,
      );
    this.#tokens = this.burstSeconds;
    this.#lastMs = nowMs;
  }

  /** Takes `audioSeconds` at wall time `nowMs`; false once the sender has overdrawn the bucket. */
  take(audioSeconds: number, nowMs: number): boolean {
    const elapsed = Math.max(0, nowMs - this.#lastMs) / 1000;
    this.#lastMs = Math.max(this.#lastMs, nowMs);
    this.#tokens = Math.min(this.burstSeconds, this.#tokens + elapsed * this.maxSpeed) - audioSeconds;
    return this.#tokens >= 0;
  }
}
