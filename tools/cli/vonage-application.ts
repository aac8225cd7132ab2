import { Vonage } from '@vonage/server-sdk';
import { CliError } from './errors.js';

/**
 * Points a Vonage application's voice webhooks at the stack, through Vonage's Applications API
 * (`PUT /v2/applications/{id}` replaces the whole application, so the update sends back every
 * setting it read), and optionally links a number to the application (Numbers API).
 */

export type HttpMethod = 'GET' | 'POST';

/** One webhook as Vonage stores it. */
export interface Webhook {
  readonly address: string;
  readonly httpMethod: HttpMethod;
}

export interface VoiceWebhooks {
  readonly answerUrl: Webhook;
  readonly eventUrl: Webhook;
}

export interface VonageCredentials {
  readonly apiKey: string;
  readonly apiSecret: string;
  readonly applicationId: string;
}

/** Credentials come only from the environment, never from flags that land in shell history. */
export const CREDENTIAL_VARIABLES = ['VONAGE_API_KEY', 'VONAGE_API_SECRET', 'VONAGE_APPLICATION_ID'] as const;

export function credentialsFromEnv(env: NodeJS.ProcessEnv = process.env): VonageCredentials {
  const missing = CREDENTIAL_VARIABLES.filter((name) => !env[name]);
  if (missing.length > 0) {
    throw new CliError(
      `missing ${missing.join(', ')} in the environment (credentials are read from the environment only, never from flags)`,
    );
  }
  return {
    apiKey: env.VONAGE_API_KEY as string,
    apiSecret: env.VONAGE_API_SECRET as string,
    applicationId: env.VONAGE_APPLICATION_ID as string,
  };
}

/**
 * A Vonage SDK client. `VONAGE_API_HOST` / `VONAGE_REST_HOST` (e.g. `https://api-eu.vonage.com`)
 * override the SDK's `https://api.nexmo.com` and `https://rest.nexmo.com`.
 */
export function createVonageClient(
  credentials: VonageCredentials,
  hosts: { apiHost?: string | undefined; restHost?: string | undefined; timeoutMs?: number } = {},
): Vonage {
  return new Vonage(
    // The Applications API takes the key and secret (basic auth); no private key is used. The empty
    // string keeps the SDK's Auth from calling fs.existsSync(undefined), which Node 24 reports as a
    // deprecation (DEP0187) on stderr: https://github.com/Vonage/vonage-node-sdk/issues/1020
    { apiKey: credentials.apiKey, apiSecret: credentials.apiSecret, privateKey: '' },
    {
      // The SDK waits forever by default; an operator's terminal should not.
      timeout: hosts.timeoutMs ?? 30_000,
      ...(hosts.apiHost ? { apiHost: hosts.apiHost } : {}),
      ...(hosts.restHost ? { restHost: hosts.restHost } : {}),
    },
  );
}

/** A Vonage API call that failed, with the status and Vonage's own explanation. */
export class VonageApiError extends CliError {
  override readonly name = 'VonageApiError';
  constructor(
    message: string,
    readonly status: number | undefined,
  ) {
    super(message);
  }
}

/** Turns the SDK's error (a VetchError carrying the fetch Response) into one clear line. */
async function apiError(error: unknown, action: string, applicationId: string): Promise<Error> {
  const response = (error as { response?: { status?: number; text?: () => Promise<string> } }).response;
  const status = response?.status;
  if (status === undefined) {
    return new VonageApiError(
      `cannot reach the Vonage API to ${action}: ${(error as Error).message}`,
      undefined,
    );
  }
  let detail = '';
  try {
    const body = JSON.parse((await response?.text?.()) ?? '') as Record<string, unknown>;
    detail = String(body.detail ?? body.title ?? body['error-code-label'] ?? '');
  } catch {
    // A body that is not JSON adds nothing to the status.
  }
  const explained = detail ? `: ${detail}` : '';
  if (status === 401) {
    return new VonageApiError(
      `Vonage rejected the credentials (401) while trying to ${action}: check VONAGE_API_KEY and VONAGE_API_SECRET${explained}`,
      status,
    );
  }
  if (status === 404) {
    return new VonageApiError(
      `Vonage has no application ${applicationId} on this account (404): check VONAGE_APPLICATION_ID${explained}`,
      status,
    );
  }
  return new VonageApiError(`Vonage answered ${status} while trying to ${action}${explained}`, status);
}

/** A change of one webhook: what it was (if set) and what it becomes. */
export interface WebhookChange {
  readonly before: Webhook | null;
  readonly after: Webhook;
}

export interface NumberLink {
  readonly msisdn: string;
  readonly country: string;
  /** The application the number was linked to before, if any. */
  readonly before: string | null;
  readonly after: string;
  readonly changed: boolean;
}

export interface ConfigureResult {
  readonly applicationId: string;
  readonly applicationName: string;
  readonly answerUrl: WebhookChange;
  readonly eventUrl: WebhookChange;
  /** Whether Vonage signs the application's voice webhooks, before and after (when asked to set it). */
  readonly signedCallbacks?: { readonly before: boolean; readonly after: boolean };
  /** Whether the webhooks differ from what the application had. */
  readonly changed: boolean;
  /** Whether an update was sent (false on a dry run or when nothing changed). */
  readonly applied: boolean;
  readonly number?: NumberLink;
}

export interface ConfigureOptions {
  readonly vonage: Vonage;
  readonly applicationId: string;
  readonly webhooks: VoiceWebhooks;
  /**
   * Turn Vonage's signed voice webhooks on (`capabilities.voice.signed_callbacks`): the stack
   * verifies them, and without them every answer would be refused.
   */
  readonly signedCallbacks?: boolean;
  /** A number (E.164 digits) to link to the application. */
  readonly number?: string;
  /** Read and compare only; send no update. */
  readonly dryRun?: boolean;
}

type Json = Record<string, unknown>;
const isObject = (value: unknown): value is Json =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

/**
 * The SDK returns the application with every key twice, snake_case as Vonage sent it and a
 * camelCase copy, and snake-cases the update with the camelCase copy winning. Read a webhook
 * from either form; write only the camelCase one (and drop the snake twin) so the change wins.
 */
function readWebhook(webhooks: Json | undefined, camel: string, snake: string): Webhook | null {
  const value = webhooks?.[camel] ?? webhooks?.[snake];
  if (!isObject(value) || typeof value.address !== 'string') return null;
  const method = value.httpMethod ?? value.http_method;
  return { address: value.address, httpMethod: method === 'GET' ? 'GET' : 'POST' };
}

function writeWebhook(webhooks: Json, camel: string, snake: string, target: Webhook): void {
  const existing = webhooks[camel] ?? webhooks[snake];
  // Keep per-webhook settings such as socketTimeout and connectTimeout.
  webhooks[camel] = {
    ...(isObject(existing) ? existing : {}),
    address: target.address,
    httpMethod: target.httpMethod,
  };
  // Its snake twin would be overwritten by the camelCase key anyway; drop it so the body is unambiguous.
  delete (webhooks[camel] as Json).http_method;
  if (camel !== snake) delete webhooks[snake];
}

const sameWebhook = (a: Webhook | null, b: Webhook) =>
  a !== null && a.address === b.address && a.httpMethod === b.httpMethod;

/**
 * Reads the application, sets `capabilities.voice.webhooks.answer_url` and `event_url` (address
 * and method), keeps every other setting, and writes it back unless nothing changed or it is a
 * dry run. Then links the number, if one is given, the same way.
 */
export async function configureVonageApplication(options: ConfigureOptions): Promise<ConfigureResult> {
  const { vonage, applicationId, webhooks } = options;
  let application: Json;
  try {
    application = (await vonage.applications.getApplication(applicationId)) as unknown as Json;
  } catch (error) {
    throw await apiError(error, `read application ${applicationId}`, applicationId);
  }
  const capabilities = isObject(application.capabilities) ? application.capabilities : {};
  const voice = isObject(capabilities.voice) ? capabilities.voice : {};
  const current = isObject(voice.webhooks) ? voice.webhooks : {};
  const answerBefore = readWebhook(current, 'answerUrl', 'answer_url');
  const eventBefore = readWebhook(current, 'eventUrl', 'event_url');
  const signedBefore = (voice.signedCallbacks ?? voice.signed_callbacks) === true;
  const signedAfter = options.signedCallbacks ? true : signedBefore;
  const changed =
    !sameWebhook(answerBefore, webhooks.answerUrl) ||
    !sameWebhook(eventBefore, webhooks.eventUrl) ||
    signedAfter !== signedBefore;

  let applied = false;
  if (changed && !options.dryRun) {
    const nextWebhooks: Json = { ...current };
    writeWebhook(nextWebhooks, 'answerUrl', 'answer_url', webhooks.answerUrl);
    writeWebhook(nextWebhooks, 'eventUrl', 'event_url', webhooks.eventUrl);
    const nextVoice: Json = { ...voice, webhooks: nextWebhooks };
    if (options.signedCallbacks) {
      nextVoice.signedCallbacks = true;
      delete nextVoice.signed_callbacks;
    }
    const update = {
      ...application,
      id: applicationId,
      capabilities: { ...capabilities, voice: nextVoice },
    };
    try {
      await vonage.applications.updateApplication(
        update as unknown as Parameters<Vonage['applications']['updateApplication']>[0],
      );
    } catch (error) {
      throw await apiError(error, `update application ${applicationId}`, applicationId);
    }
    applied = true;
  }

  const result: ConfigureResult = {
    applicationId,
    applicationName: typeof application.name === 'string' ? application.name : '',
    answerUrl: { before: answerBefore, after: webhooks.answerUrl },
    eventUrl: { before: eventBefore, after: webhooks.eventUrl },
    ...(options.signedCallbacks ? { signedCallbacks: { before: signedBefore, after: signedAfter } } : {}),
    changed,
    applied,
  };
  if (!options.number) return result;
  return {
    ...result,
    number: await linkNumber(vonage, applicationId, options.number, options.dryRun ?? false),
  };
}

async function linkNumber(
  vonage: Vonage,
  applicationId: string,
  number: string,
  dryRun: boolean,
): Promise<NumberLink> {
  const msisdn = number.replace(/[\s+()-]/g, '');
  if (!/^\d{6,15}$/.test(msisdn)) {
    throw new CliError(
      `--number must be a phone number in E.164 form (e.g. 447700900000), got ${JSON.stringify(number)}`,
    );
  }
  let owned: Json[];
  try {
    // pattern + search_pattern 1 (contains): Vonage has no exact-match lookup.
    const list = (await vonage.numbers.getOwnedNumbers({ pattern: msisdn, searchPattern: 1 } as Parameters<
      Vonage['numbers']['getOwnedNumbers']
    >[0])) as unknown as { numbers?: Json[] };
    owned = list.numbers ?? [];
  } catch (error) {
    throw await apiError(error, `look up number ${msisdn}`, applicationId);
  }
  const found = owned.find((entry) => entry.msisdn === msisdn);
  if (!found) throw new CliError(`number ${msisdn} is not on this Vonage account`);
  const country = String(found.country ?? '');
  const before = typeof found.app_id === 'string' ? found.app_id : null;
  const link: NumberLink = {
    msisdn,
    country,
    before,
    after: applicationId,
    changed: before !== applicationId,
  };
  if (!link.changed || dryRun) return link;
  let response: { errorCode?: string; errorCodeLabel?: string };
  try {
    response = await vonage.numbers.updateNumber({
      country,
      msisdn,
      applicationId,
    } as Parameters<Vonage['numbers']['updateNumber']>[0]);
  } catch (error) {
    throw await apiError(error, `link number ${msisdn}`, applicationId);
  }
  if (response.errorCode !== '200') {
    throw new VonageApiError(
      `Vonage refused to link number ${msisdn}: ${response.errorCodeLabel ?? 'error'} (${response.errorCode})`,
      undefined,
    );
  }
  return link;
}
