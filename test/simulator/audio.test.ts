import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { speechPcm } from '../../test-support/speech.js';
import { loadPcm } from '../../tools/simulator/audio.js';
import { AudioSourceError } from '../../tools/simulator/errors.js';
import { simulateCall } from '../../tools/simulator/simulate-call.js';

const run = promisify(execFile);
let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'audio-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

it('reads a 44.1 kHz stereo WAV as 8 kHz mono PCM of the same length in time', async () => {
  const raw = join(dir, 'speech.raw');
  const wav = join(dir, 'speech-44k-stereo.wav');
  await writeFile(raw, await speechPcm('testing one two', 16000));
  await run('sox', [
    '-t',
    'raw',
    '-r',
    '16000',
    '-c',
    '1',
    '-b',
    '16',
    '-e',
    'signed-integer',
    '-L',
    raw,
    '-r',
    '44100',
    '-c',
    '2',
    wav,
  ]);
  const pcm = await loadPcm({ wavFile: wav }, 8000);
  const seconds = Number((await run('soxi', ['-D', wav])).stdout.trim());
  expect(pcm.length % 2).toBe(0);
  expect(Math.abs(pcm.length / 2 / 8000 - seconds)).toBeLessThan(0.01);
  // Real speech, not silence.
  let peak = 0;
  for (let offset = 0; offset < pcm.length; offset += 2)
    peak = Math.max(peak, Math.abs(pcm.readInt16LE(offset)));
  expect(peak).toBeGreaterThan(1000);
});

it('speaks text at 24 kHz', async () => {
  const pcm = await loadPcm({ text: 'hello' }, 24000);
  expect(pcm.length / 2 / 24000).toBeGreaterThan(0.2);
});

it('says which file it could not read', async () => {
  await expect(loadPcm({ wavFile: join(dir, 'missing.wav') }, 16000)).rejects.toThrow(
    new AudioSourceError(
      `cannot read audio file ${join(dir, 'missing.wav')}: sox failed: sox FAIL formats: can't open input file \`${join(dir, 'missing.wav')}': No such file or directory`,
    ),
  );
});

it('refuses an unreadable audio file before placing the call', async () => {
  const missing = join(dir, 'nope.wav');
  // The answer URL is never asked: the error is about the file, not the (closed) port.
  await expect(
    simulateCall({ answerUrl: 'http://127.0.0.1:1/answer', audio: { wavFile: missing } }),
  ).rejects.toThrow(
    new AudioSourceError(`cannot read audio file ${missing} (ENOENT): expected a readable WAV file`),
  );
});
