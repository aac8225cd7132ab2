import { createWriteStream } from 'node:fs';
import { access, mkdir, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { GetObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { checkDigest, WavDigester } from '../../common/recording-digest.js';
import { describeS3Error } from '../../common/s3-errors.js';
import { CliError, RecordingNotFoundError, UsageError } from './errors.js';
import { findRecording, getObjectStream, getObjectText, parseMetadata } from './recording-store.js';

export interface DownloadOptions {
  /** @default the current directory */
  readonly outDir?: string;
  /** Replace files already there. */
  readonly force?: boolean;
  readonly day?: Date;
  /** Called with the total size once known, then with bytes received so far. */
  readonly onStart?: (totalBytes: number) => void;
  readonly onProgress?: (receivedBytes: number) => void;
}

export interface DownloadResult {
  readonly wavPath: string;
  /** Where the metadata JSON was saved, when there is one. */
  readonly metadataPath: string | null;
  readonly bytes: number;
  /** SHA-256 hex of the downloaded WAV. */
  readonly sha256: string;
  /** Whether the download matches the metadata's digests; null without (readable) metadata. */
  readonly sha256Matches: boolean | null;
  /** What the digest check found (which byte or hash differs); null without metadata. */
  readonly digestDetail: string | null;
}

/**
 * Downloads a recording's WAV (and its metadata JSON) into a folder, hashing on the way so the
 * copy is checked against the stored digests (`checkDigest`, any schema version). Writes to a `.part` file first: an interrupted
 * download never leaves a truncated `.wav` behind.
 */
export async function downloadRecording(
  s3: S3Client,
  bucket: string,
  uuid: string,
  options: DownloadOptions = {},
): Promise<DownloadResult> {
  const entry = await findRecording(s3, bucket, uuid, options.day);
  if (!entry.wav)
    throw new RecordingNotFoundError(`call ${uuid} has metadata but no audio (${entry.metadata?.key})`);
  const outDir = options.outDir ?? '.';
  await mkdir(outDir, { recursive: true });
  const wavPath = join(outDir, `${uuid}.wav`);
  if (!options.force && (await exists(wavPath))) {
    throw new UsageError(`${wavPath} already exists: use --force to replace it`);
  }
  const { stream, contentLength } = await getObjectStream(s3, bucket, entry.wav.key);
  options.onStart?.(contentLength ?? entry.wav.size);
  const digester = new WavDigester();
  let received = 0;
  const meter = new Transform({
    transform(chunk: Buffer, _encoding, done) {
      digester.update(chunk);
      received += chunk.length;
      options.onProgress?.(received);
      done(null, chunk);
    },
  });
  const partPath = `${wavPath}.part`;
  try {
    await pipeline(stream, meter, createWriteStream(partPath));
  } catch (error) {
    await rm(partPath, { force: true });
    throw new CliError(`download of ${entry.wav.key} failed: ${describeS3Error(error)}`);
  }
  await rename(partPath, wavPath);
  const digest = digester.digest();
  let metadataPath: string | null = null;
  let sha256Matches: boolean | null = null;
  let digestDetail: string | null = null;
  if (entry.metadata) {
    metadataPath = join(outDir, `${uuid}.json`);
    const text = await getObjectText(s3, bucket, entry.metadata.key);
    await writeFile(metadataPath, text);
    const read = parseMetadata(text);
    if (read.ok) {
      const check = checkDigest(read.metadata, digest);
      sha256Matches = check.ok;
      digestDetail = check.detail;
    }
  }
  return { wavPath, metadataPath, bytes: received, sha256: digest.sha256, sha256Matches, digestDetail };
}

async function exists(path: string): Promise<boolean> {
  try {
    await access(path);
    return true;
  } catch {
    return false;
  }
}

/** SigV4 presigned URLs live at most 7 days. */
export const MAX_PRESIGN_SECONDS = 7 * 86_400;

/**
 * A presigned GET URL for a recording's WAV. With temporary credentials (SSO, an assumed role)
 * the URL stops working when they expire, whatever `expiresInSeconds` says.
 */
export async function presignRecordingUrl(
  s3: S3Client,
  bucket: string,
  uuid: string,
  expiresInSeconds: number,
  options: { day?: Date } = {},
): Promise<{ url: string; key: string; expiresAt: Date }> {
  if (!(expiresInSeconds >= 1 && expiresInSeconds <= MAX_PRESIGN_SECONDS)) {
    throw new UsageError(`--expires must be between 1s and 7d, got ${expiresInSeconds}s`);
  }
  const entry = await findRecording(s3, bucket, uuid, options.day);
  if (!entry.wav)
    throw new RecordingNotFoundError(`call ${uuid} has metadata but no audio (${entry.metadata?.key})`);
  const seconds = Math.round(expiresInSeconds);
  const url = await getSignedUrl(s3, new GetObjectCommand({ Bucket: bucket, Key: entry.wav.key }), {
    expiresIn: seconds,
  });
  return { url, key: entry.wav.key, expiresAt: new Date(Date.now() + seconds * 1000) };
}
