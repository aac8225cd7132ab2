import { createHash } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { Readable } from 'node:stream';
import {
  AbortMultipartUploadCommand,
  type CompletedPart,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  ListObjectsCommand,
  PutObjectCommand,
  type S3Client,
  UploadPartCommand,
} from '@aws-sdk/client-s3';
import { bytesPerSecond } from '../../common/audio-format.js';
import { metadataKey } from '../../common/recording-keys.js';
import type {
  CallIdentity,
  RecordingMetadata,
  RecordingMetadataV2,
} from '../../common/recording-metadata.js';
import { describeS3Error } from '../../common/s3-errors.js';
import { WAV_HEADER_BYTES, type WavFormat, wavHeader } from '../../common/wav.js';
import { httpStatusOf, putObjectWithRetry, type RetryPolicy, withRetry } from './retry.js';
import { type AudioSpool, SpoolError } from './spool.js';
import type { TransferLimiter } from './transfer-limiter.js';

/** S3's smallest part (all but the last part of a multipart upload). */
export const MIN_PART_BYTES = 5 * 1024 * 1024;

/**
 * A CompleteMultipartUpload that S3 answers 409 ConditionalRequestConflict (a conflicting write to
 * the key raced it) has dropped the upload: it is made again from the spool file this many times.
 */
const MULTIPART_CONFLICT_RESTARTS = 3;

/** Storing a recording failed for good (after retries); the spool file is kept. */
export class RecordingUploadError extends Error {
  constructor(message: string, options?: { cause: unknown }) {
    super(message, options);
    this.name = 'RecordingUploadError';
  }
}

export interface RecordingUploadOptions {
  readonly s3: S3Client;
  readonly bucket: string;
  readonly key: string;
  /** `x-amz-meta-*` of the WAV object. */
  readonly objectMetadata: Record<string, string>;
  readonly format: WavFormat;
  readonly spool: AudioSpool;
  /** Size of every part but the last. Real S3 needs at least 5 MiB. */
  readonly partSizeBytes: number;
  readonly limiter: TransferLimiter;
  readonly retry?: RetryPolicy;
  /** Told of each retry and of the multipart upload's creation (for logs and the journal). */
  readonly onRetry?: (operation: string, error: unknown, attempt: number, delayMs: number) => void;
  readonly onMultipartCreated?: (uploadId: string) => void;
  /** Told when an abort itself failed (the bucket's lifecycle rule removes the parts later). */
  readonly onAbortFailed?: (uploadId: string, error: unknown) => void;
}

/**
 * The key already holds another recording, and S3 refused to write over it (412 to
 * `If-None-Match: *`): the stored one wins, this upload stored nothing. A replayed call token, or
 * a second connection for the same call, ends here.
 */
export class RecordingExistsError extends RecordingUploadError {
  /** S3's answer; also keeps `withRetry` from retrying it. */
  readonly $metadata = { httpStatusCode: 412 };
  constructor(readonly key: string) {
    super(`${key} already holds a recording; it was kept and this one not written over it`);
    this.name = 'RecordingExistsError';
  }
}

/** A CompleteMultipartUpload answered 409: the upload is gone and must be made again. */
class MultipartConflictError extends Error {
  readonly $metadata = { httpStatusCode: 409 };
  constructor(options: { cause: unknown }) {
    super('a conflicting write raced CompleteMultipartUpload; the upload is gone', options);
    this.name = 'MultipartConflictError';
  }
}

/** What was stored. */
export interface StoredRecording {
  readonly wavBytes: number;
  readonly audioBytes: number;
  /** SHA-256 hex of the audio (the WAV after its header). */
  readonly audioSha256: string;
  /** The 44-byte header the object starts with, hex. */
  readonly wavHeaderHex: string;
  /** 1 for a single PutObject, else the number of multipart parts. */
  readonly parts: number;
  /** Where the time after hangup went, ms (for the log). */
  readonly timings: Readonly<Record<string, number>>;
}

/** What the metadata says beyond the call's identity and its stored WAV. */
export type RecordingAccount = Pick<
  RecordingMetadata,
  | 'endedAt'
  | 'frameCount'
  | 'oddSizeFrames'
  | 'textEvents'
  | 'droppedTextEvents'
  | 'end'
  | 'interrupted'
  | 'recordingKey'
  | 'headers'
>;

/** The metadata JSON of a stored recording (one shape for a live call and a recovered one). */
export function recordingMetadata(
  identity: CallIdentity,
  stored: StoredRecording,
  account: RecordingAccount,
): RecordingMetadataV2 {
  return {
    schemaVersion: 2,
    uuid: identity.uuid,
    conversationUuid: identity.conversationUuid,
    from: identity.from,
    to: identity.to,
    startedAt: identity.startedAt,
    endedAt: account.endedAt,
    durationSeconds: stored.audioBytes / bytesPerSecond(identity.sampleRate),
    sampleRate: identity.sampleRate,
    channels: 1,
    bitsPerSample: 16,
    audioBytes: stored.audioBytes,
    wavBytes: stored.wavBytes,
    audioSha256: stored.audioSha256,
    wavHeaderHex: stored.wavHeaderHex,
    frameCount: account.frameCount,
    oddSizeFrames: account.oddSizeFrames,
    textEvents: account.textEvents,
    ...(account.droppedTextEvents === undefined ? {} : { droppedTextEvents: account.droppedTextEvents }),
    end: account.end,
    interrupted: account.interrupted,
    recordingKey: account.recordingKey,
    headers: account.headers,
  };
}

/**
 * Writes the metadata JSON beside its WAV (retried like every other request), only if none is
 * there: false when the key already held one (S3's 412), which is kept. Its WAV was stored by
 * this writer, so what is there is this JSON from an attempt whose answer was lost, or one written
 * with the same WAV by a recovery that ran alongside.
 */
export async function putRecordingMetadata(
  s3: S3Client,
  bucket: string,
  metadata: RecordingMetadata,
  retry?: RetryPolicy,
): Promise<boolean> {
  const key = metadataKey(metadata.uuid, new Date(metadata.startedAt));
  try {
    await putObjectWithRetry(
      s3,
      bucket,
      key,
      `${JSON.stringify(metadata, null, 2)}\n`,
      'application/json',
      retry,
      { createOnly: true },
    );
    return true;
  } catch (error) {
    if (httpStatusOf(error) === 412) return false;
    throw error;
  }
}

/**
 * Moves one call's audio from its spool file into one WAV object while the call runs.
 *
 * The object is laid out in parts of `partSizeBytes`: part k holds WAV bytes
 * [(k-1)·size, k·size). The header's sizes are only known at hangup, so part 1 (header + first
 * PCM) waits for the end; parts 2, 3, … go up from disk as soon as the spool holds them. At
 * hangup part 1 and the last part go up in parallel and the upload is completed: the work left
 * after hangup is at most two parts, whatever the call's length. A call that never filled part 2
 * is sent in one PutObject instead. The metadata's digest is the audio's SHA-256, which the spool
 * keeps as the audio arrives, beside the header: nothing is read back to hash it.
 */
export class RecordingUpload {
  #uploadId: string | undefined;
  #creating: Promise<string> | undefined;
  readonly #etags = new Map<number, string>();
  /** The next part (≥ 2) to upload while the call runs. */
  #nextPart = 2;
  #pumping: Promise<void> | undefined;
  #pumpError: unknown;
  #finishing = false;

  constructor(private readonly options: RecordingUploadOptions) {
    if (options.partSizeBytes <= WAV_HEADER_BYTES) {
      throw new RangeError(
        `part size must exceed the ${WAV_HEADER_BYTES}-byte header, got ${options.partSizeBytes}`,
      );
    }
  }

  get uploadId(): string | undefined {
    return this.#uploadId;
  }

  /** Parts uploaded so far (for tests and logs). */
  get uploadedParts(): number {
    return this.#etags.size;
  }

  #partEnd(part: number): number {
    return partAudioEnd(part, this.options.partSizeBytes);
  }

  /** Called whenever more audio reaches the disk: uploads any parts now complete. */
  progress(storedBytes: number): void {
    if (this.#finishing || this.#pumping || this.#pumpError !== undefined) return;
    if (storedBytes < this.#partEnd(this.#nextPart)) return;
    this.#pumping = this.#pump()
      .catch((error: unknown) => {
        // Not fatal: the parts left are retried at hangup, from the same spool file.
        this.#pumpError = error;
      })
      .finally(() => {
        this.#pumping = undefined;
        if (this.#pumpError === undefined) this.progress(this.options.spool.storedBytes);
      });
  }

  /** The error that stopped mid-call uploads, if any (the finish retries them). */
  get midCallError(): unknown {
    return this.#pumpError;
  }

  async #pump(): Promise<void> {
    while (!this.#finishing && this.options.spool.storedBytes >= this.#partEnd(this.#nextPart)) {
      await this.#ensureMultipart();
      await this.#uploadPart(this.#nextPart, this.options.spool.storedBytes, false);
      this.#nextPart++;
    }
  }

  /** Parts uploaded in parallel (at hangup) share one CreateMultipartUpload. */
  #ensureMultipart(): Promise<string> {
    if (this.#uploadId) return Promise.resolve(this.#uploadId);
    this.#creating ??= this.#createMultipart().finally(() => {
      this.#creating = undefined;
    });
    return this.#creating;
  }

  async #createMultipart(): Promise<string> {
    const { s3, bucket, key, objectMetadata } = this.options;
    const created = await withRetry(
      `CreateMultipartUpload ${key}`,
      (abortSignal) =>
        s3.send(
          new CreateMultipartUploadCommand({
            Bucket: bucket,
            Key: key,
            ContentType: 'audio/wav',
            Metadata: objectMetadata,
          }),
          { abortSignal },
        ),
      this.options.retry,
      (error, attempt, delay) => this.options.onRetry?.('CreateMultipartUpload', error, attempt, delay),
    );
    if (!created.UploadId)
      throw new RecordingUploadError(`CreateMultipartUpload ${key} returned no UploadId`);
    this.#uploadId = created.UploadId;
    this.options.onMultipartCreated?.(created.UploadId);
    return created.UploadId;
  }

  /** Uploads part `part` of a WAV whose audio is `audioBytes` long (part 1 carries its header). */
  async #uploadPart(part: number, audioBytes: number, urgent: boolean): Promise<void> {
    const { s3, bucket, key, spool, partSizeBytes, limiter, format } = this.options;
    const uploadId = await this.#ensureMultipart();
    const { start, length } = partRange(part, WAV_HEADER_BYTES + audioBytes, partSizeBytes);
    const etag = await withRetry(
      `UploadPart ${part} of ${key}`,
      (abortSignal) =>
        limiter.run(urgent, async () => {
          const result = await withWavStream(wavStream(spool, format, audioBytes, start, length), (Body) =>
            s3.send(
              new UploadPartCommand({
                Bucket: bucket,
                Key: key,
                UploadId: uploadId,
                PartNumber: part,
                Body,
                ContentLength: length,
              }),
              { abortSignal },
            ),
          );
          return result.ETag;
        }),
      this.options.retry,
      (error, attempt, delay) => this.options.onRetry?.(`UploadPart ${part}`, error, attempt, delay),
    );
    if (!etag) throw new RecordingUploadError(`UploadPart ${part} of ${key} returned no ETag`);
    this.#etags.set(part, etag);
  }

  /**
   * Stores the WAV once the call is over and every byte is on disk (`spool.flush()` resolved; after
   * a spool failure, what reached the disk is stored).
   * On failure the multipart upload is aborted (best effort) and the error thrown; the spool file
   * is left in place.
   */
  async finish(): Promise<StoredRecording> {
    this.#finishing = true;
    const t0 = performance.now();
    const timings: Record<string, number> = {};
    const lap = (name: string, since: number): number => {
      const now = performance.now();
      timings[name] = Math.round(now - since);
      return now;
    };
    // The part the pump is sending (if any) goes on beside part 1 and the others, not before them.
    const pumping = this.#pumping ? { part: this.#nextPart, settled: this.#pumping } : undefined;
    let t = t0;
    const { spool, partSizeBytes, format } = this.options;
    const audioBytes = spool.storedBytes;
    if (!spool.failure && audioBytes !== spool.receivedBytes) {
      throw new RecordingUploadError(
        `finish called with ${spool.receivedBytes - audioBytes} bytes not yet on disk`,
      );
    }
    const wavBytes = WAV_HEADER_BYTES + audioBytes;
    try {
      // Decided by size, not by whether mid-call uploads got going: a long call whose
      // CreateMultipartUpload failed mid-call still goes up in parts, never as one huge buffer.
      const partCount = wavPartCount(audioBytes, partSizeBytes);
      const wavHeaderHex = wavHeader(format, audioBytes).toString('hex');
      // Ready at once for a live call; a recovery run's reopened file is read for it.
      const audioSha256 = spool.audioSha256().finally(() => lap('sha256', t0));
      // Awaited once the object is stored; a failure before that is not left unhandled.
      audioSha256.catch(() => {});
      if (partCount === 1) {
        await this.#putWhole(audioBytes);
        lap('put', t);
        return { wavBytes, audioBytes, audioSha256: await audioSha256, wavHeaderHex, parts: 1, timings };
      }
      for (let restarts = 0, inFlight = pumping; ; restarts++, inFlight = undefined) {
        const missing: number[] = [1];
        for (let part = 2; part <= partCount; part++) {
          // A mid-call part is only reused if it is still whole (it always is: parts are uploaded full).
          if (!this.#etags.has(part) && part !== inFlight?.part) missing.push(part);
        }
        const uploads = missing.map((part) => this.#uploadPart(part, audioBytes, true));
        if (inFlight) {
          const { part, settled } = inFlight;
          uploads.push(
            settled.then(() => {
              lap('midCallPart', t0);
              // It failed (the pump's error is kept, not thrown): sent again like any missing part.
              if (part <= partCount && !this.#etags.has(part))
                return this.#uploadPart(part, audioBytes, true);
            }),
          );
        }
        await Promise.all(uploads);
        t = lap('parts', t);
        try {
          await this.#complete(partCount, wavBytes);
          break;
        } catch (error) {
          const cause = (error as Error).cause;
          if (!(cause instanceof MultipartConflictError)) throw error;
          if (restarts >= MULTIPART_CONFLICT_RESTARTS) throw error;
          // S3 dropped the upload (see MultipartConflictError): a new one, every part from disk.
          this.options.onRetry?.('CompleteMultipartUpload', cause, restarts + 1, 0);
          this.#uploadId = undefined;
          this.#etags.clear();
        }
      }
      lap('complete', t);
      return {
        wavBytes,
        audioBytes,
        audioSha256: await audioSha256,
        wavHeaderHex,
        parts: partCount,
        timings,
      };
    } catch (error) {
      // Not aborted under a part the pump is still sending (it never rejects).
      await this.#pumping;
      await this.abort();
      const cause = (error as Error).cause;
      if (cause instanceof RecordingExistsError) throw cause;
      throw error instanceof RecordingUploadError
        ? error
        : new RecordingUploadError(`storing ${this.options.key} failed: ${describeS3Error(error)}`, {
            cause: error,
          });
    }
  }

  async #putWhole(audioBytes: number): Promise<void> {
    const { s3, bucket, key, objectMetadata, spool, limiter, format } = this.options;
    const wavBytes = WAV_HEADER_BYTES + audioBytes;
    try {
      await withRetry(
        `PutObject ${key}`,
        (abortSignal) =>
          limiter.run(true, () =>
            withWavStream(wavStream(spool, format, audioBytes, 0, wavBytes), (Body) =>
              s3.send(
                new PutObjectCommand({
                  Bucket: bucket,
                  Key: key,
                  Body,
                  ContentLength: wavBytes,
                  ContentType: 'audio/wav',
                  Metadata: objectMetadata,
                  // Never over a stored recording (the bucket policy refuses a PUT without it).
                  IfNoneMatch: '*',
                }),
                { abortSignal },
              ),
            ),
          ),
        this.options.retry,
        (error, attempt, delay) => this.options.onRetry?.('PutObject', error, attempt, delay),
      );
    } catch (error) {
      if (httpStatusOf(error) !== 412) throw error;
      // An earlier attempt whose answer was lost, or a recovery of this very audio, stored these
      // bytes (S3's ETag of a single PUT is the body's MD5, except under SSE-KMS): the same WAV.
      // Hashed only here, on this rare path: the file is under part 2's size.
      const [md5] = await spool.digests(wavHeader(format, audioBytes), ['md5']);
      if (!(await this.#holds(wavBytes, md5))) throw new RecordingExistsError(key);
    }
  }

  async #complete(partCount: number, wavBytes: number): Promise<void> {
    const { s3, bucket, key } = this.options;
    const parts: CompletedPart[] = [];
    for (let part = 1; part <= partCount; part++) {
      parts.push({ PartNumber: part, ETag: this.#etags.get(part) });
    }
    let sent = false;
    await withRetry(
      `CompleteMultipartUpload ${key}`,
      async (abortSignal) => {
        // A Complete whose response was lost may have taken effect: S3 then answers the repeat
        // 404 NoSuchUpload (other servers, 500). Before repeating it, look for the object.
        if (sent && (await this.#isCompleted(parts, wavBytes, abortSignal))) return;
        sent = true;
        try {
          await s3.send(
            new CompleteMultipartUploadCommand({
              Bucket: bucket,
              Key: key,
              UploadId: this.#uploadId,
              MultipartUpload: { Parts: parts },
              // Never over a stored recording (the bucket policy refuses a Complete without it).
              IfNoneMatch: '*',
            }),
            { abortSignal },
          );
        } catch (error) {
          const status = httpStatusOf(error);
          if (
            ((error as { name?: string }).name === 'NoSuchUpload' || status === 412) &&
            (await this.#isCompleted(parts, wavBytes, abortSignal))
          ) {
            return;
          }
          if (status === 412) throw new RecordingExistsError(key);
          // S3 drops the upload on this 409 and says to make it again (If-None-Match in
          // https://docs.aws.amazon.com/AmazonS3/latest/API/API_CompleteMultipartUpload.html).
          if (status === 409) throw new MultipartConflictError({ cause: error });
          throw error;
        }
      },
      this.options.retry,
      (error, attempt, delay) => this.options.onRetry?.('CompleteMultipartUpload', error, attempt, delay),
    );
  }

  /**
   * Whether the object at the key is this upload, completed: its size is the WAV's and, where the
   * server gives S3's multipart ETag (`<MD5 of the parts' MD5s>-<count>`), that ETag is the one of
   * exactly these parts. (S3-compatible servers that give a whole-object MD5 are judged by size;
   * the key is this call's alone.) Listed rather than HEAD: the recorder may list its prefix but
   * not read recordings back.
   */
  async #isCompleted(
    parts: readonly CompletedPart[],
    wavBytes: number,
    abortSignal: AbortSignal,
  ): Promise<boolean> {
    const { s3, bucket, key } = this.options;
    const listed = await s3.send(new ListObjectsCommand({ Bucket: bucket, Prefix: key, MaxKeys: 1 }), {
      abortSignal,
    });
    return isCompletedUpload(
      listed.Contents?.find((item) => item.Key === key),
      parts,
      wavBytes,
    );
  }

  /** Whether the object at the key is exactly `wavBytes` long with the ETag `md5` (a single PUT's). */
  async #holds(wavBytes: number, md5: string | undefined): Promise<boolean> {
    const { s3, bucket, key } = this.options;
    const listed = await withRetry(
      `ListObjects ${key}`,
      (abortSignal) =>
        s3.send(new ListObjectsCommand({ Bucket: bucket, Prefix: key, MaxKeys: 1 }), { abortSignal }),
      this.options.retry,
    );
    return isSinglePut(
      listed.Contents?.find((item) => item.Key === key),
      wavBytes,
      md5,
    );
  }

  /** Aborts the multipart upload, if one was started, so no stale parts are billed. */
  async abort(): Promise<void> {
    const uploadId = this.#uploadId;
    if (!uploadId) return;
    this.#uploadId = undefined;
    const { s3, bucket, key } = this.options;
    await withRetry(
      `AbortMultipartUpload ${key}`,
      (abortSignal) =>
        s3.send(new AbortMultipartUploadCommand({ Bucket: bucket, Key: key, UploadId: uploadId }), {
          abortSignal,
        }),
      { ...this.options.retry, deadlineMs: Math.min(this.options.retry?.deadlineMs ?? 60_000, 60_000) },
    ).catch((error: unknown) => this.options.onAbortFailed?.(uploadId, error));
  }
}

/**
 * Bytes [start, start + length) of the WAV (header, then the spool file's audio) as a stream read
 * from the file: a body in flight holds a read buffer (64 KiB), not the whole part. Whole-part
 * buffers, 5 MiB each and made by the dozen when many calls cross a part boundary together, left
 * RSS tens of MiB higher after each such wave (freed memory the allocator kept). The SDK does not
 * retry a stream body itself; `withRetry` makes a fresh stream for each attempt.
 */
function wavStream(
  spool: AudioSpool,
  format: WavFormat,
  audioBytes: number,
  start: number,
  length: number,
): Readable {
  const end = start + length;
  if (end > WAV_HEADER_BYTES + spool.storedBytes || end > WAV_HEADER_BYTES + audioBytes) {
    throw new SpoolError(
      `WAV bytes [${start}, ${end}) are past the ${spool.storedBytes} audio bytes on disk`,
    );
  }
  const header =
    start < WAV_HEADER_BYTES
      ? wavHeader(format, audioBytes).subarray(start, Math.min(end, WAV_HEADER_BYTES))
      : undefined;
  const audioStart = Math.max(start, WAV_HEADER_BYTES) - WAV_HEADER_BYTES;
  const audioEnd = end - WAV_HEADER_BYTES;
  const audio = audioEnd > audioStart ? spool.createReadStream(audioStart, audioEnd) : undefined;
  if (!header) return audio ?? Readable.from([]);
  const stream = Readable.from(
    (async function* () {
      yield header;
      if (audio) yield* audio;
    })(),
    { objectMode: false },
  );
  // Destroyed before it reached the audio (an aborted request): close the file too.
  stream.once('close', () => audio?.destroy());
  return stream;
}

/** Sends one request with a fresh WAV stream, and always closes the stream's file afterwards. */
async function withWavStream<T>(body: Readable, send: (body: Readable) => Promise<T>): Promise<T> {
  try {
    return await send(body);
  } finally {
    body.destroy();
  }
}

function unquote(etag: string): string {
  return etag.replace(/"/g, '').toLowerCase();
}

/** Audio byte offset (in the spool file) where part `part` (1-based) of the WAV ends. */
export function partAudioEnd(part: number, partSizeBytes: number): number {
  return part * partSizeBytes - WAV_HEADER_BYTES;
}

/** Part `part` (1-based) of a WAV of `wavBytes`: WAV bytes [start, start + length). */
export function partRange(
  part: number,
  wavBytes: number,
  partSizeBytes: number,
): { start: number; length: number } {
  const start = (part - 1) * partSizeBytes;
  return { start, length: Math.min(partSizeBytes, wavBytes - start) };
}

/**
 * Parts of the stored WAV: 1 (a single PutObject) until the audio fills part 2, else as many as it
 * takes.
 */
export function wavPartCount(audioBytes: number, partSizeBytes: number): number {
  if (audioBytes < partAudioEnd(2, partSizeBytes)) return 1;
  return Math.ceil((WAV_HEADER_BYTES + audioBytes) / partSizeBytes);
}

/** A listed object: its size and ETag (quoted, as S3 sends it). */
export interface ListedEtag {
  readonly Size?: number;
  readonly ETag?: string;
}

/**
 * Whether a listed object is the upload completed from `parts`: its size is the WAV's and, where
 * the server gives S3's multipart ETag, that ETag is the one of exactly these parts (a server that
 * gives a whole-object MD5 is judged by size; the key is this call's alone).
 */
export function isCompletedUpload(
  object: ListedEtag | undefined,
  parts: readonly CompletedPart[],
  wavBytes: number,
): boolean {
  if (!object || object.Size !== wavBytes) return false;
  const etag = unquote(object.ETag ?? '');
  return !etag.includes('-') || etag === multipartEtag(parts);
}

/** Whether a listed object is a single PUT of these bytes: S3's ETag of one is the body's MD5. */
export function isSinglePut(
  object: ListedEtag | undefined,
  wavBytes: number,
  md5: string | undefined,
): boolean {
  return object?.Size === wavBytes && unquote(object.ETag ?? '') === md5;
}

/** The ETag S3 gives an object completed from these parts: MD5 of the concatenated part MD5s, `-N`. */
export function multipartEtag(parts: readonly CompletedPart[]): string {
  const digests = parts.map((part) => Buffer.from(unquote(part.ETag ?? ''), 'hex'));
  return `${createHash('md5').update(Buffer.concat(digests)).digest('hex')}-${parts.length}`;
}
