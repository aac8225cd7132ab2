import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Logger } from '@aws-lambda-powertools/logger';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type LocalS3, startLocalS3 } from '../../test-support/local-s3.js';
import { SECRET, waitUntil } from '../../test-support/recorder.js';
import type { RecorderMetrics } from '../src/metrics.js';
import { createRecorder, type Recorder } from '../src/recorder.js';

let s3: LocalS3;
let work: string;
let recorder: Recorder | undefined;

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'ingest-lag-test-'));
  s3 = await startLocalS3();
});

afterAll(async () => {
  await recorder?.close();
  await s3?.close();
  await rm(work, { recursive: true, force: true });
});

/** Keeps the event loop busy, as a recorder too slow for its calls would. */
function blockEventLoop(ms: number): void {
  const until = performance.now() + ms;
  while (performance.now() < until) {
    // busy: nothing else runs, arrived frames wait
  }
}

describe('ingest lag', () => {
  it('reports how long the event loop kept arrived frames waiting, per publish', async () => {
    const lags: number[] = [];
    const metrics: RecorderMetrics = {
      callStarted() {},
      callFinished() {},
      callFailed() {},
      activeCalls() {},
      ingestLag: (ms) => lags.push(ms),
      publish() {},
    };
    recorder = createRecorder({
      bucket: s3.bucket,
      s3: s3.client,
      callTokenSecret: SECRET,
      scratchDir: await mkdtemp(join(work, 'scratch-')),
      logger: new Logger({ logLevel: 'SILENT' }),
      metrics,
      metricsIntervalMs: 400,
    });
    await recorder.listen(0, '127.0.0.1');

    await waitUntil(async () => lags.length >= 1, 5000);
    const before = lags.length;
    blockEventLoop(300);
    // The stall may hold back the publish that was due during it, which then runs before the
    // delay is recorded: the stall shows in one of the next few publishes.
    await waitUntil(async () => lags.length >= before + 3, 5000);
    expect(Math.max(...lags.slice(before))).toBeGreaterThanOrEqual(250);

    // And the next interval starts afresh: a quiet loop reports far less.
    const afterStall = lags.length;
    await waitUntil(async () => lags.length >= afterStall + 3, 5000);
    expect(Math.min(...lags.slice(afterStall))).toBeLessThan(250);
  });
});
