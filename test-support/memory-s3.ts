import { createHash } from 'node:crypto';
import type { Readable } from 'node:stream';
import {
  AbortMultipartUploadCommand,
  DeleteObjectsCommand,
  ListObjectsCommand,
  PutObjectCommand,
  type S3Client,
  S3ServiceException,
} from '@aws-sdk/client-s3';

/** One stored object. */
export interface MemoryObject {
  readonly body: Buffer;
  readonly contentType: string | undefined;
  readonly metadata: Record<string, string> | undefined;
}

/** An S3 error answer: HTTP status and S3 error code. */
export interface S3Refusal {
  readonly status: number;
  readonly code: string;
}

/**
 * One bucket in memory behind `S3Client#send`, for unit tests, which may open no socket. It
 * answers what a short recording's store and a recovery send: PutObject (412
 * PreconditionFailed on `If-None-Match: *` over an existing key, as S3 does), ListObjects in pages
 * (ETag = body MD5, as S3's for a single PUT), DeleteObjects, and AbortMultipartUpload (404
 * NoSuchUpload for an upload it does not hold); any other command throws, so a test never passes
 * on a path this double does not model. Integration tests use a real server (`startLocalS3`).
 */
export class MemoryS3 {
  readonly objects = new Map<string, MemoryObject>();
  /** Command names in the order sent (e.g. `PutObjectCommand`). */
  readonly sent: string[] = [];
  /** Multipart uploads in progress, by upload id. */
  readonly uploads = new Set<string>();
  /** Answers a request with an S3 error instead, when it returns one (e.g. 403 AccessDenied). */
  refuse: ((command: string, key: string | undefined) => S3Refusal | undefined) | undefined;

  readonly client = {
    send: (command: object) => this.#send(command),
  } as unknown as S3Client;

  async #send(command: object): Promise<unknown> {
    const name = command.constructor.name;
    this.sent.push(name);
    const refusal = this.refuse?.(name, (command as { input?: { Key?: string } }).input?.Key);
    if (refusal) throw s3Error(refusal.status, refusal.code);
    if (command instanceof PutObjectCommand) return this.#put(command);
    if (command instanceof ListObjectsCommand) return this.#list(command);
    if (command instanceof DeleteObjectsCommand) return this.#delete(command);
    if (command instanceof AbortMultipartUploadCommand) {
      if (!this.uploads.delete(command.input.UploadId as string)) throw s3Error(404, 'NoSuchUpload');
      return {};
    }
    throw new Error(`MemoryS3 does not model ${command.constructor.name}`);
  }

  async #put({ input }: PutObjectCommand): Promise<unknown> {
    const body = await bodyBytes(input.Body);
    const key = input.Key as string;
    if (input.IfNoneMatch === '*' && this.objects.has(key)) throw s3Error(412, 'PreconditionFailed');
    this.objects.set(key, { body, contentType: input.ContentType, metadata: input.Metadata });
    return { ETag: `"${md5(body)}"` };
  }

  #list({ input }: ListObjectsCommand): unknown {
    const keys = [...this.objects.keys()]
      .filter((key) => key.startsWith(input.Prefix ?? '') && key > (input.Marker ?? ''))
      .sort();
    const page = keys.slice(0, input.MaxKeys ?? 1000);
    return {
      IsTruncated: page.length < keys.length,
      Contents: page.map((key) => {
        const { body } = this.objects.get(key) as MemoryObject;
        return { Key: key, Size: body.length, ETag: `"${md5(body)}"` };
      }),
    };
  }

  #delete({ input }: DeleteObjectsCommand): unknown {
    for (const { Key } of input.Delete?.Objects ?? []) this.objects.delete(Key as string);
    return { Errors: [] };
  }
}

function md5(body: Buffer): string {
  return createHash('md5').update(body).digest('hex');
}

/** An error shaped as the SDK throws it for an S3 error response. */
function s3Error(status: number, code: string): S3ServiceException {
  return new S3ServiceException({
    name: code,
    $fault: status >= 500 ? 'server' : 'client',
    $metadata: { httpStatusCode: status },
    message: code,
  });
}

async function bodyBytes(body: unknown): Promise<Buffer> {
  if (typeof body === 'string' || body instanceof Uint8Array) return Buffer.from(body);
  const chunks: Buffer[] = [];
  for await (const chunk of body as Readable) chunks.push(Buffer.from(chunk as Uint8Array));
  return Buffer.concat(chunks);
}
