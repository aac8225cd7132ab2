/**
 * The reconciler's I/O around `decideReconciliation`: reads the call's events and recording from
 * the bucket, decides, then acts: puts `Recording Missing` or `Recording Duration Mismatch` on the
 * event sink (and counts it), or sends the request back to the queue for its later check. The same
 * code runs in the reconciler Lambda (SQS) and in the local stack (a timer).
 */
import type { Logger } from '@aws-lambda-powertools/logger';
import type { Metrics } from '@aws-lambda-powertools/metrics';
import type { S3Client } from '@aws-sdk/client-s3';
import { DEFAULT_MAX_CALL_SECONDS, MetricNames } from '../../common/contract.js';
import type { ReconcileQueue, ReconcileRequest } from '../../common/reconcile-requests.js';
import { digestWav } from '../../common/recording-digest.js';
import {
  type RecordingEvent,
  type RecordingEventSink,
  recordingDigestFacts,
  recordingEvent,
} from '../../common/recording-events.js';
import { datePath, RECORDINGS_PREFIX, recordingKey } from '../../common/recording-keys.js';
import { getObject, listObjects } from '../../common/s3-objects.js';
import { getObjectText, listCallEvents, parseMetadata } from '../../common/stored-calls.js';
import type { CallEventSummary } from '../../common/vonage-call-events.js';
import {
  DEFAULT_RECONCILE_SCHEDULE,
  decideReconciliation,
  type ReconcileDecision,
  type ReconcileResult,
  type ReconcileSchedule,
  type StoredRecording,
} from './decision.js';

export type ReconcilerLogger = Pick<Logger, 'info' | 'warn' | 'error'>;
export type ReconcilerMetrics = Pick<Metrics, 'addMetric'>;

export interface ReconcilerDependencies {
  readonly s3: S3Client;
  /** The recordings bucket: events and recordings are both read from it. */
  readonly bucket: string;
  readonly sink: RecordingEventSink;
  /** Where a request goes back to wait for its later check. */
  readonly queue: ReconcileQueue;
  /** @default DEFAULT_RECONCILE_SCHEDULE */
  readonly schedule?: ReconcileSchedule;
  /** The recorder's `CHECKPOINT_SECONDS`. @default 10 */
  readonly crashLossBoundSeconds?: number;
  /** The longest call: how far back its first events may lie. @default 7200 */
  readonly maxCallSeconds?: number;
  /** @default () => new Date() */
  readonly now?: () => Date;
  readonly logger?: ReconcilerLogger;
  readonly metrics?: ReconcilerMetrics;
}

export type Reconciler = (request: ReconcileRequest) => Promise<ReconcileResult>;

const DAY_MS = 86_400_000;
/** Vonage's first events (started, ringing) come a little before the answer. */
const EVENTS_MARGIN_MS = 10 * 60_000;

/** Every UTC day from `from` to `to`, as dates at their midnight. */
function daysBetween(from: number, to: number): Date[] {
  const days: Date[] = [];
  for (let day = Math.floor(from / DAY_MS) * DAY_MS; day <= to; day += DAY_MS) days.push(new Date(day));
  return days;
}

/** Builds the reconciler: one call per due request. Throws only when S3, the sink or the queue fails. */
export function createReconciler(deps: ReconcilerDependencies): Reconciler {
  const schedule = deps.schedule ?? DEFAULT_RECONCILE_SCHEDULE;
  const now = deps.now ?? (() => new Date());
  const maxCallMs = (deps.maxCallSeconds ?? DEFAULT_MAX_CALL_SECONDS) * 1000;

  return async (request) => {
    const completedAt = new Date(request.completedAt);
    const events = await listCallEvents(
      deps.s3,
      deps.bucket,
      request.conversationUuid,
      daysBetween(completedAt.getTime() - maxCallMs - EVENTS_MARGIN_MS, completedAt.getTime()),
    );
    const candidateDays = daysBetween(
      Math.min(
        completedAt.getTime() - maxCallMs,
        ...events.map(({ event }) => Date.parse(String(event.timestamp))),
      ),
      completedAt.getTime(),
    );
    const recording = await findRecording(deps.s3, deps.bucket, request.callUuid, candidateDays.reverse());
    const checkedAt = now();
    const result = decideReconciliation({
      callUuid: request.callUuid,
      events,
      recording,
      check: request.check,
      completedAt,
      now: checkedAt,
      schedule,
      ...(deps.crashLossBoundSeconds === undefined
        ? {}
        : { crashLossBoundSeconds: deps.crashLossBoundSeconds }),
    });
    await act(deps, request, result, recording, checkedAt);
    return result;
  };
}

/**
 * The call's recording objects on the first of `days` (newest first) that holds any: a listing of
 * `recordings/<day>/<uuid>.`, then the metadata and one streamed read of the WAV.
 */
async function findRecording(
  s3: S3Client,
  bucket: string,
  callUuid: string,
  days: readonly Date[],
): Promise<StoredRecording | null> {
  for (const day of days) {
    const stem = `${RECORDINGS_PREFIX}${datePath(day)}/${callUuid}.`;
    const keys = new Set<string>();
    for await (const object of listObjects(s3, bucket, stem)) keys.add(object.key);
    const wavKey = `${stem}wav`;
    const jsonKey = `${stem}json`;
    if (!keys.has(wavKey) && !keys.has(jsonKey)) continue;
    const metadata = keys.has(jsonKey) ? parseMetadata(await getObjectText(s3, bucket, jsonKey)) : null;
    const wav = keys.has(wavKey) ? await digestWav(await wavBody(s3, bucket, wavKey)) : null;
    return { wavKey, metadata, wav };
  }
  return null;
}

async function wavBody(
  s3: S3Client,
  bucket: string,
  key: string,
): Promise<AsyncIterable<Uint8Array> | Iterable<Uint8Array>> {
  const response = await getObject(s3, bucket, key);
  return (response.Body as AsyncIterable<Uint8Array> | undefined) ?? [];
}

async function act(
  deps: ReconcilerDependencies,
  request: ReconcileRequest,
  result: ReconcileResult,
  recording: StoredRecording | null,
  checkedAt: Date,
): Promise<void> {
  const { decision, call } = result;
  const context = {
    callUuid: request.callUuid,
    conversationUuid: request.conversationUuid,
    check: request.check,
  };
  if (decision.kind === 'ok') {
    deps.logger?.info('call reconciled', { ...context, outcome: decision.outcome, detail: decision.detail });
    return;
  }
  if (decision.kind === 'check-again') {
    const delaySeconds = (decision.at.getTime() - checkedAt.getTime()) / 1000;
    await deps.queue.send({ ...request, check: decision.check }, delaySeconds);
    deps.logger?.info('call to be checked again', {
      ...context,
      next: decision.check,
      at: decision.at.toISOString(),
      detail: decision.detail,
    });
    return;
  }
  const event = reconcileEvent(decision, call, request, recording, deps.bucket, checkedAt);
  deps.logger?.warn(decision.kind === 'missing' ? 'recording missing' : 'recording duration mismatch', {
    ...context,
    ...(decision.kind === 'missing' ? { reason: decision.reason } : {}),
    detail: decision.detail,
  });
  try {
    await deps.sink.put(event);
  } catch (error) {
    deps.metrics?.addMetric(MetricNames.recordingEventsFailed, 'Count', 1);
    throw error;
  }
  deps.metrics?.addMetric(
    decision.kind === 'missing' ? MetricNames.recordingsMissing : MetricNames.recordingDurationMismatches,
    'Count',
    1,
  );
}

/** The event for a missing or mismatched recording: the call as Vonage's events name it. */
export function reconcileEvent(
  decision: Extract<ReconcileDecision, { kind: 'missing' | 'mismatch' }>,
  call: CallEventSummary,
  request: ReconcileRequest,
  recording: StoredRecording | null,
  bucket: string,
  checkedAt: Date,
): RecordingEvent {
  const checked = checkedAt.toISOString();
  if (decision.kind === 'mismatch') {
    const { metadata } = decision;
    return recordingEvent(
      'durationMismatch',
      {
        uuid: metadata.uuid,
        conversationUuid: metadata.conversationUuid,
        from: metadata.from,
        to: metadata.to,
        startedAt: metadata.startedAt,
        bucket,
        recordingKey: metadata.recordingKey,
        durationSeconds: metadata.durationSeconds,
        wavBytes: metadata.wavBytes,
        ...recordingDigestFacts(metadata),
        vonageDurationSeconds: decision.vonageSeconds,
        toleranceSeconds: decision.toleranceSeconds,
        checkedAt: checked,
      },
      checkedAt,
    );
  }
  const startedAt = call.answeredAt ?? request.completedAt;
  return recordingEvent(
    'missing',
    {
      uuid: request.callUuid,
      conversationUuid: call.conversationUuid ?? request.conversationUuid,
      from: call.from,
      to: call.to,
      startedAt,
      bucket,
      expectedKey: recording?.wavKey ?? recordingKey(request.callUuid, new Date(startedAt)),
      reason: decision.reason,
      ...(decision.reason === 'damaged' ? { problem: decision.detail } : {}),
      vonageDurationSeconds: call.callSeconds,
      checkedAt: checked,
    },
    checkedAt,
  );
}
