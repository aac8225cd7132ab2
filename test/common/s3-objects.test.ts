import { PutObjectCommand } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { deleteKeys, getObject, listObjects, type S3Attempts } from '../../common/s3-objects.js';
import { type LocalS3, startLocalS3 } from '../../test-support/local-s3.js';

let s3: LocalS3;

beforeAll(async () => {
  s3 = await startLocalS3();
});
afterAll(async () => {
  await s3?.close();
});

async function put(key: string, body: string | Buffer): Promise<void> {
  await s3.client.send(new PutObjectCommand({ Bucket: s3.bucket, Key: key, Body: body }));
}

async function keysUnder(prefix: string, options: Parameters<typeof listObjects>[3] = {}): Promise<string[]> {
  const keys: string[] = [];
  for await (const object of listObjects(s3.client, s3.bucket, prefix, options)) keys.push(object.key);
  return keys;
}

it('lists every key under a prefix across pages, in key order, with sizes, from after a given key', async () => {
  for (const name of ['e', 'b', 'd', 'a', 'c']) await put(`paged/${name}`, name.repeat(3));
  await put('other/a', 'x');
  const listed = [];
  for await (const object of listObjects(s3.client, s3.bucket, 'paged/', { pageSize: 2 }))
    listed.push(object);
  expect(listed.map((object) => [object.key, object.size])).toEqual([
    ['paged/a', 3],
    ['paged/b', 3],
    ['paged/c', 3],
    ['paged/d', 3],
    ['paged/e', 3],
  ]);
  expect(listed.every((object) => object.lastModified instanceof Date)).toBe(true);
  expect(await keysUnder('paged/', { pageSize: 2, startAfter: 'paged/b' })).toEqual([
    'paged/c',
    'paged/d',
    'paged/e',
  ]);
});

it('deletes more keys than one DeleteObjects request takes, and only those', async () => {
  const keys = Array.from({ length: 1001 }, (_, i) => `many/${String(i).padStart(4, '0')}`);
  for (let start = 0; start < keys.length; start += 50) {
    await Promise.all(keys.slice(start, start + 50).map((key) => put(key, '')));
  }
  await put('many-kept', 'k');
  const operations: string[] = [];
  const counting: S3Attempts = (operation, request) => {
    operations.push(operation);
    return request();
  };
  await deleteKeys(s3.client, s3.bucket, keys, counting);
  expect(operations).toEqual(['DeleteObjects 1000 keys', 'DeleteObjects 1 keys']);
  expect(await keysUnder('many')).toEqual(['many-kept']);
});

it('reads a byte range of an object, naming the range to the request runner', async () => {
  await put('ranged', Buffer.from('0123456789'));
  const operations: string[] = [];
  const object = await getObject(s3.client, s3.bucket, 'ranged', {
    range: 'bytes=2-5',
    attempts: (operation, request) => {
      operations.push(operation);
      return request();
    },
  });
  expect(Buffer.from(await object.Body!.transformToByteArray()).toString()).toBe('2345');
  expect(operations).toEqual(['GetObject ranged bytes=2-5']);
});
