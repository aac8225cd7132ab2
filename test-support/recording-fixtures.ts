import { createHash } from 'node:crypto';
import { PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import type { SampleRate } from '../common/audio-format.js';
import { eventKey, metadataKey, recordingKey } from '../common/recording-keys.js';
import { type RecordingMetadata, recordingObjectMetadata } from '../common/recording-metadata.js';

/**
 * Recordings written into a real local S3 exactly as the recorder lays them out
 * (`common/recording-keys.ts`, `common/recording-metadata.ts`), and call events as the webhook
 * stores them, for the audit CLI's tests.
 */

export interface FixtureCall {
  readonly uuid: string;
  readonly conversationUuid: string;
  readonly from: string;
  readonly to: string;
  readonly startedAt: Date;
  readonly sampleRate: SampleRate;
  /** Raw s16le mono PCM. */
  readonly pcm: Buffer;
  readonly interrupted?: boolean;
  /** The metadata's schema: 2 as the recorder writes it now, 1 as older recordings have it. @default 2 */
  readonly schemaVersion?: 1 | 2;
}

/** A canonical 44-byte-header PCM WAV, written field by field (independent of the code under test). */
export function buildWav(pcm: Buffer, sampleRate: number): Buffer {
  const header = Buffer.alloc(44);
  header.write('RIFF', 0, 'latin1');
  header.writeUInt32LE(36 + pcm.length, 4);
  header.write('WAVE', 8, 'latin1');
  header.write('fmt ', 12, 'latin1');
  header.writeUInt32LE(16, 16);
  header.writeUInt16LE(1, 20);
  header.writeUInt16LE(1, 22);
  header.writeUInt32LE(sampleRate, 24);
  header.writeUInt32LE(sampleRate * 2, 28);
  header.writeUInt16LE(2, 32);
  header.writeUInt16LE(16, 34);
  header.write('data', 36, 'latin1');
  header.writeUInt32LE(pcm.length, 40);
  return Buffer.concat([header, pcm]);
}

/** The digest fields of each schema, hashed here from the WAV's bytes as they are. */
function digestFields(
  wav: Buffer,
  schemaVersion: 1 | 2,
): { schemaVersion: 1; sha256: string } | { schemaVersion: 2; audioSha256: string; wavHeaderHex: string } {
  if (schemaVersion === 1) return { schemaVersion, sha256: createHash('sha256').update(wav).digest('hex') };
  return {
    schemaVersion,
    audioSha256: createHash('sha256').update(wav.subarray(44)).digest('hex'),
    wavHeaderHex: wav.subarray(0, 44).toString('hex'),
  };
}

/** The digest fields the recorder writes today (schema 2) for a stored WAV, hashed from its bytes. */
export function metadataDigests(wav: Buffer): {
  schemaVersion: 2;
  audioSha256: string;
  wavHeaderHex: string;
} {
  return digestFields(wav, 2) as { schemaVersion: 2; audioSha256: string; wavHeaderHex: string };
}

export function buildMetadata(call: FixtureCall, wav: Buffer): RecordingMetadata {
  const durationSeconds = (wav.length - 44) / (call.sampleRate * 2);
  const endedAt = new Date(call.startedAt.getTime() + durationSeconds * 1000);
  return {
    ...digestFields(wav, call.schemaVersion ?? 2),
    uuid: call.uuid,
    conversationUuid: call.conversationUuid,
    from: call.from,
    to: call.to,
    startedAt: call.startedAt.toISOString(),
    endedAt: endedAt.toISOString(),
    durationSeconds,
    sampleRate: call.sampleRate,
    channels: 1,
    bitsPerSample: 16,
    audioBytes: wav.length - 44,
    wavBytes: wav.length,
    frameCount: Math.ceil((wav.length - 44) / ((call.sampleRate * 2) / 50)),
    oddSizeFrames: 0,
    textEvents: [],
    end: call.interrupted
      ? { code: 1006, reason: '', by: 'heartbeat' }
      : { code: 1000, reason: 'call ended', by: 'peer' },
    interrupted: call.interrupted ?? false,
    recordingKey: recordingKey(call.uuid, call.startedAt),
    headers: {},
  };
}

export interface StoredFixture {
  readonly wavKey: string;
  readonly metadataKey: string;
  readonly wav: Buffer;
  readonly metadata: RecordingMetadata;
}

/** Puts a recording's WAV (with its x-amz-meta) and its metadata JSON into the bucket. */
export async function putRecording(s3: S3Client, bucket: string, call: FixtureCall): Promise<StoredFixture> {
  const wav = buildWav(call.pcm, call.sampleRate);
  const metadata = buildMetadata(call, wav);
  const wavKey = recordingKey(call.uuid, call.startedAt);
  const jsonKey = metadataKey(call.uuid, call.startedAt);
  await s3.send(
    new PutObjectCommand({
      Bucket: bucket,
      Key: wavKey,
      Body: wav,
      ContentType: 'audio/wav',
      Metadata: recordingObjectMetadata({
        uuid: call.uuid,
        conversationUuid: call.conversationUuid,
        from: call.from,
        to: call.to,
        startedAt: call.startedAt.toISOString(),
        sampleRate: call.sampleRate,
      }),
    }),
  );
  await putJson(s3, bucket, jsonKey, metadata);
  return { wavKey, metadataKey: jsonKey, wav, metadata };
}

export async function putJson(s3: S3Client, bucket: string, key: string, value: unknown): Promise<void> {
  await s3.send(
    new PutObjectCommand({
      Bucket: bucket,
      Key: key,
      Body: JSON.stringify(value),
      ContentType: 'application/json',
    }),
  );
}

/** Stores one Vonage event under its `events/…` key, as the webhook does; returns the key. */
export async function putEvent(s3: S3Client, bucket: string, event: Record<string, string>): Promise<string> {
  const key = eventKey({
    conversationUuid: event.conversation_uuid as string,
    legUuid: event.uuid as string,
    status: event.status as string,
    timestamp: new Date(event.timestamp as string),
  });
  await putJson(s3, bucket, key, event);
  return key;
}

/**
 * The events Vonage posts for a recorded call: the call leg's started/answered/completed and the
 * websocket leg's (its `to` is the recorder URI) with the given durations in whole seconds.
 */
export function callEvents(
  call: FixtureCall,
  options: { websocketUuid: string; websocketSeconds: number; callSeconds: number; greetingSeconds?: number },
): Record<string, string>[] {
  const start = call.startedAt.getTime() - (options.greetingSeconds ?? 3) * 1000;
  const at = (ms: number) => new Date(ms).toISOString();
  const callLeg = {
    from: call.from,
    to: call.to,
    uuid: call.uuid,
    conversation_uuid: call.conversationUuid,
    direction: 'inbound',
  };
  const websocketLeg = {
    from: call.from,
    to: `wss://recorder.example.com/calls/${call.uuid}?token=1767225600.${'A'.repeat(43)}`,
    uuid: options.websocketUuid,
    conversation_uuid: call.conversationUuid,
    direction: 'outbound',
  };
  const wsEnd = call.startedAt.getTime() + options.websocketSeconds * 1000;
  const callEnd = start + options.callSeconds * 1000;
  return [
    { ...callLeg, status: 'started', timestamp: at(start - 1000) },
    { ...callLeg, status: 'answered', timestamp: at(start) },
    { ...websocketLeg, status: 'answered', timestamp: at(call.startedAt.getTime()) },
    {
      ...websocketLeg,
      status: 'completed',
      duration: String(options.websocketSeconds),
      start_time: at(call.startedAt.getTime()),
      end_time: at(wsEnd),
      rate: '0.00000000',
      price: '0.00000000',
      network: 'websocket',
      timestamp: at(wsEnd),
    },
    {
      ...callLeg,
      status: 'completed',
      duration: String(options.callSeconds),
      start_time: at(start),
      end_time: at(callEnd),
      rate: '0.00450000',
      price: '0.00100000',
      network: 'GB-FIXED',
      timestamp: at(callEnd + 200),
    },
  ];
}
