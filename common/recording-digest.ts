/**
 * Checking a stored WAV against its metadata's digests, for every schema version: the audit CLI's
 * `verify` and `download` stream the object through a `WavDigester` once and ask `checkDigest`.
 */
import { createHash } from 'node:crypto';
import type { RecordingMetadata } from './recording-metadata.js';
import { WAV_HEADER_BYTES, wavHeader } from './wav.js';

/** What one pass over a WAV object gives. */
export interface WavDigest {
  readonly bytes: number;
  /** SHA-256 hex of the whole object (schema 1's `sha256`). */
  readonly sha256: string;
  /** SHA-256 hex of every byte after the 44-byte header (schema 2's `audioSha256`). */
  readonly audioSha256: string;
  /** The object's first bytes, up to 44. */
  readonly head: Buffer;
}

/** Hashes a WAV as it streams past: the whole object and, apart, the audio after its header. */
export class WavDigester {
  readonly #whole = createHash('sha256');
  readonly #audio = createHash('sha256');
  readonly #head = Buffer.alloc(WAV_HEADER_BYTES);
  #bytes = 0;

  update(chunk: Buffer): void {
    this.#whole.update(chunk);
    const headBytes = Math.max(0, Math.min(chunk.length, WAV_HEADER_BYTES - this.#bytes));
    if (headBytes > 0) chunk.copy(this.#head, this.#bytes, 0, headBytes);
    if (headBytes < chunk.length) this.#audio.update(chunk.subarray(headBytes));
    this.#bytes += chunk.length;
  }

  digest(): WavDigest {
    return {
      bytes: this.#bytes,
      sha256: this.#whole.digest('hex'),
      audioSha256: this.#audio.digest('hex'),
      head: Buffer.from(this.#head.subarray(0, Math.min(this.#bytes, WAV_HEADER_BYTES))),
    };
  }
}

/** Digests of a WAV held in memory. */
export function wavDigestOf(wav: Buffer): WavDigest {
  const digester = new WavDigester();
  digester.update(wav);
  return digester.digest();
}

/**
 * The header the recorder writes for this metadata's format and audio size, or why there is none
 * (a size no WAV can hold).
 */
export function canonicalWavHeader(metadata: RecordingMetadata): Buffer | string {
  try {
    return wavHeader(
      {
        sampleRate: metadata.sampleRate,
        channels: metadata.channels,
        bitsPerSample: metadata.bitsPerSample,
      },
      metadata.audioBytes,
    );
  } catch (error) {
    return (error as Error).message;
  }
}

/**
 * Whether the object hashed to `digest` is the one the metadata describes. Schema 1: the whole
 * object's SHA-256. Schema 2: the first 44 bytes are, byte for byte, the canonical header for the
 * metadata's format and size (and the header it recorded), and the rest hashes to `audioSha256`.
 */
export function checkDigest(metadata: RecordingMetadata, digest: WavDigest): { ok: boolean; detail: string } {
  if (metadata.schemaVersion === 1) {
    return metadata.sha256.toLowerCase() === digest.sha256
      ? { ok: true, detail: digest.sha256 }
      : { ok: false, detail: `stored ${metadata.sha256}, object hashes to ${digest.sha256}` };
  }
  const canonical = canonicalWavHeader(metadata);
  if (typeof canonical === 'string') return { ok: false, detail: `metadata describes no WAV: ${canonical}` };
  if (metadata.wavHeaderHex.toLowerCase() !== canonical.toString('hex')) {
    return {
      ok: false,
      detail: `metadata's wavHeaderHex is not the canonical header for ${metadata.sampleRate} Hz and ${metadata.audioBytes} audio bytes`,
    };
  }
  const differs = firstDifference(digest.head, canonical);
  if (differs !== undefined) {
    return {
      ok: false,
      detail:
        differs < digest.head.length
          ? `header byte ${differs} is 0x${hexByte(digest.head[differs])}, expected 0x${hexByte(canonical[differs])}`
          : `object ends inside the ${WAV_HEADER_BYTES}-byte header (${digest.head.length} bytes)`,
    };
  }
  if (metadata.audioSha256.toLowerCase() !== digest.audioSha256) {
    return {
      ok: false,
      detail: `stored audio ${metadata.audioSha256}, object's audio hashes to ${digest.audioSha256}`,
    };
  }
  return { ok: true, detail: `header canonical, audio ${digest.audioSha256}` };
}

/** The first offset where `actual` differs from `expected` (or ends before it); undefined if equal. */
function firstDifference(actual: Buffer, expected: Buffer): number | undefined {
  for (let offset = 0; offset < expected.length; offset++) {
    if (actual[offset] !== expected[offset]) return offset;
  }
  return undefined;
}

function hexByte(value: number | undefined): string {
  return (value ?? 0).toString(16).padStart(2, '0');
}

/** Reads a WAV body once, keeping only its size, digests and header (a long call is never held in memory). */
export async function digestWav(body: AsyncIterable<Uint8Array> | Iterable<Uint8Array>): Promise<WavDigest> {
  const digester = new WavDigester();
  for await (const chunk of body)
    digester.update(Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength));
  return digester.digest();
}
