/**
 * Two recorders measured at the same time on the same core, each under its own half of the load.
 *
 * On this machine a process's CPU per call-second drifts by ±20% between runs minutes apart (the
 * VM's core slows and speeds up), more than most single changes are worth. Two variants running
 * side by side on one pinned core, each fed by its own load generator, see the same drift, so
 * their ratio keeps only their difference. An A/A run (both sides alike) shows the instrument's own
 * spread.
 */
import { execFileSync } from 'node:child_process';
import { mkdtemp, rm, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { bundleRecorder, speechFile, startTarget, type Target, type Verification } from '../lib/harness.js';
import type { LeanLoadResult } from '../lib/lean-load-generator.js';
import { ROOT } from '../lib/processes.js';
import { median, summarize } from '../lib/stats.js';
import { cpuPerCallSecondUs, streamCalls, takenIn, verifyTarget, warmUp } from './capacity.js';

/**
 * One side: the working tree's recorder or another commit's, with its own env and Node flags; or
 * the floor (a bare `ws` sink), which gives the recorder's ratio to it free of the machine's drift.
 */
export interface Variant {
  /** @default 'recorder' */
  readonly target?: 'recorder' | 'floor';
  /** A commit to bundle the recorder from; undefined: the working tree. */
  readonly ref?: string;
  readonly env: Record<string, string>;
  readonly nodeArgs: readonly string[];
}

export interface AbOptions {
  readonly a: Variant;
  readonly b: Variant;
  /** Calls on each side. */
  readonly calls: number;
  readonly seconds: number;
  readonly rounds: number;
  /** Check every recording byte for byte after each round (off for a variant that stores nothing on purpose). */
  readonly verify: boolean;
}

export interface SideOutcome {
  readonly cpuPerCallSecondUs: number;
  readonly lagP99Ms: number;
  readonly senderLateP99Ms: number;
  readonly windowSeconds: number;
  readonly complete: number;
  readonly framesLost: number;
}

export interface RoundOutcome {
  readonly a: SideOutcome;
  readonly b: SideOutcome;
  /** B's CPU per call-second over A's. */
  readonly ratio: number;
}

export async function runAb(options: AbOptions): Promise<RoundOutcome[]> {
  const { pcm, file } = await speechFile(16000, 37);
  const cleanups: (() => Promise<void>)[] = [];
  const targets: Target[] = [];
  try {
    for (const variant of [options.a, options.b]) {
      const script = variant.ref ? await bundleAt(variant.ref, cleanups) : undefined;
      targets.push(
        await startTarget(variant.target ?? 'recorder', {
          ...(script ? { script } : {}),
          env: variant.env,
          nodeArgs: variant.nodeArgs,
        }),
      );
    }
    const [a, b] = targets as [Target, Target];
    await Promise.all([warmUp(a, file, 1), warmUp(b, file, 1)]);
    const rounds: RoundOutcome[] = [];
    for (let round = 1; round <= options.rounds; round++) {
      console.error(`[ab] round ${round}: ${options.calls} calls on each side, ${options.seconds} s…`);
      const [resultA, resultB] = await Promise.all([
        streamCalls(a, options.calls, options.seconds, file, 1),
        streamCalls(b, options.calls, options.seconds, file, 1),
      ]);
      const [verifiedA, verifiedB] = await Promise.all([
        verify(a, resultA, pcm, options.verify),
        verify(b, resultB, pcm, options.verify),
      ]);
      const sideA = side(resultA, verifiedA);
      const sideB = side(resultB, verifiedB);
      const outcome = { a: sideA, b: sideB, ratio: sideB.cpuPerCallSecondUs / sideA.cpuPerCallSecondUs };
      console.error(`[ab] ${JSON.stringify(outcome)}`);
      rounds.push(outcome);
    }
    printTable(options, rounds);
    return rounds;
  } finally {
    for (const target of targets) await target.stop();
    for (const cleanup of cleanups.reverse()) await cleanup();
  }
}

/** Bundles the recorder as it was at `ref`, from a temporary worktree sharing this one's packages. */
async function bundleAt(ref: string, cleanups: (() => Promise<void>)[]): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'bench-ab-'));
  execFileSync('git', ['worktree', 'add', '--detach', dir, ref], { cwd: ROOT, stdio: 'ignore' });
  cleanups.push(async () => {
    execFileSync('git', ['worktree', 'remove', '--force', dir], { cwd: ROOT, stdio: 'ignore' });
    await rm(dir, { recursive: true, force: true });
  });
  await symlink(join(ROOT, 'node_modules'), join(dir, 'node_modules'));
  return bundleRecorder(dir);
}

/** With `--no-verify`, every side is judged as the floor is: by the frames it took in. */
function verify(
  target: Target,
  result: LeanLoadResult,
  pcm: Buffer,
  checkStored: boolean,
): Promise<Verification> {
  return checkStored ? verifyTarget(target, result, pcm) : Promise.resolve(takenIn(result));
}

function side(result: LeanLoadResult, verification: Verification): SideOutcome {
  return {
    cpuPerCallSecondUs: cpuPerCallSecondUs(result),
    lagP99Ms: summarize(result.steadyLagMs).p99,
    senderLateP99Ms: result.steadySenderLateness.p99Ms,
    windowSeconds: result.window?.seconds ?? Number.NaN,
    complete: verification.complete,
    framesLost: verification.framesLost,
  };
}

function describe(variant: Variant): string {
  const parts =
    variant.target === 'floor'
      ? ['the floor (a bare ws sink)']
      : [variant.ref ? `recorder at ${variant.ref}` : "the working tree's recorder"];
  for (const [key, value] of Object.entries(variant.env)) parts.push(`${key}=${value}`);
  parts.push(...variant.nodeArgs);
  return parts.join(' ');
}

function printTable(options: AbOptions, rounds: readonly RoundOutcome[]): void {
  console.log(`\n### A/B on one core: ${options.calls} calls on each side, ${options.seconds} s\n`);
  console.log(`- A: ${describe(options.a)}\n- B: ${describe(options.b)}\n`);
  console.log(
    '| round | A µs CPU per call-second | B µs CPU per call-second | B ÷ A | A / B lag p99 ms | generators late p99 ms | A / B complete |',
  );
  console.log('|---:|---:|---:|---:|---:|---:|---:|');
  rounds.forEach(({ a, b, ratio }, i) => {
    console.log(
      `| ${i + 1} | ${a.cpuPerCallSecondUs.toFixed(0)} | ${b.cpuPerCallSecondUs.toFixed(0)} | ${ratio.toFixed(3)} | ${a.lagP99Ms.toFixed(1)} / ${b.lagP99Ms.toFixed(1)} | ${a.senderLateP99Ms.toFixed(1)} / ${b.senderLateP99Ms.toFixed(1)} | ${a.complete} / ${b.complete} |`,
    );
  });
  const ratios = rounds.map((round) => round.ratio);
  console.log(
    `\nB ÷ A, median of ${rounds.length} rounds: ${median(ratios).toFixed(3)} (range ${Math.min(...ratios).toFixed(3)}–${Math.max(...ratios).toFixed(3)})`,
  );
}
