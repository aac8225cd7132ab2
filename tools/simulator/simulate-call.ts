import { randomUUID } from 'node:crypto';
import type { SampleRate } from '../../common/audio-format.js';
import { type AudioSource, checkAudioSource, loadPcm } from './audio.js';
import { AnswerUrlError, describeNetworkError, SimulatorConfigError, type SimulatorError } from './errors.js';
import { type CallPlan, parseNcco } from './ncco.js';
import { type SigningIdentity, signWebhook } from './signature.js';
import {
  callEvent,
  completedEvent,
  deliverEvent,
  type LegIdentity,
  sendWebhook,
  snippet,
  type VonageEvent,
  type WebhookDelivery,
} from './webhooks.js';
import { type DtmfTone, redactedUri, streamCall } from './websocket-leg.js';

/** Gives the PCM for a call at the rate its NCCO asks for (lets concurrent calls share one load). */
export type AudioProvider = (sampleRate: SampleRate) => Promise<Buffer>;

export interface SimulateCallOptions {
  /** The application's answer URL (`AnswerUrl` of the stack). */
  readonly answerUrl: string;
  /**
   * The application's event URL: the call leg's events go there. The websocket leg's go to the
   * NCCO connect action's `eventUrl` when it has one, as at Vonage.
   * @default the answer URL with its final `/answer` replaced by `/event`
   */
  readonly eventUrl?: string;
  /**
   * @default 'POST' when signing (what configure-vonage sets for a stack that verifies signed
   * webhooks), else 'GET' (Vonage's default answer method)
   */
  readonly answerMethod?: 'GET' | 'POST';
  /** The caller's number. @default '447700900001' */
  readonly from?: string;
  /** The number called. @default '447700900000' */
  readonly to?: string;
  /** @default a random uuid */
  readonly uuid?: string;
  /** @default `CON-<random uuid>` */
  readonly conversationUuid?: string;
  /** What the caller says. @default a spoken test sentence */
  readonly audio?: AudioSource | AudioProvider;
  /** 1 = real time; larger is faster; `Infinity` streams as fast as the socket takes it. @default 1 */
  readonly speed?: number;
  readonly dtmf?: readonly DtmfTone[];
  /** Sign every webhook as Vonage does with signed callbacks on. @default unsigned */
  readonly signature?: SigningIdentity;
  /** Per-request timeout for webhooks and the websocket handshake. @default 5000 */
  readonly timeoutMs?: number;
  /** Also post the websocket leg's own events, as Vonage does. @default true */
  readonly websocketLegEvents?: boolean;
  /** Aborting hangs the call up: streaming stops and the call ends normally. */
  readonly signal?: AbortSignal;
  /** Progress lines (no secrets, no tokens), for a CLI to print. */
  readonly log?: (line: string) => void;
}

/** One webhook the simulator delivered, for the record. */
export interface DeliveredEvent {
  readonly leg: 'call' | 'websocket';
  readonly status: string;
  readonly httpStatus: number;
  readonly body: VonageEvent;
}

export interface SimulatedCall {
  readonly uuid: string;
  readonly conversationUuid: string;
  /** The websocket leg's own uuid (Vonage gives the connected leg a new one). */
  readonly websocketUuid: string;
  readonly from: string;
  readonly to: string;
  readonly plan: CallPlan;
  /** Where the call leg's events went. */
  readonly eventUrl: string;
  /** Where the websocket leg's events went (the NCCO's `eventUrl`, else the application's). */
  readonly websocketEventUrl: string;
  readonly sampleRate: SampleRate;
  /** The PCM exactly as streamed (whole frames). */
  readonly pcm: Buffer;
  readonly framesSent: number;
  /** Seconds of audio streamed (frames × 20 ms). */
  readonly audioSeconds: number;
  readonly dtmfSent: readonly { readonly digit: string; readonly atMs: number }[];
  readonly closedBy: 'simulator' | 'server';
  readonly closeCode: number;
  readonly closeReason: string;
  /** When the websocket opened and closed: their difference is the streaming time. */
  readonly websocketOpenedAt: Date;
  readonly websocketClosedAt: Date;
  readonly startedAt: Date;
  readonly endedAt: Date;
  readonly events: readonly DeliveredEvent[];
}

export const DEFAULT_FROM = '447700900001';
export const DEFAULT_TO = '447700900000';
export const DEFAULT_SENTENCE =
  'Hello, this is a test call. The quick brown fox jumps over the lazy dog, and the recording should hold every word.';
const DEFAULT_TIMEOUT_MS = 5000;
/** Per-minute rate Vonage might report for an inbound landline call; only the format matters. */
const INBOUND_RATE = 0.0045;

/**
 * Event times for one call, strictly increasing by at least 1 ms: the bucket's event keys sort by
 * timestamp, so a call's events must never share or reverse one, even when streamed fast.
 */
function monotonicClock(): (at?: Date) => Date {
  let last = 0;
  return (at = new Date()) => {
    last = Math.max(at.getTime(), last + 1);
    return new Date(last);
  };
}

/** The event URL to use when none is given: `/answer` → `/event` on the same origin. */
export function defaultEventUrl(answerUrl: string): string {
  const url = new URL(answerUrl);
  if (!/\/answer\/?$/.test(url.pathname)) {
    throw new SimulatorConfigError(
      `cannot derive the event URL from answer URL ${answerUrl}: expected it to end in /answer, or an explicit event URL`,
    );
  }
  url.pathname = url.pathname.replace(/\/answer\/?$/, '/event');
  url.search = '';
  return url.toString();
}

function checkUrl(value: string, what: string): void {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new SimulatorConfigError(
      `${what} ${JSON.stringify(value)} is not a URL: expected http(s)://host[:port]/path`,
    );
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new SimulatorConfigError(`${what} ${value} must be http:// or https://`);
  }
}

/** Remembers the PCM per rate so N concurrent calls speak or resample once. */
export function audioProvider(source: AudioSource | AudioProvider): AudioProvider {
  if (typeof source === 'function') return source;
  const cache = new Map<SampleRate, Promise<Buffer>>();
  return (rate) => {
    let pcm = cache.get(rate);
    if (!pcm) {
      pcm = loadPcm(source, rate);
      cache.set(rate, pcm);
    }
    return pcm;
  };
}

async function requestNcco(
  options: SimulateCallOptions,
  call: LegIdentity,
  timeoutMs: number,
): Promise<CallPlan> {
  const method = options.answerMethod ?? (options.signature ? 'POST' : 'GET');
  const fields = { to: call.to, from: call.from, uuid: call.uuid, conversation_uuid: call.conversationUuid };
  let answer: WebhookDelivery;
  try {
    answer = await sendWebhook(options.answerUrl, method, fields, {
      timeoutMs,
      ...(options.signature ? { signature: options.signature } : {}),
    });
  } catch (error) {
    throw new AnswerUrlError(
      `answer URL ${options.answerUrl} did not answer ${method} (${describeNetworkError(error, timeoutMs)}): expected 200 with an NCCO`,
      call.uuid,
      { cause: error },
    );
  }
  if (answer.status < 200 || answer.status > 299) {
    throw new AnswerUrlError(
      `answer URL ${options.answerUrl} answered ${method} with HTTP ${answer.status}${snippet(answer.body)}: expected 200 with an NCCO`,
      call.uuid,
    );
  }
  return parseNcco(answer.body, call.uuid);
}

/**
 * Places one simulated inbound call against a Vonage Voice application, exactly as Vonage would
 * on the wire: answer webhook, NCCO checks, `started`/`ringing`/`answered` events, the websocket
 * leg streaming audio in 20 ms frames (with DTMF), the hang-up, and the `completed` events.
 * Rejects with a {@link SimulatorError} whose message is one line saying what was expected.
 */
export async function simulateCall(options: SimulateCallOptions): Promise<SimulatedCall> {
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const speed = options.speed ?? 1;
  if (!(speed > 0)) throw new SimulatorConfigError(`speed must be a positive number, got ${speed}`);
  checkUrl(options.answerUrl, 'answer URL');
  const configuredEventUrl = options.eventUrl ?? defaultEventUrl(options.answerUrl);
  checkUrl(configuredEventUrl, 'event URL');
  if (options.audio && typeof options.audio !== 'function') await checkAudioSource(options.audio);
  const log = options.log ?? (() => {});
  const signing = options.signature ? { signature: options.signature } : {};

  const call: LegIdentity = {
    from: options.from ?? DEFAULT_FROM,
    to: options.to ?? DEFAULT_TO,
    uuid: options.uuid ?? randomUUID(),
    conversationUuid: options.conversationUuid ?? `CON-${randomUUID()}`,
    direction: 'inbound',
  };
  const events: DeliveredEvent[] = [];
  const clock = monotonicClock();
  const startedAt = clock();

  const plan = await requestNcco(options, call, timeoutMs);
  const websocketEventUrl = plan.eventUrl ?? configuredEventUrl;
  const websocketLeg: LegIdentity = {
    from: call.from,
    to: plan.websocket.uri,
    uuid: randomUUID(),
    conversationUuid: call.conversationUuid,
    direction: 'outbound',
  };
  log(
    `answered: talk "${plan.greeting}", connect ${redactedUri(plan.websocket.uri)} (${plan.websocket.contentType})`,
  );

  const post = async (leg: 'call' | 'websocket', body: VonageEvent) => {
    const [url, method] =
      leg === 'call' ? [configuredEventUrl, 'POST' as const] : [websocketEventUrl, plan.eventMethod];
    const delivery = await deliverEvent(url, method, body, { timeoutMs, ...signing });
    events.push({ leg, status: String(body.status), httpStatus: delivery.status, body });
    log(`event ${leg} ${body.status} → ${delivery.status}`);
  };

  const pcmPromise = audioProvider(options.audio ?? { text: DEFAULT_SENTENCE })(plan.websocket.sampleRate);
  // Settle the audio promise early so a failed load is never an unhandled rejection.
  pcmPromise.catch(() => {});
  for (const status of ['started', 'ringing', 'answered'])
    await post('call', callEvent(call, status, clock()));
  const answeredAt = clock();
  const pcm = await pcmPromise;

  const authorization = plan.websocket.authorization;
  let authorizationHeader: string | undefined;
  if (authorization?.type === 'custom') authorizationHeader = authorization.value;
  if (authorization?.type === 'vonage' && options.signature) {
    authorizationHeader = `Bearer ${signWebhook(options.signature, '')}`;
  }

  const websocketEvents = options.websocketLegEvents ?? true;
  let websocketLegPosts: Promise<void> = Promise.resolve();
  const stream = await streamCall({
    callUuid: call.uuid,
    endpoint: plan.websocket,
    pcm,
    speed,
    dtmf: options.dtmf ?? [],
    timeoutMs,
    ...(authorizationHeader ? { authorizationHeader } : {}),
    ...(options.signal ? { signal: options.signal } : {}),
    onOpen: () => {
      log(`websocket open (leg ${websocketLeg.uuid})`);
      if (!websocketEvents) return;
      // Vonage posts the websocket leg's events while the audio flows, not before it.
      // Their timestamps are taken now, so they sort before the leg's `completed` however fast it streams.
      const legEvents = ['started', 'ringing', 'answered'].map((status) =>
        callEvent(websocketLeg, status, clock()),
      );
      websocketLegPosts = (async () => {
        for (const event of legEvents) await post('websocket', event);
      })();
      websocketLegPosts.catch(() => {});
    },
  });
  log(`websocket closed by ${stream.closedBy} with ${stream.closeCode} after ${stream.framesSent} frames`);

  if (websocketEvents) {
    await websocketLegPosts;
    await post(
      'websocket',
      completedEvent(websocketLeg, {
        startTime: stream.openedAt,
        endTime: clock(stream.closedAt),
        network: 'websocket',
        rate: 0,
        ...(speed > 1 ? { simulatedSeconds: (stream.framesSent * 20) / 1000 } : {}),
      }),
    );
  }
  const endedAt = clock();
  await post(
    'call',
    completedEvent(call, {
      startTime: answeredAt,
      endTime: endedAt,
      network: 'GB-FIXED',
      rate: INBOUND_RATE,
      // Faster than real time: the call lasted its greeting-to-socket gap plus its audio.
      ...(speed > 1
        ? {
            simulatedSeconds:
              (stream.openedAt.getTime() - answeredAt.getTime()) / 1000 + (stream.framesSent * 20) / 1000,
          }
        : {}),
    }),
  );
  if (stream.failure) throw stream.failure;

  return {
    uuid: call.uuid,
    conversationUuid: call.conversationUuid,
    websocketUuid: websocketLeg.uuid,
    from: call.from,
    to: call.to,
    plan,
    eventUrl: configuredEventUrl,
    websocketEventUrl,
    sampleRate: plan.websocket.sampleRate,
    pcm: stream.pcm,
    framesSent: stream.framesSent,
    audioSeconds: (stream.framesSent * 20) / 1000,
    dtmfSent: stream.dtmfSent,
    closedBy: stream.closedBy,
    closeCode: stream.closeCode,
    closeReason: stream.closeReason,
    websocketOpenedAt: stream.openedAt,
    websocketClosedAt: stream.closedAt,
    startedAt,
    endedAt,
    events,
  };
}

/** The outcome of one of several concurrent calls. */
export type CallOutcome = { ok: true; call: SimulatedCall } | { ok: false; error: SimulatorError | Error };

/**
 * Places `count` calls at once (each with its own uuids), sharing one load of the audio.
 * Rejects only on bad options (count, unreadable audio file); each call's outcome is reported.
 */
export async function simulateCalls(options: SimulateCallOptions, count: number): Promise<CallOutcome[]> {
  if (!Number.isInteger(count) || count < 1)
    throw new SimulatorConfigError(`calls must be a whole number ≥ 1, got ${count}`);
  if (options.audio && typeof options.audio !== 'function') await checkAudioSource(options.audio);
  const audio = audioProvider(options.audio ?? { text: DEFAULT_SENTENCE });
  const settled = await Promise.allSettled(
    Array.from({ length: count }, (_, index) =>
      simulateCall({
        ...options,
        audio,
        ...(count > 1 ? { uuid: undefined, conversationUuid: undefined } : {}),
        log: options.log ? (line) => options.log?.(`[call ${index + 1}] ${line}`) : undefined,
      }),
    ),
  );
  return settled.map((outcome) =>
    outcome.status === 'fulfilled'
      ? { ok: true, call: outcome.value }
      : { ok: false, error: outcome.reason as Error },
  );
}
