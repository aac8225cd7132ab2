/**
 * The bucket's key layout, in one place: the webhooks Lambda, the recorder and the audit CLI
 * all build and parse keys here.
 *
 * ```
 * recordings/YYYY/MM/DD/<call uuid>.wav     the audio (date = call start, UTC)
 * recordings/YYYY/MM/DD/<call uuid>.json    its metadata (RecordingMetadata)
 * events/YYYY/MM/DD/<conversation uuid>/<timestamp>_<leg uuid>_<status>.json
 *                                           one Vonage call event (date = event time, UTC)
 * inflight/<call uuid>/call.json            a live call's identity (recorder checkpoints)
 * inflight/<call uuid>/<byte offset>.pcm    its audio from that offset, checkpointed during the call
 * ```
 */

export const RECORDINGS_PREFIX = 'recordings/';
export const EVENTS_PREFIX = 'events/';
/** Live calls' audio checkpoints; removed once the call's recording is stored. */
export const INFLIGHT_PREFIX = 'inflight/';

/** Vonage uuids are hex-and-dash; anything else is refused before it can shape a key. */
const UUID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9-]{0,127}$/;

export function isValidCallUuid(value: unknown): value is string {
  return typeof value === 'string' && UUID_PATTERN.test(value);
}

function assertUuid(kind: string, value: string): void {
  if (!isValidCallUuid(value)) {
    throw new Error(`${kind} must be letters, digits and dashes (at most 128), got ${JSON.stringify(value)}`);
  }
}

function assertDate(date: Date): void {
  if (Number.isNaN(date.getTime())) throw new Error('key date is not a valid date');
}

/** `YYYY/MM/DD` of a date in UTC. */
export function datePath(date: Date): string {
  assertDate(date);
  const iso = date.toISOString();
  return `${iso.slice(0, 4)}/${iso.slice(5, 7)}/${iso.slice(8, 10)}`;
}

/** The key stem (without extension) of a call's recording. */
export function recordingStem(callUuid: string, startedAt: Date): string {
  assertUuid('call uuid', callUuid);
  return `${RECORDINGS_PREFIX}${datePath(startedAt)}/${callUuid}`;
}

export function recordingKey(callUuid: string, startedAt: Date): string {
  return `${recordingStem(callUuid, startedAt)}.wav`;
}

export function metadataKey(callUuid: string, startedAt: Date): string {
  return `${recordingStem(callUuid, startedAt)}.json`;
}

/** Parses a recording or metadata key back into its parts; undefined for any other key. */
export function parseRecordingKey(
  key: string,
): { callUuid: string; date: string; kind: 'wav' | 'json' } | undefined {
  const match = /^recordings\/(\d{4}\/\d{2}\/\d{2})\/([^/]+)\.(wav|json)$/.exec(key);
  if (!match) return undefined;
  const [, date, callUuid, kind] = match;
  if (!isValidCallUuid(callUuid)) return undefined;
  return { callUuid, date: date as string, kind: kind as 'wav' | 'json' };
}

/** The prefix that holds every event of one conversation on one UTC day. */
export function eventsPrefix(conversationUuid: string, day: Date): string {
  assertUuid('conversation uuid', conversationUuid);
  return `${EVENTS_PREFIX}${datePath(day)}/${conversationUuid}/`;
}

/**
 * The key of one call event. It is derived only from the event's own fields, so a duplicate
 * delivery of the same event maps to the same key.
 */
export function eventKey(event: {
  conversationUuid: string;
  legUuid: string;
  status: string;
  timestamp: Date;
}): string {
  assertUuid('leg uuid', event.legUuid);
  const status = event.status.replace(/[^a-z0-9_:-]/gi, '_').slice(0, 40) || 'unknown';
  const stamp = event.timestamp.toISOString().replace(/[:]/g, '-');
  return `${eventsPrefix(event.conversationUuid, event.timestamp)}${stamp}_${event.legUuid}_${status}.json`;
}

/** Digits of a checkpoint's byte offset: 12 covers 7200 s at 24 kHz (345.6 MB) with room to spare. */
const OFFSET_DIGITS = 12;

/** Everything one call has under `inflight/`. */
export function inflightPrefix(callUuid: string): string {
  assertUuid('call uuid', callUuid);
  return `${INFLIGHT_PREFIX}${callUuid}/`;
}

/** The live call's identity object (written once the call starts, removed once it is stored). */
export function inflightCallKey(callUuid: string): string {
  return `${inflightPrefix(callUuid)}call.json`;
}

/**
 * The checkpoint holding the call's PCM from `offset` (bytes). Offsets are zero-padded so key
 * order is offset order.
 */
export function checkpointKey(callUuid: string, offset: number): string {
  if (!Number.isSafeInteger(offset) || offset < 0 || String(offset).length > OFFSET_DIGITS) {
    throw new Error(`checkpoint offset must be a whole number of bytes, got ${offset}`);
  }
  return `${inflightPrefix(callUuid)}${String(offset).padStart(OFFSET_DIGITS, '0')}.pcm`;
}

/** Parses an `inflight/` key; undefined for any other key. */
export function parseInflightKey(
  key: string,
): { callUuid: string; kind: 'call' } | { callUuid: string; kind: 'checkpoint'; offset: number } | undefined {
  const match = /^inflight\/([^/]+)\/(?:(call)\.json|(\d+)\.pcm)$/.exec(key);
  if (!match) return undefined;
  const [, callUuid, call, offset] = match;
  if (!isValidCallUuid(callUuid)) return undefined;
  return call ? { callUuid, kind: 'call' } : { callUuid, kind: 'checkpoint', offset: Number(offset) };
}
