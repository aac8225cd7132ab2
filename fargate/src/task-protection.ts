import type { Logger } from '@aws-lambda-powertools/logger';

/**
 * ECS task scale-in protection, held while calls are live so scale-in never stops a task that is
 * recording. Uses the ECS agent's endpoint (`$ECS_AGENT_URI/task-protection/v1/state`); off ECS
 * (no agent URI) it does nothing.
 */
export interface TaskProtection {
  /** Says whether calls are live; requests are coalesced and sent one at a time. */
  setActive(active: boolean): void;
  /** Resolves once the agent has been told the latest state. */
  settled(): Promise<void>;
}

export interface EcsTaskProtectionOptions {
  /** The agent's base URI. @default process.env.ECS_AGENT_URI (unset → protection is a no-op) */
  readonly agentUri?: string;
  /** Protection lifetime, renewed while calls stay live. @default 150 (longer than the longest call) */
  readonly expiresInMinutes?: number;
  readonly logger?: Logger;
}

/** Failed to set or clear protection (logged; calls go on regardless). */
export class TaskProtectionError extends Error {
  constructor(message: string, options?: { cause: unknown }) {
    super(message, options);
    this.name = 'TaskProtectionError';
  }
}

export class EcsTaskProtection implements TaskProtection {
  readonly #agentUri: string | undefined;
  readonly #expiresInMinutes: number;
  readonly #logger: Logger | undefined;
  #desired = false;
  /** What the agent was last told, and when (ms), so live protection is renewed before it lapses. */
  #applied: boolean | undefined;
  #appliedAt = 0;
  #sending: Promise<void> | undefined;

  constructor(options: EcsTaskProtectionOptions = {}) {
    this.#agentUri = options.agentUri ?? process.env.ECS_AGENT_URI;
    this.#expiresInMinutes = options.expiresInMinutes ?? 150;
    this.#logger = options.logger;
  }

  get enabled(): boolean {
    return Boolean(this.#agentUri);
  }

  setActive(active: boolean): void {
    this.#desired = active;
    if (!this.#agentUri || this.#sending) return;
    const renewDue = active && Date.now() - this.#appliedAt > (this.#expiresInMinutes * 60_000) / 2;
    if (this.#applied === active && !renewDue) return;
    this.#sending = this.#send(active).finally(() => {
      this.#sending = undefined;
      // After a failure, the next setActive (the recorder calls it every tick) tries again.
      if (this.#applied !== undefined && this.#applied !== this.#desired) this.setActive(this.#desired);
    });
  }

  async settled(): Promise<void> {
    while (this.#sending) await this.#sending;
  }

  async #send(active: boolean): Promise<void> {
    const body = active
      ? { ProtectionEnabled: true, ExpiresInMinutes: this.#expiresInMinutes }
      : { ProtectionEnabled: false };
    try {
      const response = await fetch(`${this.#agentUri}/task-protection/v1/state`, {
        method: 'PUT',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(body),
        signal: AbortSignal.timeout(5000),
      });
      const text = await response.text();
      if (!response.ok)
        throw new TaskProtectionError(`agent answered ${response.status}: ${text.slice(0, 200)}`);
      this.#applied = active;
      this.#appliedAt = Date.now();
      this.#logger?.info('task protection set', { protectionEnabled: active });
    } catch (error) {
      // Marked unknown, so the next change of state tries again.
      this.#applied = undefined;
      this.#logger?.error('task protection request failed', {
        error:
          error instanceof TaskProtectionError
            ? error
            : new TaskProtectionError(String(error), { cause: error }),
        protectionEnabled: active,
      });
    }
  }
}
