import { once } from 'node:events';
import {
  Agent,
  createServer,
  request as httpRequest,
  type IncomingMessage,
  type ServerResponse,
} from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

/**
 * A fault-injecting HTTP proxy for S3 traffic: put it between a recorder's S3 client and the local
 * S3 server (point the client's endpoint at `proxy.endpoint`) and it forwards every request,
 * except while a fault is set, when it answers the way a failing S3 or network does:
 *
 * - `error500` / `error503`: an S3 XML error (`InternalError` / `SlowDown`) without forwarding;
 * - `stall`: takes the request and never answers (until `stallMs`, if set, then forwards it late);
 * - `drop`: destroys the connection as soon as the request arrives (reset, no response);
 * - `lost-response`: forwards the request, lets S3 act on it, then destroys the connection instead
 *   of answering, so the client cannot know the request succeeded (the nastiest case for retries);
 * - `refuse`: destroys every new connection at once, like a host that is down.
 *
 * Faults can be set by hand (`setFault`) or on a timeline (`schedule`); a `probability` below 1
 * hits only that share of requests, and `match` limits a fault to some requests (by method/path).
 */

export type FaultKind = 'error500' | 'error503' | 'stall' | 'drop' | 'lost-response' | 'refuse';

export interface Fault {
  readonly kind: FaultKind;
  /** Share of matching requests that get the fault. @default 1 */
  readonly probability?: number;
  /** For `stall`: forward the request after this long. @default never (held until the client gives up) */
  readonly stallMs?: number;
  /** Only requests this returns true for get the fault. @default every request */
  readonly match?: (request: { method: string; url: string }) => boolean;
}

/** One step of a timeline: from `atMs` after `schedule()` for `durationMs`, this fault is set. */
export interface FaultStep {
  readonly atMs: number;
  readonly durationMs: number;
  readonly fault: Fault;
}

export interface FaultProxyStats {
  /** Requests received, forwarded untouched, and hit by each fault kind. */
  readonly received: number;
  readonly forwarded: number;
  readonly faulted: Readonly<Record<FaultKind, number>>;
}

export interface FaultProxy {
  /** e.g. `http://127.0.0.1:41234`: use as the S3 client's endpoint. */
  readonly endpoint: string;
  readonly port: number;
  /** Sets the fault for requests from now on; `undefined` heals. Held stalls stay held. */
  setFault(fault: Fault | undefined): void;
  /** Runs a timeline of faults; resolves when its last step has ended (and heals). */
  schedule(steps: readonly FaultStep[]): Promise<void>;
  /** Releases held stalls by destroying their connections, as a stalled peer eventually does. */
  releaseStalls(): void;
  stats(): FaultProxyStats;
  close(): Promise<void>;
}

export interface FaultProxyOptions {
  /** Where requests go, e.g. the local S3 endpoint `http://127.0.0.1:4569`. */
  readonly target: string;
  /** @default 0 (any free port) */
  readonly port?: number;
}

const S3_ERRORS: Record<'error500' | 'error503', { status: number; code: string; message: string }> = {
  error500: {
    status: 500,
    code: 'InternalError',
    message: 'We encountered an internal error. Please try again.',
  },
  error503: { status: 503, code: 'SlowDown', message: 'Please reduce your request rate.' },
};

/** Starts the proxy on 127.0.0.1. */
export async function startFaultProxy(options: FaultProxyOptions): Promise<FaultProxy> {
  const target = new URL(options.target);
  const agent = new Agent({ keepAlive: true });
  const sockets = new Set<Socket>();
  const stalled = new Set<IncomingMessage>();
  const faulted: Record<FaultKind, number> = {
    error500: 0,
    error503: 0,
    stall: 0,
    drop: 0,
    'lost-response': 0,
    refuse: 0,
  };
  let received = 0;
  let forwarded = 0;
  let fault: Fault | undefined;
  const timers = new Set<NodeJS.Timeout>();

  const forward = (request: IncomingMessage, response: ServerResponse, loseResponse: boolean): void => {
    const upstream = httpRequest(
      {
        host: target.hostname,
        port: target.port,
        method: request.method,
        path: request.url,
        headers: request.headers,
        agent,
      },
      (reply) => {
        if (loseResponse) {
          // S3 has acted on the request; the client never hears of it.
          reply.resume();
          reply.once('end', () => request.socket.destroy());
          return;
        }
        response.writeHead(reply.statusCode ?? 502, reply.headers);
        reply.pipe(response);
      },
    );
    upstream.on('error', () => request.socket.destroy());
    request.pipe(upstream);
  };

  const server = createServer((request, response) => {
    received += 1;
    const active = fault;
    const hit =
      active !== undefined &&
      (active.match?.({ method: request.method ?? 'GET', url: request.url ?? '/' }) ?? true) &&
      Math.random() < (active.probability ?? 1);
    if (!hit) {
      forwarded += 1;
      forward(request, response, false);
      return;
    }
    faulted[active.kind] += 1;
    switch (active.kind) {
      case 'error500':
      case 'error503': {
        const error = S3_ERRORS[active.kind];
        // Read the body first, as S3 does, so the client is not cut off mid-upload.
        request.resume();
        request.once('end', () => {
          const body = `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${error.code}</Code><Message>${error.message}</Message><RequestId>fault-proxy</RequestId></Error>`;
          response.writeHead(error.status, {
            'content-type': 'application/xml',
            'content-length': Buffer.byteLength(body),
          });
          response.end(body);
        });
        return;
      }
      case 'stall': {
        stalled.add(request);
        request.socket.once('close', () => stalled.delete(request));
        if (active.stallMs !== undefined) {
          const timer = setTimeout(() => {
            timers.delete(timer);
            stalled.delete(request);
            if (!request.socket.destroyed) forward(request, response, false);
          }, active.stallMs);
          timers.add(timer);
        } else {
          request.resume();
        }
        return;
      }
      case 'lost-response':
        forward(request, response, true);
        return;
      case 'drop':
      case 'refuse':
        request.socket.destroy();
        return;
    }
  });
  server.on('connection', (socket: Socket) => {
    if (fault?.kind === 'refuse' && Math.random() < (fault.probability ?? 1)) {
      faulted.refuse += 1;
      socket.destroy();
      return;
    }
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });
  server.listen(options.port ?? 0, '127.0.0.1');
  await once(server, 'listening');
  const port = (server.address() as AddressInfo).port;

  return {
    endpoint: `http://127.0.0.1:${port}`,
    port,
    setFault(next) {
      fault = next;
    },
    async schedule(steps) {
      const started = Date.now();
      const ordered = [...steps].sort((a, b) => a.atMs - b.atMs);
      const end = Math.max(0, ...ordered.map((step) => step.atMs + step.durationMs));
      for (const step of ordered) {
        const wait = step.atMs - (Date.now() - started);
        if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
        fault = step.fault;
        const timer = setTimeout(() => {
          timers.delete(timer);
          if (fault === step.fault) fault = undefined;
        }, step.durationMs);
        timers.add(timer);
      }
      const rest = end - (Date.now() - started);
      if (rest > 0) await new Promise((resolve) => setTimeout(resolve, rest));
      fault = undefined;
    },
    releaseStalls() {
      for (const request of stalled) request.socket.destroy();
      stalled.clear();
    },
    stats: () => ({ received, forwarded, faulted: { ...faulted } }),
    async close() {
      fault = undefined;
      for (const timer of timers) clearTimeout(timer);
      for (const socket of sockets) socket.destroy();
      agent.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
