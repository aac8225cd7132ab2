import type { ReconcileRequest } from '../../common/reconcile-requests.js';
import { isValidCallUuid } from '../../common/recording-keys.js';
import { BadRequestError } from './errors.js';

/** A validated Vonage call event, with the body it arrived with. */
export interface CallEvent {
  readonly uuid: string;
  readonly conversationUuid: string;
  readonly status: string;
  readonly timestamp: Date;
  /** The event as received (call tokens redacted); stored re-serialized as the audit record. */
  readonly body: Readonly<Record<string, unknown>>;
}

const ISO_TIMESTAMP = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:?\d{2})$/;
const MAX_STATUS_LENGTH = 64;

function requiredString(body: Record<string, unknown>, name: string): string {
  const value = body[name];
  if (value === undefined || value === null || value === '') throw new BadRequestError(`${name} is required`);
  if (typeof value !== 'string') throw new BadRequestError(`${name} must be a string`);
  return value;
}

function requiredUuid(body: Record<string, unknown>, name: string): string {
  const value = requiredString(body, name);
  if (!isValidCallUuid(value)) {
    throw new BadRequestError(
      `${name} must be letters, digits and dashes (at most 128): ${JSON.stringify(value)}`,
    );
  }
  return value;
}

/**
 * The kind of a Vonage event. Call-progress events carry `status`; the other documented kinds
 * (transfer, input, record) do not, and are named by their telling fields so they too land in the
 * audit trail instead of being refused.
 */
function eventKind(body: Record<string, unknown>): string {
  if (body.status !== undefined) return requiredString(body, 'status');
  if (typeof body.conversation_uuid_to === 'string') return 'transfer';
  if (body.dtmf !== undefined || body.speech !== undefined) return 'input';
  if (typeof body.recording_url === 'string') return 'record';
  throw new BadRequestError('status is required');
}

/**
 * Validates an event webhook body: `status`, `uuid`, `conversation_uuid` and `timestamp` are
 * required, except that a transfer event is filed under `conversation_uuid_to` and a record
 * event under its `recording_uuid`.
 */
export function parseCallEvent(body: Record<string, unknown>): CallEvent {
  const status = eventKind(body);
  if (status.length > MAX_STATUS_LENGTH) {
    throw new BadRequestError(`status must be at most ${MAX_STATUS_LENGTH} characters`);
  }
  const uuid = requiredUuid(
    body,
    body.uuid === undefined && body.recording_uuid !== undefined ? 'recording_uuid' : 'uuid',
  );
  const conversationUuid = requiredUuid(
    body,
    body.conversation_uuid === undefined && body.conversation_uuid_to !== undefined
      ? 'conversation_uuid_to'
      : 'conversation_uuid',
  );
  const rawTimestamp = requiredString(body, 'timestamp');
  const timestamp = new Date(rawTimestamp);
  if (!ISO_TIMESTAMP.test(rawTimestamp) || Number.isNaN(timestamp.getTime())) {
    throw new BadRequestError(`timestamp must be an ISO 8601 date-time: ${JSON.stringify(rawTimestamp)}`);
  }
  return { uuid, conversationUuid, status, timestamp, body: redactCallTokens(body) };
}

const TOKEN_PARAMETER = /([?&]token=)[^&#\s]+/g;

/**
 * The websocket leg's events carry the NCCO's websocket URI, per-call token included, in `to`.
 * The token is short-lived, but a credential has no place in an audit trail: its value is
 * replaced wherever a string holds a `token=` query parameter.
 */
export function redactCallTokens<T>(value: T): T {
  if (typeof value === 'string') return value.replace(TOKEN_PARAMETER, '$1redacted') as T;
  if (Array.isArray(value)) return value.map((item) => redactCallTokens(item)) as T;
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([key, item]) => [key, redactCallTokens(item)])) as T;
  }
  return value;
}

const WEBSOCKET_URI = /^wss?:\/\//i;

/**
 * The reconcile request for a call leg's `completed` event; undefined for any other event. The
 * websocket leg completes too, but its `to` (or `from`) is the recorder's URI: the call leg's own
 * `completed` comes after it, and names the uuid the recording is keyed by.
 */
export function reconcileRequestFor(event: CallEvent): ReconcileRequest | undefined {
  if (event.status !== 'completed') return undefined;
  const { to, from } = event.body;
  if ([to, from].some((value) => typeof value === 'string' && WEBSOCKET_URI.test(value))) return undefined;
  return {
    version: 1,
    callUuid: event.uuid,
    conversationUuid: event.conversationUuid,
    completedAt: event.timestamp.toISOString(),
    check: 'first',
  };
}
