import type { S3Client } from '@aws-sdk/client-s3';
import { bytesPerSecond, isSupportedSampleRate } from '../../common/audio-format.js';
import { CALL_PATH_PREFIX } from '../../common/contract.js';
import { checkDigest, type WavDigest, WavDigester } from '../../common/recording-digest.js';
import type { RecordingMetadata } from '../../common/recording-metadata.js';
import { parseWavHeader, WAV_HEADER_BYTES } from '../../common/wav.js';
import {
  eventDays,
  getObjectStream,
  listCallEvents,
  listRecordingEntries,
  mapLimit,
  type RecordingEntry,
  readMetadata,
  type StoredCallEvent,
} from './recording-store.js';

/** The checks `recordings verify` runs on every recording, in report order. */
export const CHECKS = ['audio', 'metadata', 'wav-header', 'size', 'sha256', 'duration'] as const;
export type CheckName = (typeof CHECKS)[number];
export type CheckStatus = 'pass' | 'fail' | 'skip';

export interface CheckResult {
  readonly check: CheckName;
  readonly status: CheckStatus;
  readonly detail: string;
}

export interface RecordingVerification {
  readonly uuid: string;
  readonly day: string;
  readonly wavKey: string | null;
  readonly metadataKey: string | null;
  /** False when any check failed. */
  readonly ok: boolean;
  readonly checks: readonly CheckResult[];
}

export interface VerifyReport {
  readonly recordings: readonly RecordingVerification[];
  /** Per check: how many recordings passed, failed, or could not be checked. */
  readonly summary: Readonly<Record<CheckName, Readonly<Record<CheckStatus, number>>>>;
  /** Recordings with at least one failed check. */
  readonly failed: number;
  readonly ok: boolean;
}

export interface VerifyOptions {
  /** Only recordings that started at or after this instant. */
  readonly since?: Date;
  /** Only this call. */
  readonly uuid?: string;
  /** How far Vonage's `completed` duration may be from the recording's. @default 1 */
  readonly durationToleranceSeconds?: number;
  /** WAVs read at once. @default 4 */
  readonly concurrency?: number;
  readonly onProgress?: (checked: number, total: number) => void;
}

/**
 * Re-reads every recording (optionally since a date) and checks it against its metadata and the
 * call's Vonage events: the audio is there and is more than a header, the metadata is there and
 * readable, the WAV header's sizes match the object, the stored size and SHA-256 match a re-hash
 * (schema 1: of the whole WAV; schema 2: of the audio, with the header canonical byte for byte),
 * and the duration agrees with Vonage's `completed` event.
 */
export async function verifyRecordings(
  s3: S3Client,
  bucket: string,
  options: VerifyOptions = {},
): Promise<VerifyReport> {
  let entries = await listRecordingEntries(s3, bucket, options.since ? { from: options.since } : {});
  if (options.uuid) entries = entries.filter((entry) => entry.uuid === options.uuid);
  let checked = 0;
  options.onProgress?.(0, entries.length);
  const all = await mapLimit(entries, options.concurrency ?? 4, async (entry) => {
    const result = await verifyEntry(s3, bucket, entry, options);
    options.onProgress?.(++checked, entries.length);
    return result;
  });
  const recordings = all.filter((result): result is RecordingVerification => result !== undefined);
  const summary = Object.fromEntries(CHECKS.map((check) => [check, { pass: 0, fail: 0, skip: 0 }])) as Record<
    CheckName,
    Record<CheckStatus, number>
  >;
  for (const recording of recordings) {
    for (const result of recording.checks) summary[result.check][result.status] += 1;
  }
  const failed = recordings.filter((recording) => !recording.ok).length;
  return { recordings, summary, failed, ok: failed === 0 };
}

/** Undefined when the recording falls before `since` once its metadata gives the exact start. */
async function verifyEntry(
  s3: S3Client,
  bucket: string,
  entry: RecordingEntry,
  options: VerifyOptions,
): Promise<RecordingVerification | undefined> {
  const checks: CheckResult[] = [];
  const add = (check: CheckName, status: CheckStatus, detail: string) =>
    checks.push({ check, status, detail });

  let metadata: RecordingMetadata | undefined;
  if (!entry.metadata) {
    add('metadata', 'fail', 'missing metadata: no JSON beside the WAV');
  } else {
    const read = await readMetadata(s3, bucket, entry.metadata.key);
    if (read.ok) {
      metadata = read.metadata;
      if (options.since && new Date(metadata.startedAt).getTime() < options.since.getTime()) return undefined;
      if (metadata.uuid !== entry.uuid) {
        add('metadata', 'fail', `metadata is for call ${metadata.uuid}, not ${entry.uuid}`);
      } else if (entry.wav && metadata.recordingKey !== entry.wav.key) {
        add('metadata', 'fail', `metadata names ${metadata.recordingKey} as its audio, not ${entry.wav.key}`);
      } else {
        add('metadata', 'pass', `schema ${metadata.schemaVersion}`);
      }
    } else {
      add('metadata', 'fail', read.reason);
    }
  }

  const audio = entry.wav ? await readAudio(s3, bucket, entry.wav.key) : undefined;
  if (!entry.wav || !audio) {
    add('audio', 'fail', 'metadata without audio: no WAV object');
  } else if (audio.bytes === 0) {
    add('audio', 'fail', 'empty file (0 bytes)');
  } else if (audio.bytes < WAV_HEADER_BYTES) {
    add('audio', 'fail', `${audio.bytes} bytes: shorter than a WAV header`);
  } else if (audio.bytes === WAV_HEADER_BYTES) {
    add('audio', 'fail', 'header only: no audio after the 44-byte header');
  } else {
    add('audio', 'pass', `${audio.bytes} bytes`);
  }

  if (!audio || audio.bytes === 0) {
    add('wav-header', 'skip', 'no audio');
  } else {
    const header = checkHeader(audio.head, audio.bytes, metadata);
    add('wav-header', header.ok ? 'pass' : 'fail', header.detail);
  }

  if (!metadata || !audio) {
    add('size', 'skip', metadata ? 'no audio' : 'no metadata');
    add('sha256', 'skip', metadata ? 'no audio' : 'no metadata');
  } else {
    if (metadata.wavBytes !== audio.bytes || metadata.audioBytes !== audio.bytes - WAV_HEADER_BYTES) {
      add(
        'size',
        'fail',
        `metadata says ${metadata.wavBytes} bytes (${metadata.audioBytes} of audio), object has ${audio.bytes}`,
      );
    } else {
      add('size', 'pass', `${audio.bytes} bytes as stored`);
    }
    const digest = checkDigest(metadata, audio);
    add('sha256', digest.ok ? 'pass' : 'fail', digest.detail);
  }

  if (!metadata) {
    add('duration', 'skip', 'no metadata');
  } else {
    const events = metadata.conversationUuid
      ? await listCallEvents(s3, bucket, metadata.conversationUuid, eventDays(metadata))
      : [];
    const duration = checkDuration(metadata, events, options.durationToleranceSeconds ?? 1);
    add('duration', duration.status, duration.detail);
  }

  checks.sort((a, b) => CHECKS.indexOf(a.check) - CHECKS.indexOf(b.check));
  return {
    uuid: entry.uuid,
    day: entry.day,
    wavKey: entry.wav?.key ?? null,
    metadataKey: entry.metadata?.key ?? null,
    ok: checks.every((check) => check.status !== 'fail'),
    checks,
  };
}

/** Streams the whole object once: its size, digests and first 44 bytes. Undefined when it is gone. */
async function readAudio(s3: S3Client, bucket: string, key: string): Promise<WavDigest | undefined> {
  let stream: Awaited<ReturnType<typeof getObjectStream>>['stream'];
  try {
    ({ stream } = await getObjectStream(s3, bucket, key));
  } catch (error) {
    // Deleted between the listing and the read: report it as missing, not as a crash.
    if ((error as Error).name === 'NoSuchKey') return undefined;
    throw error;
  }
  const digester = new WavDigester();
  for await (const chunk of stream ?? []) digester.update(chunk as Buffer);
  return digester.digest();
}

function checkHeader(
  head: Buffer,
  objectBytes: number,
  metadata: RecordingMetadata | undefined,
): { ok: boolean; detail: string } {
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

/** The `/calls/<uuid>` websocket path as it appears in the websocket leg's `to`/`from`. */
function isWebsocketLegOf(event: Record<string, unknown>, uuid: string): boolean {
  const path = new RegExp(`${CALL_PATH_PREFIX}${uuid}(?:[/?#]|$)`);
  return [event.to, event.from].some((value) => typeof value === 'string' && path.test(value));
}

/**
 * Compares the recording's duration with Vonage's `completed` event. The websocket leg's own
 * `completed` (its `to` is the recorder URI with `/calls/<uuid>`) is the like-for-like figure.
 * Without it, the call leg's `completed` (same uuid) includes the greeting before the websocket
 * opened, so there the recording may only not be longer than the call.
 */
export function checkDuration(
  metadata: RecordingMetadata,
  events: readonly StoredCallEvent[],
  toleranceSeconds: number,
): { status: CheckStatus; detail: string } {
  const rate = metadata.sampleRate;
  if (isSupportedSampleRate(rate)) {
    const fromBytes = metadata.audioBytes / bytesPerSecond(rate);
    if (Math.abs(fromBytes - metadata.durationSeconds) > 0.05) {
      return {
        status: 'fail',
        detail: `metadata says ${metadata.durationSeconds} s but its ${metadata.audioBytes} audio bytes are ${fromBytes.toFixed(2)} s`,
      };
    }
  }
  const completed = events
    .map((stored) => stored.event)
    .filter((event) => event.status === 'completed' && Number.isFinite(Number(event.duration)));
  const recorded = metadata.durationSeconds;
  const websocketLeg = completed.find((event) => isWebsocketLegOf(event, metadata.uuid));
  if (websocketLeg) {
    const vonage = Number(websocketLeg.duration);
    const difference = Math.abs(vonage - recorded);
    return {
      status: difference > toleranceSeconds ? 'fail' : 'pass',
      detail: `recorded ${recorded.toFixed(1)} s, Vonage websocket leg ${vonage} s`,
    };
  }
  const callLeg = completed.find((event) => event.uuid === metadata.uuid);
  if (callLeg) {
    const vonage = Number(callLeg.duration);
    return {
      status: recorded > vonage + toleranceSeconds ? 'fail' : 'pass',
      detail: `recorded ${recorded.toFixed(1)} s, Vonage call leg ${vonage} s`,
    };
  }
  return {
    status: 'skip',
    detail: metadata.conversationUuid ? 'no completed event stored for this call' : 'no conversation uuid',
  };
}
