import { execFile } from 'node:child_process';
import { access, constants, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { SampleRate } from '../../common/audio-format.js';
import { AudioSourceError } from './errors.js';

const run = promisify(execFile);

/**
 * Where a call's audio comes from: a WAV file (any format sox reads; resampled and mixed down as
 * needed), a sentence spoken by espeak-ng, or raw 16-bit little-endian mono PCM at a known rate.
 */
export type AudioSource =
  | { readonly wavFile: string }
  | { readonly text: string; readonly voice?: string }
  | { readonly pcm: Buffer; readonly sampleRate: SampleRate };

/** sox arguments for the output Vonage streams: raw signed 16-bit little-endian mono. */
function rawOutput(sampleRate: SampleRate, path: string): string[] {
  return ['-r', String(sampleRate), '-c', '1', '-b', '16', '-e', 'signed-integer', '-L', '-t', 'raw', path];
}

async function tool(command: string, args: string[], what: string): Promise<void> {
  try {
    await run(command, args);
  } catch (error) {
    if ((error as { code?: unknown }).code === 'ENOENT') {
      throw new AudioSourceError(
        `${what}: ${command} is not installed (Debian: apt-get install ${command})`,
        undefined,
        {
          cause: error,
        },
      );
    }
    const stderr = String((error as { stderr?: unknown }).stderr ?? '')
      .trim()
      .split('\n')[0];
    throw new AudioSourceError(`${what}: ${command} failed${stderr ? `: ${stderr}` : ''}`, undefined, {
      cause: error,
    });
  }
}

function describe(source: AudioSource): string {
  if ('wavFile' in source) return `cannot read audio file ${source.wavFile}`;
  if ('text' in source) return 'cannot speak the text';
  return 'cannot resample the PCM';
}

/**
 * Turns an audio source into the PCM a Vonage websocket carries at `sampleRate`: 16-bit signed
 * little-endian mono, no header.
 */
export async function loadPcm(source: AudioSource, sampleRate: SampleRate): Promise<Buffer> {
  if ('pcm' in source && source.sampleRate === sampleRate) return source.pcm;
  const what = describe(source);
  const dir = await mkdtemp(join(tmpdir(), 'call-audio-'));
  try {
    const raw = join(dir, 'out.raw');
    if ('wavFile' in source) {
      await tool('sox', [source.wavFile, ...rawOutput(sampleRate, raw)], what);
    } else if ('text' in source) {
      if (source.text.trim() === '') throw new AudioSourceError(`${what}: the text is empty`);
      const spoken = join(dir, 'speech.wav');
      await tool(
        'espeak-ng',
        [...(source.voice ? ['-v', source.voice] : []), '-w', spoken, source.text],
        what,
      );
      await tool('sox', [spoken, ...rawOutput(sampleRate, raw)], what);
    } else {
      const input = join(dir, 'in.raw');
      await writeFile(input, source.pcm);
      const rawInput = [
        '-t',
        'raw',
        '-r',
        String(source.sampleRate),
        '-c',
        '1',
        '-b',
        '16',
        '-e',
        'signed-integer',
        '-L',
      ];
      await tool('sox', [...rawInput, input, ...rawOutput(sampleRate, raw)], what);
    }
    const pcm = await readFile(raw);
    if (pcm.length === 0) throw new AudioSourceError(`${what}: it holds no audio`);
    return pcm;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** Fails early (before a call is placed) on an audio file that cannot be read. */
export async function checkAudioSource(source: AudioSource): Promise<void> {
  if (!('wavFile' in source)) return;
  try {
    await access(source.wavFile, constants.R_OK);
  } catch (error) {
    throw new AudioSourceError(
      `cannot read audio file ${source.wavFile} (${(error as NodeJS.ErrnoException).code ?? String(error)}): expected a readable WAV file`,
      undefined,
      { cause: error },
    );
  }
}
