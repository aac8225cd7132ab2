import { WAV_HEADER_BYTES } from '../../common/wav.js';

/**
 * A waveform overview of a 16-bit mono PCM WAV: the loudest sample of each of `buckets` equal
 * slices, 0..1. Read in one pass as the object streams in, so a 2-hour call never sits in memory;
 * the page draws it on a canvas.
 */
export async function computePeaks(
  body: AsyncIterable<Uint8Array>,
  wavBytes: number,
  buckets: number,
): Promise<number[]> {
  const samples = Math.max(0, Math.floor((wavBytes - WAV_HEADER_BYTES) / 2));
  const peaks = new Array<number>(buckets).fill(0);
  if (samples === 0) return peaks;
  const perBucket = samples / buckets;
  let sample = 0;
  let headerLeft = WAV_HEADER_BYTES;
  let carry: number | undefined;
  for await (const chunk of body) {
    let index = Math.min(headerLeft, chunk.length);
    headerLeft -= index;
    // A sample split across two chunks: its low byte came last time.
    if (carry !== undefined && index < chunk.length) {
      record(((chunk[index] as number) << 8) | carry);
      carry = undefined;
      index += 1;
    }
    for (; index + 1 < chunk.length; index += 2) {
      record(((chunk[index + 1] as number) << 8) | (chunk[index] as number));
    }
    if (index < chunk.length) carry = chunk[index];
  }
  return peaks.map((peak) => Math.round(peak * 1000) / 1000);

  function record(unsigned: number): void {
    if (sample >= samples) return;
    const signed = unsigned >= 0x8000 ? unsigned - 0x10000 : unsigned;
    const bucket = Math.min(buckets - 1, Math.floor(sample / perBucket));
    const level = Math.abs(signed) / 0x8000;
    if (level > (peaks[bucket] as number)) peaks[bucket] = level;
    sample += 1;
  }
}
