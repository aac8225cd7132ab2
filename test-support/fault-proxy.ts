import { once } from 'node:events';
import {
  Agent,
  createServer,
  request as httpRequest,
  type IncomingMessage,
  type ServerResponse,
} from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { HeadObjectCommand, type S3Client } from '@aws-sdk/client-s3';

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
 * - `refuse`: destroys every new connection at once, like a host that is down;
 * - `conflict409`: 409 ConditionalRequestConflict, S3's answer to a conditional write raced by
 *   another write to the key; a CompleteMultipartUpload so answered loses its upload (see below).
 *
 * Faults can be set by hand (`setFault`) or on a timeline (`schedule`); a `probability` below 1
 * hits only that share of requests, and `match` limits a fault to some requests (by method/path).
 *
 * With `conditionalWrites`, it also answers what s3rver ignores (and Ceph RGW ignores on
 * CompleteMultipartUpload): S3's conditional writes, as AWS documents them for PutObject and
 * CompleteMultipartUpload
 * (https://docs.aws.amazon.com/AmazonS3/latest/userguide/conditional-requests.html,
 * https://docs.aws.amazon.com/AmazonS3/latest/API/API_CompleteMultipartUpload.html, `If-None-Match`):
 *
 * - a write with `If-None-Match: *` onto a key that holds an object: 412 PreconditionFailed,
 *   nothing written;
 * - one that arrives while another conditional write to the same key is in flight: 409
 *   ConditionalRequestConflict. On a 409 to CompleteMultipartUpload AWS says to start the upload
 *   again (CreateMultipartUpload, every part re-uploaded): the double drops that upload, and any
 *   later request naming it gets 404 NoSuchUpload;
 * - AbortMultipartUpload (which s3rver lacks): 204, and the upload is gone likewise.
 */

export type FaultKind =
  | 'error500'
  | 'error503'
  | 'stall'
  | 'drop'
  | 'lost-response'
  | 'refuse'
  | 'conflict409';

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
  /**
   * Answer conditional writes as S3 does (see above). `s3` is a client of the target, with which
   * the proxy looks for the object at a key (HEAD) before it lets a conditional write through.
   * @default off: every request not faulted is forwarded as it is
   */
  readonly conditionalWrites?: { readonly s3: S3Client };
}

const S3_ERRORS: Record<'error500' | 'error503', { status: number; code: string; message: string }> = {
  error500: {
    status: 500,
    code: 'InternalError',
    message: 'We encountered an internal error. Please try again.',
  },
  error503: { status: 503, code: 'SlowDown', message: 'Please reduce your request rate.' },
};

const PRECONDITION_FAILED = {
  status: 412,
  code: 'PreconditionFailed',
  message: 'At least one of the pre-conditions you specified did not hold',
};
const CONDITIONAL_CONFLICT = {
  status: 409,
  code: 'ConditionalRequestConflict',
  message:
    'A conflicting conditional operation is currently in progress against this resource. Please try again.',
};
const NO_SUCH_UPLOAD = {
  status: 404,
  code: 'NoSuchUpload',
  message:
    'The specified upload does not exist. The upload ID may be invalid, or the upload may have been aborted or completed.',
};

/** What a path-style S3 request is, as far as conditional writes go. */
interface S3Request {
  /** `<bucket>/<key>`, or undefined for a bucket-level request. */
  readonly object: string | undefined;
  readonly bucket: string;
  readonly key: string;
  readonly uploadId: string | undefined;
  readonly kind: 'put-object' | 'complete-multipart' | 'abort-multipart' | 'other';
}

function parseS3Request(request: IncomingMessage): S3Request {
  const url = new URL(request.url ?? '/', 'http://proxy');
  const [, bucket = '', ...rest] = url.pathname.split('/');
  const key = rest.map((segment) => decodeURIComponent(segment)).join('/');
  const uploadId = url.searchParams.get('uploadId') ?? undefined;
  const method = request.method ?? 'GET';
  // The SDK names the operation in `x-id`; any other parameter is a subresource (uploadId, tagging…).
  const subresources = [...url.searchParams.keys()].filter((name) => name !== 'x-id');
  let kind: S3Request['kind'] = 'other';
  if (key && method === 'PUT' && subresources.length === 0 && !request.headers['x-amz-copy-source'])
    kind = 'put-object';
  else if (key && method === 'POST' && uploadId !== undefined) kind = 'complete-multipart';
  else if (key && method === 'DELETE' && uploadId !== undefined) kind = 'abort-multipart';
  return { object: key ? `${bucket}/${key}` : undefined, bucket, key, uploadId, kind };
}

/** Answers an S3 XML error once the request body is read, as S3 does (the client is not cut off mid-upload). */
function answerS3Error(
  request: IncomingMessage,
  response: ServerResponse,
  error: { status: number; code: string; message: string },
): void {
  request.resume();
  request.once('end', () => {
    const body = `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${error.code}</Code><Message>${error.message}</Message><RequestId>fault-proxy</RequestId></Error>`;
    response.writeHead(error.status, {
      'content-type': 'application/xml',
      'content-length': Buffer.byteLength(body),
    });
    response.end(body);
  });
}

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
    conflict409: 0,
  };
  let received = 0;
  let forwarded = 0;
  let fault: Fault | undefined;
  const timers = new Set<NodeJS.Timeout>();
  /** Objects with a conditional write in flight, and multipart uploads S3 would have dropped. */
  const writing = new Set<string>();
  const droppedUploads = new Set<string>();

  const forward = (
    request: IncomingMessage,
    response: ServerResponse,
    loseResponse: boolean,
    onSettled?: () => void,
  ): void => {
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
        if (onSettled) reply.once('close', onSettled);
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
    upstream.on('error', () => {
      onSettled?.();
      request.socket.destroy();
    });
    request.pipe(upstream);
  };

  /** Whether the target holds an object at the key (a HEAD with the caller's client). */
  const exists = async (s3: S3Client, target: S3Request): Promise<boolean> => {
    try {
      await s3.send(new HeadObjectCommand({ Bucket: target.bucket, Key: target.key }));
      return true;
    } catch (error) {
      if ((error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode === 404)
        return false;
      throw error;
    }
  };

  /** A conditional write: 412 onto an object, 409 while another one to the key is in flight, else through. */
  const conditionalWrite = (
    s3: S3Client,
    target: S3Request & { object: string },
    request: IncomingMessage,
    response: ServerResponse,
  ): void => {
    if (writing.has(target.object)) {
      conflict(target, request, response);
      return;
    }
    // Held from the check to the target's answer: the check and the write are one step, as on S3.
    writing.add(target.object);
    const settled = () => writing.delete(target.object);
    exists(s3, target).then(
      (found) => {
        if (found) {
          settled();
          answerS3Error(request, response, PRECONDITION_FAILED);
          return;
        }
        forwarded += 1;
        forward(request, response, false, settled);
      },
      () => {
        settled();
        answerS3Error(request, response, S3_ERRORS.error500);
      },
    );
  };

  const conflict = (target: S3Request, request: IncomingMessage, response: ServerResponse): void => {
    // S3 drops the upload of a Complete it answers 409: it must be made again.
    if (target.kind === 'complete-multipart' && target.uploadId) droppedUploads.add(target.uploadId);
    answerS3Error(request, response, CONDITIONAL_CONFLICT);
  };

  const server = createServer((request, response) => {
    received += 1;
    const target = parseS3Request(request);
    if (target.uploadId !== undefined && droppedUploads.has(target.uploadId)) {
      answerS3Error(request, response, NO_SUCH_UPLOAD);
      return;
    }
    const active = fault;
    const hit =
      active !== undefined &&
      (active.match?.({ method: request.method ?? 'GET', url: request.url ?? '/' }) ?? true) &&
      Math.random() < (active.probability ?? 1);
    if (!hit) {
      const conditional = options.conditionalWrites;
      if (conditional && target.object !== undefined) {
        if (target.kind === 'abort-multipart' && target.uploadId !== undefined) {
          droppedUploads.add(target.uploadId);
          request.resume();
          request.once('end', () => response.writeHead(204).end());
          return;
        }
        if (
          (target.kind === 'put-object' || target.kind === 'complete-multipart') &&
          request.headers['if-none-match'] === '*'
        ) {
          conditionalWrite(conditional.s3, { ...target, object: target.object }, request, response);
          return;
        }
      }
      forwarded += 1;
      forward(request, response, false);
      return;
    }
    faulted[active.kind] += 1;
    switch (active.kind) {
      case 'error500':
      case 'error503':
        answerS3Error(request, response, S3_ERRORS[active.kind]);
        return;
      case 'conflict409':
        conflict(target, request, response);
        return;
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
