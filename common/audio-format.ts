/**
 * The audio format Vonage streams over a websocket: 16-bit signed little-endian mono PCM
 * ("audio/l16") in 20 ms frames, at one of three sample rates.
 */

/** The sample rates Vonage's websocket endpoint supports. */
export const SUPPORTED_SAMPLE_RATES = [8000, 16000, 24000] as const;
export type SampleRate = (typeof SUPPORTED_SAMPLE_RATES)[number];

/** Vonage sends one binary frame every 20 ms. */
export const FRAME_MILLISECONDS = 20;
export const BYTES_PER_SAMPLE = 2;

export function isSupportedSampleRate(value: number): value is SampleRate {
  return (SUPPORTED_SAMPLE_RATES as readonly number[]).includes(value);
}

/** Bytes in one 20 ms frame: 320 at 8 kHz, 640 at 16 kHz, 960 at 24 kHz. */
export function frameBytes(sampleRate: SampleRate): number {
  return (sampleRate * BYTES_PER_SAMPLE * FRAME_MILLISECONDS) / 1000;
}

/** Bytes of audio per second at a rate. */
export function bytesPerSecond(sampleRate: SampleRate): number {
  return sampleRate * BYTES_PER_SAMPLE;
}

/** The `content-type` value for a rate, as it goes in the NCCO and the first websocket frame. */
export function contentTypeFor(sampleRate: SampleRate): string {
  return `audio/l16;rate=${sampleRate}`;
}

/**
 * Parses a websocket `content-type` such as `audio/l16;rate=16000`.
 * Returns the sample rate, or undefined when the value is not linear 16-bit PCM at a supported rate.
 */
export function parseContentType(value: unknown): SampleRate | undefined {
  if (typeof value !== 'string') return undefined;
  const [mime, ...params] = value.split(';').map((part) => part.trim().toLowerCase());
  if (mime !== 'audio/l16') return undefined;
  for (const param of params) {
    const [key, raw] = param.split('=').map((part) => part.trim());
    if (key === 'rate' && raw !== undefined && /^\d+$/.test(raw)) {
      const rate = Number(raw);
      return isSupportedSampleRate(rate) ? rate : undefined;
    }
  }
  return undefined;
}
