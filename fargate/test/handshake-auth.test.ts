import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Logger } from '@aws-lambda-powertools/logger';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signCallToken } from '../../common/call-token.js';
import { CachedSecret, secretsManagerVersions } from '../../common/secret-versions.js';
import { type LocalS3, startLocalS3 } from '../../test-support/local-s3.js';
import {
  callUrl,
  closed,
  connectedFrame,
  handshakeStatus,
  newCallUuid,
  openSocket,
  SECRET,
  sendAll,
  waitForRecording,
} from '../../test-support/recorder.js';
import {
  type SecretsManagerDouble,
  startSecretsManagerDouble,
} from '../../test-support/secrets-manager-double.js';
import { signWebhook } from '../../tools/simulator/signature.js';
import { createRecorder, type Recorder, type RecorderOptions } from '../src/recorder.js';

const OLD_TOKEN_KEY = 'call-token-key-before-rotation-0123456789abcdef';
const NEW_TOKEN_KEY = 'call-token-key-after-rotation-0123456789abcdefg';
const VONAGE_SECRET = 'vonage-signature-secret-0123456789abcdef';
const NEW_VONAGE_SECRET = 'vonage-signature-secret-rotated-0123456789';

describe('the recorder checks both credentials on the handshake', () => {
  const silent = new Logger({ logLevel: 'SILENT' });
  let s3: LocalS3;
  let secretsManager: SecretsManagerDouble;
  let work: string;
  const recorders: Recorder[] = [];

  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), 'handshake-auth-'));
    s3 = await startLocalS3();
    secretsManager = await startSecretsManagerDouble();
  });
  afterAll(async () => {
    await Promise.all(recorders.map((recorder) => recorder.close()));
    await secretsManager.close();
    await s3.close();
    await rm(work, { recursive: true, force: true });
  });

  async function start(options: Partial<RecorderOptions>): Promise<string> {
    const recorder = createRecorder({
      bucket: s3.bucket,
      s3: s3.client,
      callTokenSecret: SECRET,
      scratchDir: await mkdtemp(join(work, 'scratch-')),
      logger: silent,
      checkpointIntervalMs: 0,
      ...options,
    });
    recorders.push(recorder);
    return `ws://127.0.0.1:${(await recorder.listen(0, '127.0.0.1')).port}`;
  }

  /** One short call as Vonage places it: handshake (with its JWT), connected frame, audio, hangup. */
  async function call(base: string, uuid: string, token: string, vonageSecret?: string): Promise<void> {
    const headers = vonageSecret
      ? { authorization: `Bearer ${signWebhook({ secret: vonageSecret }, '')}` }
      : {};
    const ws = await openSocket(callUrl(base, uuid, token), { headers });
    const end = closed(ws);
    await sendAll(ws, [
      connectedFrame(16000, uuid),
      ...Array.from({ length: 10 }, () => Buffer.alloc(640, 1)),
    ]);
    ws.close(1000);
    await end;
  }

  it("refuses a valid call token that comes without Vonage's JWT, or with a forged one (401)", async () => {
    const base = await start({ vonageSignatureSecret: VONAGE_SECRET });
    const uuid = newCallUuid();
    expect(await handshakeStatus(callUrl(base, uuid))).toBe(401);
    const forged = `Bearer ${signWebhook({ secret: 'not-the-vonage-secret-0123456789' }, '')}`;
    expect(await handshakeStatus(callUrl(base, uuid), { authorization: forged })).toBe(401);
    // The token was not spent by the refused attempts: Vonage's own handshake still gets through.
    const token = new URL(callUrl(base, uuid)).searchParams.get('token') as string;
    await call(base, uuid, token, VONAGE_SECRET);
    const { wav } = await waitForRecording(s3.client, s3.bucket, uuid);
    expect(wav.length).toBe(44 + 6400);
  });

  it('rotating both secrets mid-traffic refuses no call', async () => {
    const TOKEN_ARN = 'arn:aws:secretsmanager:eu-west-2:123456789012:secret:CallToken-AbCdEf';
    const VONAGE_ARN = 'arn:aws:secretsmanager:eu-west-2:123456789012:secret:VonageSignature-AbCdEf';
    secretsManager.put(TOKEN_ARN, OLD_TOKEN_KEY);
    secretsManager.put(VONAGE_ARN, VONAGE_SECRET);
    const client = new SecretsManagerClient({
      endpoint: secretsManager.url,
      region: 'eu-west-2',
      credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
    });
    // The recorder caches for 5 minutes, as in the task; only an unknown key makes it look again.
    const recorderSecret = (arn: string) =>
      new CachedSecret(secretsManagerVersions(client, arn), { maxAgeMs: 300_000, minRefreshMs: 100 });
    const base = await start({
      callTokenSecret: recorderSecret(TOKEN_ARN),
      vonageSignatureSecret: recorderSecret(VONAGE_ARN),
    });
    // What signs: the webhooks Lambda (the call token) and Vonage (the JWT), each with what is
    // current at Secrets Manager and at Vonage when the call is answered.
    const signing = { token: OLD_TOKEN_KEY, vonage: VONAGE_SECRET };
    const uuids: string[] = [];
    const results: Promise<void>[] = [];
    for (let i = 0; i < 30; i++) {
      if (i === 10) {
        secretsManager.put(TOKEN_ARN, NEW_TOKEN_KEY);
        signing.token = NEW_TOKEN_KEY;
      }
      if (i === 20) {
        secretsManager.put(VONAGE_ARN, NEW_VONAGE_SECRET);
        signing.vonage = NEW_VONAGE_SECRET;
      }
      const uuid = newCallUuid();
      uuids.push(uuid);
      // Tokens minted before a rotation arrive after it too: answered then connected a bit later.
      const token = signCallToken(signing.token, uuid, Math.floor(Date.now() / 1000) + 300);
      const vonage = signing.vonage;
      results.push(
        new Promise((resolve) => setTimeout(resolve, (i % 3) * 150)).then(() =>
          call(base, uuid, token, vonage),
        ),
      );
      await new Promise((resolve) => setTimeout(resolve, 30));
    }
    const outcomes = await Promise.allSettled(results);
    expect(outcomes.filter((outcome) => outcome.status === 'rejected')).toEqual([]);
    for (const uuid of uuids) {
      expect((await waitForRecording(s3.client, s3.bucket, uuid)).wav.length).toBe(44 + 6400);
    }
    client.destroy();
  });
});
