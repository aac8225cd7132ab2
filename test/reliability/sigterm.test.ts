import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startLoad } from '../../bench/lib/load-generator.js';
import { type LocalS3, startLocalS3 } from '../../test-support/local-s3.js';
import {
  callUrl,
  checkRecordings,
  type RecorderChild,
  SECRET,
  scaled,
  speech,
  startRecorderProcess,
  upgradeStatus,
} from '../../test-support/reliability.js';

/**
 * A deploy or scale-in: ECS sends SIGTERM to the recorder process (the real entry point,
 * `fargate/src/main.ts`) while 200 calls stream. Calls that end within the drain time end
 * normally; calls still live at the drain deadline are closed with 1001. Either way every frame
 * the caller sent is in a complete recording when the process exits 0.
 */
describe('SIGTERM with 200 live calls', () => {
  let s3: LocalS3;
  let recorder: RecorderChild | undefined;

  beforeEach(async () => {
    s3 = await startLocalS3();
  });

  afterEach(async () => {
    if (recorder && recorder.child.exitCode === null) recorder.child.kill('SIGKILL');
    recorder = undefined;
    await s3.close();
  });

  const start = (drainSeconds: number) =>
    startRecorderProcess({
      RECORDINGS_BUCKET: s3.bucket,
      S3_ENDPOINT: s3.endpoint,
      ...s3.env,
      DRAIN_TIMEOUT_SECONDS: String(drainSeconds),
    });

  it(
    'lets every call finish within the drain time, refuses new calls, and exits 0 with 200 complete recordings',
    async () => {
      const calls = 200;
      const seconds = scaled(10, 60);
      recorder = await start(100);
      const pcm = await speech();
      const load = startLoad({ url: recorder.url, secret: SECRET, calls, seconds, rampMs: 2000, pcm });
      await waitFor(() => load.progress().open === calls, 20_000);
      const health = `${recorder.url.replace('ws:', 'http:')}/healthz`;
      const signalled = Date.now();
      recorder.child.kill('SIGTERM');
      await new Promise((resolve) => setTimeout(resolve, 500));
      const draining = await fetch(health);
      const newCall = await upgradeStatus(callUrl(recorder.url, 'late-call-0001'));
      const result = await load.done;
      const [code] = await recorder.exited;
      const lastHangup = Math.max(...result.calls.map((call) => call.hangupAt ?? 0));
      console.info(
        `SIGTERM within drain: exit ${code} ${((Date.now() - signalled) / 1000).toFixed(1)} s after SIGTERM, ` +
          `${((Date.now() - lastHangup) / 1000).toFixed(1)} s after the last hangup`,
      );
      const check = await checkRecordings(s3.client, s3.bucket, result.calls, pcm, 10_000);

      expect(draining.status).toBe(503);
      expect(newCall).toBe(503);
      expect(result.calls.every((call) => call.closeCode === 1000 && call.closedBy === 'client')).toBe(true);
      expect(result.calls.every((call) => call.framesSent === seconds * 50)).toBe(true);
      expect(code).toBe(0);
      expect(check.problems).toEqual([]);
      expect(check.complete).toBe(calls);
      expect(check.framesLost).toBe(0);
    },
    scaled(90_000, 240_000),
  );

  it('closes calls still live at the drain deadline with 1001, keeping every frame they sent', async () => {
    const calls = 200;
    const drainSeconds = 3;
    recorder = await start(drainSeconds);
    const pcm = await speech();
    const load = startLoad({ url: recorder.url, secret: SECRET, calls, seconds: 120, rampMs: 2000, pcm });
    await waitFor(() => load.progress().open === calls, 20_000);
    await new Promise((resolve) => setTimeout(resolve, 1000));
    const signalled = Date.now();
    recorder.child.kill('SIGTERM');
    const result = await load.done;
    const [code] = await recorder.exited;
    console.info(
      `SIGTERM past the drain deadline: exit ${code} ${((Date.now() - signalled) / 1000).toFixed(1)} s after SIGTERM`,
    );
    const check = await checkRecordings(s3.client, s3.bucket, result.calls, pcm, 10_000);
    const ends = [...check.metadata.values()].map(
      (metadata) => `${metadata.end.by}/${metadata.end.code}/${metadata.interrupted}`,
    );

    expect(result.calls.every((call) => call.closeCode === 1001 && call.closedBy === 'server')).toBe(true);
    expect(result.calls.every((call) => call.framesSent >= (drainSeconds + 1) * 50)).toBe(true);
    expect(code).toBe(0);
    expect(check.problems).toEqual([]);
    expect(check.complete).toBe(calls);
    expect(check.framesLost).toBe(0);
    expect(new Set(ends)).toEqual(new Set(['drain/1001/true']));
  }, 90_000);
});

async function waitFor(condition: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
