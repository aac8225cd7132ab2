import { describe, expect, it } from 'vitest';
import { parseConnectedFrame, parseTextEvent } from '../src/protocol.js';

describe('parseConnectedFrame', () => {
  it('reads the rate, the call fields and keeps other headers', () => {
    const result = parseConnectedFrame(
      JSON.stringify({
        event: 'websocket:connected',
        'content-type': 'audio/l16;rate=24000',
        uuid: 'abc-1',
        conversation_uuid: 'CON-1',
        from: '447700900001',
        to: 447700900002,
        team: 'sales',
      }),
    );
    expect(result).toEqual({
      ok: true,
      frame: {
        sampleRate: 24000,
        contentType: 'audio/l16;rate=24000',
        uuid: 'abc-1',
        conversationUuid: 'CON-1',
        from: '447700900001',
        to: '447700900002',
        headers: { team: 'sales' },
      },
    });
  });

  it('gives null for absent call fields', () => {
    const result = parseConnectedFrame(
      '{"event":"websocket:connected","content-type":"audio/l16;rate=8000"}',
    );
    expect(result).toMatchObject({
      ok: true,
      frame: { sampleRate: 8000, uuid: null, from: null, to: null, headers: {} },
    });
  });

  it.each([
    ['', 'not-json'],
    ['[1,2]', 'not-json'],
    ['"websocket:connected"', 'not-json'],
    ['{"event":"websocket:dtmf"}', 'not-connected-event'],
    ['{"content-type":"audio/l16;rate=16000"}', 'not-connected-event'],
    ['{"event":"websocket:connected"}', 'unsupported-content-type'],
    ['{"event":"websocket:connected","content-type":"audio/l16;rate=11025"}', 'unsupported-content-type'],
    ['{"event":"websocket:connected","content-type":"audio/pcmu;rate=8000"}', 'unsupported-content-type'],
  ])('refuses %j as %s', (text, problem) => {
    const result = parseConnectedFrame(text);
    expect(result).toMatchObject({ ok: false, problem });
    if (!result.ok) expect(result.detail.length).toBeGreaterThan(0);
  });
});

describe('parseTextEvent', () => {
  it('keeps JSON objects as they are and anything else as raw text', () => {
    expect(parseTextEvent('{"event":"websocket:dtmf","digit":"#","duration":100}')).toEqual({
      event: 'websocket:dtmf',
      digit: '#',
      duration: 100,
    });
    expect(parseTextEvent('ping')).toEqual({ raw: 'ping' });
    expect(parseTextEvent('[1]')).toEqual({ raw: '[1]' });
  });
});
