import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CreateBucketCommand, DeleteBucketCommand, type S3Client } from '@aws-sdk/client-s3';
import S3rver, { type S3rverEvent } from 's3rver';
import { createS3Client, LOCAL_S3_CREDENTIALS } from '../common/s3-client.js';
import { deleteKeys, listObjects } from '../common/s3-objects.js';

/**
 * A real S3 API server on loopback, with a bucket and a client configured for it: the embedded
 * s3rver by default, or Ceph's RADOS Gateway (a real S3 implementation: `bash scripts/rgw.sh
 * start`) when `S3_TEST_SERVER=rgw` and its `RGW_*` variables are set, with a fresh bucket each.
 */
export interface LocalS3 {
  /** e.g. `http://127.0.0.1:41234` */
  readonly endpoint: string;
  readonly port: number;
  readonly bucket: string;
  /** Where s3rver keeps the objects on disk (none on RGW). */
  readonly directory: string;
  readonly client: S3Client;
  /** The server's access keys, for clients a test makes itself. */
  readonly credentials: { readonly accessKeyId: string; readonly secretAccessKey: string };
  /** The same as environment variables, for child processes (the recorder, the CLIs). */
  readonly env: Readonly<Record<string, string>>;
  close(): Promise<void>;
}

export interface LocalS3Options {
  /** @default 0 (any free port) */
  readonly port?: number;
  /** @default 'recordings' */
  readonly bucket?: string;
  /** @default a fresh temporary folder, removed on close */
  readonly directory?: string;
  /**
   * Told of each object once it is stored and readable, as S3 event notifications tell of it
   * (`ObjectCreated:*`, after a PUT or a completed multipart upload).
   */
  readonly onObjectCreated?: (object: { key: string; size: number | undefined }) => void;
  /** Which server: `rgw` only where the test runs unchanged on it. @default from S3_TEST_SERVER */
  readonly server?: 's3rver' | 'rgw';
}

/** Whether an RGW is there to test against (`source <(bash scripts/rgw.sh env)` sets these). */
export function rgwAvailable(): boolean {
  return Boolean(
    process.env.RGW_ENDPOINT && process.env.RGW_ACCESS_KEY_ID && process.env.RGW_SECRET_ACCESS_KEY,
  );
}

/** The RGW the CI script started, when this run asks for it (`S3_TEST_SERVER=rgw`). */
function rgwFromEnv(): { endpoint: string; accessKeyId: string; secretAccessKey: string } | undefined {
  const { RGW_ENDPOINT, RGW_ACCESS_KEY_ID, RGW_SECRET_ACCESS_KEY } = process.env;
  if (!RGW_ENDPOINT || !RGW_ACCESS_KEY_ID || !RGW_SECRET_ACCESS_KEY) {
    throw new Error('S3_TEST_SERVER=rgw needs RGW_ENDPOINT and its keys: source <(bash scripts/rgw.sh env)');
  }
  return { endpoint: RGW_ENDPOINT, accessKeyId: RGW_ACCESS_KEY_ID, secretAccessKey: RGW_SECRET_ACCESS_KEY };
}

const envOf = (credentials: LocalS3['credentials']) => ({
  AWS_ACCESS_KEY_ID: credentials.accessKeyId,
  AWS_SECRET_ACCESS_KEY: credentials.secretAccessKey,
});

/** A fresh, unversioned bucket on RGW (it answers conditional writes only on those), removed on close. */
async function startRgwBucket(): Promise<LocalS3> {
  const rgw = rgwFromEnv() as NonNullable<ReturnType<typeof rgwFromEnv>>;
  const credentials = { accessKeyId: rgw.accessKeyId, secretAccessKey: rgw.secretAccessKey };
  const client = createS3Client({ endpoint: rgw.endpoint, credentials });
  const bucket = `test-${randomUUID()}`;
  await client.send(new CreateBucketCommand({ Bucket: bucket }));
  return {
    endpoint: rgw.endpoint,
    port: Number(new URL(rgw.endpoint).port),
    bucket,
    directory: '',
    client,
    credentials,
    env: envOf(credentials),
    async close() {
      const keys: string[] = [];
      for await (const object of listObjects(client, bucket, '')) keys.push(object.key);
      await deleteKeys(client, bucket, keys);
      await client.send(new DeleteBucketCommand({ Bucket: bucket }));
      client.destroy();
    },
  };
}
/** Starts s3rver on 127.0.0.1. Close it in `afterAll`/`afterEach`. */
export async function startLocalS3(options: LocalS3Options = {}): Promise<LocalS3> {
  const server = options.server ?? (process.env.S3_TEST_SERVER === 'rgw' ? 'rgw' : 's3rver');
  if (
    server === 'rgw' &&
    !options.onObjectCreated &&
    options.directory === undefined &&
    options.port === undefined
  ) {
    return startRgwBucket();
  }
  const bucket = options.bucket ?? 'recordings';
  const ownDirectory = options.directory === undefined;
  const directory = options.directory ?? (await mkdtemp(join(tmpdir(), 'local-s3-')));
  const s3rver = new S3rver({
    address: '127.0.0.1',
    port: options.port ?? 0,
    silent: true,
    directory,
    configureBuckets: [{ name: bucket }],
  });
  const onObjectCreated = options.onObjectCreated;
  if (onObjectCreated) {
    s3rver.on('event', (event: S3rverEvent) => {
      for (const record of event.Records) {
        if (!record.eventName.startsWith('ObjectCreated:')) continue;
        onObjectCreated({ key: record.s3.object.key, size: record.s3.object.size });
      }
    });
  }
  const address = await s3rver.run();
  const endpoint = `http://127.0.0.1:${address.port}`;
  const client = createS3Client({ endpoint, credentials: LOCAL_S3_CREDENTIALS });
  return {
    endpoint,
    port: address.port,
    bucket,
    directory,
    client,
    credentials: LOCAL_S3_CREDENTIALS,
    env: envOf(LOCAL_S3_CREDENTIALS),
    async close() {
      client.destroy();
      await s3rver.close();
      if (ownDirectory) await rm(directory, { recursive: true, force: true });
    },
  };
}
