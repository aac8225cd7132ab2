import {
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  PutObjectCommand,
  UploadPartCommand,
} from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type LocalS3, startLocalS3 } from '../../test-support/local-s3.js';

// The finalization benchmark times recordings by these notifications, so they must come once the
// object is whole, with its full size, and for multipart uploads only at completion.
describe('local S3 object-created notifications', () => {
  let s3: LocalS3;
  const created: { key: string; size: number | undefined }[] = [];

  beforeAll(async () => {
    s3 = await startLocalS3({ onObjectCreated: (object) => created.push(object) });
  });
  afterAll(async () => {
    await s3.close();
  });

  it('tells of a PUT with its size', async () => {
    await s3.client.send(
      new PutObjectCommand({ Bucket: s3.bucket, Key: 'a/one.bin', Body: Buffer.alloc(1234) }),
    );
    expect(created).toContainEqual({ key: 'a/one.bin', size: 1234 });
  });

  it('tells of a multipart upload once, at completion, with the whole size', async () => {
    const Bucket = s3.bucket;
    const Key = 'a/two.bin';
    const { UploadId } = await s3.client.send(new CreateMultipartUploadCommand({ Bucket, Key }));
    const part = (PartNumber: number, size: number) =>
      s3.client.send(
        new UploadPartCommand({ Bucket, Key, UploadId, PartNumber, Body: Buffer.alloc(size, PartNumber) }),
      );
    const first = await part(1, 5 * 1024 * 1024);
    const second = await part(2, 100);
    expect(created.filter((object) => object.key === Key)).toEqual([]);
    await s3.client.send(
      new CompleteMultipartUploadCommand({
        Bucket,
        Key,
        UploadId,
        MultipartUpload: {
          Parts: [
            { PartNumber: 1, ETag: first.ETag },
            { PartNumber: 2, ETag: second.ETag },
          ],
        },
      }),
    );
    expect(created.filter((object) => object.key === Key)).toEqual([
      { key: Key, size: 5 * 1024 * 1024 + 100 },
    ]);
  });
});
