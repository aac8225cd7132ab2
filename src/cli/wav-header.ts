/** The canonical 44-byte RIFF/WAVE header the recorder writes before the PCM data. */
export const WAV_HEADER_BYTES = 44;

export interface WavHeader {
  /** RIFF chunk size at offset 4: file size − 8 when the header was finalized. */
  readonly riffSize: number;
  /** 1 = integer PCM. */
  readonly audioFormat: number;
  readonly channels: number;
  readonly sampleRate: number;
  readonly bitsPerSample: number;
  /** `data` chunk size at offset 40: file size − 44 when the header was finalized. */
  readonly dataSize: number;
}

/**
 * Parses the 44-byte header, or returns the reason it is not one: a wrong magic, a first chunk
 * other than `fmt ` of 16 bytes, or a `data` chunk not at offset 36 (the layout the recorder writes).
 */
export function parseWavHeader(
  bytes: Buffer,
): { ok: true; header: WavHeader } | { ok: false; reason: string } {
  if (bytes.length < WAV_HEADER_BYTES) {
    return {
      ok: false,
      reason: `${bytes.length} bytes, shorter than the ${WAV_HEADER_BYTES}-byte WAV header`,
    };
  }
  const tag = (offset: number) => bytes.toString('latin1', offset, offset + 4);
  if (tag(0) !== 'RIFF' || tag(8) !== 'WAVE') return { ok: false, reason: 'not a RIFF/WAVE file' };
  if (tag(12) !== 'fmt ' || bytes.readUInt32LE(16) !== 16) {
    return { ok: false, reason: 'first chunk is not a 16-byte fmt chunk' };
  }
  if (tag(36) !== 'data') return { ok: false, reason: 'no data chunk at offset 36' };
  return {
    ok: true,
    header: {
      riffSize: bytes.readUInt32LE(4),
      audioFormat: bytes.readUInt16LE(20),
      channels: bytes.readUInt16LE(22),
      sampleRate: bytes.readUInt32LE(24),
      bitsPerSample: bytes.readUInt16LE(34),
      dataSize: bytes.readUInt32LE(40),
    },
  };
}
