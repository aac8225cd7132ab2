import type { S3Client } from '@aws-sdk/client-s3';
import {
  DEFAULT_CRASH_LOSS_BOUND_SECONDS,
  durationToleranceSeconds,
} from '../../common/duration-tolerance.js';
import { checkDigest, digestWav, type WavDigest } from '../../common/recording-digest.js';
import {
  checkAudioPresent,
  checkDurationFigures,
  checkWavHeader,
  checkWavSize,
} from '../../common/recording-integrity.js';
import type { RecordingMetadata } from '../../common/recording-metadata.js';
import { compareDuration, summarizeCallEvents } from '../../common/vonage-call-events.js';
import { findMissingCalls, type MissingCall } from './missing.js';
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
  /** Calls Vonage answered and completed that have no recording at all. */
  readonly missing: readonly MissingCall[];
  /** No recording failed and none is missing. */
  readonly ok: boolean;
}

export interface VerifyOptions {
  /** Only recordings that started at or after this instant. */
  readonly since?: Date;
  /** Only this call. */
  readonly uuid?: string;
  /**
   * The recorder's `CHECKPOINT_SECONDS`: a recovered recording may be this much shorter than
   * Vonage's figure (plus the 1 s every recording is allowed). @default 10
   */
  readonly crashLossBoundSeconds?: number;
  /** WAVs read at once. @default 4 */
  readonly concurrency?: number;
  readonly onProgress?: (checked: number, total: number) => void;
}

/**
 * Re-reads every recording (optionally since a date) and checks it against its metadata and the
 * call's Vonage events: the audio is there and is more than a header, the metadata is there and
 * readable, the WAV header's sizes match the object, the stored size and SHA-256 match a re-hash
 * (schema 1: of the whole WAV; schema 2: of the audio, with the header canonical byte for byte),
 * and the duration agrees with Vonage's `completed` event. Also finds the calls Vonage answered and
 * completed that have no recording at all.
 */
export async function verifyRecordings(
  s3: S3Client,
  bucket: string,
  options: VerifyOptions = {},
): Promise<VerifyReport> {
  const listed = await listRecordingEntries(s3, bucket, options.since ? { from: options.since } : {});
  let entries = listed;
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
  let missing = await findMissingCalls(
    s3,
    bucket,
    options.since ? { from: options.since } : {},
    new Set(listed.map((entry) => entry.uuid)),
  );
  if (options.since) {
    const since = options.since.getTime();
    missing = missing.filter((call) => call.answeredAt === null || Date.parse(call.answeredAt) >= since);
  }
  if (options.uuid) missing = missing.filter((call) => call.uuid === options.uuid);
  return { recordings, summary, failed, missing, ok: failed === 0 && missing.length === 0 };
}

/**
 * Runs every check on one recording found by a listing (the audit console verifies one at a time).
 * Undefined when the recording falls before `since` once its metadata gives the exact start.
 */
export async function verifyEntry(
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
  } else {
    const present = checkAudioPresent(audio.bytes);
    add('audio', present.ok ? 'pass' : 'fail', present.detail);
  }

  if (!audio || audio.bytes === 0) {
    add('wav-header', 'skip', 'no audio');
  } else {
    const header = checkWavHeader(audio.head, audio.bytes, metadata);
    add('wav-header', header.ok ? 'pass' : 'fail', header.detail);
  }

  if (!metadata || !audio) {
    add('size', 'skip', metadata ? 'no audio' : 'no metadata');
    add('sha256', 'skip', metadata ? 'no audio' : 'no metadata');
  } else {
    const size = checkWavSize(metadata, audio.bytes);
    add('size', size.ok ? 'pass' : 'fail', size.detail);
    const digest = checkDigest(metadata, audio);
    add('sha256', digest.ok ? 'pass' : 'fail', digest.detail);
  }

  if (!metadata) {
    add('duration', 'skip', 'no metadata');
  } else {
    const events = metadata.conversationUuid
      ? await listCallEvents(s3, bucket, metadata.conversationUuid, eventDays(metadata))
      : [];
    const duration = checkDuration(metadata, events, options.crashLossBoundSeconds);
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
  return digestWav(stream ?? []);
}

/**
 * Compares the recording's duration with Vonage's `completed` events (`compareDuration`), with
 * the tolerance the reconciler uses: 1 s, plus the crash-loss bound for a recovered recording.
 */
export function checkDuration(
  metadata: RecordingMetadata,
  events: readonly StoredCallEvent[],
  crashLossBoundSeconds = DEFAULT_CRASH_LOSS_BOUND_SECONDS,
): { status: CheckStatus; detail: string } {
  const figures = checkDurationFigures(metadata);
  if (!figures.ok) return { status: 'fail', detail: figures.detail };
  const summary = summarizeCallEvents(events, metadata.uuid);
  const tolerance = durationToleranceSeconds(metadata, crashLossBoundSeconds);
  const compared = compareDuration(metadata.durationSeconds, summary, tolerance);
  if (compared.status === 'skip' && !metadata.conversationUuid) {
    return { status: 'skip', detail: 'no conversation uuid' };
  }
  return { status: compared.status, detail: compared.detail };
}
