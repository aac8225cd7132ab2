/**
 * The WAV format as the recorder writes it and the audit CLI reads it back: one module, so the
 * writer and the checker cannot drift apart.
 *
 * The 44-byte canonical RIFF/WAVE header for 16-bit mono PCM.
 *
 * Written here rather than with the `wav` package: its Writer is a stream that emits a header
 * with placeholder sizes up front and patches it at the end, which suits a file on disk but not an
 * object whose first part is uploaded once, at hangup, when the sizes are already known. Given the
 * final size, the header is a pure function of three numbers; the tests check it with `soxi`.
 * Passing the audio through the Writer would also cost 23–50× the recorder's own path in CPU
 * (BENCHMARKS.md, "WAV writing").
 */

export const WAV_HEADER_BYTES = 44;

/** RIFF sizes are 32-bit: a WAV cannot hold more than this many data bytes. */
export const MAX_WAV_DATA_BYTES = 0xffff_ffff - (WAV_HEADER_BYTES - 8);

export interface WavFormat {
  readonly sampleRate: number;
  /** @default 1 */
  readonly channels?: number;
  /** @default 16 */
  readonly bitsPerSample?: number;
}

/** The header of a WAV holding `dataBytes` bytes of PCM, with both size fields exact. */
export function wavHeader(format: WavFormat, dataBytes: number): Buffer {
  if (!Number.isInteger(dataBytes) || dataBytes < 0 || dataBytes > MAX_WAV_DATA_BYTES) {
    throw new RangeError(
      `wav data size must be a whole number of bytes up to ${MAX_WAV_DATA_BYTES}, got ${dataBytes}`,
    );
  }
  const channels = format.channels ?? 1;
  const bitsPerSample = format.bitsPerSample ?? 16;
  const blockAlign = (channels * bitsPerSample) / 8;
  const header = Buffer.alloc(WAV_HEADER_BYTES);
  header.write('RIFF', 0, 'ascii');
  header.writeUInt32LE(WAV_HEADER_BYTES - 8 + dataBytes, 4);
  header.write('WAVE', 8, 'ascii');
  header.write('fmt ', 12, 'ascii');
  header.writeUInt32LE(16, 16); // fmt chunk size for PCM
  header.writeUInt16LE(1, 20); // format tag: integer PCM
  header.writeUInt16LE(channels, 22);
  header.writeUInt32LE(format.sampleRate, 24);
  header.writeUInt32LE(format.sampleRate * blockAlign, 28); // byte rate
  header.writeUInt16LE(blockAlign, 32);
  header.writeUInt16LE(bitsPerSample, 34);
  header.write('data', 36, 'ascii');
  header.writeUInt32LE(dataBytes, 40);
  return header;
}

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
