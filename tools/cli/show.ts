import type { S3Client } from '@aws-sdk/client-s3';
import {
  eventDays,
  findRecording,
  listCallEvents,
  type MetadataRead,
  type RecordingEntry,
  readMetadata,
  type StoredCallEvent,
} from './recording-store.js';

/** What `recordings show` reports about one call. */
export interface RecordingDetails {
  readonly entry: RecordingEntry;
  /** Null when there is no metadata JSON beside the WAV. */
  readonly metadata: MetadataRead | null;
  /** The conversation's stored Vonage events in time order (empty without a conversation uuid). */
  readonly events: readonly StoredCallEvent[];
}

/** Reads a recording's metadata and its call's event trail. */
export async function showRecording(
  s3: S3Client,
  bucket: string,
  uuid: string,
  options: { day?: Date } = {},
): Promise<RecordingDetails> {
  const entry = await findRecording(s3, bucket, uuid, options.day);
  const metadata = entry.metadata ? await readMetadata(s3, bucket, entry.metadata.key) : null;
  let events: StoredCallEvent[] = [];
  if (metadata?.ok && metadata.metadata.conversationUuid) {
    events = await listCallEvents(
      s3,
      bucket,
      metadata.metadata.conversationUuid,
      eventDays(metadata.metadata),
    );
  }
  return { entry, metadata, events };
}
