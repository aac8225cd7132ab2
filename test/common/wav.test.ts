import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { wavHeader } from '../../common/wav.js';
import { soxi } from '../../test-support/speech.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'wav-test-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('wavHeader, read by soxi', () => {
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
});
