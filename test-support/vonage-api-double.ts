import { randomUUID } from 'node:crypto';
import { createServer, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A local double of the Vonage REST API parts the operator tools use, on 127.0.0.1, answering as
 * Vonage does on the wire and recording every request exactly as it arrived:
 *
 * - Applications API v2 (`api.nexmo.com`): `GET` and `PUT /v2/applications/{id}`, HTTP Basic auth
 *   with the API key and secret. `PUT` replaces the application: capabilities the body leaves out
 *   are gone, as with Vonage.
 * - Numbers API (`rest.nexmo.com`): `GET /account/numbers`, `POST /number/update` (form-encoded).
 *
 * Point the SDK at it with `new Vonage(credentials, { apiHost: double.url, restHost: double.url })`.
 */

/** One request as the double received it. */
export interface RecordedRequest {
  readonly method: string;
  /** The path without the query, e.g. `/v2/applications/abc`. */
  readonly path: string;
  readonly query: Record<string, string>;
  readonly authorization: string | undefined;
  readonly contentType: string | undefined;
  /** The raw body text ('' when none). */
  readonly body: string;
}

/** An owned number, as `GET /account/numbers` lists it. */
export interface OwnedNumber {
  country: string;
  msisdn: string;
  type: string;
  features: string[];
  app_id?: string;
  voiceCallbackType?: string;
  voiceCallbackValue?: string;
}

export interface VonageApiDouble {
  /** Base URL for both `apiHost` and `restHost`. */
  readonly url: string;
  readonly requests: RecordedRequest[];
  /** Applications by id, in the API's snake_case JSON (without `_links`). */
  readonly applications: Map<string, Record<string, unknown>>;
  readonly numbers: Map<string, OwnedNumber>;
  close(): Promise<void>;
}

export interface VonageApiDoubleOptions {
  readonly apiKey: string;
  readonly apiSecret: string;
  /** Applications in the API's JSON form; each needs `id` and `name`. */
  readonly applications?: readonly Record<string, unknown>[];
  readonly numbers?: readonly OwnedNumber[];
}

const problem = (type: string, title: string, detail: string, extra: Record<string, unknown> = {}) => ({
  type: `https://developer.nexmo.com/api-errors#${type}`,
  title,
  detail,
  instance: randomUUID(),
  ...extra,
});

export async function startVonageApiDouble(options: VonageApiDoubleOptions): Promise<VonageApiDouble> {
  const requests: RecordedRequest[] = [];
  const applications = new Map(
    (options.applications ?? []).map((app) => [String(app.id), structuredClone(app)] as const),
  );
  const numbers = new Map((options.numbers ?? []).map((n) => [n.msisdn, structuredClone(n)] as const));
  const expectedAuth = `Basic ${Buffer.from(`${options.apiKey}:${options.apiSecret}`).toString('base64')}`;

  const send = (res: ServerResponse, status: number, body: unknown, type = 'application/json') => {
    const text = JSON.stringify(body);
    res.writeHead(status, { 'content-type': type, 'content-length': Buffer.byteLength(text) });
    res.end(text);
  };

  const withLinks = (app: Record<string, unknown>) => ({
    ...app,
    _links: { self: { href: `/v2/applications/${String(app.id)}` } },
  });

  const handle = (res: ServerResponse, request: RecordedRequest) => {
    const { method, path, query } = request;
    const restAuth =
      request.authorization === expectedAuth ||
      (query.api_key === options.apiKey && query.api_secret === options.apiSecret);

    const appMatch = /^\/v2\/applications\/([^/]+)$/.exec(path);
    if (appMatch) {
      if (request.authorization !== expectedAuth) {
        return send(
          res,
          401,
          problem('unauthorized', 'Unauthorized', 'You did not provide correct credentials.'),
          'application/problem+json',
        );
      }
      const id = decodeURIComponent(appMatch[1] as string);
      const app = applications.get(id);
      if (!app) {
        return send(
          res,
          404,
          problem('not-found', 'Not Found', `Application ${id} could not be found`),
          'application/problem+json',
        );
      }
      if (method === 'GET') return send(res, 200, withLinks(app));
      if (method === 'PUT') {
        if (!request.contentType?.startsWith('application/json')) {
          return send(
            res,
            415,
            problem('unsupported-media-type', 'Unsupported Media Type', 'Use application/json'),
          );
        }
        let body: Record<string, unknown>;
        try {
          body = JSON.parse(request.body) as Record<string, unknown>;
        } catch {
          return send(res, 400, problem('invalid-json', 'Bad Request', 'The request body is not valid JSON'));
        }
        if (typeof body.name !== 'string' || body.name === '') {
          return send(
            res,
            400,
            problem('invalid-params', 'Bad Request', 'The request failed due to validation errors', {
              invalid_parameters: [{ name: 'name', reason: 'Is required.' }],
            }),
          );
        }
        const keys = (body.keys ?? {}) as Record<string, unknown>;
        const updated: Record<string, unknown> = {
          id,
          name: body.name,
          // A PUT replaces the capabilities: what the body leaves out is removed.
          capabilities: body.capabilities ?? {},
          keys: {
            public_key: keys.public_key ?? (app.keys as Record<string, unknown> | undefined)?.public_key,
          },
          ...(body.privacy !== undefined
            ? { privacy: body.privacy }
            : app.privacy !== undefined
              ? { privacy: app.privacy }
              : {}),
        };
        applications.set(id, updated);
        return send(res, 200, withLinks(updated));
      }
      return send(
        res,
        405,
        problem('method-not-allowed', 'Method Not Allowed', `${method} is not supported`),
      );
    }

    if (path === '/account/numbers' && method === 'GET') {
      if (!restAuth)
        return send(res, 401, { 'error-code': '401', 'error-code-label': 'authentication failed' });
      const pattern = query.pattern ?? '';
      const mode = query.search_pattern ?? '0';
      const matches = [...numbers.values()].filter((n) =>
        mode === '1'
          ? n.msisdn.includes(pattern)
          : mode === '2'
            ? n.msisdn.endsWith(pattern)
            : n.msisdn.startsWith(pattern),
      );
      return send(res, 200, { count: matches.length, numbers: matches });
    }

    if (path === '/number/update' && method === 'POST') {
      if (!restAuth)
        return send(res, 401, { 'error-code': '401', 'error-code-label': 'authentication failed' });
      const form = Object.fromEntries(new URLSearchParams(request.body));
      const owned = form.msisdn ? numbers.get(form.msisdn) : undefined;
      if (!owned || owned.country !== form.country) {
        return send(res, 420, {
          'error-code': '420',
          'error-code-label': 'Number not found for this account',
        });
      }
      if (form.app_id !== undefined) {
        if (!applications.has(form.app_id)) {
          return send(res, 420, { 'error-code': '420', 'error-code-label': 'Application not found' });
        }
        owned.app_id = form.app_id;
        owned.voiceCallbackType = 'app';
        owned.voiceCallbackValue = form.app_id;
      }
      return send(res, 200, { 'error-code': '200', 'error-code-label': 'success' });
    }

    send(res, 404, problem('not-found', 'Not Found', `No route for ${method} ${path}`));
  };

  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const url = new URL(req.url ?? '/', 'http://127.0.0.1');
      const request: RecordedRequest = {
        method: req.method ?? '',
        path: url.pathname,
        query: Object.fromEntries(url.searchParams),
        authorization: req.headers.authorization,
        contentType: req.headers['content-type'],
        body: Buffer.concat(chunks).toString('utf8'),
      };
      requests.push(request);
      try {
        handle(res, request);
      } catch (error) {
        send(res, 500, problem('internal', 'Internal Server Error', (error as Error).message));
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    applications,
    numbers,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.closeAllConnections();
        server.close((error) => (error ? reject(error) : resolve()));
      }),
  };
}
