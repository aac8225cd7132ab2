import { describe, expect, it } from 'vitest';
import { wavDigestOf } from '../../../common/recording-digest.js';
import type { RecordingMetadata } from '../../../common/recording-metadata.js';
import type { StoredCallEvent } from '../../../common/vonage-call-events.js';
import {
  DEFAULT_RECONCILE_SCHEDULE,
  decideReconciliation,
  finalCheckSeconds,
  type ReconcileInput,
  type StoredRecording,
} from '../../../lambdas/reconciler/decision.js';
import {
  buildMetadata,
  buildWav,
  callEvents,
  type FixtureCall,
} from '../../../test-support/recording-fixtures.js';

const RATE = 16000;
const call: FixtureCall = {
  uuid: 'aaaaaaaa-0000-4000-8000-00000000000a',
  conversationUuid: 'CON-aaaaaaaa-0000-4000-8000-00000000000a',
  from: '447700900001',
  to: '447700900000',
  startedAt: new Date('2026-12-01T10:00:03.000Z'),
  sampleRate: RATE,
  pcm: Buffer.alloc(RATE * 2 * 20, 1),
};
const WEBSOCKET_UUID = 'bbbbbbbb-0000-4000-8000-00000000000b';

function stored(events: Record<string, string>[]): StoredCallEvent[] {
  return events.map((event, index) => ({ key: `events/${index}.json`, event }));
}

/** A recording of `seconds` of audio, as the recorder stores it; `end` overrides how it ended. */
function recording(seconds: number, end?: Pick<RecordingMetadata, 'end' | 'interrupted'>): StoredRecording {
  const wav = buildWav(Buffer.alloc(RATE * 2 * seconds, 1), RATE);
  const metadata = { ...buildMetadata(call, wav), ...end };
  return {
    wavKey: metadata.recordingKey,
    metadata: { ok: true, metadata },
    wav: wavDigestOf(wav),
  };
}

/** Vonage's events for a call whose websocket leg lasted `websocketSeconds`. */
function events(websocketSeconds: number): StoredCallEvent[] {
  return stored(
    callEvents(call, { websocketUuid: WEBSOCKET_UUID, websocketSeconds, callSeconds: websocketSeconds + 3 }),
  );
}

/** A call answered by Vonage whose websocket never reached the recorder: only the call leg's events. */
const neverConnected = stored(
  callEvents(call, { websocketUuid: WEBSOCKET_UUID, websocketSeconds: 0, callSeconds: 4 }).filter(
    (event) => event.uuid === call.uuid,
  ),
);

const completedAt = new Date('2026-12-01T10:00:30.000Z');
const at = (seconds: number) => new Date(completedAt.getTime() + seconds * 1000);
const FIRST = DEFAULT_RECONCILE_SCHEDULE.firstCheckSeconds;
const FINAL = DEFAULT_RECONCILE_SCHEDULE.finalCheckSeconds;

function decide(input: Partial<ReconcileInput>) {
  return decideReconciliation({
    callUuid: call.uuid,
    events: events(20),
    recording: null,
    check: 'first',
    completedAt,
    now: at(FIRST),
    schedule: DEFAULT_RECONCILE_SCHEDULE,
    ...input,
  }).decision;
}

describe('decideReconciliation', () => {
  it('a stored recording whose length matches the websocket leg is ok, with nothing to report', () => {
    expect(decide({ recording: recording(20) })).toMatchObject({ kind: 'ok', outcome: 'stored' });
  });

  it('a message that arrives before its time is held until then', () => {
    expect(decide({ now: at(FIRST - 60) })).toEqual({
      kind: 'check-again',
      check: 'first',
      at: at(FIRST),
      detail: 'not due yet',
    });
  });

  it('no recording at the first check: late, so it is checked again after the recovery window', () => {
    expect(decide({})).toMatchObject({ kind: 'check-again', check: 'final', at: at(FINAL) });
    expect(decide({ events: neverConnected })).toMatchObject({ kind: 'check-again', check: 'final' });
  });

  it('a recording that arrived by the final check (recovered late) is ok', () => {
    const recovered = recording(15, { end: { code: 1006, reason: '', by: 'recovered' }, interrupted: true });
    expect(decide({ check: 'final', now: at(FINAL), recording: recovered })).toMatchObject({
      kind: 'ok',
      outcome: 'recovered',
    });
  });

  it('answered but never connected to the recorder: missing at the final check', () => {
    expect(decide({ events: neverConnected, check: 'final', now: at(FINAL) })).toMatchObject({
      kind: 'missing',
      reason: 'never-connected',
    });
  });

  it('connected but nothing stored by the final check: missing, not stored', () => {
    expect(decide({ check: 'final', now: at(FINAL) })).toMatchObject({
      kind: 'missing',
      reason: 'not-stored',
    });
  });

  it('a WAV without its metadata at the final check is missing as damaged; at the first, it waits', () => {
    const half = { ...recording(20), metadata: null };
    expect(decide({ recording: half })).toMatchObject({ kind: 'check-again', check: 'final' });
    expect(decide({ recording: half, check: 'final', now: at(FINAL) })).toMatchObject({
      kind: 'missing',
      reason: 'damaged',
      detail: 'a WAV without its metadata',
    });
  });

  it('a stored WAV whose hash differs from its metadata is reported at once as damaged', () => {
    const good = recording(20);
    const corrupt = {
      ...good,
      wav: { ...(good.wav as NonNullable<StoredRecording['wav']>), audioSha256: '0'.repeat(64) },
    };
    expect(decide({ recording: corrupt })).toMatchObject({ kind: 'missing', reason: 'damaged' });
  });

  it('a call Vonage never answered has nothing to record', () => {
    const rejected = stored([
      {
        uuid: call.uuid,
        conversation_uuid: call.conversationUuid,
        status: 'started',
        timestamp: '2026-12-01T10:00:00Z',
      },
      {
        uuid: call.uuid,
        conversation_uuid: call.conversationUuid,
        status: 'rejected',
        timestamp: '2026-12-01T10:00:01Z',
      },
    ]);
    expect(decide({ events: rejected })).toMatchObject({ kind: 'ok', outcome: 'not-answered' });
  });

  it('a recording 5 s shorter than the websocket leg is a duration mismatch, reported at the first check', () => {
    const decision = decide({ events: events(25), recording: recording(20) });
    expect(decision).toMatchObject({ kind: 'mismatch', vonageSeconds: 25, toleranceSeconds: 1 });
  });

  it('a recording longer than the websocket leg by more than 1 s is a mismatch too', () => {
    expect(decide({ events: events(18), recording: recording(20) })).toMatchObject({
      kind: 'mismatch',
      vonageSeconds: 18,
    });
  });

  it('an interrupted recording (drain) as long as its websocket leg is ok within the 1 s bound', () => {
    const drained = recording(20, {
      end: { code: 1001, reason: 'draining', by: 'drain' },
      interrupted: true,
    });
    expect(decide({ events: events(21), recording: drained })).toMatchObject({
      kind: 'ok',
      outcome: 'interrupted',
    });
    expect(decide({ events: events(22), recording: drained })).toMatchObject({ kind: 'mismatch' });
  });

  it('a recovered recording may lack up to the crash-loss bound (CHECKPOINT_SECONDS), no more', () => {
    const recovered = recording(20, { end: { code: 1006, reason: '', by: 'recovered' }, interrupted: true });
    expect(decide({ events: events(31), recording: recovered })).toMatchObject({
      kind: 'ok',
      outcome: 'recovered',
    });
    expect(decide({ events: events(32), recording: recovered })).toMatchObject({
      kind: 'mismatch',
      toleranceSeconds: 11,
    });
    expect(decide({ events: events(25), recording: recovered, crashLossBoundSeconds: 2 })).toMatchObject({
      kind: 'mismatch',
      toleranceSeconds: 3,
    });
  });

  it('the final check waits for a crashed task to be swept: stale time, one sweep interval, the upload deadline', () => {
    expect(finalCheckSeconds(60)).toBe(FINAL);
    expect(finalCheckSeconds(400)).toBe(900 + 400 + 400 + 600);
  });
});
