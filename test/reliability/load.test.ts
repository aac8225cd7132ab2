import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runLoadProcess } from '../../bench/lib/processes.js';
import { type LocalS3, startLocalS3 } from '../../test-support/local-s3.js';
import {
  checkRecordings,
  FULL,
  type RecorderChild,
  SECRET,
  scaled,
  speech,
  startRecorderProcess,
} from '../../test-support/reliability.js';

/**
 * Sustained load on one recorder process (the real entry point): many concurrent real-time calls,
 * driven by the load generator in a process of its own. Zero frames lost: every call's WAV holds
 * every frame it sent.
 */
const CALLS = scaled(200, 1000);
const SECONDS = scaled(15, 120);

describe(`${CALLS} concurrent calls for ${SECONDS} s on one recorder`, () => {
  let s3: LocalS3;
  let recorder: RecorderChild;
  let pcmDir: string;

  beforeAll(async () => {
    s3 = await startLocalS3();
    // The full run gives the recorder one core and the load generator the other, as the benchmarks do.
    recorder = await startRecorderProcess(
      { RECORDINGS_BUCKET: s3.bucket, S3_ENDPOINT: s3.endpoint, ...s3.env },
      FULL ? { cpus: '1' } : {},
    );
    pcmDir = await mkdtemp(join(tmpdir(), 'reliability-load-'));
  });

  afterAll(async () => {
    recorder.child.kill('SIGTERM');
    await recorder.exited;
    await s3.close();
    await rm(pcmDir, { recursive: true, force: true });
  });

  it(
    'loses no frame',
    async () => {
      const pcm = await speech();
      const pcmFile = join(pcmDir, 'speech.raw');
      await writeFile(pcmFile, pcm);
      const rampMs = scaled(2_000, 10_000);
      const result = await runLoadProcess({
        url: recorder.url,
        secret: SECRET,
        calls: CALLS,
        // Every call lasts past the ramp, so all of them stream at once for SECONDS.
        seconds: SECONDS + rampMs / 1000,
        rampMs,
        pcmFile,
      });
      const check = await checkRecordings(s3.client, s3.bucket, result.calls, pcm, 120_000);
      const lag = [...result.lagMs].sort((a, b) => a - b);
      console.info(
        `load: ${CALLS} calls, ingest lag median ${lag[lag.length >> 1]?.toFixed(1)} ms, p99 ${lag[Math.floor(lag.length * 0.99)]?.toFixed(1)} ms, generator late p99 ${result.senderLateness.p99Ms.toFixed(1)} ms`,
      );

      expect(result.calls.filter((call) => call.closeCode !== 1000 || call.error)).toEqual([]);
      expect(result.calls.every((call) => call.framesAcknowledged === call.framesSent)).toBe(true);
      expect(check.problems).toEqual([]);
      expect(check.complete).toBe(CALLS);
      expect(check.framesLost).toBe(0);
    },
    scaled(120_000, 600_000),
  );
});
