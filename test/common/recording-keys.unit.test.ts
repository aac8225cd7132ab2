import { describe, expect, it } from 'vitest';
import { eventKey, metadataKey, parseRecordingKey, recordingKey } from '../../common/recording-keys.js';

describe('key layout', () => {
  const started = new Date('2026-03-09T23:59:59.500Z');

  it('puts a recording and its metadata side by side under the UTC start date', () => {
    expect(recordingKey('call-1', started)).toBe('recordings/2026/03/09/call-1.wav');
    expect(metadataKey('call-1', started)).toBe('recordings/2026/03/09/call-1.json');
    expect(parseRecordingKey('recordings/2026/03/09/call-1.wav')).toEqual({
      callUuid: 'call-1',
      date: '2026/03/09',
      kind: 'wav',
    });
    expect(parseRecordingKey('events/2026/03/09/x.json')).toBeUndefined();
  });

  it('refuses a uuid that could climb out of its prefix', () => {
    expect(() => recordingKey('../etc', started)).toThrow(/call uuid/);
  });

  it('groups a conversation’s events and gives a duplicate delivery the same key', () => {
    const event = {
      conversationUuid: 'CON-1',
      legUuid: 'leg-1',
      status: 'answered',
      timestamp: new Date('2026-03-09T10:00:00.123Z'),
    };
    expect(eventKey(event)).toBe('events/2026/03/09/CON-1/2026-03-09T10-00-00.123Z_leg-1_answered.json');
    expect(eventKey({ ...event })).toBe(eventKey(event));
  });
});
