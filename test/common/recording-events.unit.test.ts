import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { JsonLinesEventSink } from '../../common/recording-event-sinks.js';
import { putEventsEntry, recordingEvent } from '../../common/recording-events.js';

const stored = recordingEvent(
  'stored',
  {
    uuid: 'aaaaaaaa-0000-4000-8000-000000000001',
    conversationUuid: 'CON-1',
    from: '447700900000',
    to: '447700900001',
    startedAt: '2026-12-01T10:00:00.000Z',
    bucket: 'recordings',
    recordingKey: 'recordings/2026/12/01/aaaaaaaa-0000-4000-8000-000000000001.wav',
    durationSeconds: 6.96,
    wavBytes: 222_764,
    sha256: 'ab'.repeat(32),
  },
  new Date('2026-12-01T10:00:08.000Z'),
);

describe('recording events', () => {
  it('become a PutEvents entry with the stable source, detail-type, version and fact id', () => {
    const entry = putEventsEntry(stored, 'default');
    expect(entry).toMatchObject({
      Source: 'call-recorder',
      DetailType: 'Recording Stored',
      EventBusName: 'default',
      Time: '2026-12-01T10:00:08.000Z',
    });
    expect(JSON.parse(entry.Detail)).toMatchObject({
      schemaVersion: 1,
      eventId: 'stored:aaaaaaaa-0000-4000-8000-000000000001',
      wavBytes: 222_764,
    });
  });

  it('are appended one JSON line each, as they would be put', async () => {
    const path = join(await mkdtemp(join(tmpdir(), 'events-')), 'nested', 'eventbridge.jsonl');
    const sink = new JsonLinesEventSink(path);
    await sink.put(stored);
    await sink.put(stored);
    const lines = (await readFile(path, 'utf8')).trimEnd().split('\n');
    expect(lines).toHaveLength(2);
    expect(JSON.parse(lines[0]!)).toEqual(putEventsEntry(stored, 'default'));
  });
});
