import { randomUUID } from 'node:crypto';
import type { PutEventsEntry } from '../common/recording-events.js';
import { startAwsJsonServer } from './aws-json-server.js';

/**
 * EventBridge on the wire (JSON 1.1: `POST /` with `X-Amz-Target: AWSEvents.PutEvents`), for the
 * one call the recorder makes. An accepted entry gets an `EventId`; a rejected one an `ErrorCode`
 * and `ErrorMessage` in its place in `Entries`, counted in `FailedEntryCount`, with HTTP 200, as
 * the API documents (https://docs.aws.amazon.com/eventbridge/latest/APIReference/API_PutEvents.html).
 * `Time` arrives as epoch seconds and is kept as ISO 8601, as the JSON-lines sink writes it.
 * Signatures are not checked.
 */
export interface EventBridgeDouble {
  /** Use as the client's endpoint (or `AWS_ENDPOINT_URL_EVENTBRIDGE` for a child process). */
  readonly url: string;
  /** Every accepted entry, in order. */
  readonly entries: PutEventsEntry[];
  /** Rejects every entry (`InternalFailure`) until set back: an entry-level failure. */
  rejecting: boolean;
  close(): Promise<void>;
}

interface WireEntry extends Omit<PutEventsEntry, 'Time'> {
  readonly Time?: number;
}

export async function startEventBridgeDouble(): Promise<EventBridgeDouble> {
  const entries: PutEventsEntry[] = [];
  const double = { entries, rejecting: false } as EventBridgeDouble;

  function putEvents(input: { Entries?: WireEntry[] }): readonly [number, unknown] {
    const results = (input.Entries ?? []).map((entry) => {
      if (double.rejecting) {
        return { ErrorCode: 'InternalFailure', ErrorMessage: 'the event bus is failing (test double)' };
      }
      entries.push({
        ...entry,
        Time: new Date((entry.Time ?? Date.now() / 1000) * 1000).toISOString(),
      });
      return { EventId: randomUUID() };
    });
    return [200, { FailedEntryCount: results.filter((r) => 'ErrorCode' in r).length, Entries: results }];
  }

  const server = await startAwsJsonServer((target, input) =>
    target === 'AWSEvents.PutEvents'
      ? putEvents(input as { Entries?: WireEntry[] })
      : [400, { __type: 'UnknownOperationException', message: `not supported here: ${target}` }],
  );
  Object.assign(double, { url: server.url, close: server.close });
  return double;
}
