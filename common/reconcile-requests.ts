/**
 * A request to reconcile one completed call, and the queue that holds it until it is due: SQS in
 * AWS (the webhooks Lambda sends, the reconciler Lambda receives and re-sends for the later
 * check), a timer in the local stack. One message shape for both.
 */
import { S3_RETRY_DEADLINE_SECONDS, SWEEP_INTERVAL_SECONDS } from './contract.js';
import { isValidCallUuid } from './recording-keys.js';

/** Which of a call's two checks is due. */
export type ReconcileCheck = 'first' | 'final';

export interface ReconcileRequest {
  readonly version: 1;
  /** The call leg's uuid: its recording is `recordings/…/<callUuid>.wav`. */
  readonly callUuid: string;
  readonly conversationUuid: string;
  /** ISO 8601 timestamp of the call leg's `completed` event: the checks are timed from it. */
  readonly completedAt: string;
  readonly check: ReconcileCheck;
}

/** When the checks run, in seconds after Vonage's `completed` event of the call leg. */
export interface ReconcileSchedule {
  readonly firstCheckSeconds: number;
  readonly finalCheckSeconds: number;
}

/**
 * The deployed schedule, from the recorder's documented figures (fargate/README.md):
 * - first check 900 s after `completed`: finalizing a call is two part uploads, seconds normally,
 *   but the recorder retries S3 for up to 10 minutes (600 s) before giving up; 900 s is that plus
 *   5 minutes' margin, and the longest one SQS message timer holds;
 * - final check 1,860 s after: the first check, plus the time a crashed task's calls take to be
 *   rebuilt: `INFLIGHT_STALE_SECONDS` (60 s by default) for the task to look stopped, one sweep
 *   interval (300 s) for another task's sweeper to find it, and the 600 s upload deadline.
 */
export const DEFAULT_RECONCILE_SCHEDULE: ReconcileSchedule = {
  firstCheckSeconds: 900,
  finalCheckSeconds: 1860,
};

/** The final check's delay for a recorder whose checkpoints go stale after `inflightStaleSeconds`. */
export function finalCheckSeconds(
  inflightStaleSeconds: number,
  firstCheckSeconds = DEFAULT_RECONCILE_SCHEDULE.firstCheckSeconds,
): number {
  return (
    firstCheckSeconds +
    inflightStaleSeconds +
    Math.max(inflightStaleSeconds, SWEEP_INTERVAL_SECONDS) +
    S3_RETRY_DEADLINE_SECONDS
  );
}

/** A message body that is not a reconcile request: it goes to the dead-letter queue, never retried in vain. */
export class ReconcileRequestError extends Error {
  override readonly name = 'ReconcileRequestError';
}

/** Parses and checks a message body. */
export function parseReconcileRequest(body: string): ReconcileRequest {
  let value: unknown;
  try {
    value = JSON.parse(body);
  } catch {
    throw new ReconcileRequestError('reconcile request is not JSON');
  }
  const request = value as Partial<Record<keyof ReconcileRequest, unknown>> | null;
  if (typeof request !== 'object' || request === null || request.version !== 1) {
    throw new ReconcileRequestError('reconcile request is not a version 1 object');
  }
  if (!isValidCallUuid(request.callUuid) || !isValidCallUuid(request.conversationUuid)) {
    throw new ReconcileRequestError('reconcile request needs a valid callUuid and conversationUuid');
  }
  if (typeof request.completedAt !== 'string' || Number.isNaN(new Date(request.completedAt).getTime())) {
    throw new ReconcileRequestError('reconcile request completedAt is not a date');
  }
  if (request.check !== 'first' && request.check !== 'final') {
    throw new ReconcileRequestError('reconcile request check must be "first" or "final"');
  }
  return request as ReconcileRequest;
}

/** Holds a request for `delaySeconds`, then hands it to the reconciler. */
export interface ReconcileQueue {
  send(request: ReconcileRequest, delaySeconds: number): Promise<void>;
}

/**
 * The longest one SQS message timer holds (`DelaySeconds` 0–900). A longer delay is held in
 * steps: the reconciler finds the request not yet due and sends it again for the rest.
 * https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-message-timers.html
 */
export const MAX_SQS_DELAY_SECONDS = 900;
