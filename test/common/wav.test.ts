import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WAV_HEADER_BYTES, wavHeader } from '../../common/wav.js';
import { soxi } from '../../test-support/speech.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'wav-test-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('wavHeader', () => {
  it.each([8000, 16000, 24000])(
    'makes a header soxi reads with the exact duration at %i Hz',
    async (rate) => {
      const samples = rate * 3 + 7;
      const file = join(dir, `${rate}.wav`);
      await writeFile(
        file,
        Buffer.concat([wavHeader({ sampleRate: rate }, samples * 2), Buffer.alloc(samples * 2)]),
      );
      expect(await soxi(file)).toMatchObject({ sampleRate: rate, channels: 1, bits: 16, samples });
    },
  );

  it('writes both RIFF sizes', () => {
    const header = wavHeader({ sampleRate: 16000 }, 1000);
    expect(header.length).toBe(WAV_HEADER_BYTES);
    expect(header.toString('ascii', 0, 4)).toBe('RIFF');
    expect(header.readUInt32LE(4)).toBe(1036);
    expect(header.readUInt32LE(28)).toBe(32000);
    expect(header.readUInt32LE(40)).toBe(1000);
  });

  it('refuses sizes a RIFF file cannot hold', () => {
    expect(() => wavHeader({ sampleRate: 8000 }, -1)).toThrow(RangeError);
    expect(() => wavHeader({ sampleRate: 8000 }, 2 ** 32)).toThrow(/whole number of bytes/);
  });
});
