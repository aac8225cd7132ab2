import { CPUS, speechFile, startTarget, type TargetName, verifyRecordings } from '../lib/harness.js';
import { runLoadProcess } from '../lib/processes.js';
import { RssSampler } from '../lib/rss.js';
import { median } from '../lib/stats.js';

export interface MemoryOptions {
  readonly calls: number;
  readonly seconds: number;
  readonly speed: number;
}

export interface MemoryOutcome {
  readonly calls: number;
  readonly audioSeconds: number;
  readonly speed: number;
  readonly idleRssMiB: number;
  /** Median RSS in each tenth of the call (after the ramp), to show whether it is flat. */
  readonly rssByTenthMiB: number[];
  readonly steadyRssMiB: number;
  readonly perCallKiB: number;
  /** RSS after every call ended and was stored. */
  readonly afterRssMiB: number;
  readonly recordingsComplete: number;
  readonly framesLost: number;
  readonly lagP99Ms: number;
}

const MiB = 2 ** 20;

/** Holds `calls` long calls at once and samples the recorder's RSS over them. */
export async function runMemory(name: TargetName, options: MemoryOptions): Promise<MemoryOutcome> {
  const { pcm, file } = await speechFile(16000, 37);
  const target = await startTarget(name);
  try {
    // Warm up (JIT, SDK clients, buffers) with a short round, then take the idle RSS.
    await runLoadProcess(
      { url: target.url, secret: target.secret, calls: 20, seconds: 5, pcmFile: file, rampMs: 1000 },
      { cpus: CPUS.others },
    );
    await new Promise((resolve) => setTimeout(resolve, 5000));
    const sampler = new RssSampler(target.recorder.pid, 250);
    sampler.phase = 'idle';
    await new Promise((resolve) => setTimeout(resolve, 2000));
    const rampMs = Math.min(10_000, options.calls * 10);
    sampler.phase = 'ramp';
    const started = performance.now();
    const callWallMs = (options.seconds * 1000) / options.speed;
    const tenths: number[][] = Array.from({ length: 10 }, () => []);
    // Tag samples with the tenth of the (all-calls-open) window they fall in.
    const tagger = setInterval(() => {
      const sinceRamp = performance.now() - started - rampMs - 1000;
      const tenth = Math.floor((sinceRamp / (callWallMs - rampMs - 1000)) * 10);
      sampler.phase = tenth >= 0 && tenth < 10 ? `t${tenth}` : sinceRamp < 0 ? 'ramp' : 'ending';
    }, 50);
    const result = await runLoadProcess(
      {
        url: target.url,
        secret: target.secret,
        calls: options.calls,
        seconds: options.seconds,
        speed: options.speed,
        rampMs,
        pcmFile: file,
        finalization: {
          endpoint: target.endpoint,
          bucket: target.bucket,
          timeoutMs: 120_000,
          pollIntervalMs: 250,
        },
      },
      { cpus: CPUS.others },
    );
    clearInterval(tagger);
    sampler.phase = 'after';
    await new Promise((resolve) => setTimeout(resolve, 3000));
    sampler.stop();
    for (let i = 0; i < 10; i += 1) tenths[i] = sampler.during(`t${i}`);
    const idle = median(sampler.during('idle'));
    const steady = median(tenths.slice(1, 9).flat());
    const verification = await verifyRecordings(target.s3, target.bucket, result.calls, pcm);
    const sortedLag = [...result.lagMs].sort((a, b) => a - b);
    const outcome: MemoryOutcome = {
      calls: options.calls,
      audioSeconds: options.seconds,
      speed: options.speed,
      idleRssMiB: idle / MiB,
      rssByTenthMiB: tenths.map((samples) => median(samples) / MiB),
      steadyRssMiB: steady / MiB,
      perCallKiB: (steady - idle) / options.calls / 1024,
      afterRssMiB: median(sampler.during('after')) / MiB,
      recordingsComplete: verification.complete,
      framesLost: verification.framesLost,
      lagP99Ms: sortedLag[Math.floor(sortedLag.length * 0.99)] ?? Number.NaN,
    };
    console.log(
      `\n### ${name}: memory (${options.calls} calls × ${options.seconds} s of audio at ${options.speed}× real time)\n`,
    );
    console.log(
      `idle RSS ${outcome.idleRssMiB.toFixed(1)} MiB, steady RSS ${outcome.steadyRssMiB.toFixed(1)} MiB, per call ${outcome.perCallKiB.toFixed(0)} KiB, after ${outcome.afterRssMiB.toFixed(1)} MiB`,
    );
    console.log(
      `RSS by tenth of the call (MiB): ${outcome.rssByTenthMiB.map((v) => v.toFixed(1)).join(' ')}`,
    );
    console.log(
      `recordings complete ${outcome.recordingsComplete}/${options.calls}, frames lost ${outcome.framesLost}`,
    );
    return outcome;
  } finally {
    await target.stop();
  }
}
