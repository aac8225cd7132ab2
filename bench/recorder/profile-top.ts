/**
 * Top self-time functions of a `--cpu-prof` profile, counted over a capacity step's streaming
 * window only (not start-up, ramp, hangups or finalization):
 *
 *   BENCH_RECORDER_NODE_ARGS='--cpu-prof --cpu-prof-dir=/tmp/prof' \
 *     npx tsx bench/recorder/run.ts --targets floor,recorder capacity --steps 1000 --seconds 15
 *   npx tsx bench/recorder/profile-top.ts /tmp/prof/CPU.….cpuprofile bench/recorder/results/capacity-….json recorder 1000
 *
 * V8 stamps profile samples on the machine's monotonic clock, the clock the load generator reads
 * the window on (`StreamingWindow.monotonicUs`).
 */
import { readFile } from 'node:fs/promises';
import type { StepOutcome } from './capacity.js';

interface CpuProfile {
  readonly nodes: { id: number; callFrame: { functionName: string; url: string; lineNumber: number } }[];
  readonly startTime: number;
  readonly samples: number[];
  readonly timeDeltas: number[];
}

const [profileFile, resultsFile, target = 'recorder', calls = '1000', top = '25'] = process.argv.slice(2);
if (!profileFile || !resultsFile) {
  throw new Error('usage: profile-top.ts <cpuprofile> <capacity results json> [target] [calls] [top]');
}
const profile = JSON.parse(await readFile(profileFile, 'utf8')) as CpuProfile;
const results = JSON.parse(await readFile(resultsFile, 'utf8')) as {
  result: Record<string, StepOutcome[]>;
};
const step = results.result[target]?.find((outcome) => outcome.calls === Number(calls));
const window = step?.windowMonotonicUs;
if (!window) throw new Error(`no streaming window for ${target} at ${calls} calls in ${resultsFile}`);

const frames = new Map(profile.nodes.map((node) => [node.id, node.callFrame]));
const selfUs = new Map<string, number>();
let at = profile.startTime;
let busyUs = 0;
profile.samples.forEach((id, i) => {
  const delta = profile.timeDeltas[i] ?? 0;
  at += delta;
  if (at < window[0] || at > window[1]) return;
  const frame = frames.get(id);
  const name = frame?.functionName || '(anonymous)';
  if (name === '(idle)') return;
  const where = frame?.url ? ` ${frame.url.split('/').slice(-2).join('/')}:${frame.lineNumber + 1}` : '';
  selfUs.set(`${name}${where}`, (selfUs.get(`${name}${where}`) ?? 0) + delta);
  busyUs += delta;
});
const seconds = (window[1] - window[0]) / 1e6;
console.log(
  `${target}, ${calls} calls: ${seconds.toFixed(1)} s window, ${(busyUs / 1e3).toFixed(0)} ms busy (${((busyUs / 1e6 / seconds) * 100).toFixed(1)}% of a core)\n`,
);
console.log('| self % | self ms | function |\n|---:|---:|---|');
for (const [name, us] of [...selfUs].sort((a, b) => b[1] - a[1]).slice(0, Number(top))) {
  console.log(`| ${((us / busyUs) * 100).toFixed(1)} | ${(us / 1e3).toFixed(0)} | \`${name}\` |`);
}
