import { describe, expect, it } from 'vitest';
import { WAV_HEADER_BYTES, wavHeader } from '../../common/wav.js';

describe('wavHeader', () => {
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
