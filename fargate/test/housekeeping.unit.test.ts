import { createHistogram } from 'node:perf_hooks';
import { Logger } from '@aws-lambda-powertools/logger';
import { describe, expect, it } from 'vitest';
import { publishMetrics } from '../src/housekeeping.js';
import type { RecorderMetrics } from '../src/metrics.js';

function recordingMetrics(): RecorderMetrics & { lags: number[]; active: number[]; published: number } {
  const seen = { lags: [] as number[], active: [] as number[], published: 0 };
  return Object.assign(seen, {
    callStarted() {},
    callFinished() {},
    callFailed() {},
    activeCalls: (count: number) => seen.active.push(count),
    ingestLag: (ms: number) => seen.lags.push(ms),
    publish: () => {
      seen.published++;
    },
  });
}

describe('publishing the recorder metrics', () => {
  it('reports the interval p99 loop delay in ms as ingest lag, then starts a fresh interval', () => {
    const delay = createHistogram();
    // 1 ms mostly, 300 ms in 2% of the samples: over the interval's p99, so reported.
    for (let i = 0; i < 98; i++) delay.record(1_000_000);
    delay.record(300_000_000);
    delay.record(300_000_000);
    const metrics = recordingMetrics();
    const logger = new Logger({ logLevel: 'SILENT' });

    publishMetrics({ count: () => 7 }, metrics, logger, delay);
    expect(metrics.active).toEqual([7]);
    expect(metrics.lags[0]).toBeGreaterThanOrEqual(299);
    expect(metrics.published).toBe(1);

    // The next interval holds only what came after the publish.
    for (let i = 0; i < 10; i++) delay.record(2_000_000);
    publishMetrics({ count: () => 0 }, metrics, logger, delay);
    expect(metrics.lags[1]).toBeLessThan(3);
  });
});
