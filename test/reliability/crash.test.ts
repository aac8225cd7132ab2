import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GetObjectCommand } from '@aws-sdk/client-s3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type CallResult, expectedPcm, startLoad } from '../../bench/lib/load-generator.js';
import { bytesPerSecond } from '../../common/audio-format.js';
import { type LocalS3, startLocalS3 } from '../../test-support/local-s3.js';
import {
  type RecorderChild,
  SECRET,
  scaled,
  speech,
  startRecorderProcess,
  waitForMetadata,
} from '../../test-support/reliability.js';
import { soxi } from '../../test-support/speech.js';

/**
 * A crash: the recorder process (the real entry point) is killed with SIGKILL while calls stream.
 * What it had received must come back as playable WAVs marked interrupted, losing at most 10 s of
 * each call: from the scratch disk when the next process starts on it, and, as on Fargate where
 * a stopped task's disk is gone, without it.
 */
const CALLS = scaled(20, 100);
const MAX_LOSS_BYTES = 10 * bytesPerSecond(16000);

describe(`SIGKILL with ${CALLS} live calls`, () => {
  let s3: LocalS3;
  let scratchDir: string;
  let checkDir: string;
  const recorders: RecorderChild[] = [];

  beforeEach(async () => {
    s3 = await startLocalS3();
    scratchDir = await mkdtemp(join(tmpdir(), 'reliability-crash-'));
    checkDir = await mkdtemp(join(tmpdir(), 'reliability-crash-check-'));
  });

  afterEach(async () => {
    for (const recorder of recorders.splice(0))
      if (recorder.child.exitCode === null) recorder.child.kill('SIGKILL');
    await s3.close();
    await rm(scratchDir, { recursive: true, force: true });
    await rm(checkDir, { recursive: true, force: true });
  });

  const start = async (dir: string, env: Record<string, string> = {}) => {
    const recorder = await startRecorderProcess({
      RECORDINGS_BUCKET: s3.bucket,
      S3_ENDPOINT: s3.endpoint,
      ...s3.env,
      SCRATCH_DIR: dir,
      ...env,
    });
    recorders.push(recorder);
    return recorder;
  };

  /** Streams calls, kills the recorder after `killAfterMs`, and returns what each client sent. */
  const crashMidCall = async (recorder: RecorderChild, pcm: Buffer): Promise<CallResult[]> => {
    const load = startLoad({
      url: recorder.url,
      secret: SECRET,
      calls: CALLS,
      seconds: 60,
      rampMs: 1000,
      pcm,
    });
    const deadline = Date.now() + 20_000;
    while (load.progress().open < CALLS && Date.now() < deadline) await sleep(50);
    await sleep(scaled(8_000, 30_000));
    recorder.child.kill('SIGKILL');
    await recorder.exited;
    return (await load.done).calls;
  };

  /** Each recovered WAV: playable, marked interrupted, a byte-exact prefix of what was sent, ≤ 10 s short. */
  const checkRecovered = async (calls: readonly CallResult[], pcm: Buffer) => {
    const metadata = await waitForMetadata(s3.client, s3.bucket, calls, 60_000);
    const problems: string[] = [];
    const lostSeconds: number[] = [];
    for (const call of calls) {
      const meta = metadata.get(call.uuid);
      if (!meta) {
        problems.push(`${call.uuid}: nothing recovered`);
        continue;
      }
      const object = await s3.client.send(
        new GetObjectCommand({ Bucket: s3.bucket, Key: meta.recordingKey }),
      );
      const body = Buffer.from(await object.Body!.transformToByteArray());
      const audio = body.subarray(44);
      const path = join(checkDir, `${call.uuid}.wav`);
      await writeFile(path, body);
      const info = await soxi(path);
      lostSeconds.push((call.bytesSent - audio.length) / bytesPerSecond(16000));
      if (!meta.interrupted || meta.end.by !== 'recovered')
        problems.push(`${call.uuid}: end ${JSON.stringify(meta.end)}`);
      if (info.samples !== audio.length / 2)
        problems.push(`${call.uuid}: soxi reads ${info.samples} samples`);
      if (!audio.equals(expectedPcm(pcm, call.pcmOffset, audio.length)))
        problems.push(`${call.uuid}: audio differs`);
      if (call.bytesSent - audio.length > MAX_LOSS_BYTES) {
        problems.push(`${call.uuid}: lost ${(call.bytesSent - audio.length) / bytesPerSecond(16000)} s`);
      }
    }
    return { problems: problems.slice(0, 10), lostSeconds };
  };

  it('recovers every call from the scratch disk when the next recorder starts on it', async () => {
    const pcm = await speech();
    const calls = await crashMidCall(await start(scratchDir), pcm);
    await start(scratchDir);
    const { problems, lostSeconds } = await checkRecovered(calls, pcm);
    console.info(
      `crash, disk kept: ${CALLS} calls, most audio lost ${Math.max(...lostSeconds).toFixed(2)} s`,
    );

    expect(calls.every((call) => call.closeCode === 1006)).toBe(true);
    expect(problems).toEqual([]);
  }, 180_000);

  // The disk is gone with a stopped Fargate task: recovery must work from S3 alone.
  it('recovers every call without the scratch disk (Fargate), from its S3 checkpoints', async () => {
    const pcm = await speech();
    const calls = await crashMidCall(await start(scratchDir, { INFLIGHT_STALE_SECONDS: '20' }), pcm);
    await rm(scratchDir, { recursive: true, force: true });
    const fresh = await mkdtemp(join(tmpdir(), 'reliability-crash-fresh-'));
    try {
      // The sweeper takes over a call's S3 checkpoints once they are INFLIGHT_STALE_SECONDS old
      // (20 here, the least allowed with 10 s checkpoints); the next task starts after that.
      await sleep(21_000);
      await start(fresh, { INFLIGHT_STALE_SECONDS: '20' });
      const { problems, lostSeconds } = await checkRecovered(calls, pcm);
      console.info(
        `crash, disk gone: ${CALLS} calls, most audio lost ${Math.max(...lostSeconds).toFixed(2)} s`,
      );
      expect(problems).toEqual([]);
    } finally {
      await rm(fresh, { recursive: true, force: true });
    }
  }, 240_000);
});

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
