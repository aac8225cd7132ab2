import { createHash, type Hash } from 'node:crypto';
import { createReadStream, writeSync, writevSync } from 'node:fs';
import { type FileHandle, open, rm, stat, writeFile } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import type { CallIdentity } from '../../common/recording-metadata.js';

/** Writing or reading a call's scratch file failed (disk full, volume gone). */
export class SpoolError extends Error {
  constructor(message: string, options?: { cause: unknown }) {
    super(message, options);
    this.name = 'SpoolError';
  }
}

/**
 * Written batch buffers, kept for reuse by every call of the process. Allocating a fresh one per
 * batch would leave garbage outside the V8 heap, freed only at the next full GC; and since writes
 * are synchronous, a call needs a buffer of its own only for the batch it is filling, so the spare
 * ones are shared rather than kept per call (two spares per call were 64 KiB of RSS each).
 */
const spareBatches = new Map<number, Buffer[]>();
/** Spare buffers kept per size: a burst of calls ending leaves at most this many behind. */
const MAX_SPARE_BATCHES = 256;

function takeBatchBuffer(size: number): Buffer {
  // allocUnsafeSlow: a batch of its own, not a slice of Node's shared pool.
  return spareBatches.get(size)?.pop() ?? Buffer.allocUnsafeSlow(size);
}

function returnBatchBuffer(buffer: Buffer): void {
  const spares = spareBatches.get(buffer.length) ?? [];
  spareBatches.set(buffer.length, spares);
  if (spares.length < MAX_SPARE_BATCHES) spares.push(buffer);
}

/**
 * One call's PCM on the scratch disk, append-only.
 *
 * Frames are copied into a batch buffer and written a batch at a time, so a live call holds about
 * one batch of audio in memory however long it runs; parts are read back from the file for upload.
 * Frames are copied rather than kept because each one is a slice of the socket read it arrived in:
 * holding slices would pin every read's allocation (several KiB of RSS per 640-byte frame).
 * The file is the audio's only copy until the object is complete in S3,
 * so it is removed only after that (and kept on failure, for recovery).
 *
 * The audio's SHA-256 is fed each batch as it is written, so at hangup it is ready whatever the
 * call's length, instead of a read of the whole file. A file reopened by a recovery run is hashed
 * from disk when asked.
 */
export class AudioSpool {
  readonly #handle: Promise<FileHandle>;
  /** Batches waiting to be written: a batch buffer and how much of it holds audio. */
  #pending: { buffer: Buffer; length: number }[] = [];
  /** The batch being filled, and how much of it is. */
  #batch: Buffer | undefined;
  #batchFill = 0;
  #pendingBytes = 0;
  #receivedBytes = 0;
  #storedBytes = 0;
  #writing: Promise<void> | undefined;
  #failure: SpoolError | undefined;
  /** SHA-256 of the first `#hashedBytes` of the file; undefined for a reopened file. */
  readonly #audioHash: Hash | undefined;
  #hashedBytes = 0;

  /**
   * @param path the PCM file (created, must not exist)
   * @param onStored called after each batch reaches the disk, with the bytes now on disk
   */
  constructor(
    readonly path: string,
    private readonly onStored: (storedBytes: number) => void = () => {},
    /** Size of one batch buffer. @default 32768 */
    private readonly batchBytes = 32 * 1024,
    /** Reopen a file left by an earlier run (holding this many bytes) instead of creating one. */
    existingBytes?: number,
  ) {
    this.#handle = open(path, existingBytes === undefined ? 'wx+' : 'r+');
    this.#storedBytes = this.#receivedBytes = existingBytes ?? 0;
    this.#audioHash = existingBytes === undefined ? createHash('sha256') : undefined;
    // Surfaced by the next flush; this only stops an unhandled rejection in the meantime.
    this.#handle.catch(() => {});
  }

  /** Bytes appended so far (on disk or queued). */
  get receivedBytes(): number {
    return this.#receivedBytes;
  }

  /** Bytes known to be on disk. */
  get storedBytes(): number {
    return this.#storedBytes;
  }

  get pendingBytes(): number {
    return this.#pendingBytes;
  }

  /** Set once a write failed; later audio cannot be kept. */
  get failure(): SpoolError | undefined {
    return this.#failure;
  }

  /** Copies a chunk into the queue; call `flush` to write it. */
  append(chunk: Buffer): void {
    // After a failed write nothing more can reach the disk; the call is being closed.
    if (this.#failure) return;
    for (let offset = 0; offset < chunk.length; ) {
      this.#batch ??= takeBatchBuffer(this.batchBytes);
      const copied = chunk.copy(this.#batch, this.#batchFill, offset);
      this.#batchFill += copied;
      offset += copied;
      if (this.#batchFill === this.#batch.length) this.#sealBatch();
    }
    this.#pendingBytes += chunk.length;
    this.#receivedBytes += chunk.length;
  }

  /** Moves the batch being filled (if any) to the write queue. */
  #sealBatch(): void {
    if (!this.#batch || this.#batchFill === 0) return;
    this.#pending.push({ buffer: this.#batch, length: this.#batchFill });
    this.#batch = undefined;
    this.#batchFill = 0;
  }

  /** Writes everything queued so far; resolves when it is on disk. */
  async flush(): Promise<void> {
    while (this.#pendingBytes > 0 || this.#writing) {
      if (this.#failure) throw this.#failure;
      this.#writing ??= this.#writeQueued().finally(() => {
        this.#writing = undefined;
      });
      await this.#writing;
    }
    if (this.#failure) throw this.#failure;
  }

  async #writeQueued(): Promise<void> {
    try {
      const handle = await this.#handle;
      for (this.#sealBatch(); this.#pending.length > 0; this.#sealBatch()) {
        const batch = this.#pending;
        const bytes = this.#pendingBytes;
        this.#pending = [];
        this.#pendingBytes = 0;
        const views = batch.map(({ buffer, length }) => buffer.subarray(0, length));
        // Written synchronously: a batch lands in the page cache in ~10 µs, while handing it to
        // libuv's thread pool costs 30-200 µs of CPU per write (thread wake-ups, and on a
        // one-vCPU task the pool shares the core with the event loop). At 2000 calls that is the
        // difference between ~2% and ~40% of the core. Reads for part uploads stay asynchronous.
        let written = writevSync(handle.fd, views, this.#storedBytes);
        if (written < bytes) {
          // A short write (rare on regular files): finish the rest from one buffer.
          const all = Buffer.concat(views, bytes);
          while (written < bytes)
            written += writeSync(handle.fd, all, written, bytes - written, this.#storedBytes + written);
        }
        this.#storedBytes += bytes;
        // Only bytes on disk, in file order: what the WAV after its header will hold.
        if (this.#audioHash) {
          for (const view of views) this.#audioHash.update(view);
          this.#hashedBytes += bytes;
        }
        for (const { buffer } of batch) returnBatchBuffer(buffer);
        this.onStored(this.#storedBytes);
      }
    } catch (error) {
      this.#failure ??= new SpoolError(`writing ${this.path} failed: ${(error as Error).message}`, {
        cause: error,
      });
      this.#pending = [];
      this.#batch = undefined;
      this.#batchFill = 0;
      this.#pendingBytes = 0;
      throw this.#failure;
    }
  }

  /** Reads `length` bytes at `position` (both within what is on disk) into `target` at `offset`. */
  async readInto(target: Buffer, offset: number, position: number, length: number): Promise<void> {
    if (position + length > this.#storedBytes) {
      throw new SpoolError(
        `read of ${length} bytes at ${position} is past the ${this.#storedBytes} bytes on disk`,
      );
    }
    const handle = await this.#handle;
    let done = 0;
    while (done < length) {
      const { bytesRead } = await handle.read(target, offset + done, length - done, position + done);
      if (bytesRead === 0) throw new SpoolError(`${this.path} ended early at ${position + done}`);
      done += bytesRead;
    }
  }

  /**
   * Audio bytes [start, end) as a stream (both within what is on disk), read through a file
   * descriptor of its own, so it outlives neither `close` nor the file.
   */
  createReadStream(start: number, end: number): Readable {
    if (end > this.#storedBytes || start > end) {
      throw new SpoolError(`read of [${start}, ${end}) is past the ${this.#storedBytes} bytes on disk`);
    }
    return createReadStream(this.path, { start, end: end - 1 });
  }

  /**
   * SHA-256 hex of every byte on disk: from the running hash when it covers them (no read),
   * else (a reopened file) read back from the file.
   */
  async audioSha256(): Promise<string> {
    if (this.#audioHash && this.#hashedBytes === this.#storedBytes) {
      return this.#audioHash.copy().digest('hex');
    }
    const [sha256] = await this.digests(Buffer.alloc(0), ['sha256']);
    return sha256!;
  }

  /**
   * Hex digests of `prefix` followed by the stored audio, one per algorithm, in one read of
   * 128 KiB slices (many calls may finalize at once, as on a drain).
   */
  async digests(prefix: Buffer, algorithms: readonly string[]): Promise<string[]> {
    const hashes = algorithms.map((algorithm) => createHash(algorithm).update(prefix));
    const slice = Buffer.allocUnsafe(Math.min(128 * 1024, Math.max(1, this.#storedBytes)));
    for (let position = 0; position < this.#storedBytes; position += slice.length) {
      const length = Math.min(slice.length, this.#storedBytes - position);
      await this.readInto(slice, 0, position, length);
      for (const hash of hashes) hash.update(slice.subarray(0, length));
    }
    return hashes.map((hash) => hash.digest('hex'));
  }

  /** Closes the file, keeping it (a failed upload leaves it for recovery). */
  async close(): Promise<void> {
    if (this.#batch && this.#batchFill === 0) {
      returnBatchBuffer(this.#batch);
      this.#batch = undefined;
    }
    const handle = await this.#handle.catch(() => undefined);
    await handle?.close();
  }

  /** Closes and deletes the file and its journal: the audio is safely stored elsewhere. */
  async remove(): Promise<void> {
    await this.close();
    await rm(this.path, { force: true });
    await rm(journalPath(this.path), { force: true });
  }
}

/** Reopens a spool file left by an earlier run (for recovery), with everything in it as stored. */
export async function reopenSpool(path: string): Promise<AudioSpool> {
  const { size } = await stat(path);
  return new AudioSpool(path, () => {}, undefined, size);
}

/** The journal beside a spool file: what a recovery run needs to finish the call's upload. */
export function journalPath(spoolPath: string): string {
  return spoolPath.replace(/\.pcm$/, '.journal.json');
}

/** What a recovery run needs to store a call whose recorder stopped before storing it. */
export interface CallJournal {
  readonly identity: CallIdentity;
  /** The `websocket:connected` frame's other headers. */
  readonly headers: Record<string, unknown>;
  readonly bucket: string;
  readonly key: string;
  readonly spoolPath: string;
  /** The call's multipart upload, once created (to be aborted or completed). */
  uploadId: string | null;
  /** The recorder task whose S3 checkpoints hold the call (`inflight/<id>/`); absent in older journals. */
  readonly checkpointTaskId?: string | null;
}

/** Records what is known of the call beside its spool file (written at start and at multipart creation). */
export async function writeJournal(spoolPath: string, journal: CallJournal): Promise<void> {
  await writeFile(journalPath(spoolPath), `${JSON.stringify(journal)}\n`);
}
