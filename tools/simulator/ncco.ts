import { parseContentType, type SampleRate, SUPPORTED_SAMPLE_RATES } from '../../common/audio-format.js';
import { NccoError } from './errors.js';

/** The websocket endpoint of an NCCO `connect` action, as Vonage would dial it. */
export interface WebsocketEndpoint {
  readonly uri: string;
  readonly contentType: string;
  readonly sampleRate: SampleRate;
  /** Echoed in the first websocket frame. */
  readonly headers: Record<string, unknown>;
  /** `{type:'vonage'}` or `{type:'custom', value}` when the NCCO asks for a handshake Authorization header. */
  readonly authorization?: { readonly type: 'vonage' } | { readonly type: 'custom'; readonly value: string };
}

/** What a call does, read from a valid NCCO. */
export interface CallPlan {
  /** The greeting the `talk` action speaks before the connect. */
  readonly greeting: string;
  readonly websocket: WebsocketEndpoint;
  /** The connect action's `eventUrl`, when it overrides the application's event URL. */
  readonly eventUrl?: string;
  readonly eventMethod: 'GET' | 'POST';
}

const KNOWN_ACTIONS = new Set([
  'talk',
  'stream',
  'input',
  'record',
  'connect',
  'conversation',
  'notify',
  'wait',
]);
const EXPECTED =
  'expected a JSON array: a talk action, then a connect action to one websocket endpoint with uri (ws:// or wss://) and content-type audio/l16;rate=8000|16000|24000';
/** Vonage's documented limit for the websocket `headers` object. */
const MAX_HEADERS_BYTES = 512;

function fail(problem: string, callUuid?: string): never {
  throw new NccoError(`invalid NCCO: ${problem}; ${EXPECTED}`, callUuid);
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function preview(text: string): string {
  const flat = text.replace(/\s+/g, ' ').trim();
  return flat.length > 80 ? `${flat.slice(0, 77)}...` : flat;
}

function absoluteUrl(value: unknown, protocols: readonly string[]): string | undefined {
  if (typeof value !== 'string') return undefined;
  try {
    const url = new URL(value);
    return protocols.includes(url.protocol) ? value : undefined;
  } catch {
    return undefined;
  }
}

function readWebsocketEndpoint(connect: Record<string, unknown>, callUuid?: string): WebsocketEndpoint {
  const endpoints = connect.endpoint;
  if (!Array.isArray(endpoints) || endpoints.length !== 1) {
    fail(
      `connect.endpoint must be an array of exactly one endpoint, got ${JSON.stringify(endpoints)}`,
      callUuid,
    );
  }
  const endpoint: unknown = endpoints[0];
  if (!isObject(endpoint) || endpoint.type !== 'websocket') {
    fail(
      `connect endpoint type must be "websocket", got ${JSON.stringify(isObject(endpoint) ? endpoint.type : endpoint)}`,
      callUuid,
    );
  }
  const uri = absoluteUrl(endpoint.uri, ['ws:', 'wss:']);
  if (!uri)
    fail(
      `websocket uri must be an absolute ws:// or wss:// URL, got ${JSON.stringify(endpoint.uri)}`,
      callUuid,
    );
  const contentType = endpoint['content-type'];
  if (contentType === undefined && endpoint.contentType !== undefined) {
    fail('websocket endpoint spells "contentType"; the NCCO key Vonage reads is "content-type"', callUuid);
  }
  const sampleRate = parseContentType(contentType);
  if (sampleRate === undefined || typeof contentType !== 'string') {
    fail(
      `websocket content-type must be audio/l16;rate=${SUPPORTED_SAMPLE_RATES.join('|')}, got ${JSON.stringify(contentType)}`,
      callUuid,
    );
  }
  const headers = endpoint.headers ?? {};
  if (!isObject(headers))
    fail(`websocket headers must be a JSON object, got ${JSON.stringify(headers)}`, callUuid);
  const headersBytes = Buffer.byteLength(JSON.stringify(headers));
  if (headersBytes > MAX_HEADERS_BYTES) {
    fail(
      `websocket headers are ${headersBytes} bytes of JSON, at most ${MAX_HEADERS_BYTES} allowed`,
      callUuid,
    );
  }
  const authorization = readAuthorization(endpoint.authorization, callUuid);
  return { uri, contentType, sampleRate, headers, ...(authorization ? { authorization } : {}) };
}

function readAuthorization(value: unknown, callUuid?: string): WebsocketEndpoint['authorization'] {
  if (value === undefined) return undefined;
  if (isObject(value) && value.type === 'vonage') return { type: 'vonage' };
  if (isObject(value) && value.type === 'custom' && typeof value.value === 'string') {
    return { type: 'custom', value: value.value };
  }
  fail(`websocket authorization must be {"type":"vonage"} or {"type":"custom","value":"..."}`, callUuid);
}

function readEventUrl(connect: Record<string, unknown>, callUuid?: string): string | undefined {
  const raw = connect.eventUrl;
  if (raw === undefined) return undefined;
  // Vonage documents eventUrl as a one-element array; a bare string is accepted too.
  const candidate = Array.isArray(raw) ? raw[0] : raw;
  const url = absoluteUrl(candidate, ['http:', 'https:']);
  if (!url || (Array.isArray(raw) && raw.length !== 1)) {
    fail(
      `connect.eventUrl must be an array of one absolute http(s) URL, got ${JSON.stringify(raw)}`,
      callUuid,
    );
  }
  return url;
}

/**
 * Reads an answer URL's body as an NCCO and checks it is one this project's calls follow: a
 * `talk` greeting, then a `connect` to a websocket endpoint. Throws {@link NccoError} with a
 * one-line message saying what is wrong and what was expected.
 */
export function parseNcco(body: string, callUuid?: string): CallPlan {
  let ncco: unknown;
  try {
    ncco = JSON.parse(body);
  } catch {
    fail(`body is not JSON (${body.length === 0 ? 'empty' : JSON.stringify(preview(body))})`, callUuid);
  }
  if (!Array.isArray(ncco)) fail(`got ${ncco === null ? 'null' : typeof ncco} instead of an array`, callUuid);
  if (ncco.length === 0) fail('got an empty array', callUuid);
  let greeting: string | undefined;
  for (const [index, action] of ncco.entries()) {
    if (!isObject(action) || typeof action.action !== 'string' || !KNOWN_ACTIONS.has(action.action)) {
      fail(
        `action ${index} is not a known NCCO action (${JSON.stringify(isObject(action) ? action.action : action)})`,
        callUuid,
      );
    }
    if (action.action === 'talk') {
      if (typeof action.text !== 'string' || action.text.trim() === '') {
        fail(`talk action ${index} has no text`, callUuid);
      }
      greeting ??= action.text;
      continue;
    }
    if (action.action === 'connect') {
      if (greeting === undefined) fail(`connect action ${index} comes before any talk action`, callUuid);
      const websocket = readWebsocketEndpoint(action, callUuid);
      const eventUrl = readEventUrl(action, callUuid);
      const method = Array.isArray(action.eventMethod) ? action.eventMethod[0] : action.eventMethod;
      const eventMethod = typeof method === 'string' && method.toUpperCase() === 'GET' ? 'GET' : 'POST';
      return { greeting, websocket, eventMethod, ...(eventUrl ? { eventUrl } : {}) };
    }
  }
  // A talk-only NCCO is what an application answers when it cannot take the call: quote it.
  fail(
    greeting === undefined
      ? 'no talk action and no connect action'
      : `no connect action (it only says ${JSON.stringify(preview(greeting))})`,
    callUuid,
  );
}
