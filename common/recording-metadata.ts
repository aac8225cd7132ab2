/**
 * The metadata JSON stored beside each recording (`recordings/…/<uuid>.json`), written by the
 * recorder and read by the audit CLI. Bump `schemaVersion` on any incompatible change; readers
 * keep accepting every earlier version.
 */

/** A text frame (DTMF or other) received mid-stream, with where it fell in the audio. */
export interface RecordedTextEvent {
  /** Milliseconds of audio received before this frame. */
  readonly offsetMs: number;
  /** When the recorder received it (ISO 8601). */
  readonly receivedAt: string;
  /** The frame's parsed JSON, or `{ raw }` for a text frame that was not JSON. */
  readonly event: Record<string, unknown>;
}

/** Why and how the websocket ended. */
export interface RecordingEnd {
  /** The websocket close code (1000 normal, 1001 going away on drain, 1006 dropped, …). */
  readonly code: number;
  readonly reason: string;
  /**
   * Who ended it: the caller side closing normally, the recorder closing an idle socket, the
   * recorder draining on shutdown, a dead peer found by the heartbeat, a protocol error, or a
   * crash recovered after the fact.
   */
  readonly by:
    | 'peer'
    | 'idle-timeout'
    | 'max-duration'
    | 'too-fast'
    | 'drain'
    | 'heartbeat'
    | 'error'
    | 'recovered';
}

/** What every schema version holds. */
interface RecordingMetadataFields {
  /** The call leg uuid from the websocket path (`/calls/{uuid}`). */
  readonly uuid: string;
  readonly conversationUuid: string | null;
  /** Caller number (E.164 without +, as Vonage sends it). */
  readonly from: string | null;
  /** Callee number. */
  readonly to: string | null;
  /** ISO 8601: when the websocket was accepted / ended. */
  readonly startedAt: string;
  readonly endedAt: string;
  /** Seconds of audio recorded (audioBytes / bytes per second). */
  readonly durationSeconds: number;
  readonly sampleRate: 8000 | 16000 | 24000;
  readonly channels: 1;
  readonly bitsPerSample: 16;
  /** PCM bytes after the 44-byte WAV header. */
  readonly audioBytes: number;
  /** Size of the WAV object, header included. */
  readonly wavBytes: number;
  readonly frameCount: number;
  /** Binary frames whose size was not one 20 ms frame (kept in the audio all the same). */
  readonly oddSizeFrames: number;
  readonly textEvents: readonly RecordedTextEvent[];
  /** Text frames received beyond the recorder's cap and not kept in `textEvents` (absent = 0). */
  readonly droppedTextEvents?: number;
  readonly end: RecordingEnd;
  /** True when the call did not end normally: audio may be missing at the end. */
  readonly interrupted: boolean;
  /** The WAV object's key. */
  readonly recordingKey: string;
  /** Any other fields from the `websocket:connected` frame's headers. */
  readonly headers: Record<string, unknown>;
}

/**
 * Schema 2 (written since): the audio's SHA-256, hashed as it arrived, and the header beside it.
 * The WAV is `wavHeaderHex` followed by the audio; that header is the canonical 44-byte one for
 * `sampleRate`, `channels`, `bitsPerSample` and `audioBytes`, so a changed byte anywhere in the
 * object fails one check or the other.
 */
export interface RecordingMetadataV2 extends RecordingMetadataFields {
  readonly schemaVersion: 2;
  /** SHA-256 hex of the audio: every byte of the WAV after its 44-byte header. */
  readonly audioSha256: string;
  /** The WAV's 44-byte header as stored, hex. */
  readonly wavHeaderHex: string;
}

/** Schema 1 (older recordings): one SHA-256 of the whole WAV, computed from the file at hangup. */
export interface RecordingMetadataV1 extends RecordingMetadataFields {
  readonly schemaVersion: 1;
  /** SHA-256 hex of the whole WAV object. */
  readonly sha256: string;
}

/** Metadata as readers meet it: any schema version. The recorder writes the latest. */
export type RecordingMetadata = RecordingMetadataV1 | RecordingMetadataV2;

/** What is known of a call when its websocket opens. */
export interface CallIdentity {
  readonly uuid: string;
  readonly conversationUuid: string | null;
  readonly from: string | null;
  readonly to: string | null;
  readonly startedAt: string;
  readonly sampleRate: 8000 | 16000 | 24000;
}

/**
 * Key fields also set as S3 user metadata on the WAV (`x-amz-meta-*`), so tools can read them
 * with a HEAD request. Only what is known when the upload starts: S3 fixes an object's metadata
 * when its (multipart) upload is created; durations and hashes live in the JSON beside it.
 */
export function recordingObjectMetadata(call: CallIdentity): Record<string, string> {
  const out: Record<string, string> = {
    'call-uuid': call.uuid,
    'started-at': call.startedAt,
    'sample-rate': String(call.sampleRate),
  };
  if (call.conversationUuid) out['conversation-uuid'] = call.conversationUuid;
  if (call.from) out.from = call.from;
  if (call.to) out.to = call.to;
  return out;
}
