import { describe, expect, it } from 'vitest';
import type { RecordingMetadata } from '../../common/recording-metadata.js';
import { buildMetadata, buildWav, callEvents } from '../../test-support/recording-fixtures.js';
import type { StoredCallEvent } from '../../tools/cli/recording-store.js';
import { buildCallTrail } from '../../tools/console/call-trail.js';
import { ConsoleRequestError, decodeCursor, encodeCursor } from '../../tools/console/recording-index.js';
import { computePeaks } from '../../tools/console/waveform.js';

const call = {
  uuid: 'aaaaaaaa-1111-4111-8111-000000000001',
  conversationUuid: 'CON-aaaaaaaa-0000-4000-8000-000000000001',
  from: '447700900001',
  to: '442071838750',
  startedAt: new Date('2026-11-26T10:00:00.000Z'),
  sampleRate: 16000 as const,
  pcm: Buffer.alloc(16000 * 2 * 4),
};
const metadata: RecordingMetadata = buildMetadata(call, buildWav(call.pcm, 16000));
const stored = (events: Record<string, string>[]): StoredCallEvent[] =>
  events.map((event, index) => ({ key: `events/${index}.json`, event }));

describe('buildCallTrail', () => {
  it('orders both legs by time and finds nothing amiss when Vonage and the recording agree', () => {
    const events = callEvents(call, { websocketUuid: 'ws-1', websocketSeconds: 4, callSeconds: 7 });
    const trail = buildCallTrail(metadata, stored([...events].reverse()));
    expect(trail.findings).toEqual([]);
    const times = trail.events.map((event) => event.timestamp ?? '');
    expect(times).toEqual([...times].sort());
    expect(new Set(trail.events.map((event) => event.leg))).toEqual(new Set(['call', 'websocket']));
  });

  it("flags Vonage's websocket duration disagreeing with the recording, on the completed event", () => {
    const events = callEvents(call, { websocketUuid: 'ws-1', websocketSeconds: 9, callSeconds: 12 });
    const trail = buildCallTrail(metadata, stored(events));
    expect(trail.findings).toContainEqual({
      kind: 'disagreement',
      message: 'duration: recorded 4.0 s, Vonage websocket leg 9 s',
    });
    const completed = trail.events.find((event) => event.leg === 'websocket' && event.status === 'completed');
    expect(completed?.notes.join()).toMatch(/duration disagrees/);
  });

  it('names the events that are missing', () => {
    const events = callEvents(call, { websocketUuid: 'ws-1', websocketSeconds: 4, callSeconds: 7 }).filter(
      (event) => !(event.uuid === call.uuid && event.status === 'completed'),
    );
    const trail = buildCallTrail(metadata, stored(events));
    expect(trail.findings).toEqual([{ kind: 'gap', message: 'no "completed" event from the call leg' }]);
    expect(buildCallTrail(metadata, []).findings[0]?.message).toMatch(/no Vonage events stored/);
  });

  it('flags a caller number that differs from the recording', () => {
    const events = callEvents(call, { websocketUuid: 'ws-1', websocketSeconds: 4, callSeconds: 7 }).map(
      (event) => (event.uuid === call.uuid ? { ...event, from: '447700900999' } : event),
    );
    const trail = buildCallTrail(metadata, stored(events));
    expect(
      trail.findings.some((finding) =>
        /says from 447700900999, the recording 447700900001/.test(finding.message),
      ),
    ).toBe(true);
  });
});

describe('computePeaks', () => {
  it('finds the loudest sample of each slice, even when samples are split across chunks', async () => {
    const samples = [0, 100, -32768, 16384, 0, 0, 8192, -8192];
    const pcm = Buffer.alloc(samples.length * 2);
    for (const [index, value] of samples.entries()) pcm.writeInt16LE(value, index * 2);
    const wav = buildWav(pcm, 16000);
    // Odd-sized chunks split the header and samples at awkward places.
    const chunks = [wav.subarray(0, 43), wav.subarray(43, 46), wav.subarray(46, 51), wav.subarray(51)];
    async function* body() {
      yield* chunks;
    }
    expect(await computePeaks(body(), wav.length, 4)).toEqual([0.003, 1, 0, 0.25]);
  });
});

describe('page cursors', () => {
  it('round-trip, and a forged one is refused with a clear message', () => {
    expect(decodeCursor(encodeCursor({ day: '2026-11-26', index: 7 }))).toEqual({
      day: '2026-11-26',
      index: 7,
    });
    expect(() => decodeCursor('garbage')).toThrow(ConsoleRequestError);
    expect(() => decodeCursor(Buffer.from('["../x", -1]').toString('base64url'))).toThrow(
      /not one this console/,
    );
  });
});
