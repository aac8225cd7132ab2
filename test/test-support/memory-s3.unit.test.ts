import { Readable } from 'node:stream';
import {
  AbortMultipartUploadCommand,
  GetObjectCommand,
  ListObjectsCommand,
  PutObjectCommand,
} from '@aws-sdk/client-s3';
import { describe, expect, it } from 'vitest';
import { listObjects } from '../../common/s3-objects.js';
import { MemoryS3 } from '../../test-support/memory-s3.js';

const Bucket = 'recordings';

describe('MemoryS3 (the in-memory bucket of unit tests)', () => {
  it('stores a streamed body and refuses a create-only PUT over it with 412, as S3 does', async () => {
    const s3 = new MemoryS3();
    await s3.client.send(
      new PutObjectCommand({ Bucket, Key: 'a', Body: Readable.from([Buffer.from('one')]) }),
    );
    const again = s3.client.send(new PutObjectCommand({ Bucket, Key: 'a', Body: 'two', IfNoneMatch: '*' }));
    await expect(again).rejects.toMatchObject({
      name: 'PreconditionFailed',
      $metadata: { httpStatusCode: 412 },
    });
    expect(s3.objects.get('a')?.body.toString()).toBe('one');
    await s3.client.send(new PutObjectCommand({ Bucket, Key: 'a', Body: 'two' }));
    expect(s3.objects.get('a')?.body.toString()).toBe('two');
  });

  it('lists in pages as S3 does without a delimiter, and gives a single PUT the MD5 ETag', async () => {
    const s3 = new MemoryS3();
    for (const key of ['p/3', 'p/1', 'q/1', 'p/2']) {
      await s3.client.send(new PutObjectCommand({ Bucket, Key: key, Body: 'x' }));
    }
    const keys: string[] = [];
    for await (const object of listObjects(s3.client, Bucket, 'p/', { pageSize: 2 })) keys.push(object.key);
    expect(keys).toEqual(['p/1', 'p/2', 'p/3']);
    const listed = await s3.client.send(new ListObjectsCommand({ Bucket, Prefix: 'q/' }));
    // md5('x')
    expect(listed.Contents).toEqual([{ Key: 'q/1', Size: 1, ETag: '"9dd4e461268c8034f5c8564e155c67a6"' }]);
  });

  it('answers 404 NoSuchUpload for an upload it does not hold, refuses on demand, and models nothing else', async () => {
    const s3 = new MemoryS3();
    s3.uploads.add('u1');
    await s3.client.send(new AbortMultipartUploadCommand({ Bucket, Key: 'a', UploadId: 'u1' }));
    await expect(
      s3.client.send(new AbortMultipartUploadCommand({ Bucket, Key: 'a', UploadId: 'u1' })),
    ).rejects.toMatchObject({ name: 'NoSuchUpload', $metadata: { httpStatusCode: 404 } });
    s3.refuse = (_command, key) => (key === 'b' ? { status: 403, code: 'AccessDenied' } : undefined);
    await expect(s3.client.send(new PutObjectCommand({ Bucket, Key: 'b', Body: 'x' }))).rejects.toMatchObject(
      {
        $metadata: { httpStatusCode: 403 },
      },
    );
    await expect(s3.client.send(new GetObjectCommand({ Bucket, Key: 'a' }))).rejects.toThrow(
      /does not model GetObjectCommand/,
    );
    expect(s3.sent).toEqual([
      'AbortMultipartUploadCommand',
      'AbortMultipartUploadCommand',
      'PutObjectCommand',
      'GetObjectCommand',
    ]);
  });
});
