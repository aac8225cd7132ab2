import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import type { Logger } from '@aws-lambda-powertools/logger';
import type { LiveCalls } from './live-calls.js';
import type { RecorderMetrics } from './metrics.js';
import type { TaskProtection } from './task-protection.js';
import type { UpgradeGate } from './upgrade-gate.js';

/** The recorder's periodic work, each on its own timer. */
export interface HousekeepingOptions {
  readonly calls: LiveCalls;
  readonly gate: UpgradeGate;
  readonly taskProtection: TaskProtection;
  readonly logger: Logger;
  readonly metrics: RecorderMetrics;
  /** Samples the scratch disk's free space for admission (never rejects). */
  readonly sampleFreeSpace: () => void;
  readonly heartbeatIntervalMs: number;
  readonly tickIntervalMs: number;
  readonly metricsIntervalMs: number;
}

/**
 * Pings every open socket; one that has not answered the previous ping is cut (its audio is kept).
 * A pong or any frame marks a session alive again.
 */
export function heartbeatRound(calls: LiveCalls, logger: Logger): void {
  for (const [socket, session] of calls.open()) {
    if (!session.alive) {
      logger.warn('peer did not answer ping; cutting the socket', { callUuid: session.uuid });
      session.terminate('heartbeat');
      continue;
    }
    session.alive = false;
    socket.ping();
  }
}

/** Each session's time-based limits and flushes, expired tokens, task protection, free space. */
export function tickRound(options: HousekeepingOptions): void {
  const nowMono = performance.now();
  for (const [, session] of options.calls.open()) session.tick(nowMono);
  options.gate.forgetExpiredTokens();
  options.taskProtection.setActive(options.calls.count() > 0);
  options.sampleFreeSpace();
}

/** The event loop's delay since the last publish, in nanoseconds (`monitorEventLoopDelay`). */
export type LoopDelayHistogram = Pick<ReturnType<typeof monitorEventLoopDelay>, 'percentile' | 'reset'>;

/** Active calls and the interval's ingest lag (p99 loop delay, ms), then a fresh interval. */
export function publishMetrics(
  calls: Pick<LiveCalls, 'count'>,
  metrics: RecorderMetrics,
  logger: Logger,
  loopDelay: LoopDelayHistogram,
): void {
  try {
    metrics.activeCalls(calls.count());
    metrics.ingestLag?.(loopDelay.percentile(99) / 1e6);
    loopDelay.reset();
    metrics.publish();
  } catch (error) {
    logger.error('publishing metrics failed', { error });
  }
}

/** Starts the heartbeat, the tick and the metrics timers (unref'd); `stop` clears all three. */
export function startHousekeeping(options: HousekeepingOptions): { stop(): void } {
  const { calls, logger, metrics } = options;
  // Ingest lag: a frame that has arrived waits for the event loop before it is read, so the loop's
  // delay is how far the recorder's intake runs behind the stream (the bench's ping measure, from inside).
  const loopDelay = monitorEventLoopDelay({ resolution: 10 });
  loopDelay.enable();
  const timers = [
    setInterval(() => heartbeatRound(calls, logger), options.heartbeatIntervalMs),
    setInterval(() => tickRound(options), options.tickIntervalMs),
    setInterval(() => publishMetrics(calls, metrics, logger, loopDelay), options.metricsIntervalMs),
  ];
  for (const timer of timers) timer.unref();
  return {
    stop: () => {
      for (const timer of timers) clearInterval(timer);
      loopDelay.disable();
    },
  };
}
