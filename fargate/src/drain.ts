/**
 * A recorder's drain as explicit state. `serving` → `draining` (health 503, new calls refused,
 * live calls run on) → `cut-off` (live calls, and any that upgrade just then, are closed with
 * 1001). The drain ends when every call is stored, early if the calls end by themselves.
 */
export type DrainPhase = 'serving' | 'draining' | 'cut-off';

/** What the drain needs of the recorder's calls. */
export interface DrainableCalls {
  /** Calls not yet stored (open, or finalizing their recording). */
  count(): number;
  /** Resolves once every call not yet stored is, including calls that start meanwhile. */
  settled(): Promise<void>;
  /** Closes every open call (1001, recorder shutting down). */
  closeAll(): void;
}

export interface DrainEvents {
  started(activeCalls: number, graceMs: number): void;
  deadlineReached(activeCalls: number): void;
  ended(activeCalls: number): void;
}

export class Drain {
  readonly #calls: DrainableCalls;
  readonly #events: DrainEvents;
  #phase: DrainPhase = 'serving';
  #done: Promise<void> | undefined;
  #deadline: NodeJS.Timeout | undefined;

  constructor(calls: DrainableCalls, events: DrainEvents) {
    this.#calls = calls;
    this.#events = events;
  }

  get phase(): DrainPhase {
    return this.#phase;
  }

  /** New calls are refused and health answers 503. */
  get refusing(): boolean {
    return this.#phase !== 'serving';
  }

  /** Live calls are being closed: a call that upgrades now is closed at once. */
  get cutOff(): boolean {
    return this.#phase === 'cut-off';
  }

  /** Starts the drain (once; later calls return the same promise) with `graceMs` for live calls. */
  start(graceMs: number): Promise<void> {
    if (this.#done) return this.#done;
    this.#phase = 'draining';
    this.#events.started(this.#calls.count(), graceMs);
    const deadline = new Promise<void>((resolve) => {
      this.#deadline = setTimeout(() => {
        if (this.#calls.count() > 0) this.#events.deadlineReached(this.#calls.count());
        this.cut();
        resolve();
      }, graceMs);
    });
    // Calls that end by themselves end the drain early; the deadline only cuts the rest.
    this.#done = Promise.race([this.#calls.settled(), deadline.then(() => this.#calls.settled())]).then(
      () => {
        clearTimeout(this.#deadline);
        this.#events.ended(this.#calls.count());
      },
    );
    return this.#done;
  }

  /** Closes every live call now (the deadline, or the recorder closing). */
  cut(): void {
    if (this.#phase === 'serving') this.#phase = 'draining';
    this.#phase = 'cut-off';
    this.#calls.closeAll();
  }
}
