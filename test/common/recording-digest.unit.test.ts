import { createHash, randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { checkDigest, WavDigester, wavDigestOf } from '../../common/recording-digest.js';
import type { RecordingMetadataV2 } from '../../common/recording-metadata.js';
import { wavHeader } from '../../common/wav.js';
import { buildMetadata, buildWav, type FixtureCall } from '../../test-support/recording-fixtures.js';

const pcm = randomBytes(3200);
const wav = buildWav(pcm, 16000);

function fixture(schemaVersion: 1 | 2): FixtureCall {
  return {
    uuid: 'aaaaaaaa-0000-4000-8000-000000000001',
    conversationUuid: 'CON-1',
    from: '447700900001',
    to: '447700900002',
    startedAt: new Date('2026-11-30T10:00:00.000Z'),
    sampleRate: 16000,
    pcm,
    schemaVersion,
  };
}

const v2 = buildMetadata(fixture(2), wav) as RecordingMetadataV2;
const v1 = buildMetadata(fixture(1), wav);

function flipped(bytes: Buffer, offset: number): Buffer {
  const copy = Buffer.from(bytes);
  copy[offset] = (copy[offset] as number) ^ 0x01;
  return copy;
}

describe('WavDigester', () => {
  it('gives the same digests however the object is cut into chunks', () => {
    const whole = wavDigestOf(wav);
    expect(whole).toEqual({
      bytes: wav.length,
      sha256: createHash('sha256').update(wav).digest('hex'),
      audioSha256: createHash('sha256').update(pcm).digest('hex'),
      head: wav.subarray(0, 44),
    });
    for (const size of [1, 7, 43, 44, 45, 1000]) {
      const digester = new WavDigester();
      for (let offset = 0; offset < wav.length; offset += size)
        digester.update(wav.subarray(offset, offset + size));
      expect(digester.digest()).toEqual(whole);
    }
  });
});

describe('checkDigest, schema 2 (audio hash + canonical header)', () => {
  it('passes the WAV the metadata describes', () => {
    expect(checkDigest(v2, wavDigestOf(wav))).toEqual({
      ok: true,
      detail: `header canonical, audio ${createHash('sha256').update(pcm).digest('hex')}`,
    });
  });

  it('fails on any one changed header byte, naming it', () => {
    for (let offset = 0; offset < 44; offset++) {
      const result = checkDigest(v2, wavDigestOf(flipped(wav, offset)));
      expect(result.ok, `header byte ${offset}`).toBe(false);
      expect(result.detail).toMatch(new RegExp(`^header byte ${offset} is 0x`));
    }
  });

  it('fails on a changed, missing or added audio byte', () => {
    for (const damaged of [
      flipped(wav, 44),
      flipped(wav, wav.length - 1),
      wav.subarray(0, wav.length - 1),
      Buffer.concat([wav, Buffer.alloc(1)]),
    ]) {
      const result = checkDigest(v2, wavDigestOf(damaged));
      expect(result.ok).toBe(false);
      expect(result.detail).toMatch(/^stored audio [0-9a-f]{64}, object's audio hashes to [0-9a-f]{64}$/);
    }
  });

  it('fails an object that ends inside the header', () => {
    expect(checkDigest(v2, wavDigestOf(wav.subarray(0, 20)))).toEqual({
      ok: false,
      detail: 'object ends inside the 44-byte header (20 bytes)',
    });
  });

  it('fails metadata whose recorded header is not the canonical one for its fields', () => {
    // A header for another size, recorded beside a WAV that carries it: the fields disagree.
    const other = wavHeader({ sampleRate: 16000 }, pcm.length + 2);
    const forged = Buffer.concat([other, pcm]);
    const metadata: RecordingMetadataV2 = { ...v2, wavHeaderHex: other.toString('hex') };
    expect(checkDigest(metadata, wavDigestOf(forged))).toEqual({
      ok: false,
      detail: "metadata's wavHeaderHex is not the canonical header for 16000 Hz and 3200 audio bytes",
    });
    // Metadata naming a size no WAV can hold.
    expect(checkDigest({ ...v2, audioBytes: -1 }, wavDigestOf(wav)).detail).toMatch(
      /^metadata describes no WAV/,
    );
  });
});

describe('checkDigest, schema 1 (whole-file SHA-256, older recordings)', () => {
  it('passes the WAV and fails any changed byte, header or audio', () => {
    expect(checkDigest(v1, wavDigestOf(wav))).toEqual({
      ok: true,
      detail: createHash('sha256').update(wav).digest('hex'),
    });
    for (const offset of [4, 40, 44, wav.length - 1]) {
      const result = checkDigest(v1, wavDigestOf(flipped(wav, offset)));
      expect(result.ok).toBe(false);
      expect(result.detail).toMatch(/^stored [0-9a-f]{64}, object hashes to [0-9a-f]{64}$/);
    }
  });
});
