import type { SQSRecord } from 'aws-lambda';
import { describe, expect, it } from 'vitest';
import {
  parseReconcileRequest,
  type ReconcileRequest,
  ReconcileRequestError,
} from '../../../common/reconcile-requests.js';
import type { Reconciler } from '../../../lambdas/reconciler/reconcile.js';
import { reconcileBatch } from '../../../lambdas/reconciler/sqs-batch.js';
import { parseCallEvent, reconcileRequestFor } from '../../../lambdas/webhooks/event.js';

const CALL = 'aaaaaaaa-0000-4000-8000-00000000000a';
const CONVERSATION = 'CON-aaaaaaaa-0000-4000-8000-00000000000a';

function completed(overrides: Record<string, unknown> = {}) {
  return parseCallEvent({
    from: '447700900001',
    to: '447700900000',
    uuid: CALL,
    conversation_uuid: CONVERSATION,
    status: 'completed',
    direction: 'inbound',
    duration: '12',
    timestamp: '2026-12-01T10:00:30.000Z',
    ...overrides,
  });
}

describe('reconcile requests', () => {
  it("are made from the call leg's completed event only", () => {
    expect(reconcileRequestFor(completed())).toEqual({
      version: 1,
      callUuid: CALL,
      conversationUuid: CONVERSATION,
      completedAt: '2026-12-01T10:00:30.000Z',
      check: 'first',
    });
    // The websocket leg's `to` is the recorder's URI: its call leg's completed comes after.
    const websocketLeg = completed({
      uuid: 'bbbbbbbb-0000-4000-8000-00000000000b',
      to: `wss://recorder.example.com/calls/${CALL}?token=x`,
      direction: 'outbound',
    });
    expect(reconcileRequestFor(websocketLeg)).toBeUndefined();
    expect(reconcileRequestFor(completed({ status: 'answered' }))).toBeUndefined();
  });

  it('round-trip through a message body, and a body that is not one is refused by name', () => {
    const request = reconcileRequestFor(completed());
    expect(parseReconcileRequest(JSON.stringify(request))).toEqual(request);
    const bad = (body: string) => () => parseReconcileRequest(body);
    expect(bad('not json')).toThrow(ReconcileRequestError);
    expect(bad(JSON.stringify({ ...request, version: 2 }))).toThrow('not a version 1 object');
    expect(bad(JSON.stringify({ ...request, callUuid: '../x' }))).toThrow('valid callUuid');
    expect(bad(JSON.stringify({ ...request, completedAt: 'yesterday' }))).toThrow('not a date');
    expect(bad(JSON.stringify({ ...request, check: 'third' }))).toThrow('"first" or "final"');
  });
});

describe('reconcileBatch', () => {
  it('reports only the messages that failed: a body that is not a request, and a check that threw', async () => {
    const request = reconcileRequestFor(completed());
    const seen: string[] = [];
    const reconcile = async (r: ReconcileRequest) => {
      seen.push(r.callUuid);
      if (r.check === 'final') throw new Error('S3 unavailable');
      return {} as Awaited<ReturnType<Reconciler>>;
    };
    const errors: string[] = [];
    const logger = { info: () => {}, warn: () => {}, error: (message: string) => errors.push(message) };
    const record = (messageId: string, body: string) => ({ messageId, body }) as SQSRecord;
    const result = await reconcileBatch(
      {
        Records: [
          record('m1', JSON.stringify(request)),
          record('m2', 'garbage'),
          record('m3', JSON.stringify({ ...request, check: 'final' })),
        ],
      },
      reconcile,
      logger,
    );
    expect(result).toEqual({ batchItemFailures: [{ itemIdentifier: 'm2' }, { itemIdentifier: 'm3' }] });
    expect(seen).toEqual([CALL, CALL]);
    expect(errors).toEqual(['not a reconcile request', 'reconciling a call failed']);
  });
});
