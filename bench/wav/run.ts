/**
 * What passing a call's audio through the `wav` package's Writer would cost the recorder, against
 * what the recorder does now (copy each frame into a pooled batch buffer; the 44-byte header is
 * computed from the final size at hangup, `common/wav.ts`), and the floor (the same frames
 * touched by nothing but a loop).
 *
 *   taskset -c 0 npx tsx bench/wav/run.ts [--minutes 10] [--rounds 15]
 *
 * Each round feeds one call of 20 ms 16 kHz frames (640 bytes each) through each variant in turn,
 * interleaved, and measures the process's CPU time (user + system) for it; the figures are medians
 * over the rounds, in microseconds of CPU per call-minute.
 */
import { once } from 'node:events';
import { parseArgs } from 'node:util';
import wav from 'wav';
import { wavHeader } from '../../common/wav.js';

const { values } = parseArgs({
  options: { minutes: { type: 'string', default: '10' }, rounds: { type: 'string', default: '15' } },
});
const minutes = Number(values.minutes);
const rounds = Number(values.rounds);
const FRAME_BYTES = 640;
const frameCount = minutes * 60 * 50;
// Distinct contents, so nothing is optimized away.
const frames = Array.from({ length: 50 }, (_, i) => Buffer.alloc(FRAME_BYTES, i));

function cpuMicros(run: () => void): number {
  const start = process.cpuUsage();
  run();
  const used = process.cpuUsage(start);
  return used.user + used.system;
}

async function cpuMicrosAsync(run: () => Promise<void>): Promise<number> {
  const start = process.cpuUsage();
  await run();
  const used = process.cpuUsage(start);
  return used.user + used.system;
}

/** The floor: every frame visited, nothing done with it. */
function floor(): void {
  let bytes = 0;
  for (let i = 0; i < frameCount; i++) bytes += (frames[i % 50] as Buffer).length;
  if (bytes !== frameCount * FRAME_BYTES) throw new Error('floor miscounted');
}

/** The recorder's path: frames copied into a reused 32 KiB batch, handed on when full. */
function recorderPath(): void {
  const batch = Buffer.allocUnsafe(32 * 1024);
  let used = 0;
  let handed = 0;
  for (let i = 0; i < frameCount; i++) {
    const frame = frames[i % 50] as Buffer;
    if (used + frame.length > batch.length) {
      handed += used;
      used = 0;
    }
    frame.copy(batch, used);
    used += frame.length;
  }
  handed += used;
  const header = wavHeader({ sampleRate: 16000 }, handed);
  if (header.length !== 44) throw new Error('bad header');
}

/**
 * Through wav.Writer, one frame per write as a call's frames arrive, waiting for 'drain' when it
 * asks: its output (header placeholder, then the frames) consumed and dropped.
 */
async function writerPath(): Promise<void> {
  const writer = new wav.Writer({ sampleRate: 16000, channels: 1, bitDepth: 16 });
  let out = 0;
  let header: Buffer | undefined;
  writer.on('data', (chunk: Buffer) => {
    out += chunk.length;
  });
  writer.on('header', (final: Buffer) => {
    header = final;
  });
  const ended = once(writer, 'end');
  for (let i = 0; i < frameCount; i++) {
    if (!writer.write(frames[i % 50] as Buffer)) await once(writer, 'drain');
  }
  writer.end();
  await ended;
  if (out !== frameCount * FRAME_BYTES + 44 || header?.length !== 44) throw new Error(`wrote ${out}`);
}

const median = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] as number;
};

async function main(): Promise<void> {
  // One warm-up round of each, so the JIT has seen them.
  floor();
  recorderPath();
  await writerPath();
  const samples = { floor: [] as number[], recorder: [] as number[], writer: [] as number[] };
  for (let round = 0; round < rounds; round++) {
    samples.floor.push(cpuMicros(floor));
    samples.recorder.push(cpuMicros(recorderPath));
    samples.writer.push(await cpuMicrosAsync(writerPath));
  }
  const perMinute = (micros: number) => (micros / minutes).toFixed(0);
  const m = {
    floor: median(samples.floor),
    recorder: median(samples.recorder),
    writer: median(samples.writer),
  };
  console.log(
    `${minutes}-minute 16 kHz call (${frameCount} frames of ${FRAME_BYTES} B), ${rounds} rounds, median CPU:`,
  );
  console.log(`  floor (loop only)      ${perMinute(m.floor)} µs per call-minute`);
  console.log(`  recorder (batch copy)  ${perMinute(m.recorder)} µs per call-minute`);
  console.log(`  wav.Writer             ${perMinute(m.writer)} µs per call-minute`);
  console.log(`  wav.Writer / recorder  ${(m.writer / m.recorder).toFixed(1)}×`);
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
