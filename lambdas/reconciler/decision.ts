/**
 * The reconciler's judgement of one completed call, as a pure function of what is stored: the
 * call's Vonage events, its recording (or none), which check this is, and the time. The I/O
 * around it (`reconcile.ts`) reads S3, and puts the events this decides on.
 *
 * When a fact is reported, once:
 * - a complete recording (metadata and WAV both stored) never changes (the recorder and the
 *   sweeper write with `If-None-Match: *`), so whatever it shows, intact or damaged, matching
 *   Vonage's duration or not, is settled the first time it is seen: a Duration Mismatch or a
 *   damaged recording is reported then, and no later check runs;
 * - an absent or half-stored recording can still arrive (a slow upload, the sweeper rebuilding a
 *   crashed task's call, Vonage's websocket-leg events delivered late), so Missing is reported
 *   only at the final check, after the recovery window: never retracted, never repeated.
 */
import {
  DEFAULT_CRASH_LOSS_BOUND_SECONDS,
  durationToleranceSeconds,
} from '../../common/duration-tolerance.js';
import type { ReconcileCheck, ReconcileSchedule } from '../../common/reconcile-requests.js';
import type { WavDigest } from '../../common/recording-digest.js';
import { checkRecordingIntegrity } from '../../common/recording-integrity.js';
import type { RecordingMetadata } from '../../common/recording-metadata.js';
import {
  type CallEventSummary,
  compareDuration,
  type StoredCallEvent,
  summarizeCallEvents,
} from '../../common/vonage-call-events.js';

export type { ReconcileCheck, ReconcileSchedule } from '../../common/reconcile-requests.js';
export { DEFAULT_RECONCILE_SCHEDULE, finalCheckSeconds } from '../../common/reconcile-requests.js';

/** What is stored under the call's recording key: each part, or null when absent. */
export interface StoredRecording {
  readonly wavKey: string;
  /** The metadata JSON, parsed and checked; `{ ok: false }` when it is there but unusable. */
  readonly metadata: { ok: true; metadata: RecordingMetadata } | { ok: false; reason: string } | null;
  /** The WAV's size, hash and header, from one read of the object. */
  readonly wav: WavDigest | null;
}

export interface ReconcileInput {
  readonly callUuid: string;
  /** Every stored event of the call's conversation (other legs are ignored). */
  readonly events: readonly StoredCallEvent[];
  /** Null when nothing of the recording is stored. */
  readonly recording: StoredRecording | null;
  readonly check: ReconcileCheck;
  /** Vonage's `completed` event of the call leg: the checks are timed from it. */
  readonly completedAt: Date;
  readonly now: Date;
  readonly schedule: ReconcileSchedule;
  /** The recorder's `CHECKPOINT_SECONDS`: how much a recovered recording may lack. @default 10 */
  readonly crashLossBoundSeconds?: number;
}

/** What was found, and what to do about it. */
export type ReconcileDecision =
  | {
      readonly kind: 'ok';
      /** `stored`, `interrupted` and `recovered` as the recording's metadata says; `not-answered`: nothing to record. */
      readonly outcome: 'stored' | 'interrupted' | 'recovered' | 'not-answered';
      readonly detail: string;
    }
  | {
      readonly kind: 'check-again';
      readonly check: ReconcileCheck;
      readonly at: Date;
      readonly detail: string;
    }
  | {
      readonly kind: 'missing';
      readonly reason: 'never-connected' | 'not-stored' | 'damaged';
      readonly detail: string;
    }
  | {
      readonly kind: 'mismatch';
      readonly metadata: RecordingMetadata;
      readonly vonageSeconds: number;
      readonly toleranceSeconds: number;
      readonly detail: string;
    };

/** The decision and the call's facts as Vonage's events give them (for the event and the log). */
export interface ReconcileResult {
  readonly decision: ReconcileDecision;
  readonly call: CallEventSummary;
}

function dueAt(input: Pick<ReconcileInput, 'completedAt' | 'schedule'>, check: ReconcileCheck): Date {
  const seconds = check === 'first' ? input.schedule.firstCheckSeconds : input.schedule.finalCheckSeconds;
  return new Date(input.completedAt.getTime() + seconds * 1000);
}

/** Judges one completed call. Pure: the same input always gives the same decision. */
export function decideReconciliation(input: ReconcileInput): ReconcileResult {
  const call = summarizeCallEvents(input.events, input.callUuid);
  const due = dueAt(input, input.check);
  // A message may arrive before its time (a delay longer than one SQS timer is held in steps).
  if (input.now.getTime() < due.getTime()) {
    return { call, decision: { kind: 'check-again', check: input.check, at: due, detail: 'not due yet' } };
  }
  const { recording } = input;
  if (recording?.metadata?.ok && recording.wav) {
    return { call, decision: judgeStored(recording.metadata.metadata, recording.wav, call, input) };
  }
  if (!recording && !call.answered) {
    return {
      call,
      decision: { kind: 'ok', outcome: 'not-answered', detail: 'Vonage never answered the call' },
    };
  }
  if (input.check === 'first') {
    return {
      call,
      decision: {
        kind: 'check-again',
        check: 'final',
        at: dueAt(input, 'final'),
        detail: recording ? 'recording not complete yet' : 'no recording yet',
      },
    };
  }
  return { call, decision: missing(recording, call) };
}

function judgeStored(
  metadata: RecordingMetadata,
  wav: WavDigest,
  call: CallEventSummary,
  input: ReconcileInput,
): ReconcileDecision {
  const integrity = checkRecordingIntegrity(metadata, wav);
  if (!integrity.ok) return { kind: 'missing', reason: 'damaged', detail: integrity.detail };
  const tolerance = durationToleranceSeconds(
    metadata,
    input.crashLossBoundSeconds ?? DEFAULT_CRASH_LOSS_BOUND_SECONDS,
  );
  const duration = compareDuration(metadata.durationSeconds, call, tolerance);
  if (duration.status === 'fail') {
    const shorter = metadata.durationSeconds < duration.vonageSeconds;
    return {
      kind: 'mismatch',
      metadata,
      vonageSeconds: duration.vonageSeconds,
      toleranceSeconds: shorter ? tolerance.shorter : tolerance.longer,
      detail: duration.detail,
    };
  }
  const outcome =
    metadata.end.by === 'recovered' ? 'recovered' : metadata.interrupted ? 'interrupted' : 'stored';
  return { kind: 'ok', outcome, detail: duration.detail };
}

function missing(recording: StoredRecording | null, call: CallEventSummary): ReconcileDecision {
  if (!recording) {
    return call.websocketConnected
      ? { kind: 'missing', reason: 'not-stored', detail: 'the websocket leg ran but no recording was stored' }
      : {
          kind: 'missing',
          reason: 'never-connected',
          detail: "Vonage's events show no websocket leg reaching the recorder",
        };
  }
  if (recording.metadata && !recording.metadata.ok) {
    return { kind: 'missing', reason: 'damaged', detail: recording.metadata.reason };
  }
  return {
    kind: 'missing',
    reason: 'damaged',
    detail: recording.wav ? 'a WAV without its metadata' : 'metadata without its WAV',
  };
}
