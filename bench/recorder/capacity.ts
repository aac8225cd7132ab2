import {
  CPUS,
  speechFile,
  startTarget,
  type Target,
  type TargetName,
  type Verification,
  verifyRecordings,
} from '../lib/harness.js';
import type { LeanLoadResult } from '../lib/lean-load-generator.js';
import { runLeanLoadProcess } from '../lib/processes.js';
import { RssSampler } from '../lib/rss.js';
import { summarize } from '../lib/stats.js';

export interface CapacityOptions {
  readonly steps: readonly number[];
  /** Seconds during which all of a step's calls stream at once. */
  readonly seconds: number;
  readonly lagLimitMs: number;
  /** Frames in each socket write of the load generator (Vonage sends one). */
  readonly framesPerWrite: number;
}

export interface StepOutcome {
  readonly calls: number;
  readonly framesPerWrite: number;
  readonly connected: number;
  readonly framesSent: number;
  /** Frames the target did not store (recorder, baseline) or did not take in (floor). */
  readonly framesLost: number;
  /** Recordings byte-exact in S3; for the floor, which stores nothing, calls fully taken in. */
  readonly recordingsComplete: number;
  readonly lagMedianMs: number;
  readonly lagP99Ms: number;
  /** How late the load generator wrote frames in the streaming window (its own health). */
  readonly senderLateMedianMs: number;
  readonly senderLateP99Ms: number;
  /** p99 lag over the whole step, ramp and hangups included. */
  readonly lagOverallP99Ms: number;
  /** Length of the streaming window (every call open, none hanging up) the CPU figures cover. */
  readonly windowSeconds: number;
  /** The window on the monotonic clock in µs, to cut a `--cpu-prof` profile to (profile-top.ts). */
  readonly windowMonotonicUs: readonly [number, number] | undefined;
  /** Share of one core the target used in the streaming window. */
  readonly serverCpu: number;
  /** The target's CPU per second of one call's audio, in microseconds. */
  readonly cpuPerCallSecondUs: number;
  /** `cpuPerCallSecondUs` over the floor's at the same step in the same run (when the floor ran). */
  readonly floorRatio?: number;
  /** Shares of a core the load generator and the S3 server used in the window (both on the other CPU). */
  readonly generatorCpu: number;
  readonly s3Cpu: number;
  readonly serverRssMaxMiB: number;
  readonly passed: boolean;
  /** The load generator itself fell behind, so the step says nothing about the target. */
  readonly inconclusive: boolean;
  readonly why: string;
  readonly failures: string[];
}

/**
 * Steps the concurrent calls up, every target at each step before the next step (so targets are
 * compared minutes apart, not a whole run apart), until a target loses frames or breaks the lag
 * limit; that target then sits out the larger steps.
 */
export async function runCapacity(
  names: readonly TargetName[],
  options: CapacityOptions,
): Promise<Record<string, StepOutcome[]>> {
  const { pcm, file } = await speechFile(16000, 37);
  const targets: Target[] = [];
  const outcomes: Record<string, StepOutcome[]> = Object.fromEntries(names.map((name) => [name, []]));
  const stopped = new Set<TargetName>();
  try {
    for (const name of names) targets.push(await startTarget(name));
    // A short unmeasured round first, so the first step does not pay for JIT compilation.
    for (const target of targets) await warmUp(target, file, options.framesPerWrite);
    for (const calls of options.steps) {
      for (const target of targets) {
        if (stopped.has(target.name)) continue;
        const outcome = await runStep(target, calls, pcm, file, options);
        const floor = outcomes.floor?.find((step) => step.calls === calls);
        const withRatio =
          floor && target.name !== 'floor'
            ? { ...outcome, floorRatio: outcome.cpuPerCallSecondUs / floor.cpuPerCallSecondUs }
            : outcome;
        outcomes[target.name]?.push(withRatio);
        console.error(`[${target.name}] ${JSON.stringify(withRatio)}`);
        // An inconclusive step proves nothing either way: the next one still shows the target's
        // CPU and losses. Only a step that failed on its own account ends the target's run.
        if (!outcome.passed && !outcome.inconclusive) stopped.add(target.name);
      }
    }
  } finally {
    for (const target of targets) await target.stop();
  }
  printTable(names, options.steps, outcomes);
  return outcomes;
}

/** A short unmeasured round, so the first measured one does not pay for JIT compilation. */
export async function warmUp(target: Target, file: string, framesPerWrite: number): Promise<void> {
  console.error(`[${target.name}] warm-up: 50 calls, 3 s…`);
  await runLeanLoadProcess(
    {
      url: target.url,
      secret: target.secret,
      calls: 50,
      seconds: 3,
      rampMs: 200,
      pcmFile: file,
      framesPerWrite,
    },
    { cpus: CPUS.others },
  );
}

async function runStep(
  target: Target,
  calls: number,
  pcm: Buffer,
  file: string,
  options: CapacityOptions,
): Promise<StepOutcome> {
  const sampler = new RssSampler(target.recorder.pid, 500);
  console.error(`[${target.name}] ${calls} calls, ${options.framesPerWrite} frame(s) per write…`);
  const result = await streamCalls(target, calls, options.seconds, file, options.framesPerWrite);
  sampler.stop();
  return judge(calls, result, await verifyTarget(target, result, pcm), sampler, options);
}

/**
 * Streams `calls` real-time calls at `target`, reading the target's (and its S3 server's) CPU over
 * the window. Connections open over a ramp (like calls arriving), and every call lasts past the
 * ramp, so all `calls` stream at once for `seconds`.
 */
export function streamCalls(
  target: Target,
  calls: number,
  seconds: number,
  file: string,
  framesPerWrite: number,
): Promise<LeanLoadResult> {
  const rampMs = Math.min(10_000, calls * 4);
  return runLeanLoadProcess(
    {
      url: target.url,
      secret: target.secret,
      calls,
      seconds: seconds + rampMs / 1000,
      rampMs,
      pcmFile: file,
      framesPerWrite,
      watchPids: { server: target.recorder.pid, ...(target.s3Pid === undefined ? {} : { s3: target.s3Pid }) },
    },
    { cpus: CPUS.others },
  );
}

/** Every recording byte for byte against what was sent; the floor, which stores nothing, by its pongs. */
export function verifyTarget(target: Target, result: LeanLoadResult, pcm: Buffer): Promise<Verification> {
  if (target.name === 'floor') return Promise.resolve(takenIn(result));
  return verifyRecordings(target.s3, target.bucket, result.calls, pcm, { waitMs: 120_000 });
}

/** Calls whose websocket opened. */
export function connectedCalls(result: LeanLoadResult): number {
  return result.calls.filter((call) => call.openedAt > 0).length;
}

/** A watched process's share of a core over the streaming window (NaN without a window). */
export function cpuShare(result: LeanLoadResult, name: string): number {
  const window = result.window;
  return window && window.seconds > 0 ? (window.cpuSeconds[name] ?? Number.NaN) / window.seconds : Number.NaN;
}

/** The target's CPU per connected call per second of the streaming window, in µs. */
export function cpuPerCallSecondUs(result: LeanLoadResult): number {
  return (cpuShare(result, 'server') / connectedCalls(result)) * 1e6;
}

/** The floor stores nothing: a call is whole when the server parsed every frame before its last pong. */
export function takenIn(result: LeanLoadResult): Verification {
  const short = result.calls.filter((call) => call.framesAcknowledged < call.framesSent);
  return {
    calls: result.calls.length,
    complete: result.calls.length - short.length,
    framesLost: short.reduce((sum, call) => sum + call.framesSent - call.framesAcknowledged, 0),
    failed: short.length,
    failures: short
      .slice(0, 10)
      .map((call) => `${call.uuid}: ${call.framesAcknowledged} of ${call.framesSent} frames acknowledged`),
  };
}

function judge(
  calls: number,
  result: LeanLoadResult,
  verification: Verification,
  sampler: RssSampler,
  options: CapacityOptions,
): StepOutcome {
  // Judged at steady state: every call streaming, none connecting or hanging up.
  const lag = summarize(result.steadyLagMs);
  const connected = connectedCalls(result);
  const framesSent = result.calls.reduce((sum, call) => sum + call.framesSent, 0);
  const window = result.window;
  const share = (name: string) => cpuShare(result, name);
  const why: string[] = [];
  if (connected < calls) why.push(`${calls - connected} calls did not connect`);
  if (verification.framesLost > 0 || verification.failed > 0) {
    why.push(`${verification.framesLost} frames lost, ${verification.failed} recordings incomplete`);
  }
  if (!(lag.p99 <= options.lagLimitMs)) why.push(`p99 lag ${lag.p99.toFixed(1)} ms`);
  // A generator that cannot keep its own schedule inflates the lag it measures: say so.
  const late = result.steadySenderLateness;
  const inconclusive = !(late.p99Ms <= options.lagLimitMs);
  if (inconclusive) why.push(`inconclusive: load generator ran ${late.p99Ms.toFixed(0)} ms late (p99)`);
  return {
    calls,
    framesPerWrite: result.framesPerWrite,
    connected,
    framesSent,
    framesLost: verification.framesLost,
    recordingsComplete: verification.complete,
    lagMedianMs: lag.median,
    lagP99Ms: lag.p99,
    senderLateMedianMs: late.medianMs,
    senderLateP99Ms: late.p99Ms,
    lagOverallP99Ms: summarize(result.lagMs).p99,
    windowSeconds: window?.seconds ?? Number.NaN,
    windowMonotonicUs: window?.monotonicUs,
    serverCpu: share('server'),
    cpuPerCallSecondUs: cpuPerCallSecondUs(result),
    generatorCpu: share('generator'),
    s3Cpu: share('s3'),
    serverRssMaxMiB: Math.max(0, ...sampler.samples.map((sample) => sample.rssBytes)) / 2 ** 20,
    passed: why.length === 0,
    inconclusive,
    why: why.join('; ') || 'ok',
    failures: verification.failures,
  };
}

function printTable(
  names: readonly TargetName[],
  steps: readonly number[],
  outcomes: Record<string, StepOutcome[]>,
): void {
  // Values that crossed IPC as JSON turn NaN into null: both read as 'n/a'.
  const fixed = (value: number | null | undefined, digits: number) =>
    typeof value === 'number' && Number.isFinite(value) ? value.toFixed(digits) : 'n/a';
  const percent = (share: number) => (Number.isFinite(share) ? `${(share * 100).toFixed(1)}%` : 'n/a');
  console.log('\n### capacity (CPU over the streaming window only)\n');
  console.log(
    '| calls | target | frames/write | connected | frames lost | lag median ms | lag p99 ms | generator late median / p99 ms | window s | target CPU | µs CPU per call-second | ÷ floor | generator CPU | S3 server CPU | RSS max MiB | result |',
  );
  console.log('|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|');
  for (const calls of steps) {
    for (const name of names) {
      const o = outcomes[name]?.find((step) => step.calls === calls);
      if (!o) continue;
      console.log(
        `| ${o.calls} | ${name} | ${o.framesPerWrite} | ${o.connected} | ${o.framesLost} | ${fixed(o.lagMedianMs, 2)} | ${fixed(o.lagP99Ms, 2)} | ${fixed(o.senderLateMedianMs, 1)} / ${fixed(o.senderLateP99Ms, 1)} | ${fixed(o.windowSeconds, 1)} | ${percent(o.serverCpu)} | ${fixed(o.cpuPerCallSecondUs, 0)} | ${o.floorRatio === undefined ? '–' : `${fixed(o.floorRatio, 2)}×`} | ${percent(o.generatorCpu)} | ${percent(o.s3Cpu)} | ${fixed(o.serverRssMaxMiB, 0)} | ${o.why} |`,
      );
    }
  }
  console.log();
  for (const name of names) {
    const max = outcomes[name]?.filter((o) => o.passed).at(-1)?.calls ?? 0;
    console.log(`${name}: most concurrent calls with zero frames lost and p99 lag within the limit: ${max}`);
  }
}
