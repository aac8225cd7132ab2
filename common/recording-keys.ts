/**
 * The bucket's key layout, in one place: the webhooks Lambda, the recorder and the audit CLI
 * all build and parse keys here.
 *
 * ```
 * recordings/YYYY/MM/DD/<call uuid>.wav     the audio (date = call start, UTC)
 * recordings/YYYY/MM/DD/<call uuid>.json    its metadata (RecordingMetadata)
 * events/YYYY/MM/DD/<conversation uuid>/<timestamp>_<leg uuid>_<status>.json
 *                                           one Vonage call event (date = event time, UTC)
 * inflight/<task id>/<seq>.batch            live calls' audio checkpoints, many calls per object
 *                                           (see fargate/src/checkpoint.ts for the format)
 * inflight/<task id>/alive.json             the recorder task's heartbeat while its calls are quiet
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

/** Digits of a batch's sequence number: a batch a second for 30,000 years. */
const SEQ_DIGITS = 12;

/** Everything one recorder task has under `inflight/`. */
export function inflightTaskPrefix(taskId: string): string {
  assertUuid('task id', taskId);
  return `${INFLIGHT_PREFIX}${taskId}/`;
}

/**
 * The task's heartbeat, rewritten while it has live calls but no batch to write (quiet calls): a
 * task whose newest object is stale has stopped.
 */
export function taskAliveKey(taskId: string): string {
  return `${inflightTaskPrefix(taskId)}alive.json`;
}

/**
 * One checkpoint batch of a task: an index line, then audio of any number of its calls. Sequence
 * numbers are zero-padded so key order is write order.
 */
export function checkpointBatchKey(taskId: string, seq: number): string {
  if (!Number.isSafeInteger(seq) || seq < 0 || String(seq).length > SEQ_DIGITS) {
    throw new Error(`batch sequence must be a whole number, got ${seq}`);
  }
  return `${inflightTaskPrefix(taskId)}${String(seq).padStart(SEQ_DIGITS, '0')}.batch`;
}

/** Parses an `inflight/` key; undefined for any other key. */
export function parseInflightKey(
  key: string,
): { taskId: string; kind: 'alive' } | { taskId: string; kind: 'batch'; seq: number } | undefined {
  const match = /^inflight\/([^/]+)\/(?:(alive)\.json|(\d+)\.batch)$/.exec(key);
  if (!match) return undefined;
  const [, taskId, alive, seq] = match;
  if (!isValidCallUuid(taskId)) return undefined;
  return alive ? { taskId, kind: 'alive' } : { taskId, kind: 'batch', seq: Number(seq) };
}
