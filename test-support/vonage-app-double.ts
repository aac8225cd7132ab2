import { once } from 'node:events';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { type RawData, WebSocketServer } from 'ws';

/** One websocket message as the application's server received it. */
export type ReceivedFrame = { binary: true; data: Buffer } | { binary: false; text: string };

export interface ReceivedRequest {
  readonly method: string;
  readonly url: URL;
  readonly headers: IncomingMessage['headers'];
  readonly body: string;
}

/** Everything a websocket connection to the application saw. */
export interface ReceivedSocket {
  readonly path: string;
  readonly headers: IncomingMessage['headers'];
  readonly frames: ReceivedFrame[];
  readonly closed: Promise<{ code: number; reason: string }>;
}

/**
 * A tiny stand-in for a Vonage Voice application (not the project's own): answers with an NCCO
 * the test chooses, records every webhook, and accepts or refuses websocket upgrades. It lets the
 * simulator be tested on the wire without the rest of the system.
 */
export interface FakeApplication {
  readonly answerUrl: string;
  readonly eventUrl: string;
  /** ws://127.0.0.1:<port> */
  readonly websocketBase: string;
  readonly answers: ReceivedRequest[];
  readonly events: ReceivedRequest[];
  readonly sockets: ReceivedSocket[];
  close(): Promise<void>;
}

export interface FakeApplicationOptions {
  /** The answer response; by default a valid NCCO pointing at this server's websocket. */
  readonly answer?: (request: ReceivedRequest, websocketBase: string) => { status: number; body: string };
  /** Refuse websocket upgrades with this HTTP status. */
  readonly refuseUpgradeWith?: number;
  /** Status for event webhooks. @default 200 */
  readonly eventStatus?: number;
  /** Close each websocket from the server side after this many binary frames, with this code. */
  readonly closeAfterFrames?: { frames: number; code: number };
}

export function validNcco(
  websocketBase: string,
  rate = 16000,
  headers: Record<string, unknown> = {},
): string {
  return JSON.stringify([
    { action: 'talk', text: 'This call is recorded.' },
    {
      action: 'connect',
      endpoint: [
        {
          type: 'websocket',
          uri: `${websocketBase}/calls/abc?token=t0ken`,
          'content-type': `audio/l16;rate=${rate}`,
          headers,
        },
      ],
    },
  ]);
}

async function readBody(request: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of request) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

export async function startFakeApplication(options: FakeApplicationOptions = {}): Promise<FakeApplication> {
  const answers: ReceivedRequest[] = [];
  const events: ReceivedRequest[] = [];
  const sockets: ReceivedSocket[] = [];
  let websocketBase = '';
  const server: Server = createServer(async (request: IncomingMessage, response: ServerResponse) => {
    const url = new URL(request.url ?? '/', 'http://127.0.0.1');
    const received = {
      method: request.method ?? '',
      url,
      headers: request.headers,
      body: await readBody(request),
    };
    if (url.pathname === '/answer') {
      answers.push(received);
      const { status, body } = options.answer?.(received, websocketBase) ?? {
        status: 200,
        body: validNcco(websocketBase),
      };
      response.writeHead(status, { 'content-type': 'application/json' }).end(body);
    } else if (url.pathname === '/event') {
      events.push(received);
      response.writeHead(options.eventStatus ?? 200).end();
    } else {
      response.writeHead(404).end();
    }
  });
  const wss = new WebSocketServer({ noServer: true });
  server.on('upgrade', (request, socket, head) => {
    if (options.refuseUpgradeWith) {
      socket.end(
        `HTTP/1.1 ${options.refuseUpgradeWith} Refused\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`,
      );
      return;
    }
    wss.handleUpgrade(request, socket, head, (ws) => {
      const frames: ReceivedFrame[] = [];
      const closed = once(ws, 'close').then(([code, reason]) => ({
        code: code as number,
        reason: String(reason),
      }));
      sockets.push({ path: request.url ?? '', headers: request.headers, frames, closed });
      let binaryFrames = 0;
      ws.on('message', (data: RawData, isBinary: boolean) => {
        if (isBinary) {
          frames.push({ binary: true, data: Buffer.from(data as Buffer) });
          binaryFrames += 1;
          if (options.closeAfterFrames && binaryFrames === options.closeAfterFrames.frames) {
            ws.close(options.closeAfterFrames.code, 'server hung up');
          }
        } else {
          frames.push({ binary: false, text: data.toString() });
        }
      });
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  websocketBase = `ws://127.0.0.1:${port}`;
  return {
    answerUrl: `http://127.0.0.1:${port}/answer`,
    eventUrl: `http://127.0.0.1:${port}/event`,
    websocketBase,
    answers,
    events,
    sockets,
    async close() {
      for (const client of wss.clients) client.terminate();
      wss.close();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
