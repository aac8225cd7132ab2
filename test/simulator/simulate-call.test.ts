import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import jwt from 'jsonwebtoken';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../../test-support/ports.js';
import { speechPcm } from '../../test-support/speech.js';
import {
  type FakeApplication,
  type ReceivedFrame,
  startFakeApplication,
  validNcco,
} from '../../test-support/vonage-app-double.js';
import {
  AnswerUrlError,
  NccoError,
  SimulatorConfigError,
  WebsocketError,
} from '../../tools/simulator/errors.js';
import { readStackOutputs } from '../../tools/simulator/outputs.js';
import { simulateCall, simulateCalls } from '../../tools/simulator/simulate-call.js';

const run = promisify(execFile);
const SECRET = 'a-signature-secret-of-some-length-0123456789';

let speech16k: Buffer;
let app: FakeApplication | undefined;

beforeAll(async () => {
  speech16k = await speechPcm('one two three', 16000);
});

afterEach(async () => {
  await app?.close();
  app = undefined;
});

function binaryFrames(frames: ReceivedFrame[]): Buffer[] {
  return frames.flatMap((frame) => (frame.binary ? [frame.data] : []));
}

function textFrames(frames: ReceivedFrame[]): Record<string, unknown>[] {
  return frames.flatMap((frame) => (frame.binary ? [] : [JSON.parse(frame.text) as Record<string, unknown>]));
}

function verifiedClaims(authorization: string | undefined): jwt.JwtPayload {
  expect(authorization).toMatch(/^Bearer /);
  return jwt.verify((authorization as string).slice('Bearer '.length), SECRET, {
    algorithms: ['HS256'],
  }) as jwt.JwtPayload;
}

const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

describe('simulateCall on the wire', () => {
  it('answers, posts events, streams 20 ms frames with DTMF, closes 1000 and signs every webhook', async () => {
    app = await startFakeApplication({
      answer: (_request, base) => ({
        status: 200,
        body: validNcco(base, 16000, { caller: 'test', lang: 'en' }),
      }),
    });
    const call = await simulateCall({
      answerUrl: app.answerUrl,
      audio: { pcm: speech16k, sampleRate: 16000 },
      speed: Number.POSITIVE_INFINITY,
      dtmf: [
        { digit: '5', atMs: 200 },
        { digit: '#', atMs: 400, durationMs: 500 },
      ],
      signature: { secret: SECRET, apiKey: 'key1', applicationId: 'app-1' },
      // Vonage's default; signing alone would make the simulator POST, as configure-vonage sets.
      answerMethod: 'GET',
    });

    // The answer webhook: GET with the four Vonage query parameters, signed over their JSON.
    expect(app.answers).toHaveLength(1);
    const answer = app.answers[0]!;
    expect(answer.method).toBe('GET');
    expect(Object.fromEntries(answer.url.searchParams)).toEqual({
      to: call.to,
      from: call.from,
      uuid: call.uuid,
      conversation_uuid: call.conversationUuid,
    });
    const answerClaims = verifiedClaims(answer.headers.authorization);
    expect(answerClaims).toMatchObject({ iss: 'Vonage', api_key: 'key1', application_id: 'app-1' });
    expect(answerClaims.payload_hash).toBe(
      sha256(JSON.stringify(Object.fromEntries(answer.url.searchParams))),
    );
    expect(typeof answerClaims.jti).toBe('string');
    expect(Math.abs((answerClaims.iat as number) - Date.now() / 1000)).toBeLessThan(30);

    // The websocket: connected frame first, with the NCCO headers, then whole 640-byte frames.
    expect(app.sockets).toHaveLength(1);
    const socket = app.sockets[0]!;
    expect(socket.path).toBe('/calls/abc?token=t0ken');
    expect(await socket.closed).toEqual({ code: 1000, reason: 'call ended' });
    const first = socket.frames[0]!;
    expect(first.binary).toBe(false);
    expect(JSON.parse((first as { text: string }).text)).toEqual({
      event: 'websocket:connected',
      'content-type': 'audio/l16;rate=16000',
      caller: 'test',
      lang: 'en',
    });
    const audio = binaryFrames(socket.frames);
    expect(audio.every((frame) => frame.length === 640)).toBe(true);
    expect(Buffer.concat(audio).equals(call.pcm)).toBe(true);
    expect(call.pcm.subarray(0, speech16k.length).equals(speech16k)).toBe(true);
    expect(call.pcm.length).toBe(Math.ceil(speech16k.length / 640) * 640);
    // DTMF frames sit between the audio frames at their offsets (10 and 20 frames in).
    expect(textFrames(socket.frames).slice(1)).toEqual([
      { event: 'websocket:dtmf', digit: '5', duration: 260 },
      { event: 'websocket:dtmf', digit: '#', duration: 500 },
    ]);
    const firstDtmfIndex = socket.frames.findIndex((frame, index) => index > 0 && !frame.binary);
    expect(firstDtmfIndex).toBe(1 + 10);

    // Events: the call leg and the websocket leg, each started → ringing → answered → completed.
    const bodies = app.events.map((event) => JSON.parse(event.body) as Record<string, string>);
    expect(bodies.map((body) => `${body.uuid === call.uuid ? 'call' : 'ws'}:${body.status}`)).toEqual([
      'call:started',
      'call:ringing',
      'call:answered',
      'ws:started',
      'ws:ringing',
      'ws:answered',
      'ws:completed',
      'call:completed',
    ]);
    for (const event of app.events) {
      expect(event.headers['content-type']).toBe('application/json');
      expect(verifiedClaims(event.headers.authorization).payload_hash).toBe(sha256(event.body));
    }
    const completed = bodies.at(-1)!;
    expect(Object.keys(completed).sort()).toEqual([
      'conversation_uuid',
      'direction',
      'duration',
      'end_time',
      'from',
      'network',
      'price',
      'rate',
      'start_time',
      'status',
      'timestamp',
      'to',
      'uuid',
    ]);
    expect(completed).toMatchObject({
      direction: 'inbound',
      conversation_uuid: call.conversationUuid,
      from: call.from,
    });
    expect(completed.duration).toMatch(/^\d+$/);
    // Streamed faster than real time, each leg still reports the length a real call would have had,
    // so an audit comparing recordings with Vonage's durations agrees.
    const wsCompleted = bodies[6]!;
    expect(Number(wsCompleted.duration)).toBe(Math.round(call.audioSeconds));
    expect(Date.parse(wsCompleted.end_time!) - Date.parse(wsCompleted.start_time!)).toBeCloseTo(
      call.audioSeconds * 1000,
      -1,
    );
    expect(Number(completed.duration)).toBeGreaterThanOrEqual(Math.round(call.audioSeconds));
    expect(completed.rate).toMatch(/^\d+\.\d{8}$/);
    const wsLeg = bodies[3]!;
    expect(wsLeg.uuid).toBe(call.websocketUuid);
    expect(wsLeg.uuid).not.toBe(call.uuid);
    expect(wsLeg).toMatchObject({ direction: 'outbound', to: `${app.websocketBase}/calls/abc?token=t0ken` });
  });

  it('paces frames in real time at speed 1 (0.4 s of audio takes about 0.4 s)', async () => {
    app = await startFakeApplication();
    const pcm = speech16k.subarray(0, 640 * 20);
    const before = performance.now();
    const call = await simulateCall({
      answerUrl: app.answerUrl,
      audio: { pcm, sampleRate: 16000 },
      websocketLegEvents: false,
    });
    const elapsed = performance.now() - before;
    expect(call.framesSent).toBe(20);
    // 19 inter-frame gaps of 20 ms at least; generous upper bound for a shared machine.
    expect(elapsed).toBeGreaterThanOrEqual(380);
    expect(elapsed).toBeLessThan(2500);
  });

  it('posts to the answer URL with a JSON body when asked, and follows the NCCO rate and its eventUrl for the websocket leg', async () => {
    app = await startFakeApplication({
      answer: (_request, base) => ({
        status: 200,
        body: JSON.stringify([
          { action: 'talk', text: 'hi' },
          {
            action: 'connect',
            eventUrl: [`${base.replace('ws:', 'http:')}/event?leg=ws`],
            endpoint: [{ type: 'websocket', uri: `${base}/calls/x`, 'content-type': 'audio/l16;rate=8000' }],
          },
        ]),
      }),
    });
    const call = await simulateCall({
      answerUrl: app.answerUrl,
      answerMethod: 'POST',
      eventUrl: `${app.eventUrl}?leg=call`,
      audio: { pcm: speech16k, sampleRate: 16000 },
      speed: Number.POSITIVE_INFINITY,
    });
    expect(app.answers[0]!.method).toBe('POST');
    expect(JSON.parse(app.answers[0]!.body)).toEqual({
      to: call.to,
      from: call.from,
      uuid: call.uuid,
      conversation_uuid: call.conversationUuid,
    });
    expect(app.events).toHaveLength(8);
    for (const event of app.events) {
      const { uuid } = JSON.parse(event.body) as { uuid: string };
      expect(event.url.search).toBe(uuid === call.uuid ? '?leg=call' : '?leg=ws');
    }
    expect(call.websocketEventUrl).toBe(`${app.eventUrl}?leg=ws`);
    // Resampled to the NCCO's 8 kHz: 320-byte frames, about half the bytes.
    const audio = binaryFrames(app.sockets[0]!.frames);
    expect(call.sampleRate).toBe(8000);
    expect(audio.every((frame) => frame.length === 320)).toBe(true);
    expect(Math.abs(call.pcm.length - speech16k.length / 2)).toBeLessThan(640);
  });

  it('runs concurrent calls with distinct uuids', async () => {
    app = await startFakeApplication();
    const outcomes = await simulateCalls(
      {
        answerUrl: app.answerUrl,
        audio: { pcm: speech16k, sampleRate: 16000 },
        speed: Number.POSITIVE_INFINITY,
      },
      3,
    );
    expect(outcomes.every((outcome) => outcome.ok)).toBe(true);
    expect(new Set(app.answers.map((answer) => answer.url.searchParams.get('uuid'))).size).toBe(3);
    expect(app.sockets).toHaveLength(3);
  });
});

describe('simulateCall errors, one line each', () => {
  const badNccos: [string, string, RegExp][] = [
    [
      'not JSON',
      '<html>oops</html>',
      /invalid NCCO: body is not JSON \("<html>oops<\/html>"\); expected a JSON array/,
    ],
    ['an object', '{"action":"talk"}', /invalid NCCO: got object instead of an array; expected/],
    [
      'no connect',
      '[{"action":"talk","text":"hi"}]',
      /invalid NCCO: no connect action \(it only says "hi"\); expected/,
    ],
    [
      'contentType spelling',
      '[{"action":"talk","text":"hi"},{"action":"connect","endpoint":[{"type":"websocket","uri":"ws://127.0.0.1:9/x","contentType":"audio/l16;rate=16000"}]}]',
      /spells "contentType"; the NCCO key Vonage reads is "content-type"/,
    ],
    [
      'unsupported rate',
      '[{"action":"talk","text":"hi"},{"action":"connect","endpoint":[{"type":"websocket","uri":"ws://127.0.0.1:9/x","content-type":"audio/l16;rate=44100"}]}]',
      /content-type must be audio\/l16;rate=8000\|16000\|24000, got "audio\/l16;rate=44100"/,
    ],
    [
      'phone endpoint',
      '[{"action":"talk","text":"hi"},{"action":"connect","endpoint":[{"type":"phone","number":"447700900000"}]}]',
      /endpoint type must be "websocket", got "phone"/,
    ],
  ];

  it.each(badNccos)('refuses an NCCO that is %s', async (_name, body, message) => {
    app = await startFakeApplication({ answer: () => ({ status: 200, body }) });
    const error = await simulateCall({ answerUrl: app.answerUrl }).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(NccoError);
    expect((error as Error).message).toMatch(message);
    expect((error as Error).message).not.toContain('\n');
    // Vonage would not go on with the call: no events, no websocket.
    expect(app.events).toHaveLength(0);
  });

  it('reports an answer URL that answers 401', async () => {
    app = await startFakeApplication({
      answer: () => ({ status: 401, body: '{"message":"bad signature"}' }),
    });
    const error = await simulateCall({ answerUrl: app.answerUrl }).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(AnswerUrlError);
    expect((error as Error).message).toBe(
      `answer URL ${app.answerUrl} answered GET with HTTP 401 ({"message":"bad signature"}): expected 200 with an NCCO`,
    );
  });

  it('reports an answer URL that refuses connections', async () => {
    const port = await freePort(); // nothing listens there
    await expect(simulateCall({ answerUrl: `http://127.0.0.1:${port}/answer` })).rejects.toThrow(
      /^answer URL http:\/\/127\.0\.0\.1:\d+\/answer did not answer GET \(connection refused\): expected 200 with an NCCO$/,
    );
  });

  it('reports an answer URL that does not answer in time', async () => {
    const silent = createServer(() => {});
    silent.listen(0, '127.0.0.1');
    await once(silent, 'listening');
    const { port } = silent.address() as { port: number };
    try {
      await expect(
        simulateCall({ answerUrl: `http://127.0.0.1:${port}/answer`, timeoutMs: 300 }),
      ).rejects.toThrow(/did not answer GET \(timed out after 300 ms\): expected 200 with an NCCO$/);
    } finally {
      silent.close();
    }
  });

  it('reports a refused websocket with its HTTP status', async () => {
    app = await startFakeApplication({ refuseUpgradeWith: 401 });
    const error = await simulateCall({ answerUrl: app.answerUrl, speed: Number.POSITIVE_INFINITY }).catch(
      (caught: unknown) => caught,
    );
    expect(error).toBeInstanceOf(WebsocketError);
    expect((error as WebsocketError).httpStatus).toBe(401);
    expect((error as Error).message).toMatch(
      /^websocket ws:\/\/127\.0\.0\.1:\d+\/calls\/abc\?… refused the upgrade with HTTP 401 Refused: expected 101 Switching Protocols$/,
    );
    // The token in the uri's query never appears in the message.
    expect((error as Error).message).not.toContain('t0ken');
  });

  it('ends the call and still posts completed when the server drops the websocket', async () => {
    app = await startFakeApplication({ closeAfterFrames: { frames: 5, code: 1011 } });
    const error = await simulateCall({
      answerUrl: app.answerUrl,
      audio: { pcm: speech16k, sampleRate: 16000 },
      speed: 10,
    }).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(WebsocketError);
    expect((error as Error).message).toMatch(/was closed by the server with code 1011 \(server hung up\)/);
    const statuses = app.events.map((event) => (JSON.parse(event.body) as { status: string }).status);
    expect(statuses.at(-1)).toBe('completed');
  });

  it('the CLI prints one error line and exits 1 for an invalid NCCO', async () => {
    app = await startFakeApplication({ answer: () => ({ status: 200, body: '[]' }) });
    const result = await run(process.execPath, [
      '--import',
      'tsx',
      'tools/simulator/cli.ts',
      '--answer-url',
      app.answerUrl,
      '--quiet',
    ]).catch((error: { code: number; stdout: string; stderr: string }) => error);
    expect('code' in result ? result.code : 0).toBe(1);
    expect(result.stderr.trim().split('\n')).toEqual([
      expect.stringMatching(
        /^error: invalid NCCO: got an empty array; expected a JSON array: a talk action, then a connect action/,
      ),
    ]);
  });
});

describe('readStackOutputs', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'outputs-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('reads the URLs of a deployed stack from cdk-outputs.json', async () => {
    const file = join(dir, 'cdk-outputs.json');
    await writeFile(
      file,
      JSON.stringify({
        CallRecorder: {
          AnswerUrl: 'https://abc.execute-api.eu-west-1.amazonaws.com/answer',
          EventUrl: 'https://abc.execute-api.eu-west-1.amazonaws.com/event',
          RecorderUrl: 'wss://recorder.example.com',
          RecordingsBucketName: 'callrecorder-recordings-1',
        },
      }),
    );
    expect(await readStackOutputs(file)).toEqual({
      answerUrl: 'https://abc.execute-api.eu-west-1.amazonaws.com/answer',
      eventUrl: 'https://abc.execute-api.eu-west-1.amazonaws.com/event',
      recorderUrl: 'wss://recorder.example.com',
      bucket: 'callrecorder-recordings-1',
    });
  });

  it('says which stack the file lacks, or which output the stack lacks', async () => {
    const other = join(dir, 'other.json');
    await writeFile(other, '{"Other":{}}');
    await expect(readStackOutputs(other)).rejects.toThrow(SimulatorConfigError);
    await expect(readStackOutputs(other)).rejects.toThrow(
      `outputs file ${other} has no stack CallRecorder (it has: Other)`,
    );
    const missing = join(dir, 'missing.json');
    await expect(readStackOutputs(missing)).rejects.toThrow(
      new SimulatorConfigError(
        `outputs file ${missing} not found: deploy with \`cdk deploy --outputs-file ${missing}\``,
      ),
    );
    const partial = join(dir, 'partial.json');
    await writeFile(partial, '{"CallRecorder":{"AnswerUrl":"https://a.example/answer"}}');
    await expect(readStackOutputs(partial)).rejects.toThrow(
      `outputs file ${partial} (stack CallRecorder) has no EventUrl output (it has: AnswerUrl)`,
    );
  });
});
