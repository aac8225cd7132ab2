import { parseContentType, type SampleRate } from '../../common/audio-format.js';

/**
 * The Vonage websocket wire protocol, as the recorder reads it: the first frame is a text
 * `websocket:connected` message naming the audio format and echoing the NCCO's `headers`;
 * then binary PCM frames, with text events (DTMF and others) in between.
 */

/** The call facts taken from the `websocket:connected` frame. */
export interface ConnectedFrame {
  readonly sampleRate: SampleRate;
  readonly contentType: string;
  readonly uuid: string | null;
  readonly conversationUuid: string | null;
  readonly from: string | null;
  readonly to: string | null;
  /** Every other field of the frame (the NCCO's custom headers). */
  readonly headers: Record<string, unknown>;
}

/** Why a first frame was refused: each maps to one close code (see README.md). */
export type ConnectedFrameProblem = 'not-json' | 'not-connected-event' | 'unsupported-content-type';

export type ConnectedFrameResult =
  | { readonly ok: true; readonly frame: ConnectedFrame }
  | { readonly ok: false; readonly problem: ConnectedFrameProblem; readonly detail: string };

/** Longest string kept from a header field; Vonage caps all headers at 512 bytes anyway. */
const MAX_FIELD_LENGTH = 256;

function optionalString(value: unknown): string | null {
  if (typeof value === 'string' && value.length > 0) return value.slice(0, MAX_FIELD_LENGTH);
  if (typeof value === 'number' && Number.isFinite(value)) return String(value);
  return null;
}

function parseJsonObject(text: string): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(text);
    return typeof value === 'object' && value !== null && !Array.isArray(value)
      ? (value as Record<string, unknown>)
      : undefined;
  } catch {
    return undefined;
  }
}

/** Parses the first (text) frame of a call. Pure: the caller decides how to close on failure. */
export function parseConnectedFrame(text: string): ConnectedFrameResult {
  const message = parseJsonObject(text);
  if (!message) return { ok: false, problem: 'not-json', detail: 'first frame is not a JSON object' };
  if (message.event !== 'websocket:connected') {
    return {
      ok: false,
      problem: 'not-connected-event',
      detail: `first frame event is ${JSON.stringify(message.event ?? null).slice(0, 64)}, expected "websocket:connected"`,
    };
  }
  const contentType = message['content-type'];
  const sampleRate = parseContentType(contentType);
  if (sampleRate === undefined) {
    return {
      ok: false,
      problem: 'unsupported-content-type',
      detail: `unsupported content-type ${JSON.stringify(contentType ?? null).slice(0, 64)}, expected audio/l16;rate=8000|16000|24000`,
    };
  }
  const {
    event: _event,
    'content-type': _contentType,
    uuid,
    conversation_uuid,
    from,
    to,
    ...headers
  } = message;
  return {
    ok: true,
    frame: {
      sampleRate,
      contentType: contentType as string,
      uuid: optionalString(uuid),
      conversationUuid: optionalString(conversation_uuid),
      from: optionalString(from),
      to: optionalString(to),
      headers,
    },
  };
}

/** A text frame received mid-call: its JSON, or `{ raw }` when it is not a JSON object. */
export function parseTextEvent(text: string): Record<string, unknown> {
  return parseJsonObject(text) ?? { raw: text };
}
