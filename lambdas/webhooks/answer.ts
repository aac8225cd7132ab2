import { contentTypeFor } from '../../common/audio-format.js';
import { signCallToken } from '../../common/call-token.js';
import { CALL_PATH_PREFIX } from '../../common/contract.js';
import { isValidCallUuid } from '../../common/recording-keys.js';
import type { Greeting, WebhookConfig } from './config.js';
import { BadRequestError } from './errors.js';

/** The call an answer webhook asks about. */
export interface AnswerCall {
  readonly uuid: string;
  readonly conversationUuid: string;
  /** Caller: a number, a SIP URI or an app user; null when withheld. */
  readonly from: string | null;
  readonly to: string;
}

/** An NCCO action, as Vonage reads it (keys as on the wire). */
export type NccoAction = Record<string, unknown> & { readonly action: string };

/** Vonage echoes `headers` into the first websocket frame and refuses more than 512 bytes of them. */
export const MAX_WEBSOCKET_HEADER_BYTES = 512;

const MAX_PARTY_LENGTH = 256;
const NUMBER_LIKE = /^[+\d]/;
const PHONE_NUMBER = /^\+?\d{1,20}$/;
// biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what is refused
const CONTROL = /[\u0000-\u001f\u007f]/;

function text(params: Record<string, unknown>, name: string): string | undefined {
  const value = params[name];
  if (value === undefined || value === null || value === '') return undefined;
  if (typeof value === 'number' && Number.isSafeInteger(value) && value >= 0) return String(value);
  if (typeof value !== 'string') throw new BadRequestError(`${name} must be a string`);
  return value;
}

function party(params: Record<string, unknown>, name: string): string | undefined {
  const value = text(params, name);
  if (value === undefined) return undefined;
  if (value.length > MAX_PARTY_LENGTH || CONTROL.test(value)) {
    throw new BadRequestError(`${name} must be at most ${MAX_PARTY_LENGTH} printable characters`);
  }
  // Numbers are E.164 digits (Vonage omits the +); SIP URIs and app users are passed through.
  if (NUMBER_LIKE.test(value) && !PHONE_NUMBER.test(value)) {
    throw new BadRequestError(`${name} is not a phone number: ${JSON.stringify(value)}`);
  }
  return value;
}

function callUuid(params: Record<string, unknown>, name: string): string {
  const value = text(params, name);
  if (value === undefined) throw new BadRequestError(`${name} is required`);
  if (!isValidCallUuid(value)) {
    throw new BadRequestError(
      `${name} must be letters, digits and dashes (at most 128): ${JSON.stringify(value)}`,
    );
  }
  return value;
}

/** Validates an answer webhook's parameters (GET query or POST body). Throws `BadRequestError`. */
export function parseAnswerRequest(params: Record<string, unknown>): AnswerCall {
  const uuid = callUuid(params, 'uuid');
  const conversationUuid = callUuid(params, 'conversation_uuid');
  const to = party(params, 'to');
  if (to === undefined) throw new BadRequestError('to is required');
  return { uuid, conversationUuid, from: party(params, 'from') ?? null, to };
}

function dropLastCodePoint(value: string): string {
  return Array.from(value).slice(0, -1).join('');
}

/**
 * The websocket `headers`: who the call is between, so the recorder can label the recording.
 * The uuids fit by construction (≤ 128 characters each); `from` and `to` are cut, longest first
 * and a whole character at a time, until the JSON fits Vonage's 512-byte limit.
 */
export function websocketHeaders(call: AnswerCall): Record<string, string> {
  let from = call.from ?? '';
  let to = call.to;
  const build = () => ({ uuid: call.uuid, conversation_uuid: call.conversationUuid, from, to });
  while (Buffer.byteLength(JSON.stringify(build()), 'utf8') > MAX_WEBSOCKET_HEADER_BYTES) {
    if (Buffer.byteLength(from) >= Buffer.byteLength(to)) from = dropLastCodePoint(from);
    else to = dropLastCodePoint(to);
  }
  return build();
}

function talk(greeting: Greeting, text: string): NccoAction {
  return { action: 'talk', text, language: greeting.language, style: greeting.style };
}

/**
 * The answer NCCO: speak the greeting, then connect the call to the recorder's websocket with a
 * per-call token valid for `tokenTtlSeconds` from `now`. With signed webhooks on, the endpoint
 * also asks for Vonage's JWT on the handshake (`authorization: {"type": "vonage"}`: "the Voice API
 * includes the same JWT used for signed webhooks in the Authorization header", @vonage/voice's
 * `WebsocketAuthorization` type).
 */
export function buildAnswerNcco(
  call: AnswerCall,
  config: Pick<
    WebhookConfig,
    | 'recorderUrl'
    | 'callTokenSecret'
    | 'signatureSecret'
    | 'greeting'
    | 'sampleRate'
    | 'maxCallSeconds'
    | 'tokenTtlSeconds'
  > & { readonly eventUrl: string },
  now: Date,
): NccoAction[] {
  const expiresAt = Math.floor(now.getTime() / 1000) + config.tokenTtlSeconds;
  const token = signCallToken(config.callTokenSecret, call.uuid, expiresAt);
  const uri = `${config.recorderUrl}${CALL_PATH_PREFIX}${encodeURIComponent(call.uuid)}?token=${encodeURIComponent(token)}`;
  return [
    talk(config.greeting, config.greeting.text),
    {
      action: 'connect',
      eventUrl: [config.eventUrl],
      limit: config.maxCallSeconds,
      endpoint: [
        {
          type: 'websocket',
          uri,
          'content-type': contentTypeFor(config.sampleRate),
          headers: websocketHeaders(call),
          // Vonage then sends its signed JWT as `Authorization: Bearer …` on the handshake, and
          // the recorder checks it as well as the per-call token.
          ...(config.signatureSecret ? { authorization: { type: 'vonage' } } : {}),
        },
      ],
    },
  ];
}

/** What the caller hears when the answer webhook fails inside: a failed answer would fail the call. */
export const CANNOT_RECORD_TEXT = 'Sorry, this call cannot be recorded right now. Please try again later.';

/** A valid NCCO that tells the caller the call cannot be recorded. */
export function buildFallbackNcco(greeting: Pick<Greeting, 'language' | 'style'>): NccoAction[] {
  return [talk({ ...greeting, text: CANNOT_RECORD_TEXT }, CANNOT_RECORD_TEXT)];
}
