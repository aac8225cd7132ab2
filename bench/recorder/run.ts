/**
 * Recorder benchmarks, each run against the recorder and the baseline in the same invocation:
 *
 *   npx tsx bench/recorder/run.ts capacity      [--steps 250,500,1000,1500,2000] [--seconds 20] [--frames-per-write 1]
 *   npx tsx bench/recorder/run.ts memory        [--calls 100] [--seconds 600] [--speed 5]
 *   npx tsx bench/recorder/run.ts ab            [--calls 400] [--seconds 20] [--rounds 3] [--a-target floor] [--a-ref REV]
 *                                               [--a-env 'K=V …'] [--b-env 'K=V …'] [--a-node-args …] [--b-node-args …]
 *   npx tsx bench/recorder/run.ts finalization  [--short-calls 100] [--long-calls 20] [--long-speed 10]
 *                                               [--long-seconds 600]  (7190 at --long-speed 100: 2-hour calls)
 *
 * Every process is separate: the recorder (pinned to CPU 1 with taskset), the load generator and
 * the local S3 server (pinned to CPU 0). Capacity also runs the floor (a bare `ws` server that
 * discards every frame) on the recorder's CPU, and drives all three with the lean load generator.
 * Results are printed as a Markdown table and written as JSON under bench/recorder/results/.
 * In `ab`, a floor side given `FLOOR_SPOOL_DIR=DIR` in its env is the storage floor: the bare sink
 * plus the recorder's storage path alone (copy, 32 KiB writes, SHA-256; bench/floor/main.ts).
 * `BENCH_S3=rgw` (after `source <(bash scripts/rgw.sh env)`) stores on Ceph's RADOS Gateway instead
 * of s3rver; 2-hour finalization runs need a larger memstore (`RGW_MEMSTORE_BYTES=6442450944`).
 */
import { execFileSync } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { Command } from 'commander';
import { parseEnvList, type TargetName } from '../lib/harness.js';
import { ROOT } from '../lib/processes.js';
import { ratio } from '../lib/stats.js';
import { runAb, type Variant } from './ab.js';
import { runCapacity, type StepOutcome } from './capacity.js';
import { type FinalizationResult, runFinalization } from './finalization.js';
import { type MemoryOutcome, runMemory } from './memory.js';

const program = new Command('bench-recorder').description('recorder benchmarks beside the baseline');
program.option(
  '--targets <list>',
  'which targets, in order (default: floor,recorder,baseline for capacity, recorder,baseline otherwise)',
);

/** The targets asked for; `allowed` are those the command can run (the floor stores nothing). */
function targets(allowed: readonly TargetName[]): TargetName[] {
  const asked = program.opts().targets as string | undefined;
  const list = (asked ?? allowed.join(',')).split(',').map((name) => name.trim()) as TargetName[];
  for (const name of list) {
    if (!allowed.includes(name)) throw new Error(`unknown target ${name} for this command`);
  }
  return list;
}

const ALL_TARGETS: readonly TargetName[] = ['floor', 'recorder', 'baseline'];
const STORING_TARGETS: readonly TargetName[] = ['recorder', 'baseline'];

/** One line of the side-by-side summary: recorder, baseline, and recorder ÷ baseline. */
function compare(
  what: string,
  recorder: number | undefined,
  baseline: number | undefined,
  unit: string,
): void {
  const show = (value: number | undefined) =>
    value === undefined ? 'n/a' : `${Number(value.toFixed(1))}${unit}`;
  console.log(
    `${what}: recorder ${show(recorder)}, baseline ${show(baseline)}, ratio ${ratio(recorder ?? Number.NaN, baseline ?? Number.NaN)}`,
  );
}

async function save(kind: string, result: unknown): Promise<void> {
  const dir = join(ROOT, 'bench/recorder/results');
  await mkdir(dir, { recursive: true });
  const file = join(dir, `${kind}-${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
  const git = (args: string[]) => execFileSync('git', args, { cwd: ROOT, encoding: 'utf8' }).trim();
  const context = {
    command: process.argv.slice(2).join(' '),
    at: new Date().toISOString(),
    loadavg: loadavg(),
    // The recorder is bundled from the working tree: note what it was.
    commit: git(['rev-parse', 'HEAD']),
    recorderChanges: git(['status', '--porcelain', '--', 'fargate', 'common']).split('\n').filter(Boolean),
  };
  await writeFile(file, `${JSON.stringify({ context, result }, null, 2)}\n`);
  console.log(`\nresults: ${file}`);
}

program
  .command('capacity')
  .description('step up concurrent real-time calls until frames are lost or p99 ingest lag > 20 ms')
  .option('--steps <list>', 'concurrent calls per step', '250,500,1000,1500,2000,2500')
  .option('--seconds <n>', 'audio seconds per call in each step', '20')
  .option('--lag-limit <ms>', 'p99 ingest lag limit', '20')
  .option('--frames-per-write <n>', 'frames in each socket write of the load generator', '1')
  .action(async (options: { steps: string; seconds: string; lagLimit: string; framesPerWrite: string }) => {
    const results: Record<string, StepOutcome[]> = await runCapacity(targets(ALL_TARGETS), {
      steps: options.steps.split(',').map(Number),
      seconds: Number(options.seconds),
      lagLimitMs: Number(options.lagLimit),
      framesPerWrite: Number(options.framesPerWrite),
    });
    const max = (name: string) => results[name]?.filter((step) => step.passed).at(-1)?.calls ?? 0;
    console.log(
      `most concurrent calls (zero frames lost, p99 lag within limit): ${Object.keys(results)
        .map((name) => `${name} ${max(name)}`)
        .join(', ')}`,
    );
    for (const step of results.recorder ?? []) {
      if (step.floorRatio === undefined) continue;
      const baseline = results.baseline?.find((other) => other.calls === step.calls)?.floorRatio;
      console.log(
        `CPU per call-second over the floor's at ${step.calls} calls: recorder ${step.floorRatio.toFixed(2)}×` +
          (baseline === undefined ? '' : `, baseline ${baseline.toFixed(2)}×`),
      );
    }
    await save('capacity', results);
  });

program
  .command('ab')
  .description("two recorders at once on the same core, each with its own calls: B's CPU over A's")
  .option('--calls <n>', 'concurrent calls on each side', '400')
  .option('--seconds <n>', 'audio seconds per call in each round', '20')
  .option('--rounds <n>', 'rounds', '3')
  .option('--a-target <name>', 'A is the recorder or the floor', 'recorder')
  .option('--b-target <name>', 'B is the recorder or the floor', 'recorder')
  .option('--a-ref <rev>', "A's recorder bundled at this commit (default: the working tree)")
  .option('--b-ref <rev>', "B's recorder bundled at this commit (default: the working tree)")
  .option('--a-env <list>', "A's extra environment, 'K=V K=V'")
  .option('--b-env <list>', "B's extra environment, 'K=V K=V'")
  .option('--a-node-args <args>', "A's extra Node flags, space-separated")
  .option('--b-node-args <args>', "B's extra Node flags, space-separated")
  .option('--no-verify', 'count frames taken in instead of checking the stored recordings')
  .action(async (options: Record<string, string | boolean | undefined>) => {
    const text = (key: string) => {
      const value = options[key];
      return typeof value === 'string' ? value : undefined;
    };
    const variant = (side: 'a' | 'b'): Variant => {
      const ref = text(`${side}Ref`);
      const target = text(`${side}Target`);
      if (target !== 'floor' && target !== 'recorder')
        throw new Error(`--${side}-target: recorder or floor, not ${target}`);
      return {
        target,
        ...(ref ? { ref } : {}),
        env: parseEnvList(text(`${side}Env`)),
        nodeArgs: text(`${side}NodeArgs`)?.split(' ').filter(Boolean) ?? [],
      };
    };
    const rounds = await runAb({
      a: variant('a'),
      b: variant('b'),
      calls: Number(text('calls')),
      seconds: Number(text('seconds')),
      rounds: Number(text('rounds')),
      verify: options.verify !== false,
    });
    await save('ab', rounds);
  });

program
  .command('memory')
  .description('RSS per active call at steady state over a long call')
  .option('--calls <n>', 'concurrent calls', '100')
  .option('--seconds <n>', 'audio seconds per call', '600')
  .option('--speed <x>', 'send this many times faster than real time', '5')
  .action(async (options: { calls: string; seconds: string; speed: string }) => {
    const results: Record<string, MemoryOutcome> = {};
    for (const target of targets(STORING_TARGETS)) {
      results[target] = await runMemory(target, {
        calls: Number(options.calls),
        seconds: Number(options.seconds),
        speed: Number(options.speed),
      });
    }
    compare(
      'RSS per call at steady state',
      results.recorder?.perCallKiB,
      results.baseline?.perCallKiB,
      ' KiB',
    );
    await save('memory', results);
  });

program
  .command('finalization')
  .description('hangup → complete WAV readable in S3, for short and long calls')
  .option('--short-calls <n>', 'number of 10-second calls', '100')
  .option('--long-calls <n>', 'number of 10-minute calls', '20')
  .option(
    '--long-seconds <n>',
    'length of a long call (up to 7199: the recorder cap is raised to fit)',
    '600',
  )
  .option('--long-speed <x>', 'send long calls this many times faster than real time', '10')
  .action(
    async (options: { shortCalls: string; longCalls: string; longSeconds: string; longSpeed: string }) => {
      const results: Record<string, FinalizationResult> = {};
      for (const target of targets(STORING_TARGETS)) {
        results[target] = await runFinalization(target, {
          shortCalls: Number(options.shortCalls),
          longCalls: Number(options.longCalls),
          longSeconds: Number(options.longSeconds),
          longSpeed: Number(options.longSpeed),
        });
      }
      for (const round of ['short', 'long'] as const) {
        const r = results.recorder?.[round];
        const b = results.baseline?.[round];
        const label = `${round} calls (${(r ?? b)?.audioSeconds} s)`;
        compare(`finalization median, ${label}`, r?.finalizeMs.median, b?.finalizeMs.median, ' ms');
        compare(`finalization p99, ${label}`, r?.finalizeMs.p99, b?.finalizeMs.p99, ' ms');
      }
      await save('finalization', results);
    },
  );

await program.parseAsync();
