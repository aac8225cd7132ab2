import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { DeleteObjectCommand, GetObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { frameBytes } from '../../common/audio-format.js';
import { LOCAL_S3_ENV } from '../../common/s3-client.js';
import { startTestStack } from '../../test-support/local-stack.js';
import { soxi, speechPcm } from '../../test-support/speech.js';
import { downloadRecording } from '../../tools/cli/download.js';
import { formatDetails, formatListCsv } from '../../tools/cli/format.js';
import { listRecordings, type RecordingRow } from '../../tools/cli/list.js';
import { showRecording } from '../../tools/cli/show.js';
import { verifyRecordings } from '../../tools/cli/verify.js';
import type { LocalStack } from '../../tools/local/stack.js';
import { connectedFrame, openLeg, sendAll, splitFrames } from '../../tools/simulator/leg-client.js';
import { type SimulatedCall, simulateCall } from '../../tools/simulator/simulate-call.js';

/**
 * The audit CLI on recordings the recorder itself made: calls placed through the local stack
 * (answer webhook → NCCO with a per-call token → recorder websocket → S3; events stored by the
 * event webhook), then listed, shown, downloaded and verified, intact and damaged.
 */

const run = promisify(execFile);
const bin = join(import.meta.dirname, '../../bin/recordings.js');

let stack: LocalStack;
let work: string;
let first: SimulatedCall;
let second: SimulatedCall;
let droppedUuid: string;

/**
 * A call whose websocket drops mid-stream: the NCCO (and its token) comes from the answer
 * webhook; a raw ws client sends the `websocket:connected` frame and a second of PCM, then the
 * connection is cut without a close frame.
 */
async function droppedCall(pcm: Buffer): Promise<string> {
  const uuid = randomUUID();
  const query = new URLSearchParams({
    to: '442071838750',
    from: '447700900099',
    uuid,
    conversation_uuid: `CON-${randomUUID()}`,
  });
  const ncco = (await (await fetch(`${stack.answerUrl}?${query}`)).json()) as Array<Record<string, unknown>>;
  const connect = ncco.find((action) => action.action === 'connect') as {
    endpoint: [{ uri: string; 'content-type': string; headers: Record<string, unknown> }];
  };
  const endpoint = connect.endpoint[0];
  const ws = await openLeg(endpoint.uri);
  const second = splitFrames(pcm.subarray(0, 16000 * 2), frameBytes(16000));
  await sendAll(ws, [connectedFrame(endpoint['content-type'], endpoint.headers), ...second]);
  await sleep(200);
  ws.terminate();
  return uuid;
}

async function waitForStored(count: number): Promise<RecordingRow[]> {
  const deadline = Date.now() + 20_000;
  for (;;) {
    const rows = await listRecordings(stack.s3, stack.bucket);
    if (stack.activeCalls() === 0 && rows.filter((row) => row.state === 'ok').length === count) return rows;
    if (Date.now() > deadline) throw new Error(`expected ${count} stored recordings, have ${rows.length}`);
    await sleep(100);
  }
}

async function cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const target = ['--endpoint', stack.s3Endpoint, '--bucket', stack.bucket];
  try {
    // --endpoint takes the credential chain: the local server's keys come from the environment.
    const env = { ...process.env, ...LOCAL_S3_ENV };
    const { stdout, stderr } = await run(process.execPath, [bin, ...args, ...target], { cwd: work, env });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const failed = error as { code: number; stdout: string; stderr: string };
    return { code: failed.code, stdout: failed.stdout, stderr: failed.stderr };
  }
}

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'recorder-audit-'));
  stack = await startTestStack(join(work, 'stack'));
  const speech = await speechPcm('Hello, I am calling about my order.', 16000);
  // Real time, so Vonage's websocket-leg duration (wall clock) matches the recorded audio.
  [first, second] = await Promise.all([
    simulateCall({
      answerUrl: stack.answerUrl,
      audio: { pcm: speech, sampleRate: 16000 },
      from: '447700900011',
      dtmf: [{ digit: '5', atMs: 600 }],
    }),
    simulateCall({
      answerUrl: stack.answerUrl,
      audio: { pcm: speech, sampleRate: 16000 },
      from: '447700900022',
    }),
  ]);
  droppedUuid = await droppedCall(speech);
  await waitForStored(3);
});

afterAll(async () => {
  await stack?.stop();
  if (work) await rm(work, { recursive: true, force: true });
});

describe('recordings made by the recorder', () => {
  it('lists them with caller, callee and interruption, in the table and as JSON from the bin', async () => {
    const rows = await listRecordings(stack.s3, stack.bucket);
    expect(rows.map((row) => row.uuid).sort()).toEqual([first.uuid, second.uuid, droppedUuid].sort());
    const byUuid = new Map(rows.map((row) => [row.uuid, row]));
    expect(byUuid.get(first.uuid)).toMatchObject({
      from: '447700900011',
      to: first.to,
      state: 'ok',
      interrupted: false,
    });
    expect(byUuid.get(droppedUuid)).toMatchObject({ from: '447700900099', interrupted: true, state: 'ok' });
    expect(byUuid.get(droppedUuid)?.durationSeconds).toBeCloseTo(1, 1);

    const listed = await cli(['list', '--json', '--interrupted']);
    expect(listed.code).toBe(0);
    expect((JSON.parse(listed.stdout) as RecordingRow[]).map((row) => row.uuid)).toEqual([droppedUuid]);
    const csv = formatListCsv(await listRecordings(stack.s3, stack.bucket, { caller: '+447700900022' }));
    expect(csv.split('\n')).toHaveLength(2);
    expect(csv).toContain(`,${second.uuid},447700900022,`);
  });

  it("shows a call's metadata with its DTMF and the event trail the webhook stored", async () => {
    const details = await showRecording(stack.s3, stack.bucket, first.uuid);
    expect(details.metadata?.ok).toBe(true);
    if (!details.metadata?.ok) return;
    expect(details.metadata.metadata.textEvents.map((text) => text.event.digit)).toEqual(['5']);
    const trail = details.events.map(
      ({ event }) =>
        `${event.uuid === first.uuid ? 'call' : event.uuid === first.websocketUuid ? 'websocket' : '?'} ${event.status}`,
    );
    expect(trail).toEqual([
      'call started',
      'call ringing',
      'call answered',
      'websocket started',
      'websocket ringing',
      'websocket answered',
      'websocket completed',
      'call completed',
    ]);
    const shown = formatDetails(details);
    expect(shown).toContain('Call events (8):');
    expect(shown).toContain('websocket leg');
    expect(shown).toMatch(/Text event @0\.\ds +│ \{"event":"websocket:dtmf","digit":"5"/);
  });

  it('downloads the audio exactly as streamed', async () => {
    const result = await downloadRecording(stack.s3, stack.bucket, second.uuid, { outDir: join(work, 'dl') });
    expect(result.sha256Matches).toBe(true);
    const wav = await readFile(result.wavPath);
    expect(wav.subarray(44)).toEqual(second.pcm);
    expect(await soxi(result.wavPath)).toMatchObject({ sampleRate: 16000, channels: 1, bits: 16 });
  });

  it('verifies them all, with the durations agreeing with the websocket legs', async () => {
    const report = await verifyRecordings(stack.s3, stack.bucket);
    expect(report.failed).toBe(0);
    const duration = (uuid: string) =>
      report.recordings.find((r) => r.uuid === uuid)?.checks.find((c) => c.check === 'duration');
    expect(duration(first.uuid)?.status).toBe('pass');
    expect(duration(first.uuid)?.detail).toMatch(/Vonage websocket leg \d+ s$/);
    // No events were posted for the dropped call.
    expect(duration(droppedUuid)?.status).toBe('skip');
    const verified = await cli(['verify', '--json']);
    expect(verified.code).toBe(0);
    expect(JSON.parse(verified.stdout)).toMatchObject({ ok: true, failed: 0 });
  });

  it('catches each kind of damage done to a real recording', async () => {
    const row = (await listRecordings(stack.s3, stack.bucket, { uuid: first.uuid }))[0] as RecordingRow;
    const wavKey = row.wavKey as string;
    const jsonKey = row.metadataKey as string;
    const get = async (key: string) =>
      Buffer.from(
        await (
          await stack.s3.send(new GetObjectCommand({ Bucket: stack.bucket, Key: key }))
        ).Body!.transformToByteArray(),
      );
    const put = (key: string, body: Buffer) =>
      stack.s3.send(new PutObjectCommand({ Bucket: stack.bucket, Key: key, Body: body }));
    const remove = (key: string) =>
      stack.s3.send(new DeleteObjectCommand({ Bucket: stack.bucket, Key: key }));
    const wav = await get(wavKey);
    const metadata = await get(jsonKey);
    const failing = async () => {
      const report = await verifyRecordings(stack.s3, stack.bucket, { uuid: first.uuid });
      return (report.recordings[0]?.checks ?? []).filter((c) => c.status === 'fail').map((c) => c.check);
    };

    const flipped = Buffer.from(wav);
    flipped[wav.length >> 1] = (flipped[wav.length >> 1] as number) ^ 0x01;
    await put(wavKey, flipped);
    expect(await failing()).toEqual(['sha256']);

    // One header byte no size or format check reads (the byte rate): the header is checked
    // byte for byte against the canonical one for the metadata.
    const header = Buffer.from(wav);
    header[28] = (header[28] as number) ^ 0x01;
    await put(wavKey, header);
    expect(await failing()).toEqual(['sha256']);

    await put(wavKey, wav.subarray(0, wav.length - 3200));
    expect(await failing()).toEqual(['wav-header', 'size', 'sha256']);

    await put(wavKey, wav);
    await remove(jsonKey);
    expect(await failing()).toEqual(['metadata']);

    await put(jsonKey, metadata);
    await remove(wavKey);
    expect(await failing()).toEqual(['audio']);

    await put(wavKey, wav);
    const details = await showRecording(stack.s3, stack.bucket, first.uuid);
    const completed = details.events.find(
      ({ event }) => event.uuid === first.websocketUuid && event.status === 'completed',
    );
    expect(completed).toBeDefined();
    const event = completed!.event;
    await put(
      completed!.key,
      Buffer.from(JSON.stringify({ ...event, duration: String(Number(event.duration) + 3) })),
    );
    expect(await failing()).toEqual(['duration']);

    // The bin exits 1 and names the failure; restored, it passes again.
    const verified = await cli(['verify', '--uuid', first.uuid]);
    expect(verified.code).toBe(1);
    expect(verified.stdout).toContain('1 of 1 recording failed verification.');
    expect(verified.stdout).toMatch(/│ duration +│ recorded \d+\.\d s, Vonage websocket leg \d+ s/);
    await put(completed!.key, Buffer.from(JSON.stringify(event)));
    expect(await failing()).toEqual([]);
  });
});
