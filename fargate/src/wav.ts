/**
 * The 44-byte canonical RIFF/WAVE header for 16-bit mono PCM.
 *
 * Written here rather than with the `wav` package: its Writer is a stream that emits a header
 * with placeholder sizes up front and patches it at the end, which suits a file on disk but not an
 * object whose first part is uploaded once, at hangup, when the sizes are already known. Given the
 * final size, the header is a pure function of three numbers; the tests check it with `soxi`.
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
