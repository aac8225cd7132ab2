import { readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';

/** Resident set size of a process in bytes, from `/proc/<pid>/status` (VmRSS). Linux only. */
export async function readRss(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const match = /^VmRSS:\s+(\d+)\s+kB$/m.exec(status);
  if (!match) throw new Error(`no VmRSS in /proc/${pid}/status`);
  return Number(match[1]) * 1024;
}

export interface RssSample {
  /** Milliseconds since the sampler started. */
  readonly atMs: number;
  readonly rssBytes: number;
  /** A label the caller set at the time (e.g. the benchmark phase). */
  readonly phase: string;
}

/** Samples a process's RSS on an interval until stopped; `phase` tags each sample. */
export class RssSampler {
  readonly samples: RssSample[] = [];
  phase = 'start';
  readonly #timer: NodeJS.Timeout;
  readonly #started = performance.now();

  constructor(
    readonly pid: number,
    intervalMs = 500,
  ) {
    this.#timer = setInterval(() => void this.sample(), intervalMs);
  }

  /** Takes one sample now (also called by the timer). Errors (process gone) end sampling. */
  async sample(): Promise<RssSample | undefined> {
    try {
      const rssBytes = await readRss(this.pid);
      const sample = { atMs: performance.now() - this.#started, rssBytes, phase: this.phase };
      this.samples.push(sample);
      return sample;
    } catch {
      // The process has exited: a benchmark reads that from the process itself, not from here.
      this.stop();
      return undefined;
    }
  }

  /** Samples tagged with a phase. */
  during(phase: string): number[] {
    return this.samples.filter((sample) => sample.phase === phase).map((sample) => sample.rssBytes);
  }

  stop(): void {
    clearInterval(this.#timer);
  }
}

/** CPU time (user + system) a process has used, in seconds, from `/proc/<pid>/stat`. Linux only. */
export async function readCpuSeconds(pid: number): Promise<number> {
  return cpuSecondsOfStat(await readFile(`/proc/${pid}/stat`, 'utf8'));
}

/** `readCpuSeconds` at once, for a reading that must be taken at an exact moment. */
export function readCpuSecondsSync(pid: number): number {
  return cpuSecondsOfStat(readFileSync(`/proc/${pid}/stat`, 'utf8'));
}

function cpuSecondsOfStat(stat: string): number {
  // Fields after the parenthesised command name; utime and stime are fields 14 and 15 (1-based).
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const ticks = Number(fields[11]) + Number(fields[12]);
  return ticks / 100;
}
