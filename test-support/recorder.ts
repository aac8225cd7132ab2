import { randomUUID } from 'node:crypto';
import type { S3Client } from '@aws-sdk/client-s3';
import type { ClientOptions, WebSocket } from 'ws';
import { contentTypeFor, frameBytes, type SampleRate } from '../common/audio-format.js';
import { signCallToken } from '../common/call-token.js';
import type { RecordingMetadata } from '../common/recording-metadata.js';
import { getObject, listObjects } from '../common/s3-objects.js';
import {
  callUri,
  LegOpenError,
  legClosed,
  openLeg,
  paceFrames,
  splitFrames,
  connectedFrame as vonageConnectedFrame,
} from '../tools/simulator/leg-client.js';

export { sendAll } from '../tools/simulator/leg-client.js';

export const SECRET = 'test-secret-0123456789abcdefghijklmnopqrstuvwxyz';

export function newCallUuid(): string {
  return randomUUID();
}

export function callUrl(
  base: string,
  uuid: string,
  token: string | null = signCallToken(SECRET, uuid, Math.floor(Date.now() / 1000) + 600),
): string {
  return callUri(base, uuid, token);
}

/** Splits PCM into 20 ms frames, as Vonage sends it (the last one may be short). */
export function frames(pcm: Buffer, rate: SampleRate): Buffer[] {
  return splitFrames(pcm, frameBytes(rate));
}

/** The `websocket:connected` frame of a call from 447700900001 to 447700900002, plus `extra`. */
export function connectedFrame(rate: SampleRate, uuid: string, extra: Record<string, unknown> = {}): string {
  return vonageConnectedFrame(contentTypeFor(rate), {
    uuid,
    conversation_uuid: `CON-${uuid}`,
    from: '447700900001',
    to: '447700900002',
    ...extra,
  });
}

export function openSocket(
  url: string,
  options: Omit<ClientOptions, 'headers'> & { headers?: Record<string, string | undefined> } = {},
): Promise<WebSocket> {
  const { headers, ...socket } = options;
  return openLeg(url, { ...(headers ? { headers } : {}), socket });
}

/** The HTTP status of a refused handshake (rejects if the handshake is accepted). */
export async function handshakeStatus(url: string, headers: Record<string, string> = {}): Promise<number> {
  let ws: WebSocket;
  try {
    ws = await openLeg(url, { headers });
  } catch (error) {
    if (error instanceof LegOpenError && error.status !== undefined) return error.status;
    throw error;
  }
  ws.terminate();
  throw new HandshakeAcceptedError();
}

/** What {@link handshakeStatus} throws when the server accepted the upgrade. */
export class HandshakeAcceptedError extends Error {
  constructor() {
    super('handshake was accepted');
    this.name = 'HandshakeAcceptedError';
  }
}

/** Resolves with the close code and reason the client saw. */
export const closed = legClosed;

export async function readObject(s3: S3Client, bucket: string, key: string): Promise<Buffer> {
  const result = await getObject(s3, bucket, key);
  return Buffer.from(await result.Body!.transformToByteArray());
}

/** Every key under the prefix, in key order. */
export async function listKeys(s3: S3Client, bucket: string, prefix = ''): Promise<string[]> {
  const keys: string[] = [];
  for await (const object of listObjects(s3, bucket, prefix)) keys.push(object.key);
  return keys;
}

/** Waits for a call's metadata JSON (written last) and returns it with the WAV's bytes. */
export async function waitForRecording(
  s3: S3Client,
  bucket: string,
  uuid: string,
  timeoutMs = 20_000,
): Promise<{ metadata: RecordingMetadata; wav: Buffer; wavKey: string }> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const key = (await listKeys(s3, bucket, 'recordings/')).find((k) => k.endsWith(`/${uuid}.json`));
    if (key) {
      const metadata = JSON.parse((await readObject(s3, bucket, key)).toString()) as RecordingMetadata;
      const wav = await readObject(s3, bucket, metadata.recordingKey);
      return { metadata, wav, wavKey: metadata.recordingKey };
    }
    if (Date.now() > until) throw new Error(`no recording for ${uuid} after ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/**
 * Sends frames at the pace Vonage does (one per 20 ms, on a drift-free schedule) until all are sent
 * or `stop()` is called; `sent` counts the frames handed to the socket so far.
 */
export function streamRealTime(
  ws: WebSocket,
  audio: readonly Buffer[],
): { readonly done: Promise<void>; sent(): number; stop(): void } {
  return paceFrames(ws, audio.length, (index) => audio[index] as Buffer);
}

/** Every key under `inflight/`, in key order (optionally one task's: `inflight/<taskId>/`). */
export async function inflightKeys(s3: S3Client, bucket: string, taskId?: string): Promise<string[]> {
  const keys: string[] = [];
  for await (const object of listObjects(s3, bucket, taskId ? `inflight/${taskId}/` : 'inflight/')) {
    keys.push(object.key);
  }
  return keys;
}

/** What the checkpoint batches under `inflight/` hold of one call, read as a sweeper would. */
export interface CheckpointedCall {
  /** The newest identity a batch carries (`call` of its entries), if any. */
  readonly call: Record<string, unknown> | undefined;
  /** The audio from offset 0 up to the first gap. */
  readonly audio: Buffer;
  /** Batch keys that mention the call. */
  readonly batches: string[];
  /** Pieces of its audio the batches hold (each one checkpoint of the call). */
  readonly pieces: number;
}

/**
 * Reads every batch (`inflight/<task>/<seq>.batch`: an index line of JSON, then the audio it
 * indexes) and rebuilds one call's checkpointed audio; fails if two batches disagree on a byte.
 */
export async function checkpointedCall(
  s3: S3Client,
  bucket: string,
  uuid: string,
): Promise<CheckpointedCall> {
  let call: Record<string, unknown> | undefined;
  const pieces: { offset: number; bytes: Buffer }[] = [];
  const batches: string[] = [];
  for (const key of await inflightKeys(s3, bucket)) {
    if (!key.endsWith('.batch')) continue;
    let body: Buffer;
    try {
      body = await readObject(s3, bucket, key);
    } catch {
      continue; // deleted since the listing
    }
    const newline = body.indexOf(0x0a);
    const index = JSON.parse(body.subarray(0, newline).toString('utf8')) as {
      entries: { uuid: string; offset: number; length: number; at: number; call?: Record<string, unknown> }[];
    };
    const data = body.subarray(newline + 1);
    const mine = index.entries.filter((entry) => entry.uuid === uuid);
    if (mine.length > 0) batches.push(key);
    for (const entry of mine) {
      if (entry.call) call = entry.call;
      if (entry.length > 0)
        pieces.push({ offset: entry.offset, bytes: data.subarray(entry.at, entry.at + entry.length) });
    }
  }
  pieces.sort((a, b) => a.offset - b.offset);
  const out: Buffer[] = [];
  let end = 0;
  for (const piece of pieces) {
    if (piece.offset > end) break;
    const overlap = end - piece.offset;
    if (!piece.bytes.subarray(0, overlap).equals(Buffer.concat(out).subarray(piece.offset, end))) {
      throw new Error(`batches disagree about the audio of ${uuid} at ${piece.offset}`);
    }
    if (piece.offset + piece.bytes.length > end) {
      out.push(piece.bytes.subarray(overlap));
      end = piece.offset + piece.bytes.length;
    }
  }
  return { call, audio: Buffer.concat(out), batches, pieces: pieces.length };
}

/** Polls `check` every 50 ms until it holds; throws after `timeoutMs`. */
export async function waitUntil(check: () => Promise<boolean>, timeoutMs = 5000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > until) throw new Error(`condition not met after ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
