import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { SampleRate } from '../common/audio-format.js';

const run = promisify(execFile);

/**
 * Real speech for tests: espeak-ng speaks the text, sox resamples it to 16-bit signed
 * little-endian mono PCM at the rate (no header), exactly what Vonage streams.
 * Needs the Debian packages espeak-ng and sox.
 */
export async function speechPcm(text: string, sampleRate: SampleRate): Promise<Buffer> {
  const dir = await mkdtemp(join(tmpdir(), 'speech-'));
  try {
    const wav = join(dir, 'speech.wav');
    const raw = join(dir, 'speech.raw');
    await run('espeak-ng', ['-w', wav, text]);
    await run('sox', [
      wav,
      '-r',
      String(sampleRate),
      '-c',
      '1',
      '-b',
      '16',
      '-e',
      'signed-integer',
      '-L',
      '-t',
      'raw',
      raw,
    ]);
    return await readFile(raw);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
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
