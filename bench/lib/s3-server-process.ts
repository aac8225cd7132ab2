/**
 * A local S3 API server (s3rver) as a process of its own, so its CPU is not the recorder's.
 * Prints one JSON line `{"endpoint": …, "bucket": …, "directory": …}` once it listens; stops on SIGTERM.
 * Env: `S3_PORT` (default 0), `S3_DIRECTORY` (default a temporary folder), `S3_BUCKET` (default recordings),
 * `S3_EVENTS=1` to also print `{"created": {"key", "size", "atMs"}}` for each object the moment it
 * is stored and readable (`atMs`: epoch milliseconds, sub-millisecond, comparable across processes).
 */
import { performance } from 'node:perf_hooks';
import { startLocalS3 } from '../../test-support/local-s3.js';

const s3 = await startLocalS3({
  port: Number(process.env.S3_PORT ?? 0),
  ...(process.env.S3_DIRECTORY ? { directory: process.env.S3_DIRECTORY } : {}),
  ...(process.env.S3_BUCKET ? { bucket: process.env.S3_BUCKET } : {}),
  ...(process.env.S3_EVENTS === '1'
    ? {
        onObjectCreated: ({ key, size }) => {
          const atMs = performance.timeOrigin + performance.now();
          console.log(JSON.stringify({ created: { key, size, atMs } }));
        },
      }
    : {}),
});
console.log(JSON.stringify({ endpoint: s3.endpoint, bucket: s3.bucket, directory: s3.directory }));
process.once('SIGTERM', () => {
  void s3.close().then(() => process.exit(0));
});
