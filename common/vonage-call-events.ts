/**
 * What a call's stored Vonage events (`events/…/<conversation>/…`, as the event webhook stored
 * them) say about one call: whether it was answered, whether its websocket leg reached the
 * recorder, and Vonage's `completed` durations. Shared by the reconciler and `recordings verify`.
 */
import { CALL_PATH_PREFIX } from './contract.js';

/** One stored Vonage event: its key and the JSON as Vonage sent it (call tokens redacted). */
export interface StoredCallEvent {
  readonly key: string;
  readonly event: Record<string, unknown>;
}

/** What the events tell of one call leg and its websocket leg. */
export interface CallEventSummary {
  readonly callUuid: string;
  readonly conversationUuid: string | null;
  readonly from: string | null;
  readonly to: string | null;
  /** The call leg was answered (an `answered` event, or a `completed` one with a positive duration). */
  readonly answered: boolean;
  /** ISO 8601 of the call leg's `answered` event (else its first event). */
  readonly answeredAt: string | null;
  /** The call leg's `completed` duration in seconds, when stored. */
  readonly callSeconds: number | null;
  /** Vonage connected the websocket leg to the recorder (`answered`, or `completed` with audio time). */
  readonly websocketConnected: boolean;
  /** The websocket leg's `completed` duration: the like-for-like figure for the recording. */
  readonly websocketSeconds: number | null;
  /** ISO 8601 timestamps of every event of either leg: the days a recording key may fall on. */
  readonly timestamps: readonly string[];
}

const text = (value: unknown): string | null => (typeof value === 'string' && value !== '' ? value : null);

function seconds(event: Record<string, unknown>): number | null {
  const value = Number(event.duration);
  return event.duration !== undefined && event.duration !== null && Number.isFinite(value) ? value : null;
}

/** The `/calls/<uuid>` websocket path as it appears in the websocket leg's `to`/`from`. */
export function isWebsocketLegOf(event: Record<string, unknown>, callUuid: string): boolean {
  const path = `${CALL_PATH_PREFIX}${callUuid}`;
  return [event.to, event.from].some((value) => {
    if (typeof value !== 'string') return false;
    const at = value.indexOf(path);
    if (at < 0) return false;
    const next = value.charAt(at + path.length);
    return next === '' || next === '/' || next === '?' || next === '#';
  });
}

/** Reads one call's facts from its conversation's events (other legs are ignored). */
export function summarizeCallEvents(events: readonly StoredCallEvent[], callUuid: string): CallEventSummary {
  const callLeg = events.map((stored) => stored.event).filter((event) => event.uuid === callUuid);
  const websocketLeg = events
    .map((stored) => stored.event)
    .filter((event) => event.uuid !== callUuid && isWebsocketLegOf(event, callUuid));
  const callCompleted = callLeg.find((event) => event.status === 'completed');
  const callSeconds = callCompleted ? seconds(callCompleted) : null;
  const answeredEvent = callLeg.find((event) => event.status === 'answered');
  const websocketCompleted = websocketLeg.find((event) => event.status === 'completed');
  const websocketSeconds = websocketCompleted ? seconds(websocketCompleted) : null;
  const first = answeredEvent ?? callLeg[0];
  return {
    callUuid,
    conversationUuid: text(first?.conversation_uuid),
    from: text(first?.from),
    to: text(first?.to),
    answered: answeredEvent !== undefined || (callSeconds ?? 0) > 0,
    answeredAt: text(first?.timestamp),
    callSeconds,
    websocketConnected:
      websocketLeg.some((event) => event.status === 'answered') || (websocketSeconds ?? 0) > 0,
    websocketSeconds,
    timestamps: [...callLeg, ...websocketLeg]
      .map((event) => text(event.timestamp))
      .filter((stamp): stamp is string => stamp !== null),
  };
}

/** Tolerance of a duration comparison: how much shorter or longer the recording may be. */
export interface DurationTolerance {
  readonly shorter: number;
  readonly longer: number;
}

/** The outcome of comparing a recording's duration with Vonage's. */
export type DurationComparison =
  | { readonly status: 'pass' | 'fail'; readonly vonageSeconds: number; readonly detail: string }
  | { readonly status: 'skip'; readonly vonageSeconds: null; readonly detail: string };

/**
 * Compares a recording's seconds with Vonage's `completed` durations. The websocket leg's own
 * `completed` is the like-for-like figure: the recording may be shorter by `tolerance.shorter`
 * (more for a recovered recording: the crash-loss bound) and longer by `tolerance.longer`.
 * Without it, the call leg's `completed` includes the greeting before the websocket opened, so
 * there the recording may only not be longer than the call.
 */
export function compareDuration(
  recordedSeconds: number,
  summary: Pick<CallEventSummary, 'callSeconds' | 'websocketSeconds'>,
  tolerance: DurationTolerance,
): DurationComparison {
  const recorded = `recorded ${recordedSeconds.toFixed(1)} s`;
  if (summary.websocketSeconds !== null) {
    const vonage = summary.websocketSeconds;
    const ok = recordedSeconds >= vonage - tolerance.shorter && recordedSeconds <= vonage + tolerance.longer;
    return {
      status: ok ? 'pass' : 'fail',
      vonageSeconds: vonage,
      detail: `${recorded}, Vonage websocket leg ${vonage} s`,
    };
  }
  if (summary.callSeconds !== null) {
    const vonage = summary.callSeconds;
    return {
      status: recordedSeconds > vonage + tolerance.longer ? 'fail' : 'pass',
      vonageSeconds: vonage,
      detail: `${recorded}, Vonage call leg ${vonage} s`,
    };
  }
  return { status: 'skip', vonageSeconds: null, detail: 'no completed event stored for this call' };
}
