import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startLoad } from '../../bench/lib/load-generator.js';
import { type FaultProxy, type FaultStep, startFaultProxy } from '../../test-support/fault-proxy.js';
import { type LocalS3, startLocalS3 } from '../../test-support/local-s3.js';
import {
  checkRecordings,
  FULL,
  type InProcessRecorder,
  SECRET,
  scaled,
  speech,
  startRecorder,
} from '../../test-support/reliability.js';

/**
 * S3 misbehaves while calls stream: the recorder stores through a fault-injecting proxy, and
 * afterwards every call's recording must be complete and byte-correct. Small parts (64 KiB, two
 * seconds of audio) put many part uploads inside the fault windows.
 */
const TIMEOUT = scaled(120_000, 900_000);

/** CompleteMultipartUpload is `POST /<bucket>/<key>?uploadId=…`. */
function isComplete(request: { method: string; url: string }): boolean {
  return request.method === 'POST' && request.url.includes('uploadId=');
}

describe('S3 faults while calls stream', () => {
  let s3: LocalS3;
  let proxy: FaultProxy;
  let recorder: InProcessRecorder;

  beforeEach(async () => {
    s3 = await startLocalS3();
    proxy = await startFaultProxy({ target: s3.endpoint });
  });

  afterEach(async () => {
    await recorder?.close();
    await proxy.close();
    await s3.close();
  });

  it(
    'keeps every recording complete through 500s, 503s, drops, stalls and lost responses',
    async () => {
      const calls = scaled(20, 100);
      const seconds = scaled(12, 60);
      recorder = await startRecorder(proxy.endpoint, s3.bucket, { partSizeBytes: 64 * 1024 });
      const pcm = await speech();
      // A third of all requests fail, the kind of failure changing every second.
      const kinds: FaultStep['fault'][] = [
        { kind: 'error500', probability: 0.3 },
        { kind: 'error503', probability: 0.3 },
        { kind: 'drop', probability: 0.3 },
        { kind: 'stall', stallMs: 1500, probability: 0.3 },
        // Not for CompleteMultipartUpload: its own test below.
        { kind: 'lost-response', probability: 0.3, match: (request) => !isComplete(request) },
      ];
      const steps = Array.from({ length: seconds + 5 }, (_, i) => ({
        atMs: i * 1000,
        durationMs: 1000,
        fault: kinds[i % kinds.length]!,
      }));
      const faults = proxy.schedule(steps);
      const load = startLoad({ url: recorder.url, secret: SECRET, calls, seconds, rampMs: 2000, pcm });
      const result = await load.done;
      await faults;
      const stats = proxy.stats();
      const check = await checkRecordings(s3.client, s3.bucket, result.calls, pcm, 120_000);
      console.info(
        `flaky S3: ${calls} calls × ${seconds} s; proxy ${JSON.stringify(stats)}; complete ${check.complete}`,
      );

      expect(result.calls.every((call) => call.closeCode === 1000 && call.framesSent === seconds * 50)).toBe(
        true,
      );
      expect(Object.values(stats.faulted).reduce((a, b) => a + b, 0)).toBeGreaterThan(20);
      expect(check.problems).toEqual([]);
      expect(check.complete).toBe(calls);
      expect(check.framesLost).toBe(0);
    },
    TIMEOUT,
  );

  it(
    `stores every recording after an S3 outage of ${FULL ? 60 : 9} s mid-call, calls ending during it included`,
    async () => {
      const calls = scaled(20, 100);
      const outageMs = scaled(9_000, 60_000);
      const outageAt = 4_000;
      // CI: a stalled request is given up after 5 s; the full run keeps the shipped 60 s default.
      recorder = await startRecorder(proxy.endpoint, s3.bucket, {
        partSizeBytes: 64 * 1024,
        ...(FULL ? {} : { retry: { attemptTimeoutMs: 5_000 } }),
      });
      const pcm = await speech();
      // Half the calls hang up inside the outage, half after it.
      const short = startLoad({
        url: recorder.url,
        secret: SECRET,
        calls: calls / 2,
        seconds: (outageAt + outageMs / 2) / 1000,
        rampMs: 1000,
        pcm,
      });
      const long = startLoad({
        url: recorder.url,
        secret: SECRET,
        calls: calls / 2,
        seconds: (outageAt + outageMs + 5_000) / 1000,
        rampMs: 1000,
        pcm,
      });
      const t0 = Date.now();
      const third = outageMs / 3;
      const outage = proxy.schedule([
        { atMs: outageAt, durationMs: third, fault: { kind: 'error503' } },
        { atMs: outageAt + third, durationMs: third, fault: { kind: 'refuse' } },
        { atMs: outageAt + 2 * third, durationMs: third, fault: { kind: 'stall' } },
      ]);
      const results = await Promise.all([short.done, long.done]);
      await outage;
      const all = results.flatMap((result) => result.calls);
      const hangupsInOutage = all.filter((call) => {
        const into = (call.hangupAt ?? 0) - t0;
        return into > outageAt && into < outageAt + outageMs;
      });
      const check = await checkRecordings(s3.client, s3.bucket, all, pcm, FULL ? 240_000 : 60_000);
      const storedAfterOutage = (Date.now() - t0 - outageAt - outageMs) / 1000;
      console.info(
        `outage: ${calls} calls, ${outageMs / 1000} s outage, ${hangupsInOutage.length} hangups inside it; ` +
          `proxy ${JSON.stringify(proxy.stats())}; all ${check.complete} stored and checked ${storedAfterOutage.toFixed(1)} s after it ended`,
      );

      expect(all.every((call) => call.closeCode === 1000)).toBe(true);
      expect(hangupsInOutage.length).toBeGreaterThan(0);
      expect(proxy.stats().faulted.refuse + proxy.stats().faulted.error503).toBeGreaterThan(0);
      expect(check.problems).toEqual([]);
      expect(check.complete).toBe(calls);
      expect(check.framesLost).toBe(0);
    },
    TIMEOUT,
  );
});

/**
 * The response to CompleteMultipartUpload is lost after S3 completed the object: the recorder must
 * still see the recording stored and write its metadata (the local S3 server answers the retried
 * Complete with 500; real S3 may answer 404 NoSuchUpload).
 */
describe('S3 faults: a lost answer', () => {
  it('stores the metadata of a call whose CompleteMultipartUpload response was lost', async () => {
    const s3 = await startLocalS3();
    const proxy = await startFaultProxy({ target: s3.endpoint });
    const recorder = await startRecorder(proxy.endpoint, s3.bucket, { partSizeBytes: 64 * 1024 });
    try {
      const pcm = await speech();
      const lost = new Set<string>();
      // Each upload's first Complete reaches S3 but its answer is lost; retries go through.
      proxy.setFault({
        kind: 'lost-response',
        match: (request) => isComplete(request) && !lost.has(request.url) && Boolean(lost.add(request.url)),
      });
      const result = await startLoad({ url: recorder.url, secret: SECRET, calls: 3, seconds: 8, pcm }).done;
      const check = await checkRecordings(s3.client, s3.bucket, result.calls, pcm, 30_000);
      expect(check.problems).toEqual([]);
      expect(check.complete).toBe(3);
    } finally {
      // close() waits for the stuck finalization (up to its 10-minute retry deadline): do not wait.
      await Promise.race([recorder.close(), new Promise((resolve) => setTimeout(resolve, 2000))]);
      await proxy.close();
      await s3.close();
    }
  }, 120_000);
});
