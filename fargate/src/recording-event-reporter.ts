import type { Logger } from '@aws-lambda-powertools/logger';
import {
  type CallFacts,
  type RecordingEvent,
  type RecordingEventSink,
  RecordingEventType,
  type RecordingFailedDetail,
  recordingDigestFacts,
  recordingEvent,
  type StoredRecordingFacts,
} from '../../common/recording-events.js';
import type { RecordingMetadata } from '../../common/recording-metadata.js';
import type { RecorderMetrics } from './metrics.js';

/** Puts nothing: the default for a recorder given no sink (tests that do not look at events). */
export const noRecordingEvents: RecordingEventSink = { put: async () => {} };

function callFacts(metadata: RecordingMetadata): CallFacts {
  return {
    uuid: metadata.uuid,
    conversationUuid: metadata.conversationUuid,
    from: metadata.from,
    to: metadata.to,
    startedAt: metadata.startedAt,
  };
}

function storedFacts(metadata: RecordingMetadata, bucket: string): StoredRecordingFacts {
  return {
    bucket,
    recordingKey: metadata.recordingKey,
    durationSeconds: metadata.durationSeconds,
    wavBytes: metadata.wavBytes,
    ...recordingDigestFacts(metadata),
  };
}

/** `Recording Stored` for a call that ended normally, `Recording Interrupted` for one cut short. */
export function storedEvent(metadata: RecordingMetadata, bucket: string, time: Date): RecordingEvent {
  const fields = { ...callFacts(metadata), ...storedFacts(metadata, bucket) };
  if (!metadata.interrupted) return recordingEvent('stored', fields, time);
  return recordingEvent(
    'interrupted',
    {
      ...fields,
      reason: metadata.end.by,
      closeCode: metadata.end.code,
      keptSeconds: metadata.durationSeconds,
    },
    time,
  );
}

/** `Recording Recovered`: a crashed recorder's call stored from what it had saved. */
export function recoveredEvent(
  metadata: RecordingMetadata,
  bucket: string,
  recovery: { recoveredBy: 'sweeper' | 'disk'; maxLostSeconds: number },
  time: Date,
): RecordingEvent {
  return recordingEvent(
    'recovered',
    { ...callFacts(metadata), ...storedFacts(metadata, bucket), ...recovery },
    time,
  );
}

/** `Recording Failed`: the audio could not be stored and waits where `audioAt` says. */
export function failedEvent(
  fields: Omit<RecordingFailedDetail, 'schemaVersion' | 'eventId'>,
  time: Date,
): RecordingEvent {
  return recordingEvent('failed', fields, time);
}

/**
 * Hands recording events to a sink without ever holding up or failing a recording: a put that
 * fails (after the sink's own retries) is logged and counted in `RecordingEventsFailed`, and the
 * recorder goes on. Puts run in the background; `settled()` waits for them before the process exits.
 */
export class RecordingEventReporter {
  readonly #sink: RecordingEventSink;
  readonly #logger: Logger;
  readonly #metrics: RecorderMetrics;
  readonly #inFlight = new Set<Promise<void>>();

  constructor(sink: RecordingEventSink, logger: Logger, metrics: RecorderMetrics) {
    this.#sink = sink;
    this.#logger = logger;
    this.#metrics = metrics;
  }

  /** Starts the put and returns at once. */
  report(event: RecordingEvent): void {
    const put = this.#put(event).finally(() => this.#inFlight.delete(put));
    this.#inFlight.add(put);
  }

  async #put(event: RecordingEvent): Promise<void> {
    try {
      await this.#sink.put(event);
    } catch (error) {
      this.#metrics.recordingEventFailed?.();
      // The event names the call and its key only; the detail itself is in the recording's metadata.
      this.#logger.error('putting a recording event failed; the recording is not affected', {
        callUuid: event.detail.uuid,
        detailType: RecordingEventType[event.kind],
        eventId: event.detail.eventId,
        error,
      });
    }
  }

  /** Resolves once every put started so far has ended (put or given up on). Never rejects. */
  async settled(): Promise<void> {
    while (this.#inFlight.size > 0) await Promise.all([...this.#inFlight]);
  }
}
