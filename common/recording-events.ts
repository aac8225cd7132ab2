/**
 * Recording events: one EventBridge event per fact about a call's recording, so a team is told
 * without looking when a recording is stored, cut short, recovered, failed, missing or too short.
 * The schema below is a stable, versioned contract (README, "Recording events"): fields are only
 * ever added within a `schemaVersion`; anything else bumps it.
 *
 * Events are delivered at least once. Emitters avoid duplicates on their normal path, and every
 * event carries an `eventId` derived from the fact alone (its type and the call's uuid), so a
 * consumer de-duplicates on it. EventBridge's own `id` differs per delivery attempt.
 * https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-events-structure.html
 */
import type { RecordingEnd } from './recording-metadata.js';

/** `source` of every recording event. Custom sources must not start with `aws.`. */
export const RECORDING_EVENT_SOURCE = 'call-recorder';
export const RECORDING_EVENT_SCHEMA_VERSION = 1;
/** The bus events go to when none is configured: the account's default bus. */
export const DEFAULT_EVENT_BUS_NAME = 'default';

/** Each fact's `detail-type`. */
export const RecordingEventType = {
  stored: 'Recording Stored',
  interrupted: 'Recording Interrupted',
  recovered: 'Recording Recovered',
  failed: 'Recording Failed',
  missing: 'Recording Missing',
  durationMismatch: 'Recording Duration Mismatch',
} as const;
export type RecordingEventKind = keyof typeof RecordingEventType;
export type RecordingEventDetailType = (typeof RecordingEventType)[RecordingEventKind];

/** Who the call was, as far as is known. */
export interface CallFacts {
  /** The call leg uuid the recording is keyed by (`/calls/<uuid>`). */
  readonly uuid: string;
  readonly conversationUuid: string | null;
  readonly from: string | null;
  readonly to: string | null;
  /** ISO 8601: when the recording started (websocket accepted), or the call was answered. */
  readonly startedAt: string | null;
}

/** A stored WAV: where it is and what proves it intact. */
export interface StoredRecordingFacts {
  readonly bucket: string;
  readonly recordingKey: string;
  /** Seconds of audio in the WAV. */
  readonly durationSeconds: number;
  readonly wavBytes: number;
  /**
   * SHA-256 hex of the audio after the WAV's 44-byte header, as in the metadata's `audioSha256`
   * (schema 2; the header is checked byte for byte against the metadata). For a recording stored
   * with metadata schema 1 this is absent and `sha256` holds the whole WAV's hash instead.
   */
  readonly audioSha256?: string;
  readonly sha256?: string;
}

/** Where the metadata keeps the recording's SHA-256, by its schema version. */
export function recordingDigestFacts(
  metadata:
    | { readonly schemaVersion: 1; readonly sha256: string }
    | { readonly schemaVersion: 2; readonly audioSha256: string },
): Pick<StoredRecordingFacts, 'audioSha256' | 'sha256'> {
  return metadata.schemaVersion === 1 ? { sha256: metadata.sha256 } : { audioSha256: metadata.audioSha256 };
}

interface DetailBase extends CallFacts {
  readonly schemaVersion: typeof RECORDING_EVENT_SCHEMA_VERSION;
  /** The same for every delivery of one fact: de-duplicate on it. */
  readonly eventId: string;
}

/** The call ended normally and its whole audio is stored. */
export interface RecordingStoredDetail extends DetailBase, StoredRecordingFacts {}

/** The call's audio ended before the caller hung up (drain, idle, cap, protocol error); what came is stored. */
export interface RecordingInterruptedDetail extends DetailBase, StoredRecordingFacts {
  /** Who ended it, as in the metadata's `end.by`. */
  readonly reason: RecordingEnd['by'];
  readonly closeCode: number;
  /** Seconds of audio kept: equal to `durationSeconds`, named for what a reader asks. */
  readonly keptSeconds: number;
}

/** A recorder lost the call (crash, lost host) and its audio was rebuilt from what it had saved. */
export interface RecordingRecoveredDetail extends DetailBase, StoredRecordingFacts {
  /** `sweeper`: from the S3 checkpoints by another task; `disk`: from the spool on restart. */
  readonly recoveredBy: 'sweeper' | 'disk';
  /** At most this many seconds of the call's end are missing (the checkpoint interval). */
  readonly maxLostSeconds: number;
}

/** The audio could not be stored; it waits where `audioAt` says, to be retried or recovered. */
export interface RecordingFailedDetail extends DetailBase {
  readonly bucket: string;
  readonly recordingKey: string;
  readonly reason: string;
  readonly audioAt: {
    /** `scratch`: the task's scratch disk; `checkpoint`: objects in the checkpoint bucket. */
    readonly kind: 'scratch' | 'checkpoint';
    readonly location: string;
  };
  /** Seconds of audio waiting there. */
  readonly durationSeconds: number;
}

/** Vonage answered and completed the call but no recording is stored after the grace period. */
export interface RecordingMissingDetail extends DetailBase {
  readonly bucket: string;
  /** Where the recording would be. */
  readonly expectedKey: string;
  /**
   * `never-connected`: Vonage's events show no websocket leg; `not-stored`: one ran, nothing
   * landed; `damaged`: something landed but is not an intact recording (see `problem`).
   */
  readonly reason: 'never-connected' | 'not-stored' | 'damaged';
  /** What is wrong with what landed, for `damaged`. */
  readonly problem?: string;
  /** Vonage's `completed` duration of the call leg, in seconds. */
  readonly vonageDurationSeconds: number | null;
  /** ISO 8601: when the reconciler looked. */
  readonly checkedAt: string;
}

/** The stored recording is shorter or longer than Vonage's figure by more than the tolerance. */
export interface RecordingDurationMismatchDetail extends DetailBase, StoredRecordingFacts {
  readonly vonageDurationSeconds: number;
  readonly toleranceSeconds: number;
  readonly checkedAt: string;
}

export interface RecordingEventDetails {
  stored: RecordingStoredDetail;
  interrupted: RecordingInterruptedDetail;
  recovered: RecordingRecoveredDetail;
  failed: RecordingFailedDetail;
  missing: RecordingMissingDetail;
  durationMismatch: RecordingDurationMismatchDetail;
}

/** One fact, ready to put. */
export type RecordingEvent = {
  [K in RecordingEventKind]: {
    readonly kind: K;
    readonly time: Date;
    readonly detail: RecordingEventDetails[K];
  };
}[RecordingEventKind];

/** The fact's id: its kind and the call, nothing that differs between two reports of it. */
export function recordingEventId(kind: RecordingEventKind, uuid: string): string {
  return `${kind}:${uuid}`;
}

/** Builds an event from its detail's own fields; the schema version and id are filled in. */
export function recordingEvent<K extends RecordingEventKind>(
  kind: K,
  fields: Omit<RecordingEventDetails[K], 'schemaVersion' | 'eventId'>,
  time: Date,
): RecordingEvent {
  const detail = {
    schemaVersion: RECORDING_EVENT_SCHEMA_VERSION,
    eventId: recordingEventId(kind, fields.uuid),
    ...fields,
  } as RecordingEventDetails[K];
  return { kind, time, detail } as RecordingEvent;
}

/** The PutEvents request entry for an event, exactly as it is sent (and as the local stack logs it). */
export interface PutEventsEntry {
  readonly Source: string;
  readonly DetailType: RecordingEventDetailType;
  readonly Detail: string;
  readonly EventBusName: string;
  readonly Time: string;
}

export function putEventsEntry(event: RecordingEvent, eventBusName: string): PutEventsEntry {
  return {
    Source: RECORDING_EVENT_SOURCE,
    DetailType: RecordingEventType[event.kind],
    Detail: JSON.stringify(event.detail),
    EventBusName: eventBusName,
    Time: event.time.toISOString(),
  };
}

/** Where recording events go: EventBridge in AWS, a JSON-lines file locally, an array in tests. */
export interface RecordingEventSink {
  /** Resolves once the event is accepted; rejects if it could not be, after the sink's retries. */
  put(event: RecordingEvent): Promise<void>;
}
