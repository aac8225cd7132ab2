/**
 * Disk recovery's decisions, call by call: what an earlier run left on the scratch disk (journal
 * and spool files in a temporary folder) stored as recordings marked interrupted, into an
 * in-memory bucket. recorder.test.ts runs the same recovery after a real recorder's crash against
 * a real S3 server.
 */
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Logger } from '@aws-lambda-powertools/logger';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { checkpointBatchKey, metadataKey, recordingKey, taskAliveKey } from '../../common/recording-keys.js';
import type { RecordingMetadata } from '../../common/recording-metadata.js';
import { WAV_HEADER_BYTES } from '../../common/wav.js';
import { MemoryS3 } from '../../test-support/memory-s3.js';
import { findJournals, recoverSpools } from '../src/recovery.js';
import { type CallJournal, journalPath, writeJournal } from '../src/spool.js';
import { TransferLimiter } from '../src/transfer-limiter.js';

const STARTED_AT = new Date('2026-11-28T14:00:00.000Z');
const TASK_A = 'a0000000-0000-4000-8000-00000000000a';
const TASK_B = 'b0000000-0000-4000-8000-00000000000b';
const callUuid = (n: number) => `c0ffee00-0000-4000-8000-00000000000${n}`;

let scratchDir: string;
let s3: MemoryS3;
let logger: {
  debug: ReturnType<typeof vi.fn>;
  info: ReturnType<typeof vi.fn>;
  warn: ReturnType<typeof vi.fn>;
  error: ReturnType<typeof vi.fn>;
};

beforeEach(async () => {
  scratchDir = await mkdtemp(join(tmpdir(), 'recovery-'));
  s3 = new MemoryS3();
  logger = { debug: vi.fn(), info: vi.fn(), warn: vi.fn(), error: vi.fn() };
});
afterEach(async () => {
  await rm(scratchDir, { recursive: true, force: true });
});

/** A call an earlier run of task `taskId` was recording when it stopped: its spool and journal. */
async function leftOnDisk(n: number, taskId: string, audio: Buffer, uploadId: string | null = null) {
  const uuid = callUuid(n);
  const spoolPath = join(scratchDir, `${uuid}.${STARTED_AT.getTime()}.pcm`);
  const journal: CallJournal = {
    identity: {
      uuid,
      conversationUuid: `CON-${n}`,
      from: '447700900001',
      to: '447700900002',
      startedAt: STARTED_AT.toISOString(),
      sampleRate: 16000,
    },
    headers: { customer: 'acme' },
    bucket: 'recordings',
    key: recordingKey(uuid, STARTED_AT),
    spoolPath,
    uploadId,
    checkpointTaskId: taskId,
  };
  await writeFile(spoolPath, audio);
  await writeJournal(spoolPath, journal);
  return { uuid, spoolPath, journalFile: journalPath(spoolPath), key: journal.key };
}

/** The earlier task's checkpoints in S3: a batch and its heartbeat. */
function checkpointsOf(taskId: string): string[] {
  const keys = [checkpointBatchKey(taskId, 1), taskAliveKey(taskId)];
  for (const key of keys)
    s3.objects.set(key, { body: Buffer.from('batch'), contentType: undefined, metadata: undefined });
  return keys;
}

async function recover(): Promise<number> {
  return recoverSpools({
    journals: await findJournals(scratchDir),
    s3: s3.client,
    limiter: new TransferLimiter(2),
    partSizeBytes: 5 * 1024 * 1024,
    retry: { deadlineMs: 1_000, baseDelayMs: 1 },
    logger: logger as unknown as Logger,
  });
}

function metadataOf(uuid: string): RecordingMetadata {
  const object = s3.objects.get(metadataKey(uuid, STARTED_AT));
  expect(object, `metadata of ${uuid}`).toBeDefined();
  return JSON.parse(object?.body.toString('utf8') ?? '{}') as RecordingMetadata;
}

/** Three seconds of 16 kHz audio, distinct bytes per 20 ms frame. */
const audio = Buffer.concat(Array.from({ length: 150 }, (_, n) => Buffer.alloc(640, n)));

describe('recovering calls an earlier run left on the scratch disk', () => {
  it('stores the spooled audio as a WAV marked interrupted, then removes the files and the task checkpoints', async () => {
    const call = await leftOnDisk(1, TASK_A, audio);
    const checkpoints = checkpointsOf(TASK_A);

    expect(await recover()).toBe(1);
    const wav = s3.objects.get(call.key)?.body ?? Buffer.alloc(0);
    expect(wav.subarray(WAV_HEADER_BYTES).equals(audio)).toBe(true);
    expect(wav.readUInt32LE(40)).toBe(audio.length);
    expect(metadataOf(call.uuid)).toMatchObject({
      conversationUuid: 'CON-1',
      durationSeconds: 3,
      // The end of the audio received: the stopped process never saw the hangup.
      endedAt: '2026-11-28T14:00:03.000Z',
      frameCount: 150,
      interrupted: true,
      end: { by: 'recovered', code: 1006, reason: 'recorder stopped before the call ended' },
      headers: { customer: 'acme' },
    });
    expect(await readdir(scratchDir)).toEqual([]);
    for (const key of checkpoints) expect(s3.objects.has(key)).toBe(false);
  });

  it('aborts the multipart upload the stopped run had started, and takes one already gone as done', async () => {
    s3.uploads.add('upload-1');
    await leftOnDisk(1, TASK_A, audio, 'upload-1');
    await leftOnDisk(2, TASK_A, audio, 'upload-gone');

    expect(await recover()).toBe(2);
    expect(s3.sent.filter((name) => name === 'AbortMultipartUploadCommand')).toHaveLength(2);
    expect(s3.uploads.size).toBe(0);
    expect(logger.warn).not.toHaveBeenCalledWith(expect.stringMatching(/could not abort/), expect.anything());
  });

  it('keeps a recording already at the key and drops the copy on disk, still counting the task as done', async () => {
    const call = await leftOnDisk(1, TASK_A, audio);
    const first = { body: Buffer.from('stored first'), contentType: 'audio/wav', metadata: undefined };
    s3.objects.set(call.key, first);
    const checkpoints = checkpointsOf(TASK_A);

    expect(await recover()).toBe(0);
    expect(s3.objects.get(call.key)).toBe(first);
    expect(await readdir(scratchDir)).toEqual([]);
    for (const key of checkpoints) expect(s3.objects.has(key)).toBe(false);
  });

  it('leaves a call S3 refuses on disk, and its task checkpoints in S3, while other tasks go on', async () => {
    const refused = await leftOnDisk(1, TASK_A, audio);
    const stored = await leftOnDisk(2, TASK_B, audio);
    const keptCheckpoints = checkpointsOf(TASK_A);
    const removedCheckpoints = checkpointsOf(TASK_B);
    s3.refuse = (command, key) =>
      command === 'PutObjectCommand' && key === refused.key
        ? { status: 403, code: 'AccessDenied' }
        : undefined;

    expect(await recover()).toBe(1);
    expect(s3.objects.has(stored.key)).toBe(true);
    expect(s3.objects.has(refused.key)).toBe(false);
    expect((await readFile(refused.spoolPath)).equals(audio)).toBe(true);
    expect((await readdir(scratchDir)).sort()).toEqual(
      [refused.spoolPath, refused.journalFile].map((path) => path.slice(scratchDir.length + 1)).sort(),
    );
    expect(logger.error).toHaveBeenCalledWith(
      'recovering a recording failed; its audio stays on the scratch disk',
      expect.objectContaining({ callUuid: refused.uuid }),
    );
    for (const key of keptCheckpoints) expect(s3.objects.has(key)).toBe(true);
    for (const key of removedCheckpoints) expect(s3.objects.has(key)).toBe(false);
  });

  it('removes a journal whose audio file is gone, and skips one it cannot read, storing nothing for either', async () => {
    const orphan = await leftOnDisk(1, TASK_A, audio);
    await rm(orphan.spoolPath);
    const unreadable = join(scratchDir, 'broken.journal.json');
    await writeFile(unreadable, '{"identity":');

    expect(await recover()).toBe(0);
    expect(s3.objects.size).toBe(0);
    expect(await readdir(scratchDir)).toEqual(['broken.journal.json']);
    expect(logger.error).toHaveBeenCalledWith(
      'unreadable call journal left on the scratch disk',
      expect.objectContaining({ journalFile: unreadable }),
    );
  });

  it('finds only journals, not spool files or anything else', async () => {
    const call = await leftOnDisk(1, TASK_A, audio);
    await writeFile(join(scratchDir, 'notes.txt'), 'x');
    expect(await findJournals(scratchDir)).toEqual([call.journalFile]);
  });
});
