import { CPUS, speechFile, startTarget, type TargetName, verifyRecordings } from '../lib/harness.js';
import { runLoadProcess } from '../lib/processes.js';
import { RssSampler, readCpuSeconds } from '../lib/rss.js';
import { summarize } from '../lib/stats.js';

export interface CapacityOptions {
  readonly steps: readonly number[];
  /** Seconds during which all of a step's calls stream at once. */
  readonly seconds: number;
  readonly lagLimitMs: number;
}

export interface StepOutcome {
  readonly calls: number;
  readonly connected: number;
  readonly framesSent: number;
  readonly framesLost: number;
  readonly recordingsComplete: number;
  readonly lagMedianMs: number;
  readonly lagP99Ms: number;
  /** How late the load generator itself sent frames (its own health, not the recorder's). */
  readonly senderLateP99Ms: number;
  /** p99 lag over the whole step, ramp and hangups included. */
  readonly lagOverallP99Ms: number;
  /** Share of one core the recorder used during the step. */
  readonly recorderCpu: number;
  /** Share of a core the load generator and the S3 server used (both on CPU 0). */
  readonly generatorCpu: number;
  readonly s3Cpu: number;
  readonly recorderRssMaxMiB: number;
  readonly passed: boolean;
  /** The load generator itself fell behind, so the step says nothing about the recorder. */
  readonly inconclusive: boolean;
  readonly why: string;
  readonly failures: string[];
}

/** Steps the concurrent calls up until a step loses frames or breaks the lag limit. */
export async function runCapacity(name: TargetName, options: CapacityOptions): Promise<StepOutcome[]> {
  const { pcm, file } = await speechFile(16000, 37);
  const target = await startTarget(name);
  const outcomes: StepOutcome[] = [];
  try {
    for (const calls of options.steps) {
      // Connections open over a ramp (like calls arriving), and every call lasts past the ramp,
      // so all `calls` stream at once for `seconds`.
      const rampMs = Math.min(10_000, calls * 4);
      const sampler = new RssSampler(target.recorder.pid, 500);
      const cpuBefore = await readCpuSeconds(target.recorder.pid);
      const s3CpuBefore = await readCpuSeconds(target.s3Pid);
      const wallBefore = performance.now();
      console.error(`[${name}] ${calls} calls…`);
      const result = await runLoadProcess(
        {
          url: target.url,
          secret: target.secret,
          calls,
          seconds: options.seconds + rampMs / 1000,
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
      const wallSeconds = (performance.now() - wallBefore) / 1000;
      const cpu = ((await readCpuSeconds(target.recorder.pid)) - cpuBefore) / wallSeconds;
      const s3Cpu = ((await readCpuSeconds(target.s3Pid)) - s3CpuBefore) / wallSeconds;
      sampler.stop();
      const verification = await verifyRecordings(target.s3, target.bucket, result.calls, pcm, {
        waitMs: 120_000,
      });
      // Judged at steady state: every call streaming, none connecting or hanging up.
      const lag = summarize(result.steadyLagMs);
      const connected = result.calls.filter((call) => call.openedAt > 0).length;
      const framesSent = result.calls.reduce((sum, call) => sum + call.framesSent, 0);
      const why: string[] = [];
      if (connected < calls) why.push(`${calls - connected} calls did not connect`);
      if (verification.framesLost > 0 || verification.failed > 0) {
        why.push(`${verification.framesLost} frames lost, ${verification.failed} recordings incomplete`);
      }
      if (!(lag.p99 <= options.lagLimitMs)) why.push(`p99 lag ${lag.p99.toFixed(1)} ms`);
      // A generator that cannot keep its own schedule inflates the lag it measures: say so.
      const inconclusive = result.steadySenderLateness.p99Ms > options.lagLimitMs;
      if (inconclusive) {
        why.push(
          `inconclusive: load generator ran ${result.steadySenderLateness.p99Ms.toFixed(0)} ms late (p99)`,
        );
      }
      const outcome: StepOutcome = {
        calls,
        connected,
        framesSent,
        framesLost: verification.framesLost,
        recordingsComplete: verification.complete,
        lagMedianMs: lag.median,
        lagP99Ms: lag.p99,
        senderLateP99Ms: result.steadySenderLateness.p99Ms,
        lagOverallP99Ms: summarize(result.lagMs).p99,
        recorderCpu: cpu,
        generatorCpu: result.cpuSeconds / (result.elapsedMs / 1000),
        s3Cpu,
        recorderRssMaxMiB: Math.max(0, ...sampler.samples.map((sample) => sample.rssBytes)) / 2 ** 20,
        passed: why.length === 0,
        inconclusive,
        why: why.join('; ') || 'ok',
        failures: verification.failures,
      };
      outcomes.push(outcome);
      console.error(`[${name}] ${JSON.stringify(outcome)}`);
      // An inconclusive step proves nothing either way: the next one still shows the recorder's
      // CPU and losses. Only a step that failed on its own account ends the run.
      if (!outcome.passed && !outcome.inconclusive) break;
    }
  } finally {
    await target.stop();
  }
  printTable(name, outcomes);
  return outcomes;
}

function printTable(name: TargetName, outcomes: readonly StepOutcome[]): void {
  console.log(`\n### ${name}: capacity\n`);
  console.log(
    '| calls | connected | frames sent | frames lost | lag median ms | lag p99 ms | generator late p99 ms | recorder CPU | generator CPU | S3 server CPU | RSS max MiB | result |',
  );
  console.log('|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|');
  for (const o of outcomes) {
    console.log(
      `| ${o.calls} | ${o.connected} | ${o.framesSent} | ${o.framesLost} | ${o.lagMedianMs.toFixed(2)} | ${o.lagP99Ms.toFixed(2)} | ${o.senderLateP99Ms.toFixed(1)} | ${(o.recorderCpu * 100).toFixed(0)}% | ${(o.generatorCpu * 100).toFixed(0)}% | ${(o.s3Cpu * 100).toFixed(0)}% | ${o.recorderRssMaxMiB.toFixed(0)} | ${o.why} |`,
    );
  }
  const max = outcomes.filter((o) => o.passed).at(-1)?.calls ?? 0;
  console.log(`\n${name}: most concurrent calls with zero frames lost and p99 lag within the limit: ${max}`);
}
