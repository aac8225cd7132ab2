import { HeadObjectCommand, ListObjectsV2Command, type S3Client } from '@aws-sdk/client-s3';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { createS3Client, LOCAL_S3_CREDENTIALS } from '../../common/s3-client.js';
import { describeS3Error } from '../../common/s3-errors.js';
import { putObjectWithRetry } from '../../fargate/src/retry.js';
import { parseCallEvent } from '../../lambdas/webhooks/event.js';
import { storeCallEvent } from '../../lambdas/webhooks/event-store.js';
import { captureIo } from '../../test-support/cli-io.js';
import { startS3ErrorDouble } from '../../test-support/s3-error-double.js';
import { fixture } from '../../test-support/webhook-events.js';
import { runRecordingsCli } from '../../tools/cli/recordings.js';

const ENV_KEY = 'AKIAIOSFODNN7EXAMPLE';
const INVALID_KEY = { status: 403, code: 'InvalidAccessKeyId', message: '' } as const;

let double: Awaited<ReturnType<typeof startS3ErrorDouble>>;
const clients: S3Client[] = [];

function client(options: Parameters<typeof createS3Client>[0]): S3Client {
  const made = createS3Client({ ...options, overrides: { maxAttempts: 1 } });
  clients.push(made);
  return made;
}

async function failure(promise: Promise<unknown>): Promise<Error> {
  return promise.then(
    () => {
      throw new Error('expected the request to fail');
    },
    (error: Error) => error,
  );
}

beforeAll(async () => {
  double = await startS3ErrorDouble({ status: 200 });
});
afterAll(async () => {
  for (const made of clients) made.destroy();
  await double.close();
});
afterEach(() => {
  vi.unstubAllEnvs();
  double.accessKeys.length = 0;
  double.answer = { status: 200 };
});

describe('createS3Client against a custom endpoint', () => {
  it('signs with the default credential chain: the keys in the environment', async () => {
    vi.stubEnv('AWS_ACCESS_KEY_ID', ENV_KEY);
    vi.stubEnv('AWS_SECRET_ACCESS_KEY', 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY');
    await client({ endpoint: double.endpoint }).send(new ListObjectsV2Command({ Bucket: 'recordings' }));
    expect(double.accessKeys).toEqual([ENV_KEY]);
  });

  it('signs with the keys it is given (the local server passes its own)', async () => {
    vi.stubEnv('AWS_ACCESS_KEY_ID', ENV_KEY);
    vi.stubEnv('AWS_SECRET_ACCESS_KEY', 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY');
    const s3 = client({ endpoint: double.endpoint, credentials: LOCAL_S3_CREDENTIALS });
    await s3.send(new ListObjectsV2Command({ Bucket: 'recordings' }));
    expect(double.accessKeys).toEqual(['S3RVER']);
  });
});

describe('describeS3Error', () => {
  it('names an error whose <Message> is empty by its code and HTTP status, where the SDK says UnknownError', async () => {
    double.answer = INVALID_KEY;
    const error = await failure(
      client({ endpoint: double.endpoint, credentials: LOCAL_S3_CREDENTIALS }).send(
        new ListObjectsV2Command({ Bucket: 'recordings' }),
      ),
    );
    expect(error.message).toBe('UnknownError');
    expect(describeS3Error(error)).toBe('InvalidAccessKeyId (HTTP 403)');
  });

  it('keeps the message when there is one', async () => {
    double.answer = { status: 404, code: 'NoSuchBucket', message: 'The specified bucket does not exist' };
    const error = await failure(
      client({ endpoint: double.endpoint, credentials: LOCAL_S3_CREDENTIALS }).send(
        new ListObjectsV2Command({ Bucket: 'recordings' }),
      ),
    );
    expect(describeS3Error(error)).toBe('NoSuchBucket (HTTP 404): The specified bucket does not exist');
  });

  it('names a HEAD refusal, which has no body, by its status', async () => {
    double.answer = INVALID_KEY;
    const error = await failure(
      client({ endpoint: double.endpoint, credentials: LOCAL_S3_CREDENTIALS }).send(
        new HeadObjectCommand({ Bucket: 'recordings', Key: 'x' }),
      ),
    );
    expect(error.name).toBe('Unknown');
    expect(describeS3Error(error)).toBe('HTTP 403');
  });

  it('says what a connection failure was', async () => {
    const error = await failure(
      client({ endpoint: 'http://127.0.0.1:9', credentials: LOCAL_S3_CREDENTIALS }).send(
        new ListObjectsV2Command({ Bucket: 'recordings' }),
      ),
    );
    expect(describeS3Error(error)).toMatch(/ECONNREFUSED/);
  });
});

describe('an S3-compatible server refusing the environment keys with an empty message', () => {
  it('the recordings CLI signs with those keys and prints the code and status', async () => {
    vi.stubEnv('AWS_ACCESS_KEY_ID', ENV_KEY);
    vi.stubEnv('AWS_SECRET_ACCESS_KEY', 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY');
    double.answer = INVALID_KEY;
    const io = captureIo();
    const exitCode = await runRecordingsCli(
      ['list', '--endpoint', double.endpoint, '--bucket', 'recordings'],
      io,
    );
    expect(exitCode).toBe(1);
    expect(double.accessKeys.length).toBeGreaterThan(0);
    expect(new Set(double.accessKeys)).toEqual(new Set([ENV_KEY]));
    expect(io.err()).toContain('InvalidAccessKeyId (HTTP 403)');
    expect(io.err()).not.toContain('UnknownError');
  });

  it('the recorder gives up on a PUT naming the code and status', async () => {
    double.answer = INVALID_KEY;
    const s3 = client({ endpoint: double.endpoint, credentials: LOCAL_S3_CREDENTIALS });
    const error = await failure(
      putObjectWithRetry(s3, 'recordings', 'recordings/x.json', '{}', 'application/json'),
    );
    expect(error.message).toBe(
      'PutObject recordings/x.json still failing after 1 attempts: InvalidAccessKeyId (HTTP 403)',
    );
  });

  it('the webhooks Lambda names the code and status when it cannot store an event', async () => {
    double.answer = INVALID_KEY;
    const s3 = client({ endpoint: double.endpoint, credentials: LOCAL_S3_CREDENTIALS });
    const error = await failure(storeCallEvent(s3, 'recordings', parseCallEvent(fixture('event-completed'))));
    expect(error.message).toMatch(/^could not store events\/.+: InvalidAccessKeyId \(HTTP 403\)$/);
  });
});
