import { describeNetworkError, EventWebhookError } from './errors.js';
import { queryPayload, type SigningIdentity, signWebhook } from './signature.js';

/** The parties of a call, as every Vonage event of one leg names them. */
export interface LegIdentity {
  readonly from: string;
  readonly to: string;
  readonly uuid: string;
  readonly conversationUuid: string;
  readonly direction: 'inbound' | 'outbound';
}

/** Vonage bills in these units: a per-minute rate and a price, both as 8-decimal strings. */
export interface CompletedDetails {
  readonly startTime: Date;
  readonly endTime: Date;
  readonly network: string;
  /** Per-minute rate. */
  readonly rate: number;
  /**
   * The leg's length as a real call would have had it, when audio was streamed faster than real
   * time: a call paced at 4× still lasted, as far as anyone auditing it can tell, as long as its
   * audio. `end_time` and `duration` follow it. @default endTime − startTime
   */
  readonly simulatedSeconds?: number;
}

/** A Vonage call event body, exactly the JSON Vonage posts. */
export type VonageEvent = Record<string, string | null>;

/** The body of a `started`/`ringing`/`answered` event of one leg. */
export function callEvent(leg: LegIdentity, status: string, at: Date): VonageEvent {
  return {
    from: leg.from,
    to: leg.to,
    uuid: leg.uuid,
    conversation_uuid: leg.conversationUuid,
    status,
    direction: leg.direction,
    timestamp: at.toISOString(),
  };
}

/**
 * The body of a `completed` event: Vonage adds the leg's start and end time, its duration in
 * whole seconds (a string), the per-minute rate and the price (8-decimal strings) and the network.
 */
export function completedEvent(leg: LegIdentity, details: CompletedDetails): VonageEvent {
  const elapsedMs =
    details.simulatedSeconds === undefined
      ? details.endTime.getTime() - details.startTime.getTime()
      : details.simulatedSeconds * 1000;
  const seconds = Math.max(0, Math.round(elapsedMs / 1000));
  return {
    end_time: new Date(details.startTime.getTime() + Math.max(0, elapsedMs)).toISOString(),
    network: details.network,
    duration: String(seconds),
    start_time: details.startTime.toISOString(),
    rate: details.rate.toFixed(8),
    price: ((details.rate * seconds) / 60).toFixed(8),
    from: leg.from,
    to: leg.to,
    uuid: leg.uuid,
    conversation_uuid: leg.conversationUuid,
    status: 'completed',
    direction: leg.direction,
    timestamp: details.endTime.toISOString(),
  };
}

/** One webhook request as it went out, and how it was answered. */
export interface WebhookDelivery {
  readonly url: string;
  readonly method: 'GET' | 'POST';
  readonly status: number;
  readonly body: string;
}

/**
 * Sends one webhook the way Vonage does: GET with the fields as query parameters, or POST with a
 * JSON body; signed with `Authorization: Bearer <jwt>` when a signature identity is given.
 * Resolves with the response whatever its status; rejects only when no response came.
 */
export async function sendWebhook(
  url: string,
  method: 'GET' | 'POST',
  fields: Record<string, string | null>,
  options: { readonly signature?: SigningIdentity; readonly timeoutMs: number },
): Promise<WebhookDelivery> {
  const target = new URL(url);
  const headers: Record<string, string> = {
    'user-agent': 'Vonage-Call-Simulator/1.0',
    accept: 'application/json',
  };
  let body: string | undefined;
  let payload: string;
  if (method === 'GET') {
    for (const [key, value] of Object.entries(fields)) target.searchParams.append(key, value ?? '');
    payload = queryPayload(target.searchParams);
  } else {
    body = JSON.stringify(fields);
    payload = body;
    headers['content-type'] = 'application/json';
  }
  if (options.signature) headers.authorization = `Bearer ${signWebhook(options.signature, payload)}`;
  const response = await fetch(target, {
    method,
    headers,
    body,
    signal: AbortSignal.timeout(options.timeoutMs),
  });
  return { url: target.toString(), method, status: response.status, body: await response.text() };
}

/** Posts one call event and insists on a 2xx, as a call that is being recorded needs its audit trail. */
export async function deliverEvent(
  url: string,
  method: 'GET' | 'POST',
  event: VonageEvent,
  options: { readonly signature?: SigningIdentity; readonly timeoutMs: number },
): Promise<WebhookDelivery> {
  const leg = event.uuid ?? undefined;
  let delivery: WebhookDelivery;
  try {
    delivery = await sendWebhook(url, method, event, options);
  } catch (error) {
    throw new EventWebhookError(
      `event URL ${url} did not answer the "${event.status}" event (${describeNetworkError(error, options.timeoutMs)}): expected a 2xx response`,
      leg,
      { cause: error },
    );
  }
  if (delivery.status < 200 || delivery.status > 299) {
    throw new EventWebhookError(
      `event URL ${url} answered ${delivery.status} to the "${event.status}" event${snippet(delivery.body)}: expected a 2xx response`,
      leg,
    );
  }
  return delivery;
}

/** A short, one-line excerpt of a response body, for error messages. */
export function snippet(body: string): string {
  const flat = body.replace(/\s+/g, ' ').trim();
  if (flat === '') return '';
  return ` (${flat.length > 100 ? `${flat.slice(0, 97)}...` : flat})`;
}
