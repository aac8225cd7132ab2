import { PassThrough } from 'node:stream';
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  GetObjectCommand,
  PutObjectCommand,
  type S3Client,
  UploadPartCommand,
} from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createS3Client } from '../../common/s3-client.js';
import { type FaultProxy, startFaultProxy } from '../../test-support/fault-proxy.js';
import { type LocalS3, startLocalS3 } from '../../test-support/local-s3.js';

// The proxy is the instrument of the reliability suite: check it does to a real S3 client what it says.
describe('fault proxy in front of a local S3 server', () => {
  let s3: LocalS3;
  let proxy: FaultProxy;
  let client: S3Client;

  beforeAll(async () => {
    s3 = await startLocalS3();
    proxy = await startFaultProxy({ target: s3.endpoint });
    // One attempt per call: the proxy's faults must reach the caller, not be retried away.
    client = createS3Client({
      endpoint: proxy.endpoint,
      credentials: s3.credentials,
      overrides: { maxAttempts: 1 },
    });
  });

  afterAll(async () => {
    client.destroy();
    await proxy.close();
    await s3.close();
  });

  const put = (key: string, body = 'hello') =>
    client.send(new PutObjectCommand({ Bucket: s3.bucket, Key: key, Body: body }));
  const read = async (key: string) => {
    const object = await s3.client.send(new GetObjectCommand({ Bucket: s3.bucket, Key: key }));
    return object.Body?.transformToString();
  };

  it('forwards requests untouched when no fault is set', async () => {
    await put('plain', 'plain body');
    expect(await read('plain')).toBe('plain body');
  });

  it('answers 500 InternalError and 503 SlowDown without storing anything', async () => {
    proxy.setFault({ kind: 'error500' });
    await expect(put('e500')).rejects.toMatchObject({
      name: 'InternalError',
      $metadata: { httpStatusCode: 500 },
    });
    proxy.setFault({ kind: 'error503' });
    await expect(put('e503')).rejects.toMatchObject({ name: 'SlowDown', $metadata: { httpStatusCode: 503 } });
    proxy.setFault(undefined);
    await expect(read('e500')).rejects.toMatchObject({ name: 'NoSuchKey' });
  });

  it('drops connections, and with lost-response stores the object but never answers', async () => {
    proxy.setFault({ kind: 'drop' });
    await expect(put('dropped')).rejects.toThrow();
    proxy.setFault({ kind: 'lost-response' });
    await expect(put('lost', 'stored anyway')).rejects.toThrow();
    proxy.setFault(undefined);
    await expect(read('dropped')).rejects.toMatchObject({ name: 'NoSuchKey' });
    expect(await read('lost')).toBe('stored anyway');
  });

  it('stalls a request until the client gives up, or forwards it late with stallMs', async () => {
    proxy.setFault({ kind: 'stall' });
    await expect(
      client.send(new PutObjectCommand({ Bucket: s3.bucket, Key: 'stalled', Body: 'x' }), {
        abortSignal: AbortSignal.timeout(300),
      }),
    ).rejects.toThrow();
    proxy.setFault({ kind: 'stall', stallMs: 300 });
    const started = Date.now();
    await put('late', 'late body');
    expect(Date.now() - started).toBeGreaterThanOrEqual(280);
    proxy.setFault(undefined);
    expect(await read('late')).toBe('late body');
  });

  it('runs a timeline of faults and heals after it', async () => {
    const timeline = proxy.schedule([
      { atMs: 0, durationMs: 200, fault: { kind: 'error503' } },
      { atMs: 200, durationMs: 200, fault: { kind: 'refuse' } },
    ]);
    await expect(put('t1')).rejects.toMatchObject({ $metadata: { httpStatusCode: 503 } });
    await new Promise((resolve) => setTimeout(resolve, 250));
    await expect(put('t2')).rejects.toThrow();
    await timeline;
    await put('t3');
    expect(await read('t3')).toBe('hello');
    const stats = proxy.stats();
    expect(stats.faulted.error503).toBeGreaterThanOrEqual(1);
    expect(stats.faulted.refuse).toBeGreaterThanOrEqual(1);
  });
});

// The double of S3's conditional writes the multipart no-overwrite tests stand on: check its answers.
describe('fault proxy answering conditional writes as S3 does', () => {
  let s3: LocalS3;
  let proxy: FaultProxy;
  let client: S3Client;

  beforeAll(async () => {
    s3 = await startLocalS3();
    proxy = await startFaultProxy({ target: s3.endpoint, conditionalWrites: { s3: s3.client } });
    client = createS3Client({
      endpoint: proxy.endpoint,
      credentials: s3.credentials,
      overrides: { maxAttempts: 1 },
    });
  });

  afterAll(async () => {
    client.destroy();
    await proxy.close();
    await s3.close();
  });

  const read = async (key: string) => {
    const object = await s3.client.send(new GetObjectCommand({ Bucket: s3.bucket, Key: key }));
    return object.Body?.transformToString();
  };
  const putIfAbsent = (key: string, body: PutObjectCommand['input']['Body'], length?: number) =>
    client.send(
      new PutObjectCommand({
        Bucket: s3.bucket,
        Key: key,
        Body: body,
        IfNoneMatch: '*',
        ...(length === undefined ? {} : { ContentLength: length }),
      }),
    );
  /** A multipart upload of `body` in one part, ready to complete. */
  const uploadOnePart = async (key: string, body: string) => {
    const { UploadId } = await client.send(new CreateMultipartUploadCommand({ Bucket: s3.bucket, Key: key }));
    const { ETag } = await client.send(
      new UploadPartCommand({ Bucket: s3.bucket, Key: key, UploadId, PartNumber: 1, Body: body }),
    );
    const complete = () =>
      client.send(
        new CompleteMultipartUploadCommand({
          Bucket: s3.bucket,
          Key: key,
          UploadId,
          MultipartUpload: { Parts: [{ PartNumber: 1, ETag }] },
          IfNoneMatch: '*',
        }),
      );
    return { uploadId: UploadId, complete };
  };

  it('PutObject with If-None-Match: * writes a free key and answers 412 on a taken one; a plain PUT overwrites', async () => {
    await putIfAbsent('put-key', 'first');
    await expect(putIfAbsent('put-key', 'second')).rejects.toMatchObject({
      name: 'PreconditionFailed',
      $metadata: { httpStatusCode: 412 },
    });
    expect(await read('put-key')).toBe('first');
    await client.send(new PutObjectCommand({ Bucket: s3.bucket, Key: 'put-key', Body: 'plain' }));
    expect(await read('put-key')).toBe('plain');
  });

  it('CompleteMultipartUpload with If-None-Match: * completes onto a free key and answers 412 on a taken one', async () => {
    await (await uploadOnePart('mpu-key', 'first')).complete();
    expect(await read('mpu-key')).toBe('first');
    const second = await uploadOnePart('mpu-key', 'second');
    await expect(second.complete()).rejects.toMatchObject({
      name: 'PreconditionFailed',
      $metadata: { httpStatusCode: 412 },
    });
    expect(await read('mpu-key')).toBe('first');
    // Aborted as S3 aborts one (s3rver cannot): gone afterwards.
    await client.send(
      new AbortMultipartUploadCommand({ Bucket: s3.bucket, Key: 'mpu-key', UploadId: second.uploadId }),
    );
    await expect(second.complete()).rejects.toMatchObject({ name: 'NoSuchUpload' });
  });

  it('answers 409 to a conditional write while another to the key is in flight', async () => {
    const body = new PassThrough();
    const before = proxy.stats().received;
    const first = putIfAbsent('raced', body, 5);
    // The first is held with its body half sent; the second meets it in flight.
    body.write('fi');
    while (proxy.stats().received === before) await new Promise((resolve) => setTimeout(resolve, 10));
    await expect(putIfAbsent('raced', 'other')).rejects.toMatchObject({
      name: 'ConditionalRequestConflict',
      $metadata: { httpStatusCode: 409 },
    });
    body.end('rst');
    await first;
    expect(await read('raced')).toBe('first');
  });

  it('drops an upload whose Complete it answers 409: the upload must be made again', async () => {
    const upload = await uploadOnePart('conflicted', 'lost');
    proxy.setFault({ kind: 'conflict409', match: ({ method }) => method === 'POST' });
    await expect(upload.complete()).rejects.toMatchObject({
      name: 'ConditionalRequestConflict',
      $metadata: { httpStatusCode: 409 },
    });
    proxy.setFault(undefined);
    await expect(upload.complete()).rejects.toMatchObject({
      name: 'NoSuchUpload',
      $metadata: { httpStatusCode: 404 },
    });
    await expect(read('conflicted')).rejects.toMatchObject({ name: 'NoSuchKey' });
    await (await uploadOnePart('conflicted', 'made again')).complete();
    expect(await read('conflicted')).toBe('made again');
  });
});
