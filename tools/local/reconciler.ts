import type { ReconcileQueue, ReconcileRequest } from '../../common/reconcile-requests.js';

/**
 * The local stand-in for the reconcile queue: each request waits on a timer in this process, then
 * runs the same reconciler the Lambda runs. Requests still waiting when the stack stops are
 * dropped (the local stack keeps no queue across restarts); a run under way is awaited.
 */
export class TimerReconcileQueue implements ReconcileQueue {
  readonly #run: (request: ReconcileRequest) => Promise<unknown>;
  readonly #onError: (error: unknown, request: ReconcileRequest) => void;
  readonly #timers = new Set<NodeJS.Timeout>();
  readonly #running = new Set<Promise<void>>();
  #closed = false;

  constructor(
    run: (request: ReconcileRequest) => Promise<unknown>,
    onError: (error: unknown, request: ReconcileRequest) => void,
  ) {
    this.#run = run;
    this.#onError = onError;
  }

  async send(request: ReconcileRequest, delaySeconds: number): Promise<void> {
    if (this.#closed) return;
    const timer = setTimeout(
      () => {
        this.#timers.delete(timer);
        const running = this.#run(request)
          .then(() => undefined)
          .catch((error: unknown) => this.#onError(error, request))
          .finally(() => this.#running.delete(running));
        this.#running.add(running);
      },
      Math.max(0, delaySeconds * 1000),
    );
    // A waiting check never keeps the process alive on its own.
    timer.unref();
    this.#timers.add(timer);
  }

  /** Requests waiting. */
  pending(): number {
    return this.#timers.size;
  }

  /** Drops waiting requests and waits for the runs under way. */
  async close(): Promise<void> {
    this.#closed = true;
    for (const timer of this.#timers) clearTimeout(timer);
    this.#timers.clear();
    await Promise.all([...this.#running]);
  }
}
