/**
 * Whether a stored recording is intact: its WAV is more than a header, the header's sizes match
 * the object, and the object's size and SHA-256 match its metadata. Pure checks over a digest of
 * the object, so `recordings verify` and the reconciler judge a recording the same way.
 */
import { bytesPerSecond, isSupportedSampleRate } from './audio-format.js';
import { checkDigest, type WavDigest } from './recording-digest.js';
import type { RecordingMetadata } from './recording-metadata.js';
import { parseWavHeader, WAV_HEADER_BYTES } from './wav.js';

export interface IntegrityResult {
  readonly ok: boolean;
  readonly detail: string;
}

/** The object holds audio: not empty, not shorter than a header, not a header alone. */
export function checkAudioPresent(bytes: number): IntegrityResult {
  if (bytes === 0) return { ok: false, detail: 'empty file (0 bytes)' };
  if (bytes < WAV_HEADER_BYTES) return { ok: false, detail: `${bytes} bytes: shorter than a WAV header` };
  if (bytes === WAV_HEADER_BYTES) {
    return { ok: false, detail: 'header only: no audio after the 44-byte header' };
  }
  return { ok: true, detail: `${bytes} bytes` };
}

/** The header is 16-bit mono PCM at a supported rate, and its sizes match the object's. */
export function checkWavHeader(
  head: Buffer,
  objectBytes: number,
  metadata: Pick<RecordingMetadata, 'sampleRate'> | undefined,
): IntegrityResult {
  const parsed = parseWavHeader(head);
  if (!parsed.ok) return { ok: false, detail: parsed.reason };
  const { header } = parsed;
  if (header.audioFormat !== 1 || header.bitsPerSample !== 16 || header.channels !== 1) {
    return {
      ok: false,
      detail: `format ${header.audioFormat}, ${header.channels} channel(s), ${header.bitsPerSample} bits: expected 16-bit mono PCM`,
    };
  }
  if (!isSupportedSampleRate(header.sampleRate)) {
    return { ok: false, detail: `sample rate ${header.sampleRate} is not 8000, 16000 or 24000` };
  }
  if (metadata && metadata.sampleRate !== header.sampleRate) {
    return { ok: false, detail: `header says ${header.sampleRate} Hz, metadata ${metadata.sampleRate} Hz` };
  }
  const audioBytes = objectBytes - WAV_HEADER_BYTES;
  if (header.dataSize !== audioBytes || header.riffSize !== objectBytes - 8) {
    return {
      ok: false,
      detail: `header sizes (RIFF ${header.riffSize}, data ${header.dataSize}) do not match the object (${objectBytes} bytes, ${audioBytes} of audio)`,
    };
  }
  return { ok: true, detail: `${header.sampleRate} Hz, ${header.dataSize} bytes of audio` };
}

/** The object's size is what the metadata recorded. */
export function checkWavSize(
  metadata: Pick<RecordingMetadata, 'wavBytes' | 'audioBytes'>,
  objectBytes: number,
): IntegrityResult {
  if (metadata.wavBytes !== objectBytes || metadata.audioBytes !== objectBytes - WAV_HEADER_BYTES) {
    return {
      ok: false,
      detail: `metadata says ${metadata.wavBytes} bytes (${metadata.audioBytes} of audio), object has ${objectBytes}`,
    };
  }
  return { ok: true, detail: `${objectBytes} bytes as stored` };
}

/** The metadata's duration agrees with its own byte count (a figure computed twice must agree). */
export function checkDurationFigures(
  metadata: Pick<RecordingMetadata, 'sampleRate' | 'audioBytes' | 'durationSeconds'>,
): IntegrityResult {
  if (!isSupportedSampleRate(metadata.sampleRate)) return { ok: true, detail: 'unknown rate' };
  const fromBytes = metadata.audioBytes / bytesPerSecond(metadata.sampleRate);
  if (Math.abs(fromBytes - metadata.durationSeconds) > 0.05) {
    return {
      ok: false,
      detail: `metadata says ${metadata.durationSeconds} s but its ${metadata.audioBytes} audio bytes are ${fromBytes.toFixed(2)} s`,
    };
  }
  return { ok: true, detail: `${metadata.durationSeconds} s` };
}

/**
 * The integrity checks of a recording whose metadata and WAV digest are both at hand, in order:
 * the first failure, or ok. A header-only WAV passes here when its metadata says so: the sweeper
 * stores one for a call cut before its first checkpoint, and the duration comparison judges it.
 */
export function checkRecordingIntegrity(metadata: RecordingMetadata, wav: WavDigest): IntegrityResult {
  for (const result of [
    checkWavHeader(wav.head, wav.bytes, metadata),
    checkWavSize(metadata, wav.bytes),
    checkDigest(metadata, wav),
    checkDurationFigures(metadata),
  ]) {
    if (!result.ok) return result;
  }
  return { ok: true, detail: `${wav.bytes} bytes, digests as stored` };
}
