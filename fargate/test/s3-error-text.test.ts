/**
 * AWS error text never reaches a caller of the recorder: an S3 (or Secrets Manager) AccessDenied
 * names the task role's ARN, and with it the account id. What the peer sees (a close reason, the
 * body of a refused handshake) is the recorder's own words; the log keeps the full error.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import type { SampleRate } from '../../common/audio-format.js';
import { createS3Client, LOCAL_S3_CREDENTIALS } from '../../common/s3-client.js';
import { CachedSecret } from '../../common/secret-versions.js';
import { LogLines } from '../../test-support/log-lines.js';
import {
  callUrl,
  closed,
  connectedFrame,
  frames,
  newCallUuid,
  openSocket,
  SECRET,
  sendAll,
  waitUntil,
} from '../../test-support/recorder.js';
import { startS3ErrorDouble } from '../../test-support/s3-error-double.js';
import { loopPcm, speechPcm } from '../../test-support/speech.js';
import { createRecorder, type Recorder, type RecorderOptions } from '../src/recorder.js';

const rate: SampleRate = 16000;
const ACCOUNT_ID = '444455556666';
const ROLE = `arn:aws:sts::${ACCOUNT_ID}:assumed-role/RecorderStack-TaskRole-1A2B3C/0123456789abcdef`;
/** S3's AccessDenied as it reads to a role whose policy lacks the action. */
const S3_ACCESS_DENIED = `User: ${ROLE} is not authorized to perform: s3:PutObject on resource: "arn:aws:s3:::recordings/recordings/x.wav" because no identity-based policy allows the s3:PutObject action`;

let double: Awaited<ReturnType<typeof startS3ErrorDouble>>;
let s3: S3Client;
let work: string;
const recorders: Recorder[] = [];

async function startRecorder(log: LogLines, overrides: Partial<RecorderOptions> = {}) {
  const recorder = createRecorder({
    bucket: 'recordings',
    s3,
    callTokenSecret: SECRET,
    scratchDir: await mkdtemp(join(work, 'scratch-')),
    // Checkpoints off: a failed call would wait for its tail checkpoint, which S3 refuses too.
    checkpointIntervalMs: 0,
    retry: { baseDelayMs: 10, maxDelayMs: 20, deadlineMs: 200 },
    logger: log,
    ...overrides,
  });
  recorders.push(recorder);
  const address = await recorder.listen(0, '127.0.0.1');
  return { recorder, base: `ws://127.0.0.1:${address.port}` };
}

/** The status and body of a refused handshake. */
function refusal(url: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url);
    ws.on('unexpected-response', (request, response) => {
      let body = '';
      response.on('data', (chunk: Buffer) => {
        body += chunk.toString();
      });
      response.on('end', () => {
        resolve({ status: response.statusCode ?? 0, body });
        request.destroy();
      });
    });
    ws.on('open', () => {
      ws.terminate();
      reject(new Error('handshake was accepted'));
    });
    ws.on('error', () => {});
  });
}

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 's3-error-text-'));
  double = await startS3ErrorDouble({ status: 403, code: 'AccessDenied', message: S3_ACCESS_DENIED });
  s3 = createS3Client({ endpoint: double.endpoint, credentials: LOCAL_S3_CREDENTIALS });
});

afterAll(async () => {
  await Promise.all(recorders.map((recorder) => recorder.close()));
  s3?.destroy();
  await double?.close();
  await rm(work, { recursive: true, force: true });
});

describe('a recorder whose S3 refuses with AccessDenied', () => {
  it("closes a call with its own reason, and logs S3's error with the role ARN", async () => {
    const log = new LogLines();
    const { recorder, base } = await startRecorder(log, { maxCallSeconds: 1 });
    const uuid = newCallUuid();
    const ws = await openSocket(callUrl(base, uuid));
    const end = closed(ws);
    const pcm = loopPcm(await speechPcm('This call is recorded.', rate), rate, 2);
    await sendAll(ws, [connectedFrame(rate, uuid), ...frames(pcm, rate)]);
    const { code, reason } = await end;
    expect(code).toBe(4413);
    expect(reason).toBe('call reached its maximum duration');
    expect(reason).not.toContain('arn:');
    expect(reason).not.toContain(ACCOUNT_ID);

    await waitUntil(async () => recorder.activeCalls() === 0);
    const failed = log.lines.find((line) => line.message.startsWith('recording could not be stored'));
    expect(failed?.level).toBe('ERROR');
    expect(failed?.text).toContain(uuid);
    expect(failed?.text).toContain(`AccessDenied (HTTP 403): User: ${ROLE}`);
  });
});

describe('a recorder whose secret cannot be read', () => {
  it('refuses the handshake with a bare 500, and logs the AccessDenied with the role ARN', async () => {
    const log = new LogLines();
    // What the SDK throws when the task role may not read the secret.
    const denied = Object.assign(
      new Error(
        `User: ${ROLE} is not authorized to perform: secretsmanager:GetSecretValue on resource: arn:aws:secretsmanager:eu-west-2:${ACCOUNT_ID}:secret:call-token-AbCdEf because no identity-based policy allows the secretsmanager:GetSecretValue action`,
      ),
      { name: 'AccessDeniedException', $metadata: { httpStatusCode: 400 } },
    );
    const { base } = await startRecorder(log, {
      callTokenSecret: new CachedSecret(() => Promise.reject(denied)),
    });
    const uuid = newCallUuid();
    const { status, body } = await refusal(callUrl(base, uuid));
    expect(status).toBe(500);
    expect(body).toBe('Internal Server Error');

    const refused = log.lines.find((line) => line.message === 'websocket handshake refused');
    expect(refused?.text).toContain(`/calls/${uuid}`);
    expect(refused?.text).toContain(`AccessDeniedException: User: ${ROLE}`);
  });
});
