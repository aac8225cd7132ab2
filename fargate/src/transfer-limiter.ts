/**
 * Bounds how many S3 transfers run at once across all calls, so the part buffers in memory stay
 * bounded however many calls are live. Finalization work (a caller hung up and is waiting for its
 * object) jumps the queue ahead of mid-call parts.
 *
 * With `bufferBytes`, `runWithBuffer` lends each running transfer a body buffer that is reused
 * afterwards (at most `concurrency` of them are ever made). A fresh buffer per transfer would be
 * garbage outside the V8 heap, freed only when a GC happens to run: tens of MiB of dead bodies
 * stay resident between collections, and RSS grows with the request rate.
 */
export class TransferLimiter {
  #active = 0;
  readonly #urgent: (() => void)[] = [];
  readonly #background: (() => void)[] = [];
  readonly #spare: Buffer[] = [];

  constructor(
    readonly concurrency: number,
    readonly options: { readonly bufferBytes?: number } = {},
  ) {
    if (!Number.isInteger(concurrency) || concurrency < 1) {
      throw new RangeError(`transfer concurrency must be a positive whole number, got ${concurrency}`);
    }
  }

  async run<T>(urgent: boolean, task: () => Promise<T>): Promise<T> {
    if (this.#active >= this.concurrency) {
      await new Promise<void>((resolve) => (urgent ? this.#urgent : this.#background).push(resolve));
    } else {
      this.#active++;
    }
    try {
      return await task();
    } finally {
      const next = this.#urgent.shift() ?? this.#background.shift();
      // The slot passes straight to the next waiter; only when nobody waits is it released.
      if (next) next();
      else this.#active--;
    }
  }

  /**
   * Like `run`, lending the task a buffer of exactly `length` bytes (a view of a pooled one when
   * it fits) that is valid until the task settles: the task must not keep it.
   */
  runWithBuffer<T>(urgent: boolean, length: number, task: (buffer: Buffer) => Promise<T>): Promise<T> {
    return this.run(urgent, async () => {
      const capacity = this.options.bufferBytes ?? 0;
      if (length > capacity) return task(Buffer.allocUnsafe(length));
      // allocUnsafeSlow: a buffer of its own, never a slice of Node's shared pool.
      const pooled = this.#spare.pop() ?? Buffer.allocUnsafeSlow(capacity);
      try {
        return await task(pooled.subarray(0, length));
      } finally {
        this.#spare.push(pooled);
      }
    });
  }
}
