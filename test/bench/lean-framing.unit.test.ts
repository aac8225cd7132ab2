import { createRequire } from 'node:module';
import type { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import {
  closeFrame,
  FramedSource,
  pingFrame,
  ServerFrameReader,
  textFrame,
  upgradeRequest,
} from '../../bench/lib/lean-framing.js';

// ws's own parser and frame writer, as the servers under test run them (not in ws's typings).
const require = createRequire(import.meta.url);
type ReceiverLike = Writable & { on(event: string, listener: (...args: unknown[]) => void): ReceiverLike };
const Receiver = (require('ws') as { Receiver: unknown }).Receiver as new (options: {
  isServer: boolean;
  maxPayload?: number;
}) => ReceiverLike;
const Sender = (require('ws') as { Sender: unknown }).Sender as {
  frame(data: Buffer, options: Record<string, unknown>): Buffer[];
};

/** Feeds bytes to a server-side ws Receiver and collects what it parsed. */
function parseAsServer(bytes: Buffer): {
  messages: { data: Buffer; binary: boolean }[];
  pings: Buffer[];
  closes: [number, string][];
  errors: Error[];
} {
  const receiver = new Receiver({ isServer: true, maxPayload: 64 * 1024 });
  const out = {
    messages: [] as { data: Buffer; binary: boolean }[],
    pings: [] as Buffer[],
    closes: [] as [number, string][],
    errors: [] as Error[],
  };
  receiver.on('message', (data, binary) =>
    out.messages.push({ data: data as Buffer, binary: binary as boolean }),
  );
  receiver.on('ping', (data) => out.pings.push(data as Buffer));
  receiver.on('conclude', (code, reason) => out.closes.push([code as number, (reason as Buffer).toString()]));
  receiver.on('error', (error) => out.errors.push(error as Error));
  receiver.write(bytes);
  return out;
}

const pcm = Buffer.from(Array.from({ length: 640 * 5 }, (_, i) => (i * 37) % 256));
const frameOf = (index: number) => pcm.subarray((index % 5) * 640, (index % 5) * 640 + 640);

describe('lean generator framing, parsed by ws as a server parses it', () => {
  it('sends each frame masked, and ws unmasks it to the exact PCM', () => {
    const source = new FramedSource(pcm, 640, 1);
    const parsed = parseAsServer(Buffer.concat([0, 1, 4].map((i) => source.slice(i))));
    expect(parsed.errors).toEqual([]);
    expect(parsed.messages.map((m) => m.binary)).toEqual([true, true, true]);
    expect(parsed.messages.map((m) => m.data)).toEqual([frameOf(0), frameOf(1), frameOf(4)]);
    // Masked on the wire: the payload bytes differ from the PCM.
    expect(source.slice(0).subarray(8).equals(frameOf(0))).toBe(false);
  });

  it('puts several frames in one write, wrapping around the end of the loop', () => {
    const source = new FramedSource(pcm, 640, 3);
    const write = source.slice(4);
    expect(write.length).toBe(3 * (8 + 640));
    expect(parseAsServer(write).messages.map((m) => m.data)).toEqual([frameOf(4), frameOf(5), frameOf(6)]);
    expect(parseAsServer(source.slice(2, 2)).messages.map((m) => m.data)).toEqual([frameOf(2), frameOf(3)]);
  });

  it('frames text, ping and close as ws expects from a client', () => {
    const parsed = parseAsServer(
      Buffer.concat([
        textFrame('{"event":"websocket:connected"}'),
        pingFrame(Buffer.from('12345678')),
        closeFrame(1000, 'hangup'),
      ]),
    );
    expect(parsed.errors).toEqual([]);
    expect(parsed.messages[0]?.data.toString()).toBe('{"event":"websocket:connected"}');
    expect(parsed.messages[0]?.binary).toBe(false);
    expect(parsed.pings.map(String)).toEqual(['12345678']);
    expect(parsed.closes).toEqual([[1000, 'hangup']]);
  });

  it('refuses a source that is not whole frames, and a frame count below one', () => {
    expect(() => new FramedSource(pcm.subarray(1), 640, 1)).toThrow(/whole 640-byte frames/);
    expect(() => new FramedSource(pcm, 640, 0)).toThrow(/frames per write/);
  });

  it('computes the accept value of RFC 6455 §1.3 for its upgrade request', () => {
    const { request, accept } = upgradeRequest(
      '127.0.0.1:8080',
      '/calls/u?token=t',
      'dGhlIHNhbXBsZSBub25jZQ==',
    );
    expect(accept).toBe('s3pPLMBiTxaQ9kYGzzhZRbK+xOo=');
    expect(request.startsWith('GET /calls/u?token=t HTTP/1.1\r\n')).toBe(true);
    expect(request.endsWith('\r\n\r\n')).toBe(true);
  });
});

describe('ServerFrameReader', () => {
  const serverFrame = (opcode: number, data: Buffer) =>
    Buffer.concat(Sender.frame(data, { fin: true, opcode, mask: false, readOnly: false, rsv1: false }));

  it('finds pongs and the close frame in ws server frames split at any byte', () => {
    const close = Buffer.alloc(8);
    close.writeUInt16BE(4413, 0);
    close.write('max', 2);
    const stream = Buffer.concat([
      serverFrame(0xa, Buffer.from('abcdefgh')),
      serverFrame(0x2, Buffer.alloc(300)),
      serverFrame(0x8, close.subarray(0, 5)),
    ]);
    for (const split of [1, 2, 3, 10, 200, stream.length - 1]) {
      const reader = new ServerFrameReader();
      const frames = [...reader.push(stream.subarray(0, split)), ...reader.push(stream.subarray(split))];
      expect(frames).toEqual([
        { kind: 'pong', payload: Buffer.from('abcdefgh') },
        { kind: 'other' },
        { kind: 'close', code: 4413, reason: 'max' },
      ]);
    }
  });
});
