import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import type { SampleRate } from '../common/audio-format.js';
import { loadPcm } from '../tools/simulator/audio.js';

const run = promisify(execFile);

/**
 * Real speech for tests, made by the simulator's own audio source (espeak-ng, then sox): 16-bit
 * signed little-endian mono PCM at the rate, no header, exactly what Vonage streams.
 * Needs the Debian packages espeak-ng and sox.
 */
export function speechPcm(text: string, sampleRate: SampleRate): Promise<Buffer> {
  return loadPcm({ text }, sampleRate);
}

/** Repeats PCM until it is at least `seconds` long, then cuts it to exactly that many whole samples. */
export function loopPcm(pcm: Buffer, sampleRate: SampleRate, seconds: number): Buffer {
  const target = Math.round(seconds * sampleRate) * 2;
  const out = Buffer.allocUnsafe(target);
  for (let offset = 0; offset < target; offset += pcm.length)
    pcm.copy(out, offset, 0, Math.min(pcm.length, target - offset));
  return out;
}

/** What `soxi` says of a WAV file: sample rate, channels, bits, and duration in samples and seconds. */
export async function soxi(
  path: string,
): Promise<{ sampleRate: number; channels: number; bits: number; samples: number; seconds: number }> {
  const field = async (flag: string) => (await run('soxi', [flag, path])).stdout.trim();
  const [rate, channels, bits, samples, seconds] = await Promise.all(
    ['-r', '-c', '-b', '-s', '-D'].map(field),
  );
  return {
    sampleRate: Number(rate),
    channels: Number(channels),
    bits: Number(bits),
    samples: Number(samples),
    seconds: Number(seconds),
  };
}
