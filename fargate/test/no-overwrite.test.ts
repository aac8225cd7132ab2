/**
 * Nothing overwrites a stored recording: two recorders (as two tasks: separate scratch disks and
 * task ids) on one bucket of a real S3 implementation, Ceph RGW (`bash scripts/rgw.sh start`).
 * The embedded s3rver ignores `If-None-Match`, so these tests need RGW and are skipped without it.
 * RGW honours `If-None-Match: *` on PutObject of an unversioned bucket only (not on
 * CompleteMultipartUpload), so the calls here are single-PUT recordings; the multipart path is in
 * multipart-no-overwrite.test.ts, against a double of S3's answers.
 */
import { randomUUID } from 'node:crypto';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Logger } from '@aws-lambda-powertools/logger';
import { DeleteObjectCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SampleRate } from '../../common/audio-format.js';
import { metadataKey, recordingKey } from '../../common/recording-keys.js';
import type { RecordingMetadata } from '../../common/recording-metadata.js';
import { type LocalS3, rgwAvailable, startLocalS3 } from '../../test-support/local-s3.js';
import {
  callUrl,
  closed,
  connectedFrame,
  frames,
  inflightKeys,
  newCallUuid,
  openSocket,
  readObject,
  sendAll,
  waitForRecording,
  waitUntil,
} from '../../test-support/recorder.js';
import { metadataDigests } from '../../test-support/recording-fixtures.js';
import { loopPcm, speechPcm } from '../../test-support/speech.js';
import { createRecorder, type Recorder } from '../src/recorder.js';
import { recoverSpools } from '../src/recovery.js';
import { writeJournal } from '../src/spool.js';
import { TransferLimiter } from '../src/transfer-limiter.js';

/** Keeps the warnings a recorder logs, as an operator would read them. */
class WarningLog extends Logger {
  readonly warnings: string[] = [];
  constructor() {
    super({ logLevel: 'SILENT' });
  }
  override warn(...[input]: Parameters<Logger['warn']>): void {
    this.warnings.push(typeof input === 'string' ? input : JSON.stringify(input));
  }
}

const rate: SampleRate = 16000;
let server: LocalS3;
let s3: S3Client;
let bucket: string;
let work: string;
let speech: Buffer;
const recorders: Recorder[] = [];

async function startTask(): Promise<{
  recorder: Recorder;
  base: string;
  scratchDir: string;
  log: WarningLog;
}> {
  const scratchDir = await mkdtemp(join(work, 'scratch-'));
  const log = new WarningLog();
  const recorder = createRecorder({
    bucket,
    s3,
    callTokenSecret: 'test-secret-0123456789abcdefghijklmnopqrstuvwxyz',
    scratchDir,
    taskId: randomUUID(),
    checkpointIntervalMs: 500,
    logger: log,
  });
  recorders.push(recorder);
  const address = await recorder.listen(0, '127.0.0.1');
  return { recorder, base: `ws://127.0.0.1:${address.port}`, scratchDir, log };
}

/** One call over a websocket: the connected frame, `pcm` as 20 ms frames, a normal close. */
async function call(url: string, uuid: string, pcm: Buffer): Promise<void> {
  const ws = await openSocket(url);
  const end = closed(ws);
  await sendAll(ws, [connectedFrame(rate, uuid), ...frames(pcm, rate)]);
  ws.close(1000);
  await end;
}

describe.skipIf(!rgwAvailable())(
  'no recording is overwritten (against Ceph RGW; bash scripts/rgw.sh start)',
  () => {
    beforeAll(async () => {
      // A fresh unversioned bucket: RGW ignores If-None-Match on a versioned one (S3 honours it on both).
      server = await startLocalS3({ server: 'rgw' });
      ({ client: s3, bucket } = server);
      work = await mkdtemp(join(tmpdir(), 'no-overwrite-'));
      speech = loopPcm(await speechPcm('This call is recorded. Press five to continue.', rate), rate, 4);
    });

    afterAll(async () => {
      await Promise.all(recorders.map((recorder) => recorder.close()));
      await rm(work, { recursive: true, force: true });
      await server?.close();
    });

    it("keeps the first recording byte for byte when the call's token is replayed against other tasks", async () => {
      const first = await startTask();
      const uuid = newCallUuid();
      const url = callUrl(first.base, uuid);
      await call(url, uuid, speech);
      const stored = await waitForRecording(s3, bucket, uuid);
      expect(stored.wav.subarray(44).equals(speech)).toBe(true);
      const jsonKey = metadataKey(uuid, new Date(stored.metadata.startedAt));
      const storedJson = await readObject(s3, bucket, jsonKey);

      // The same URI, token and all, replayed against another task (a task refuses a token it has
      // seen): once with other audio of another length, once with audio of exactly the same length.
      const noise = Buffer.alloc(speech.length * 2, 0x5a);
      const sameLength = Buffer.from(speech).fill(0x11, 0, 6400);
      for (const audio of [noise, sameLength]) {
        const other = await startTask();
        await call(url.replace(first.base, other.base), uuid, audio);
        await waitUntil(async () => other.recorder.activeCalls() === 0);
        expect(other.log.warnings).toEqual([
          expect.stringContaining('a recording of this call is already stored'),
        ]);
        // The replayed audio is dropped everywhere: no spool file, and once the task stops, no
        // checkpoints left for a sweeper.
        expect(await readdir(other.scratchDir)).toEqual([]);
        await other.recorder.close();
        expect(await inflightKeys(s3, bucket, other.recorder.taskId)).toEqual([]);
      }

      expect((await readObject(s3, bucket, stored.wavKey)).equals(stored.wav)).toBe(true);
      expect((await readObject(s3, bucket, jsonKey)).equals(storedJson)).toBe(true);
      expect(stored.metadata).toMatchObject(metadataDigests(stored.wav));
    });

    it('disk recovery keeps a stored recording, and writes the metadata a crash left missing for the same audio', async () => {
      const { base } = await startTask();
      const uuid = newCallUuid();
      await call(callUrl(base, uuid), uuid, speech);
      const stored = await waitForRecording(s3, bucket, uuid);
      const startedAt = new Date(stored.metadata.startedAt);
      const jsonKey = metadataKey(uuid, startedAt);
      const scratchDir = await mkdtemp(join(work, 'recovery-'));

      /** What a recorder that crashed mid-call leaves on its disk: the audio and its journal. */
      const leaveOnDisk = async (audio: Buffer, name: string): Promise<string> => {
        const spoolPath = join(scratchDir, `${uuid}.${name}.pcm`);
        await writeFile(spoolPath, audio);
        await writeJournal(spoolPath, {
          identity: {
            uuid,
            conversationUuid: stored.metadata.conversationUuid,
            from: stored.metadata.from,
            to: stored.metadata.to,
            startedAt: stored.metadata.startedAt,
            sampleRate: rate,
          },
          headers: {},
          bucket,
          key: recordingKey(uuid, startedAt),
          spoolPath,
          uploadId: null,
        });
        return spoolPath.replace(/\.pcm$/, '.journal.json');
      };
      const recover = async (journals: string[], logger: Logger) =>
        recoverSpools({
          journals,
          s3,
          limiter: new TransferLimiter(2),
          partSizeBytes: 5 * 1024 * 1024,
          logger,
        });

      // Other audio on a disk for the same key: the stored recording and its metadata stay.
      const log = new WarningLog();
      expect(await recover([await leaveOnDisk(Buffer.alloc(speech.length, 0x22), 'other')], log)).toBe(0);
      expect(log.warnings).toEqual([expect.stringContaining('a recording of this call is already stored')]);
      expect((await readObject(s3, bucket, stored.wavKey)).equals(stored.wav)).toBe(true);
      expect(JSON.parse((await readObject(s3, bucket, jsonKey)).toString())).toEqual(stored.metadata);
      expect(await readdir(scratchDir)).toEqual([]);

      // The recorder stored the WAV and crashed before its metadata: recovering the same audio
      // finds its own bytes at the key (size and MD5 ETag) and writes the missing metadata.
      await s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: jsonKey }));
      expect(await recover([await leaveOnDisk(speech, 'same')], log)).toBe(1);
      expect((await readObject(s3, bucket, stored.wavKey)).equals(stored.wav)).toBe(true);
      const recovered = JSON.parse((await readObject(s3, bucket, jsonKey)).toString()) as RecordingMetadata;
      expect(recovered).toMatchObject({ uuid, ...metadataDigests(stored.wav), interrupted: true });
    });

    it('the metadata PUT keeps metadata already at its key', async () => {
      const { base, log } = await startTask();
      const uuid = newCallUuid();
      const startedAt = new Date();
      // A metadata JSON written first, as a concurrent writer would (the WAV key is still free).
      const planted = Buffer.from('{"planted":true}\n');
      await s3.send(
        new PutObjectCommand({ Bucket: bucket, Key: metadataKey(uuid, startedAt), Body: planted }),
      );
      await call(callUrl(base, uuid), uuid, speech);
      await waitUntil(async () => log.warnings.some((line) => line.includes('metadata already stored')));
      expect((await readObject(s3, bucket, metadataKey(uuid, startedAt))).equals(planted)).toBe(true);
      const wav = await readObject(s3, bucket, recordingKey(uuid, startedAt));
      expect(wav.subarray(44).equals(speech)).toBe(true);
    });
  },
);
