import type { Logger } from '@aws-lambda-powertools/logger';

/**
 * ECS task scale-in protection while calls are live, through the ECS agent's endpoint
 * (`$ECS_AGENT_URI/task-protection/v1/state`); off ECS (no agent URI) it does nothing.
 *
 * Protection also keeps a deployment from stopping the task, and CloudFormation fails a stack
 * update whose ECS service is not stable within 3 hours
 * (https://docs.aws.amazon.com/AmazonECS/latest/developerguide/task-scale-in-protection.html,
 * "Task scale-in protection considerations"). So protection is never open-ended: each call
 * extends it to the latest moment that call can still need the task (its start + the longest call
 * + a finalize margin), it is cleared as soon as the last call is stored, and a call stuck past its
 * bound does not hold it. See docs/configuration.md, "Deployments and live calls".
 */
export interface TaskProtection {
  /** Whether calls are live (each tick); false clears protection. */
  setActive(active: boolean): void;
  /** A call was accepted at `atMs` (epoch ms): protect the task until it must have ended. */
  callAccepted?(atMs: number): void;
  /** Resolves once the agent has been told the latest state. */
  settled(): Promise<void>;
}

/** What the agent last confirmed (its `protection` answer). */
export interface AppliedProtection {
  readonly enabled: boolean;
  /** Epoch ms of `ExpirationDate`; undefined when not protected. */
  readonly expiresAtMs: number | undefined;
}

/** A request body for `PUT task-protection/v1/state`. */
export type ProtectionRequest =
  | { readonly ProtectionEnabled: true; readonly ExpiresInMinutes: number }
  | { readonly ProtectionEnabled: false };

export interface ProtectionPlanOptions {
  /** Longest call, in seconds (the recorder closes a call at it). */
  readonly maxCallSeconds: number;
  /**
   * After a call's longest duration, how long its recording may still take to be stored (the S3
   * retry deadline is 10 minutes). @default 900
   */
  readonly finalizeMarginSeconds?: number;
  /** Protection is asked for this much beyond the need, so a burst of calls costs one request. @default 300 */
  readonly slackSeconds?: number;
}

/** The agent accepts 1 to 2880 minutes. */
const MAX_EXPIRES_MINUTES = 2880;

/**
 * The decision logic, pure and under an injected clock: from the calls accepted and whether any
 * is live, what to ask the agent now given what it last confirmed.
 */
export class ProtectionPlan {
  readonly #callBoundMs: number;
  readonly #slackMs: number;
  /** The latest moment a live call may still need this task (epoch ms); 0 when idle. */
  #protectUntilMs = 0;

  constructor(options: ProtectionPlanOptions) {
    this.#callBoundMs = (options.maxCallSeconds + (options.finalizeMarginSeconds ?? 900)) * 1000;
    this.#slackMs = (options.slackSeconds ?? 300) * 1000;
  }

  /** The latest moment protection is needed for (0: not needed). */
  get protectUntilMs(): number {
    return this.#protectUntilMs;
  }

  callAccepted(atMs: number): void {
    this.#protectUntilMs = Math.max(this.#protectUntilMs, atMs + this.#callBoundMs);
  }

  /** No call is live: nothing needs protecting. */
  idle(): void {
    this.#protectUntilMs = 0;
  }

  /** What to send the agent at `nowMs`, or undefined when what it holds is right. */
  next(nowMs: number, applied: AppliedProtection | undefined): ProtectionRequest | undefined {
    // Past every live call's bound (a call stuck in finalization): let ECS have the task back.
    const needUntil = this.#protectUntilMs > nowMs ? this.#protectUntilMs : 0;
    if (needUntil === 0) {
      return applied === undefined || applied.enabled ? { ProtectionEnabled: false } : undefined;
    }
    if (applied?.enabled && applied.expiresAtMs !== undefined && applied.expiresAtMs >= needUntil) {
      return undefined;
    }
    const minutes = Math.ceil((needUntil + this.#slackMs - nowMs) / 60_000);
    return { ProtectionEnabled: true, ExpiresInMinutes: Math.min(MAX_EXPIRES_MINUTES, Math.max(1, minutes)) };
  }
}

export interface EcsTaskProtectionOptions extends ProtectionPlanOptions {
  /** The agent's base URI. @default process.env.ECS_AGENT_URI (unset → protection is a no-op) */
  readonly agentUri?: string;
  readonly logger?: Logger;
  /** Epoch ms. @default Date.now */
  readonly now?: () => number;
  /** Wait after a failed request before the next one. @default 5000 */
  readonly retryDelayMs?: number;
}

/** Failed to set or clear protection (logged; calls go on regardless). */
export class TaskProtectionError extends Error {
  constructor(
    message: string,
    readonly reason?: string,
    options?: { cause: unknown },
  ) {
    super(message, options);
    this.name = 'TaskProtectionError';
  }
}

/**
 * The agent's answers (amazon-ecs-agent, agent/handlers/agentapi/taskprotection/v1/handlers):
 * 200 `{"protection":{"ExpirationDate","ProtectionEnabled","TaskArn"}}`; a failure from ECS is
 * `{"failure":{"Arn","Detail","Reason"}}` with 409 for DEPLOYMENT_BLOCKED (more protected tasks
 * than the desired count), TASK_STOPPING_OR_STOPPED and INVALID, 404 for MISSING; an exception is
 * `{"error":{"Arn","Code","Message"}}` with the exception's status.
 */
interface AgentAnswer {
  protection?: { ExpirationDate?: string | null; ProtectionEnabled?: boolean };
  failure?: { Reason?: string; Detail?: string | null };
  error?: { Code?: string; Message?: string };
}

export class EcsTaskProtection implements TaskProtection {
  readonly #agentUri: string | undefined;
  readonly #logger: Logger | undefined;
  readonly #now: () => number;
  readonly #retryDelayMs: number;
  readonly #plan: ProtectionPlan;
  #applied: AppliedProtection | undefined;
  #retryAtMs = 0;
  /** ECS is stopping this task: protection can no longer be set. */
  #stopping = false;
  #sending: Promise<void> | undefined;

  constructor(options: EcsTaskProtectionOptions) {
    this.#agentUri = options.agentUri ?? process.env.ECS_AGENT_URI;
    this.#logger = options.logger;
    this.#now = options.now ?? Date.now;
    this.#retryDelayMs = options.retryDelayMs ?? 5000;
    this.#plan = new ProtectionPlan(options);
  }

  get enabled(): boolean {
    return Boolean(this.#agentUri);
  }

  /** What the agent last confirmed. */
  get applied(): AppliedProtection | undefined {
    return this.#applied;
  }

  callAccepted(atMs: number): void {
    this.#plan.callAccepted(atMs);
    this.#pump();
  }

  setActive(active: boolean): void {
    if (!active) this.#plan.idle();
    this.#pump();
  }

  async settled(): Promise<void> {
    while (this.#sending) await this.#sending;
  }

  #pump(): void {
    if (!this.#agentUri || this.#sending || this.#stopping) return;
    const now = this.#now();
    if (now < this.#retryAtMs) return;
    const request = this.#plan.next(now, this.#applied);
    if (!request) return;
    this.#sending = this.#send(request).finally(() => {
      this.#sending = undefined;
      // What changed while the request was out is sent next (the tick also calls setActive).
      this.#pump();
    });
  }

  async #send(request: ProtectionRequest): Promise<void> {
    try {
      const response = await fetch(`${this.#agentUri}/task-protection/v1/state`, {
        method: 'PUT',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(request),
        signal: AbortSignal.timeout(5000),
      });
      const text = await response.text();
      let answer: AgentAnswer = {};
      try {
        answer = JSON.parse(text) as AgentAnswer;
      } catch {
        // Not JSON: reported below with the status.
      }
      if (!response.ok || !answer.protection) {
        const reason = answer.failure?.Reason ?? answer.error?.Code;
        throw new TaskProtectionError(
          `agent answered ${response.status}: ${reason ?? text.slice(0, 200)}`,
          reason,
        );
      }
      const expires = answer.protection.ExpirationDate ? Date.parse(answer.protection.ExpirationDate) : NaN;
      this.#applied = {
        enabled: answer.protection.ProtectionEnabled === true,
        expiresAtMs: Number.isNaN(expires) ? undefined : expires,
      };
      this.#logger?.info('task protection set', {
        protectionEnabled: this.#applied.enabled,
        expirationDate: answer.protection.ExpirationDate ?? null,
      });
    } catch (error) {
      const failure =
        error instanceof TaskProtectionError
          ? error
          : new TaskProtectionError(String(error), undefined, { cause: error });
      // Unknown now: the next attempt sends whatever is wanted then.
      this.#applied = undefined;
      this.#retryAtMs = this.#now() + this.#retryDelayMs;
      if (failure.reason === 'TASK_STOPPING_OR_STOPPED') {
        // ECS has decided to stop this task; the SIGTERM that follows drains it.
        this.#stopping = true;
        this.#logger?.warn('task is stopping; protection no longer applies', { request });
        return;
      }
      this.#logger?.error('task protection request failed', { error: failure, request });
    }
  }
}
