import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { WebSocketServer } from 'ws';
import { runLeanLoad } from '../../bench/lib/lean-load-generator.js';
import { expectedPcm } from '../../bench/lib/load-generator.js';

const SECRET = 'a'.repeat(64);
const FRAME = 640;
// 50 frames of distinct bytes, so a frame out of place or out of order shows.
const pcm = Buffer.from(Array.from({ length: FRAME * 50 }, (_, i) => (i * 7 + (i >> 9)) % 251));

/** A real ws server that keeps, per call path, the text and binary messages it parsed. */
async function recordingServer() {
  const wss = new WebSocketServer({ port: 0, host: '127.0.0.1', perMessageDeflate: false });
  await once(wss, 'listening');
  const calls = new Map<string, { text: string[]; audio: Buffer[]; closeCode?: number }>();
  wss.on('connection', (ws, request) => {
    const call = { text: [] as string[], audio: [] as Buffer[] } as {
      text: string[];
      audio: Buffer[];
      closeCode?: number;
    };
    calls.set(request.url ?? '', call);
    ws.on('message', (data, isBinary) => {
      if (isBinary) call.audio.push(Buffer.from(data as Buffer));
      else call.text.push(String(data));
    });
    ws.on('close', (code) => {
      call.closeCode = code;
    });
  });
  return { wss, calls, url: `ws://127.0.0.1:${(wss.address() as AddressInfo).port}` };
}

let server: Awaited<ReturnType<typeof recordingServer>> | undefined;
afterEach(async () => {
  server?.wss.close();
  server = undefined;
});

describe('lean load generator against a real ws server', () => {
  it.each([1, 3])(
    'sends every call its own audio in real time, %i frame(s) per write, and hangs up with 1000',
    async (framesPerWrite) => {
      server = await recordingServer();
      const started = performance.now();
      const result = await runLeanLoad({
        url: server.url,
        secret: SECRET,
        calls: 3,
        seconds: 1,
        rampMs: 50,
        pcm,
        framesPerWrite,
        pingIntervalMs: 200,
        watchPids: { self: process.pid },
      });
      const elapsedMs = performance.now() - started;
      expect(result.framesPerWrite).toBe(framesPerWrite);
      // 50 frames of 20 ms each: about a second, not sent all at once.
      expect(elapsedMs).toBeGreaterThan(950);
      for (const call of result.calls) {
        expect(call.error).toBeUndefined();
        expect(call.framesSent).toBe(50);
        expect(call.framesAcknowledged).toBe(50);
        expect(call.closedBy).toBe('client');
        expect(call.closeCode).toBe(1000);
        const seen = [...server.calls.entries()].find(([path]) =>
          path.startsWith(`/calls/${call.uuid}?token=`),
        );
        expect(seen).toBeDefined();
        const [, received] = seen as [string, { text: string[]; audio: Buffer[]; closeCode?: number }];
        expect(JSON.parse(received.text[0] as string)).toMatchObject({
          event: 'websocket:connected',
          'content-type': 'audio/l16;rate=16000',
        });
        expect(received.audio.every((frame) => frame.length === FRAME)).toBe(true);
        expect(Buffer.concat(received.audio)).toEqual(expectedPcm(pcm, call.pcmOffset, call.bytesSent));
        expect(received.closeCode).toBe(1000);
      }
      // The streaming window: every call open, read off the watched processes' CPU.
      expect(result.window?.seconds).toBeGreaterThan(0.5);
      expect(result.window?.cpuSeconds).toHaveProperty('self');
      expect(result.window?.cpuSeconds).toHaveProperty('generator');
      expect(result.steadySenderLateness.frames).toBeGreaterThan(0);
      expect(result.steadyLagMs.length).toBeGreaterThan(0);
    },
  );

  it('reports a refused upgrade as the status the server answered', async () => {
    server = await recordingServer();
    server.wss.options.verifyClient = (_info: unknown, done: (ok: boolean, code?: number) => void) =>
      done(false, 401);
    const result = await runLeanLoad({
      url: server.url,
      secret: SECRET,
      calls: 1,
      seconds: 1,
      rampMs: 0,
      pcm,
    });
    expect(result.calls[0]).toMatchObject({ rejectedStatus: 401, framesSent: 0 });
    expect(result.window).toBeUndefined();
  });
});
