/**
 * The two real destinations of recording events: EventBridge's PutEvents in AWS, and locally a
 * JSON-lines file holding each PutEvents entry exactly as it would be sent.
 */
import { appendFile, mkdir } from 'node:fs/promises';
import { dirname } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { EventBridgeClient, PutEventsCommand } from '@aws-sdk/client-eventbridge';
import {
  DEFAULT_EVENT_BUS_NAME,
  putEventsEntry,
  type RecordingEvent,
  type RecordingEventSink,
} from './recording-events.js';

export class RecordingEventError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'RecordingEventError';
  }
}

/**
 * Puts events on an EventBridge bus. The SDK retries throttling and 5xx; an entry that comes back
 * in `Entries[].ErrorCode` (accepted request, rejected entry) is retried here, a few times.
 * https://docs.aws.amazon.com/eventbridge/latest/APIReference/API_PutEvents.html
 */
export class EventBridgeEventSink implements RecordingEventSink {
  readonly #client: EventBridgeClient;
  readonly #eventBusName: string;
  readonly #attempts: number;

  constructor(options: { client?: EventBridgeClient; eventBusName?: string; attempts?: number } = {}) {
    this.#client = options.client ?? new EventBridgeClient({});
    this.#eventBusName = options.eventBusName ?? DEFAULT_EVENT_BUS_NAME;
    this.#attempts = options.attempts ?? 3;
  }

  async put(event: RecordingEvent): Promise<void> {
    const entry = putEventsEntry(event, this.#eventBusName);
    let lastError = '';
    for (let attempt = 1; attempt <= this.#attempts; attempt++) {
      const answer = await this.#client.send(
        new PutEventsCommand({ Entries: [{ ...entry, Time: new Date(entry.Time) }] }),
      );
      const result = answer.Entries?.[0];
      if (!answer.FailedEntryCount && result?.EventId) return;
      lastError = `${result?.ErrorCode ?? 'unknown'}: ${result?.ErrorMessage ?? 'no message'}`;
      if (attempt < this.#attempts) await sleep(100 * 2 ** attempt);
    }
    throw new RecordingEventError(
      `EventBridge rejected "${entry.DetailType}" ${event.detail.eventId}: ${lastError}`,
    );
  }
}

/** Appends each event's PutEvents entry as one JSON line (the local stack's `.local/eventbridge.jsonl`). */
export class JsonLinesEventSink implements RecordingEventSink {
  readonly #path: string;
  readonly #eventBusName: string;
  #ready: Promise<unknown> | undefined;

  constructor(path: string, eventBusName = DEFAULT_EVENT_BUS_NAME) {
    this.#path = path;
    this.#eventBusName = eventBusName;
  }

  async put(event: RecordingEvent): Promise<void> {
    this.#ready ??= mkdir(dirname(this.#path), { recursive: true });
    await this.#ready;
    // Each line whole in one append, so a reader never sees half an event.
    await appendFile(this.#path, `${JSON.stringify(putEventsEntry(event, this.#eventBusName))}\n`);
  }
}

/** Keeps events in memory, in order: for tests and for tools that report what they found. */
export class MemoryEventSink implements RecordingEventSink {
  readonly events: RecordingEvent[] = [];

  async put(event: RecordingEvent): Promise<void> {
    this.events.push(event);
  }
}
