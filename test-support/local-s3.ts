import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { S3Client } from '@aws-sdk/client-s3';
import S3rver, { type S3rverEvent } from 's3rver';
import { createS3Client, LOCAL_S3_CREDENTIALS } from '../common/s3-client.js';

/** A real S3 API server (s3rver) on loopback, with a bucket and a client configured for it. */
export interface LocalS3 {
  /** e.g. `http://127.0.0.1:41234` */
  readonly endpoint: string;
  readonly port: number;
  readonly bucket: string;
  /** Where s3rver keeps the objects on disk. */
  readonly directory: string;
  readonly client: S3Client;
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
}

/** Starts s3rver on 127.0.0.1. Close it in `afterAll`/`afterEach`. */
export async function startLocalS3(options: LocalS3Options = {}): Promise<LocalS3> {
  const bucket = options.bucket ?? 'recordings';
  const ownDirectory = options.directory === undefined;
  const directory = options.directory ?? (await mkdtemp(join(tmpdir(), 'local-s3-')));
  const server = new S3rver({
    address: '127.0.0.1',
    port: options.port ?? 0,
    silent: true,
    directory,
    configureBuckets: [{ name: bucket }],
  });
  const onObjectCreated = options.onObjectCreated;
  if (onObjectCreated) {
    server.on('event', (event: S3rverEvent) => {
      for (const record of event.Records) {
        if (!record.eventName.startsWith('ObjectCreated:')) continue;
        onObjectCreated({ key: record.s3.object.key, size: record.s3.object.size });
      }
    });
  }
  const address = await server.run();
  const endpoint = `http://127.0.0.1:${address.port}`;
  const client = createS3Client({ endpoint, credentials: LOCAL_S3_CREDENTIALS });
  return {
    endpoint,
    port: address.port,
    bucket,
    directory,
    client,
    async close() {
      client.destroy();
      await server.close();
      if (ownDirectory) await rm(directory, { recursive: true, force: true });
    },
  };
}
