import type { WebSocket } from 'ws';
import type { CallSession } from './call-session.js';
import { CloseCode } from './close-codes.js';
import type { DrainableCalls } from './drain.js';

/**
 * The calls one recorder holds: each open socket's session, and every session not yet done (its
 * socket open or its recording still finalizing), by call uuid. A call leaves the first map when
 * its socket closes and the second once its recording is stored or given up on.
 */
export class LiveCalls implements DrainableCalls {
  readonly #bySocket = new Map<WebSocket, CallSession>();
  readonly #byUuid = new Map<string, CallSession>();
  readonly #onNoneLeft: () => void;

  /** `onNoneLeft` runs each time the last call not yet stored is. */
  constructor(onNoneLeft: () => void) {
    this.#onNoneLeft = onNoneLeft;
  }

  /** Calls not yet stored. */
  count(): number {
    return this.#byUuid.size;
  }

  has(uuid: string): boolean {
    return this.#byUuid.has(uuid);
  }

  uuids(): string[] {
    return [...this.#byUuid.keys()];
  }

  /** Every session not yet done (what admission weighs a new call against). */
  sessions(): IterableIterator<CallSession> {
    return this.#byUuid.values();
  }

  /** The sessions whose sockets are open, with their sockets (heartbeat and tick). */
  open(): IterableIterator<[WebSocket, CallSession]> {
    return this.#bySocket.entries();
  }

  add(socket: WebSocket, session: CallSession): void {
    this.#bySocket.set(socket, session);
    this.#byUuid.set(session.uuid, session);
    session.done.then(() => {
      this.#byUuid.delete(session.uuid);
      if (this.#byUuid.size === 0) this.#onNoneLeft();
    });
  }

  socketClosed(socket: WebSocket): void {
    this.#bySocket.delete(socket);
  }

  async settled(): Promise<void> {
    while (this.#byUuid.size > 0) await Promise.all([...this.#byUuid.values()].map((call) => call.done));
  }

  closeAll(): void {
    for (const session of this.#bySocket.values())
      session.close('drain', CloseCode.GoingAway, 'recorder shutting down');
  }
}
