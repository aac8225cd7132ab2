import type { RecordingMetadata } from '../../common/recording-metadata.js';
import { isWebsocketLegOf } from '../../common/vonage-call-events.js';
import { normalizeNumber } from '../cli/list.js';
import type { StoredCallEvent } from '../cli/recording-store.js';
import { checkDuration } from '../cli/verify.js';

/**
 * A call's Vonage event trail as the console shows it: both legs in time order, with what is
 * missing (gaps) and what does not agree with the recording (disagreements) called out.
 */

export type TrailLeg = 'call' | 'websocket' | 'other';

export interface TrailEvent {
  readonly key: string;
  readonly leg: TrailLeg;
  readonly legUuid: string | null;
  readonly status: string;
  readonly timestamp: string | null;
  /** Seconds since the previous event of the trail (null for the first or an undated one). */
  readonly gapSeconds: number | null;
  /** What is wrong with this event, if anything. */
  readonly notes: readonly string[];
  readonly event: Record<string, unknown>;
}

export interface TrailFinding {
  readonly kind: 'gap' | 'disagreement';
  readonly message: string;
}

export interface CallTrail {
  readonly events: readonly TrailEvent[];
  readonly findings: readonly TrailFinding[];
}

/** How long after the call was answered the recorder may reasonably get the websocket (greeting). */
const CONNECT_GRACE_SECONDS = 30;

const text = (value: unknown): string | null => (typeof value === 'string' ? value : null);

function seconds(value: string | null): number | null {
  if (value === null) return null;
  const ms = new Date(value).getTime();
  return Number.isNaN(ms) ? null : ms / 1000;
}

/** Builds the trail of one recording from its metadata and its conversation's stored events. */
export function buildCallTrail(
  metadata: RecordingMetadata,
  stored: readonly StoredCallEvent[],
  toleranceSeconds = 1,
): CallTrail {
  const findings: TrailFinding[] = [];
  const notes = new Map<string, string[]>();
  const note = (key: string, message: string) => notes.set(key, [...(notes.get(key) ?? []), message]);

  const legOf = (event: Record<string, unknown>): TrailLeg =>
    event.uuid === metadata.uuid ? 'call' : isWebsocketLegOf(event, metadata.uuid) ? 'websocket' : 'other';
  const ordered = [...stored].sort(
    (a, b) =>
      (seconds(text(a.event.timestamp)) ?? Number.POSITIVE_INFINITY) -
        (seconds(text(b.event.timestamp)) ?? Number.POSITIVE_INFINITY) || a.key.localeCompare(b.key),
  );

  if (ordered.length === 0) {
    findings.push({
      kind: 'gap',
      message: metadata.conversationUuid
        ? `no Vonage events stored for conversation ${metadata.conversationUuid}`
        : 'the recording has no conversation uuid, so its Vonage events cannot be found',
    });
    return { events: [], findings };
  }

  const seen = new Set<string>();
  const byLeg = (leg: TrailLeg, status: string) =>
    ordered.find((item) => legOf(item.event) === leg && item.event.status === status);
  for (const item of ordered) {
    if ('unreadable' in item.event) note(item.key, 'stored event is not readable JSON');
    const id = `${legOf(item.event)}/${String(item.event.status)}`;
    if (seen.has(id)) note(item.key, 'duplicate: this leg already sent this status');
    seen.add(id);
  }

  for (const status of ['started', 'answered', 'completed']) {
    if (!byLeg('call', status))
      findings.push({ kind: 'gap', message: `no "${status}" event from the call leg` });
  }
  if (!ordered.some((item) => legOf(item.event) === 'websocket')) {
    findings.push({ kind: 'gap', message: 'no events from the websocket leg (the recorder connection)' });
  } else if (!byLeg('websocket', 'completed')) {
    findings.push({ kind: 'gap', message: 'no "completed" event from the websocket leg' });
  }

  // The same tolerance as verify and the reconciler (a recovered call may lack the crash-loss bound).
  const duration = checkDuration(metadata, ordered);
  if (duration.status === 'fail') {
    findings.push({ kind: 'disagreement', message: `duration: ${duration.detail}` });
    const completed = byLeg('websocket', 'completed') ?? byLeg('call', 'completed');
    if (completed) note(completed.key, `duration disagrees with the recording (${duration.detail})`);
  }

  for (const item of ordered.filter((candidate) => legOf(candidate.event) === 'call')) {
    for (const [field, recorded] of [
      ['from', metadata.from],
      ['to', metadata.to],
    ] as const) {
      const sent = text(item.event[field]);
      if (sent !== null && recorded !== null && normalizeNumber(sent) !== normalizeNumber(recorded)) {
        note(item.key, `"${field}" ${sent} differs from the recording's ${recorded}`);
        findings.push({
          kind: 'disagreement',
          message: `${item.event.status} event says ${field} ${sent}, the recording ${recorded}`,
        });
      }
    }
  }

  const recordingStart = seconds(metadata.startedAt);
  const recordingEnd = seconds(metadata.endedAt);
  const answered = byLeg('call', 'answered');
  const answeredAt = answered ? seconds(text(answered.event.timestamp)) : null;
  if (answered && answeredAt !== null && recordingStart !== null) {
    if (recordingStart + toleranceSeconds < answeredAt) {
      note(answered.key, 'the recording started before this');
      findings.push({
        kind: 'disagreement',
        message: 'the recording started before Vonage says the call was answered',
      });
    } else if (recordingStart - answeredAt > CONNECT_GRACE_SECONDS) {
      findings.push({
        kind: 'gap',
        message: `the recording started ${(recordingStart - answeredAt).toFixed(1)} s after the call was answered`,
      });
    }
  }
  const completed = byLeg('call', 'completed');
  const completedAt = completed ? seconds(text(completed.event.timestamp)) : null;
  if (
    completed &&
    completedAt !== null &&
    recordingEnd !== null &&
    recordingEnd > completedAt + toleranceSeconds
  ) {
    note(completed.key, 'the recording ended after this');
    findings.push({
      kind: 'disagreement',
      message: `the recording ran ${(recordingEnd - completedAt).toFixed(1)} s past Vonage's "completed" for the call`,
    });
  }

  let previous: number | null = null;
  const events = ordered.map((item): TrailEvent => {
    const at = seconds(text(item.event.timestamp));
    const gapSeconds = at !== null && previous !== null ? Math.round((at - previous) * 1000) / 1000 : null;
    if (at !== null) previous = at;
    return {
      key: item.key,
      leg: legOf(item.event),
      legUuid: text(item.event.uuid),
      status: text(item.event.status) ?? 'unknown',
      timestamp: text(item.event.timestamp),
      gapSeconds,
      notes: notes.get(item.key) ?? [],
      event: item.event,
    };
  });
  return { events, findings };
}
