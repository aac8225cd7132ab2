import {
  DeleteObjectsCommand,
  GetObjectCommand,
  type GetObjectCommandOutput,
  ListObjectsCommand,
  type ObjectIdentifier,
  type S3Client,
} from '@aws-sdk/client-s3';

/**
 * The S3 calls the recorder and the CLI share: paged listings, batched deletes, (ranged) reads.
 * Each takes a {@link S3Attempts} so the recorder can retry every request while the CLI sends it once.
 */

/**
 * Runs one S3 request named `operation`, passing the request an abort signal (or none); the
 * recorder's retrying runner sends it again on errors that waiting cures.
 */
export type S3Attempts = <T>(
  operation: string,
  request: (abortSignal?: AbortSignal) => Promise<T>,
) => Promise<T>;

/** Sends each request once. */
export const sendOnce: S3Attempts = (_operation, request) => request();

/** One object of a listing. */
export interface ListedObject {
  readonly key: string;
  readonly size: number;
  readonly lastModified?: Date;
}

export interface ListOptions {
  /** List only keys after this one. */
  readonly startAfter?: string;
  /** Keys per page. @default 1000 */
  readonly pageSize?: number;
  /** @default {@link sendOnce} */
  readonly attempts?: S3Attempts;
}

/**
 * Every object under a prefix, in key order, a page at a time, each page starting after the
 * previous page's last key. ListObjects (v1) with `Marker`, not ListObjectsV2: the local S3 server
 * (s3rver 3.7) encrypts v2 continuation tokens with DES, which Node's OpenSSL 3 refuses, so v2
 * would stop at 1000 keys locally; S3 lists the same keys either way.
 */
export async function* listObjects(
  s3: S3Client,
  bucket: string,
  prefix: string,
  options: ListOptions = {},
): AsyncGenerator<ListedObject> {
  const attempts = options.attempts ?? sendOnce;
  let marker = options.startAfter;
  for (;;) {
    const page = await attempts(`ListObjects ${prefix}`, (abortSignal) =>
      s3.send(
        new ListObjectsCommand({
          Bucket: bucket,
          Prefix: prefix,
          ...(options.pageSize === undefined ? {} : { MaxKeys: options.pageSize }),
          ...(marker ? { Marker: marker } : {}),
        }),
        { abortSignal },
      ),
    );
    const contents = page.Contents ?? [];
    for (const object of contents) {
      if (!object.Key) continue;
      yield {
        key: object.Key,
        size: object.Size ?? 0,
        ...(object.LastModified ? { lastModified: object.LastModified } : {}),
      };
    }
    // Without a delimiter S3 sends no NextMarker: the last key is the next page's marker.
    const last = page.NextMarker ?? contents.at(-1)?.Key;
    if (!page.IsTruncated || !last) return;
    marker = last;
  }
}

/** DeleteObjects answered, but left some keys in place. */
export class DeleteObjectsError extends Error {
  constructor(
    message: string,
    /** The keys S3 did not delete. */
    readonly keys: readonly string[],
  ) {
    super(message);
    this.name = 'DeleteObjectsError';
  }
}

/** S3's limit of keys per DeleteObjects request. */
const DELETE_BATCH_KEYS = 1000;

/** Deletes keys, up to 1000 per request; a key that could not be deleted fails the whole call. */
export async function deleteKeys(
  s3: S3Client,
  bucket: string,
  keys: readonly string[],
  attempts: S3Attempts = sendOnce,
): Promise<void> {
  for (let start = 0; start < keys.length; start += DELETE_BATCH_KEYS) {
    const objects: ObjectIdentifier[] = keys.slice(start, start + DELETE_BATCH_KEYS).map((Key) => ({ Key }));
    const result = await attempts(`DeleteObjects ${objects.length} keys`, (abortSignal) =>
      s3.send(new DeleteObjectsCommand({ Bucket: bucket, Delete: { Objects: objects, Quiet: true } }), {
        abortSignal,
      }),
    );
    const failed = result.Errors ?? [];
    if (failed.length > 0) {
      throw new DeleteObjectsError(
        `DeleteObjects left ${failed.length} keys, e.g. ${failed[0]?.Key}: ${failed[0]?.Code} ${failed[0]?.Message}`,
        failed.map((error) => error.Key ?? ''),
      );
    }
  }
}

export interface GetOptions {
  /** An HTTP byte range, e.g. `bytes=0-1023`. @default the whole object */
  readonly range?: string;
  /** @default {@link sendOnce} */
  readonly attempts?: S3Attempts;
}

/** GetObject, whole or a byte range; the caller reads (or streams) the body. */
export function getObject(
  s3: S3Client,
  bucket: string,
  key: string,
  options: GetOptions = {},
): Promise<GetObjectCommandOutput> {
  const { range } = options;
  return (options.attempts ?? sendOnce)(`GetObject ${key}${range ? ` ${range}` : ''}`, (abortSignal) =>
    s3.send(new GetObjectCommand({ Bucket: bucket, Key: key, ...(range ? { Range: range } : {}) }), {
      abortSignal,
    }),
  );
}
