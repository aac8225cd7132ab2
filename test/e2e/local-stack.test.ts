import { once } from 'node:events';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { type AddressInfo, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GetObjectCommand, HeadObjectCommand } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { metadataKey, recordingKey } from '../../common/recording-keys.js';
import { redactCallTokens } from '../../lambdas/webhooks/event.js';
import { startTestStack } from '../../test-support/local-stack.js';
import { freePort } from '../../test-support/ports.js';
import { metadataDigests } from '../../test-support/recording-fixtures.js';
import { soxi, speechPcm } from '../../test-support/speech.js';
import { callDays, listCallEvents, readText, waitForRecording } from '../../tools/local/recordings.js';
import { type LocalStack, startLocalStack } from '../../tools/local/stack.js';
import { AnswerUrlError } from '../../tools/simulator/errors.js';
import { simulateCall } from '../../tools/simulator/simulate-call.js';

const SENTENCE =
  'Please record this message. My account number is four two seven, and I will call back tomorrow.';
const SIGNATURE_SECRET = 'local-signature-secret-for-the-e2e-test-0123456789';

let workDir: string;
let speech: Buffer;

beforeAll(async () => {
  workDir = await mkdtemp(join(tmpdir(), 'e2e-'));
  speech = await speechPcm(SENTENCE, 16000);
});

afterAll(async () => {
  await rm(workDir, { recursive: true, force: true });
});

async function startOnFreePorts(name: string, signatureSecret?: string): Promise<LocalStack> {
  return startTestStack(join(workDir, name), {
    ...(signatureSecret ? { signatureSecret } : {}),
  });
}

async function getBytes(stack: LocalStack, key: string): Promise<Buffer> {
  const object = await stack.s3.send(new GetObjectCommand({ Bucket: stack.bucket, Key: key }));
  return Buffer.from(await object.Body!.transformToByteArray());
}

describe('a call through the local stack', () => {
  let stack: LocalStack;
  beforeAll(async () => {
    stack = await startOnFreePorts('plain');
  });
  afterAll(async () => {
    await stack?.stop();
  });

  it('stores the WAV byte for byte, its metadata, and every event of the call', async () => {
    const call = await simulateCall({
      answerUrl: stack.answerUrl,
      audio: { pcm: speech, sampleRate: 16000 },
      speed: Number.POSITIVE_INFINITY,
      dtmf: [
        { digit: '4', atMs: 1000 },
        { digit: '2', atMs: 1500 },
        { digit: '7', atMs: 2000, durationMs: 400 },
      ],
    });
    expect(call.plan.greeting).toBe('This call is recorded.');
    expect(call.sampleRate).toBe(16000);
    const days = callDays(call.startedAt, call.endedAt);
    const metadata = await waitForRecording(stack.s3, stack.bucket, call.uuid, days);

    // The WAV: a 44-byte header with the right sizes, then exactly the PCM the caller sent.
    const wav = await getBytes(stack, metadata.recordingKey);
    expect(wav.length).toBe(44 + call.pcm.length);
    expect(wav.toString('ascii', 0, 4)).toBe('RIFF');
    expect(wav.readUInt32LE(4)).toBe(wav.length - 8);
    expect(wav.readUInt32LE(40)).toBe(call.pcm.length);
    expect(wav.subarray(44).equals(call.pcm)).toBe(true);
    expect(call.pcm.subarray(0, speech.length).equals(speech)).toBe(true);
    const file = join(workDir, `${call.uuid}.wav`);
    await writeFile(file, wav);
    const info = await soxi(file);
    expect(info).toMatchObject({ sampleRate: 16000, channels: 1, bits: 16, samples: call.pcm.length / 2 });
    expect(Math.abs(info.seconds - call.audioSeconds)).toBeLessThanOrEqual(0.02);
    expect(call.audioSeconds).toBeGreaterThan(3);

    // The metadata beside it.
    expect(metadata.recordingKey).toBe(recordingKey(call.uuid, new Date(metadata.startedAt)));
    expect(
      await readText(stack.s3, stack.bucket, metadataKey(call.uuid, new Date(metadata.startedAt))),
    ).toBeDefined();
    expect(metadata).toMatchObject({
      uuid: call.uuid,
      conversationUuid: call.conversationUuid,
      from: call.from,
      to: call.to,
      sampleRate: 16000,
      channels: 1,
      bitsPerSample: 16,
      audioBytes: call.pcm.length,
      wavBytes: wav.length,
      ...metadataDigests(wav),
      frameCount: call.framesSent,
      oddSizeFrames: 0,
      durationSeconds: call.audioSeconds,
      interrupted: false,
      end: { by: 'peer', code: 1000 },
    });
    expect(metadata.textEvents.map((text) => [text.event, text.offsetMs])).toEqual([
      [{ event: 'websocket:dtmf', digit: '4', duration: 260 }, 1000],
      [{ event: 'websocket:dtmf', digit: '2', duration: 260 }, 1500],
      [{ event: 'websocket:dtmf', digit: '7', duration: 400 }, 2000],
    ]);
    const head = await stack.s3.send(
      new HeadObjectCommand({ Bucket: stack.bucket, Key: metadata.recordingKey }),
    );
    expect(head.Metadata).toMatchObject({ 'call-uuid': call.uuid, 'sample-rate': '16000' });

    // The events: each leg's four statuses, stored as the simulator sent them, except the
    // websocket leg's per-call token, which the audit trail keeps out.
    const stored = await listCallEvents(stack.s3, stack.bucket, call.conversationUuid, days);
    const legOf = (uuid: unknown) =>
      uuid === call.uuid ? 'call' : uuid === call.websocketUuid ? 'websocket' : 'other';
    const statuses = (leg: string) =>
      stored.filter((item) => legOf(item.event.uuid) === leg).map((item) => item.event.status);
    expect(statuses('call')).toEqual(['started', 'ringing', 'answered', 'completed']);
    expect(statuses('websocket')).toEqual(['started', 'ringing', 'answered', 'completed']);
    expect(statuses('other')).toEqual([]);
    const sent = call.events.map((event) => redactCallTokens(event.body));
    expect(JSON.stringify(stored)).not.toMatch(/token=(?!redacted)/);
    expect(stored.map((item) => item.event).sort(byLegAndStatus)).toEqual([...sent].sort(byLegAndStatus));
    const completed = stored.find(
      (item) => item.event.uuid === call.uuid && item.event.status === 'completed',
    )!.event;
    expect(completed).toMatchObject({ direction: 'inbound', network: 'GB-FIXED' });
    expect(completed.duration).toMatch(/^\d+$/);
    for (const item of stored) {
      expect(item.key).toContain(`/${call.conversationUuid}/`);
      expect(item.key.endsWith(`_${String(item.event.uuid)}_${String(item.event.status)}.json`)).toBe(true);
    }
  });

  it('records concurrent calls apart', async () => {
    const calls = await Promise.all(
      [0, 1, 2].map((index) =>
        simulateCall({
          answerUrl: stack.answerUrl,
          audio: { pcm: speech.subarray(index * 640 * 20), sampleRate: 16000 },
          speed: Number.POSITIVE_INFINITY,
          websocketLegEvents: false,
        }),
      ),
    );
    for (const call of calls) {
      const metadata = await waitForRecording(
        stack.s3,
        stack.bucket,
        call.uuid,
        callDays(call.startedAt, call.endedAt),
      );
      const wav = await getBytes(stack, metadata.recordingKey);
      expect(wav.subarray(44).equals(call.pcm)).toBe(true);
    }
  });
});

describe('other sample rates', () => {
  it.each([8000, 24000] as const)('records a call at %i Hz when the stack asks for it', async (rate) => {
    const stack = await startTestStack(join(workDir, `rate-${rate}`), {
      sampleRate: rate,
    });
    try {
      const call = await simulateCall({
        answerUrl: stack.answerUrl,
        audio: { pcm: speech.subarray(0, 640 * 50), sampleRate: 16000 },
        speed: Number.POSITIVE_INFINITY,
        websocketLegEvents: false,
      });
      expect(call.plan.websocket.contentType).toBe(`audio/l16;rate=${rate}`);
      const metadata = await waitForRecording(
        stack.s3,
        stack.bucket,
        call.uuid,
        callDays(call.startedAt, call.endedAt),
      );
      const wav = await getBytes(stack, metadata.recordingKey);
      expect(wav.readUInt32LE(24)).toBe(rate);
      expect(wav.subarray(44).equals(call.pcm)).toBe(true);
      expect(metadata.frameCount).toBe(call.pcm.length / ((rate * 2) / 50));
      expect(metadata.oddSizeFrames).toBe(0);
    } finally {
      await stack.stop();
    }
  });
});

describe('signed webhooks through the local stack', () => {
  let stack: LocalStack;
  beforeAll(async () => {
    stack = await startOnFreePorts('signed', SIGNATURE_SECRET);
  });
  afterAll(async () => {
    await stack?.stop();
  });

  it('accepts a call signed with the configured secret', async () => {
    const call = await simulateCall({
      answerUrl: stack.answerUrl,
      audio: { pcm: speech.subarray(0, 640 * 100), sampleRate: 16000 },
      speed: Number.POSITIVE_INFINITY,
      signature: { secret: SIGNATURE_SECRET },
    });
    expect(call.events.every((event) => event.httpStatus === 200)).toBe(true);
    const days = callDays(call.startedAt, call.endedAt);
    const metadata = await waitForRecording(stack.s3, stack.bucket, call.uuid, days);
    expect(metadata.audioBytes).toBe(640 * 100);
    expect(await listCallEvents(stack.s3, stack.bucket, call.conversationUuid, days)).toHaveLength(8);
  });

  it('refuses the answer with 401 when signed with another secret, and nothing is stored', async () => {
    const conversationUuid = `CON-${crypto.randomUUID()}`;
    const error = await simulateCall({
      answerUrl: stack.answerUrl,
      conversationUuid,
      signature: { secret: 'not-the-configured-secret-0123456789abcdef' },
    }).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(AnswerUrlError);
    expect((error as Error).message).toMatch(
      new RegExp(
        `^answer URL ${stack.answerUrl} answered POST with HTTP 401 \\(.*bad-signature.*\\): expected 200 with an NCCO$`,
      ),
    );
    expect(await listCallEvents(stack.s3, stack.bucket, conversationUuid, [new Date()])).toEqual([]);
  });

  it('refuses an unsigned answer with 401, and a GET answer with 405 (signed answers are POSTed)', async () => {
    await expect(simulateCall({ answerUrl: stack.answerUrl, answerMethod: 'POST' })).rejects.toThrow(
      /answered POST with HTTP 401 .*missing-token/,
    );
    await expect(
      simulateCall({
        answerUrl: stack.answerUrl,
        answerMethod: 'GET',
        signature: { secret: SIGNATURE_SECRET },
      }),
    ).rejects.toThrow(/answered GET with HTTP 405 .*must use POST/);
  });
});

describe('stopping the local stack', () => {
  it('drains a live call into a complete recording before it stops', async () => {
    const stack = await startOnFreePorts('drain');
    let stopped: Promise<void> | undefined;
    const callPromise = simulateCall({
      answerUrl: stack.answerUrl,
      audio: { pcm: speech, sampleRate: 16000 },
      speed: 1,
      websocketLegEvents: false,
      log: (line) => {
        // Ctrl-C while the caller is talking.
        if (line.startsWith('websocket open')) setTimeout(() => (stopped = stack.stop()), 300);
      },
    }).catch((caught: unknown) => caught);
    const outcome = await callPromise;
    await stopped;
    // The recorder closed the call with 1001 at the drain deadline; the simulator says so in one line.
    expect((outcome as Error).message).toMatch(
      /^websocket ws:\/\/127\.0\.0\.1:\d+\/calls\/[-\w]+\?… was closed by the server with code 1001 \(recorder shutting down\) after [\d.]+ s of audio/,
    );
    const restarted = await startTestStack(join(workDir, 'drain'));
    try {
      const answered = (outcome as { callUuid?: string }).callUuid!;
      const metadata = await waitForRecording(restarted.s3, restarted.bucket, answered, [new Date()], 2000);
      expect(metadata.end).toMatchObject({ by: 'drain', code: 1001 });
      expect(metadata.audioBytes).toBeGreaterThan(0);
      expect(metadata.audioBytes % 640).toBe(0);
      const wav = await getBytes(restarted, metadata.recordingKey);
      expect(wav.readUInt32LE(40)).toBe(metadata.audioBytes);
      expect(wav.subarray(44).equals(speech.subarray(0, metadata.audioBytes))).toBe(true);
      // The webhooks stayed up long enough to store the hung-up call's completed event.
      const events = await listCallEvents(restarted.s3, restarted.bucket, metadata.conversationUuid!, [
        new Date(),
      ]);
      expect(events.map((item) => item.event.status)).toEqual([
        'started',
        'ringing',
        'answered',
        'completed',
      ]);
    } finally {
      await restarted.stop();
    }
  });
});

function byLegAndStatus(a: Record<string, unknown>, b: Record<string, unknown>): number {
  return `${String(a.uuid)}${String(a.status)}`.localeCompare(`${String(b.uuid)}${String(b.status)}`);
}

describe('starting the local stack', () => {
  it('says which port is taken and which flag picks another, and leaves nothing running', async () => {
    const holder = createServer();
    holder.listen(0, '127.0.0.1');
    await once(holder, 'listening');
    const taken = (holder.address() as AddressInfo).port;
    const [s3Port, recorderPort] = [await freePort(), await freePort()];
    const options = { recorderPort, s3Port, dataDir: join(workDir, 'taken'), logLevel: 'SILENT' as const };
    try {
      await expect(startLocalStack({ ...options, webhooksPort: taken })).rejects.toThrow(
        `webhooks port ${taken} on 127.0.0.1 is in use: stop what holds it, or pick another with --webhooks-port`,
      );
      // The S3 API and the recorder it had started were stopped: their ports can be taken again.
      const stack = await startLocalStack({ ...options, webhooksPort: 0 });
      expect(stack.s3Endpoint).toBe(`http://127.0.0.1:${s3Port}`);
      expect(stack.recorderUrl).toBe(`ws://127.0.0.1:${recorderPort}`);
      await stack.stop();
    } finally {
      holder.close();
    }
  });
});
