import { PutObjectCommand } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ReconcileQueue, ReconcileRequest } from '../../../common/reconcile-requests.js';
import { MemoryEventSink } from '../../../common/recording-event-sinks.js';
import { createReconciler, type ReconcilerMetrics } from '../../../lambdas/reconciler/reconcile.js';
import { type LocalS3, startLocalS3 } from '../../../test-support/local-s3.js';
import {
  callEvents,
  type FixtureCall,
  putEvent,
  putJson,
  putRecording,
} from '../../../test-support/recording-fixtures.js';

const RATE = 16000;
const SCHEDULE = { firstCheckSeconds: 900, finalCheckSeconds: 1860 };

let s3: LocalS3;
let serial = 0;

beforeAll(async () => {
  s3 = await startLocalS3();
});
afterAll(async () => {
  await s3?.close();
});

function call(seconds: number): FixtureCall {
  serial += 1;
  const suffix = String(serial).padStart(12, '0');
  return {
    uuid: `cafe0000-0000-4000-8000-${suffix}`,
    conversationUuid: `CON-cafe0000-0000-4000-8000-${suffix}`,
    from: '447700900001',
    to: '447700900000',
    // Just before midnight: the call's completed events fall on the next day's folder.
    startedAt: new Date('2026-11-30T23:59:50.000Z'),
    sampleRate: RATE,
    pcm: Buffer.alloc(RATE * 2 * seconds, 3),
  };
}

/** Stores the call's events (websocket leg of `websocketSeconds`); returns the reconcile request. */
async function storeEvents(fixture: FixtureCall, websocketSeconds: number): Promise<ReconcileRequest> {
  const events = callEvents(fixture, {
    websocketUuid: `ws-${fixture.uuid}`,
    websocketSeconds,
    callSeconds: websocketSeconds + 3,
  });
  for (const event of events) await putEvent(s3.client, s3.bucket, event);
  const completed = events.at(-1) as Record<string, string>;
  return {
    version: 1,
    callUuid: fixture.uuid,
    conversationUuid: fixture.conversationUuid,
    completedAt: completed.timestamp as string,
    check: 'first',
  };
}

/** The queue as the reconciler sees it: what it sent back, and after how long. */
function recordingQueue(): ReconcileQueue & { sent: { request: ReconcileRequest; delaySeconds: number }[] } {
  const sent: { request: ReconcileRequest; delaySeconds: number }[] = [];
  return {
    sent,
    async send(request, delaySeconds) {
      sent.push({ request, delaySeconds });
    },
  };
}

/** Metrics as the reconciler adds them: each name, in order. */
function countInto(names: string[]): ReconcilerMetrics {
  return {
    addMetric: ((name: string) => {
      names.push(name);
    }) as unknown as ReconcilerMetrics['addMetric'],
  };
}

function reconcilerAt(now: Date) {
  const sink = new MemoryEventSink();
  const queue = recordingQueue();
  const metrics: string[] = [];
  const reconcile = createReconciler({
    s3: s3.client,
    bucket: s3.bucket,
    sink,
    queue,
    schedule: SCHEDULE,
    now: () => now,
    metrics: countInto(metrics),
  });
  return { reconcile, sink, queue, metrics };
}

const secondsAfter = (request: ReconcileRequest, seconds: number) =>
  new Date(new Date(request.completedAt).getTime() + seconds * 1000);

describe('the reconciler against a real S3 API', () => {
  it('finds a recording across midnight, intact and as long as its websocket leg: nothing to report', async () => {
    const fixture = call(20);
    await putRecording(s3.client, s3.bucket, fixture);
    const request = await storeEvents(fixture, 20);
    const { reconcile, sink, queue, metrics } = reconcilerAt(secondsAfter(request, 900));
    const { decision } = await reconcile(request);
    expect(decision).toMatchObject({ kind: 'ok', outcome: 'stored' });
    expect(sink.events).toEqual([]);
    expect(queue.sent).toEqual([]);
    expect(metrics).toEqual([]);
  });

  it('sends an early request back for the rest of its wait, and an absent recording to its final check', async () => {
    const fixture = call(5);
    const request = await storeEvents(fixture, 5);
    const early = reconcilerAt(secondsAfter(request, 300));
    await early.reconcile(request);
    expect(early.queue.sent).toEqual([{ request, delaySeconds: 600 }]);

    const first = reconcilerAt(secondsAfter(request, 900));
    await first.reconcile(request);
    expect(first.queue.sent).toEqual([{ request: { ...request, check: 'final' }, delaySeconds: 960 }]);
    expect(first.sink.events).toEqual([]);

    const final = reconcilerAt(secondsAfter(request, 1860));
    await final.reconcile({ ...request, check: 'final' });
    expect(final.sink.events).toHaveLength(1);
    expect(final.sink.events[0]).toMatchObject({
      kind: 'missing',
      detail: {
        uuid: fixture.uuid,
        reason: 'not-stored',
        expectedKey: `recordings/2026/11/30/${fixture.uuid}.wav`,
        vonageDurationSeconds: 8,
      },
    });
    expect(final.metrics).toEqual(['RecordingsMissing']);
  });

  it('reports a WAV that no longer matches its SHA-256 as missing, damaged, at once', async () => {
    const fixture = call(3);
    const stored = await putRecording(s3.client, s3.bucket, fixture);
    const corrupt = Buffer.from(stored.wav);
    corrupt[100] = (corrupt[100] as number) ^ 0xff;
    await s3.client.send(new PutObjectCommand({ Bucket: s3.bucket, Key: stored.wavKey, Body: corrupt }));
    const request = await storeEvents(fixture, 3);
    const { reconcile, sink, metrics } = reconcilerAt(secondsAfter(request, 900));
    await reconcile(request);
    expect(sink.events[0]).toMatchObject({
      kind: 'missing',
      detail: {
        reason: 'damaged',
        expectedKey: stored.wavKey,
        problem: expect.stringContaining('hashes to'),
      },
    });
    expect(metrics).toEqual(['RecordingsMissing']);
  });

  it('accepts a recovered recording short by the crash-loss bound, and reports one short by more', async () => {
    const recovered = async (websocketSeconds: number) => {
      const fixture = call(10);
      const stored = await putRecording(s3.client, s3.bucket, fixture);
      await putJson(s3.client, s3.bucket, stored.metadataKey, {
        ...stored.metadata,
        interrupted: true,
        end: { code: 1006, reason: '', by: 'recovered' },
      });
      return { fixture, request: await storeEvents(fixture, websocketSeconds) };
    };
    const within = await recovered(21);
    const beyond = await recovered(22);
    const first = reconcilerAt(secondsAfter(within.request, 900));
    expect((await first.reconcile(within.request)).decision).toMatchObject({
      kind: 'ok',
      outcome: 'recovered',
    });
    const second = reconcilerAt(secondsAfter(beyond.request, 900));
    await second.reconcile(beyond.request);
    expect(second.sink.events[0]).toMatchObject({
      kind: 'durationMismatch',
      detail: {
        eventId: `durationMismatch:${beyond.fixture.uuid}`,
        durationSeconds: 10,
        vonageDurationSeconds: 22,
        toleranceSeconds: 11,
      },
    });
    expect(second.metrics).toEqual(['RecordingDurationMismatches']);
  });

  it('counts an event the bus refused, and fails the check so the queue delivers it again', async () => {
    const fixture = call(2);
    const request = await storeEvents(fixture, 2);
    const failing = {
      put: async () => {
        throw new Error('EventBridge unavailable');
      },
    };
    const metrics: string[] = [];
    const reconcile = createReconciler({
      s3: s3.client,
      bucket: s3.bucket,
      sink: failing,
      queue: recordingQueue(),
      schedule: SCHEDULE,
      now: () => secondsAfter(request, 1860),
      metrics: countInto(metrics),
    });
    await expect(reconcile({ ...request, check: 'final' })).rejects.toThrow('EventBridge unavailable');
    expect(metrics).toEqual(['RecordingEventsFailed']);
  });
});
