import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import type { Logger } from '@aws-lambda-powertools/logger';
import type { S3Client } from '@aws-sdk/client-s3';
import type { WebSocket } from 'ws';
import { bytesPerSecond, frameBytes, type SampleRate } from '../../common/audio-format.js';
import { recordingKey } from '../../common/recording-keys.js';
import {
  type CallIdentity,
  type RecordedTextEvent,
  type RecordingEnd,
  type RecordingMetadata,
  recordingObjectMetadata,
} from '../../common/recording-metadata.js';
import { describeS3Error } from '../../common/s3-errors.js';
import { AudioRateLimit, type AudioRateOptions, MAX_BYTES_PER_SECOND } from './admission.js';
import type { CallCheckpoint, CheckpointStore } from './checkpoint.js';
import { CloseCode } from './close-codes.js';
import type { RecorderMetrics } from './metrics.js';
import {
  type ConnectedFrame,
  type ConnectedFrameProblem,
  parseConnectedFrame,
  parseTextEvent,
} from './protocol.js';
import { failedEvent, type RecordingEventReporter, storedEvent } from './recording-event-reporter.js';
import type { RetryPolicy } from './retry.js';
import { AudioSpool, type CallJournal, writeJournal } from './spool.js';
import type { TransferLimiter } from './transfer-limiter.js';
import {
  putRecordingMetadata,
  RecordingExistsError,
  RecordingUpload,
  recordingMetadata,
  type StoredRecording,
} from './upload.js';

/** Per-call limits and timings (resolved defaults, from the recorder's options). */
export interface SessionSettings {
  readonly scratchDir: string;
  readonly partSizeBytes: number;
  readonly idleTimeoutMs: number;
  readonly maxCallMs: number;
  readonly spoolFlushBytes: number;
  readonly spoolFlushIntervalMs: number;
  readonly maxTextEvents: number;
  readonly maxTextEventBytes: number;
  /** After the recorder sends a close frame, how long the peer has to answer before the socket is cut. */
  readonly closeGraceMs: number;
  /** Most audio a crash may lose: checkpoint the call's audio to S3 (`inflight/`) this often; 0 = off. */
  readonly checkpointIntervalMs: number;
  /** How far ahead of real time a sender may run before it is closed with 4429 (false: no limit). */
  readonly audioRate?: AudioRateOptions | false;
}

/** How long a call whose recording failed waits for its tail to be checkpointed. */
const TAIL_CHECKPOINT_WAIT_MS = 10_000;

export interface SessionStorage {
  readonly s3: S3Client;
  readonly bucket: string;
  readonly limiter: TransferLimiter;
  /** The process's checkpoint batches (none when checkpoints are off). */
  readonly checkpoints: CheckpointStore | undefined;
  readonly retry?: RetryPolicy;
}

export interface CallSessionOptions {
  /** The call uuid from the websocket path, already authorized by its token. */
  readonly uuid: string;
  readonly socket: WebSocket;
  /** When the websocket was accepted: the recording's start and key date. */
  readonly acceptedAt: Date;
  readonly settings: SessionSettings;
  readonly storage: SessionStorage;
  readonly logger: Logger;
  readonly metrics: RecorderMetrics;
  /** Where `Recording Stored|Interrupted|Failed` go. @default none */
  readonly events?: RecordingEventReporter;
  readonly now: () => Date;
  /** Milliseconds for idle, flush and speed timing; `tick` gets the same clock. @default performance.now */
  readonly monotonicNow?: () => number;
}

/**
 * - `awaiting-connected`: socket open, no `websocket:connected` yet (nothing stored)
 * - `recording`: audio going to the spool file and, part by part, to S3
 * - `finalizing`: socket closed, the last parts and the metadata going up
 * - `stored` / `failed`: done, with or without the recording in S3
 * - `duplicate`: done; the key already held a recording (a replayed token, a second connection for
 *   the call), which was kept: this one's audio was not stored
 * - `refused`: closed before a valid first frame; nothing was stored
 */
export type CallSessionState =
  | 'awaiting-connected'
  | 'recording'
  | 'finalizing'
  | 'stored'
  | 'failed'
  | 'duplicate'
  | 'refused';

type EndedBy = RecordingEnd['by'];

const PROBLEM_CLOSE: Record<ConnectedFrameProblem, number> = {
  'not-json': CloseCode.BadFirstFrame,
  'not-connected-event': CloseCode.BadFirstFrame,
  'unsupported-content-type': CloseCode.UnsupportedContentType,
};

/**
 * S3 user metadata travels as HTTP headers and must be printable US-ASCII: a caller name with an
 * accent would otherwise make every upload of the call fail. The JSON beside the WAV keeps the
 * exact values.
 */
export function asciiMetadata(metadata: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [key, value] of Object.entries(metadata)) out[key] = value.replace(/[^\x20-\x7e]/g, '?');
  return out;
}

/** A close frame's reason is at most 123 bytes of UTF-8 (ws throws on more). */
export function closeReason(reason: string): string {
  let out = reason;
  while (Buffer.byteLength(out) > 123) out = out.slice(0, -1);
  return out;
}

/** The close code ws sends for each of its receive errors (ws/lib/receiver.js). */
function wsErrorCloseCode(code: unknown): number | undefined {
  if (typeof code !== 'string' || !code.startsWith('WS_ERR_')) return undefined;
  if (code === 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH' || code === 'WS_ERR_UNSUPPORTED_DATA_PAYLOAD_LENGTH') {
    return CloseCode.MessageTooBig;
  }
  if (code === 'WS_ERR_INVALID_UTF8') return 1007;
  if (code === 'WS_ERR_TOO_MANY_BUFFERED_PARTS') return 1008;
  return 1002;
}

/** What a call records into, made when its `websocket:connected` frame arrives. */
interface Recording {
  readonly identity: CallIdentity;
  readonly connected: ConnectedFrame;
  readonly spool: AudioSpool;
  readonly upload: RecordingUpload;
  readonly checkpointer: CallCheckpoint | undefined;
  /** Closes a call whose audio comes much faster than real time; undefined when the limit is off. */
  readonly audioRate: AudioRateLimit | undefined;
  readonly expectedFrameBytes: number;
  /** `maxCallSeconds` of audio at the call's rate: then the call is closed with 4413. */
  readonly maxAudioBytes: number;
}

/** Close codes with which a call ends normally (1005: the peer closed without a code). */
const NORMAL_CLOSE_CODES = new Set([1000, 1005]);

/**
 * One call's websocket, from handshake to stored recording. The server feeds it socket events and
 * a periodic `tick`; it owns the spool file, the upload and the metadata.
 */
export class CallSession {
  #state: CallSessionState = 'awaiting-connected';
  readonly #done: Promise<void>;
  #resolveDone!: () => void;
  readonly #mono: () => number;
  // Given a number here, not only in the constructor: a field declared without a value starts
  // out undefined, and V8 then allocates a fresh heap number for every double stored in it
  // (#lastMessageAt takes one per frame).
  #lastMessageAt = 0;
  #startedMono = 0;
  #lastFlushAt = 0;
  /** Heartbeat: set by any frame or pong, cleared by each ping. */
  alive = true;

  /** Everything a started call records into; exists from `websocket:connected` on. */
  #recording: Recording | undefined;
  #flushing: Promise<void> | undefined;
  #frameCount = 0;
  #oddSizeFrames = 0;
  readonly #textEvents: RecordedTextEvent[] = [];
  #droppedTextEvents = 0;
  #textEventBytes = 0;
  /** Reading from the socket is paused while the scratch disk lags behind. */
  #paused = false;
  /** Set when the recorder ends the call: why, and the close code it sent. */
  #closing: { by: EndedBy; code: number; reason: string } | undefined;
  #closeTimer: NodeJS.Timeout | undefined;
  #socketError: Error | undefined;

  constructor(private readonly options: CallSessionOptions) {
    this.#mono = options.monotonicNow ?? (() => performance.now());
    this.#lastMessageAt = this.#mono();
    this.#startedMono = this.#lastMessageAt;
    this.#lastFlushAt = this.#lastMessageAt;
    this.#done = new Promise((resolve) => {
      this.#resolveDone = resolve;
    });
  }

  get uuid(): string {
    return this.options.uuid;
  }

  get state(): CallSessionState {
    return this.#state;
  }

  /** Resolves when the call is over and its recording stored (or given up on). Never rejects. */
  get done(): Promise<void> {
    return this.#done;
  }

  /** Bytes this call may still write to the scratch disk (admission control's reservation). */
  remainingScratchBytes(): number {
    if (this.#state === 'awaiting-connected')
      return Math.floor(this.options.settings.maxCallMs / 1000) * MAX_BYTES_PER_SECOND;
    const recording = this.#recording;
    if (this.#state !== 'recording' || !recording) return 0;
    return Math.max(0, recording.maxAudioBytes - recording.spool.receivedBytes);
  }

  #log(): { callUuid: string } {
    return { callUuid: this.options.uuid };
  }

  onMessage(data: Buffer, isBinary: boolean): void {
    // One clock read per frame serves the idle timer and the audio rate limit.
    const nowMono = this.#mono();
    this.#lastMessageAt = nowMono;
    this.alive = true;
    if (this.#state === 'awaiting-connected') {
      // Refused or timed out already: a first frame crossing our close frame starts nothing.
      if (!this.#closing) this.#onFirstFrame(data, isBinary);
    } else if (this.#state === 'recording' && this.#recording) {
      // Frames that cross the recorder's own close frame are still the call's audio: keep them.
      if (isBinary) this.#onAudio(this.#recording, data, nowMono);
      else this.#onText(this.#recording, data);
    }
  }

  #onFirstFrame(data: Buffer, isBinary: boolean): void {
    if (isBinary) {
      this.#refuse(CloseCode.UnsupportedData, 'expected a websocket:connected text frame first');
      return;
    }
    const parsed = parseConnectedFrame(data.toString('utf8'));
    if (!parsed.ok) {
      this.#refuse(PROBLEM_CLOSE[parsed.problem], parsed.detail);
      return;
    }
    this.#start(parsed.frame);
  }

  #refuse(code: number, reason: string): void {
    this.options.logger.warn('call refused: bad first frame', { ...this.#log(), closeCode: code, reason });
    this.close('error', code, reason);
  }

  #start(frame: ConnectedFrame): void {
    const { uuid, acceptedAt, settings, storage, logger } = this.options;
    if (frame.uuid !== null && frame.uuid !== uuid) {
      logger.warn('websocket:connected names another uuid; the path uuid is used', {
        ...this.#log(),
        frameUuid: frame.uuid,
      });
    }
    const sampleRate: SampleRate = frame.sampleRate;
    const identity: CallIdentity = {
      uuid,
      conversationUuid: frame.conversationUuid,
      from: frame.from,
      to: frame.to,
      startedAt: acceptedAt.toISOString(),
      sampleRate,
    };
    const key = recordingKey(uuid, acceptedAt);
    const spoolPath = join(settings.scratchDir, `${uuid}.${acceptedAt.getTime()}.pcm`);
    // The upload is made below, with the spool it reads; the spool tells it of stored bytes.
    let upload: RecordingUpload | undefined;
    const spool = new AudioSpool(spoolPath, (stored) => upload?.progress(stored), settings.spoolFlushBytes);
    let checkpointer: CallCheckpoint | undefined;
    if (storage.checkpoints) {
      // The interval bounds the audio a crash loses: audio reaches the file a batch at a time, due
      // calls are gathered once a tick, and their PUT takes a while to land, so a call falls due
      // one spool batch and two ticks early. Being due more often costs bytes of index, not
      // requests: a batch per tick carries however many calls are due.
      const rate = bytesPerSecond(sampleRate);
      const batchMs = Math.min(settings.spoolFlushIntervalMs, (settings.spoolFlushBytes / rate) * 1000);
      const leadMs = Math.max(1, settings.checkpointIntervalMs - batchMs - 2 * storage.checkpoints.tickMs);
      checkpointer = storage.checkpoints.open({
        spool,
        call: { schemaVersion: 1, identity, headers: frame.headers, key, uploadId: null },
        intervalMs: leadMs,
        intervalBytes: Math.ceil((leadMs / 1000) * rate),
      });
    }
    const journal: CallJournal = {
      identity,
      headers: frame.headers,
      bucket: storage.bucket,
      key,
      spoolPath,
      uploadId: null,
      checkpointTaskId: storage.checkpoints?.taskId ?? null,
    };
    upload = new RecordingUpload({
      s3: storage.s3,
      bucket: storage.bucket,
      key,
      objectMetadata: asciiMetadata(recordingObjectMetadata(identity)),
      format: { sampleRate },
      spool,
      partSizeBytes: settings.partSizeBytes,
      limiter: storage.limiter,
      retry: storage.retry,
      onRetry: (operation, error, attempt, delayMs) =>
        logger.warn('S3 request failed; retrying', {
          ...this.#log(),
          operation,
          attempt,
          delayMs,
          error: describeS3Error(error),
        }),
      onAbortFailed: (uploadId, error) =>
        logger.error('aborting the multipart upload failed; the bucket lifecycle rule will remove it', {
          ...this.#log(),
          uploadId,
          error,
        }),
      onMultipartCreated: (uploadId) => {
        journal.uploadId = uploadId;
        this.#writeJournal(spoolPath, journal);
        checkpointer?.setUploadId(uploadId);
      },
    });
    this.#recording = {
      identity,
      connected: frame,
      spool,
      upload,
      checkpointer,
      audioRate:
        settings.audioRate === false ? undefined : new AudioRateLimit(this.#mono(), settings.audioRate),
      expectedFrameBytes: frameBytes(sampleRate),
      maxAudioBytes: Math.floor(settings.maxCallMs / 1000) * bytesPerSecond(sampleRate),
    };
    this.#writeJournal(spoolPath, journal);
    this.#state = 'recording';
    this.#startedMono = this.#mono();
    this.options.metrics.callStarted();
    logger.info('call started', {
      ...this.#log(),
      key,
      sampleRate,
      conversationUuid: identity.conversationUuid,
    });
  }

  #writeJournal(spoolPath: string, journal: CallJournal): void {
    writeJournal(spoolPath, journal).catch((error: unknown) =>
      this.options.logger.error('writing the call journal failed', { ...this.#log(), error }),
    );
  }

  #onAudio(recording: Recording, data: Buffer, nowMono: number): void {
    // Closed for sending too fast: what it sends while the close handshake runs is not kept.
    if (this.#closing?.code === CloseCode.TooFast) return;
    const { spool, audioRate, identity } = recording;
    this.#frameCount++;
    if (data.length !== recording.expectedFrameBytes) this.#oddSizeFrames++;
    spool.append(data);
    const { spoolFlushBytes } = this.options.settings;
    if (spool.pendingBytes >= spoolFlushBytes) {
      this.#flush(spool);
      // A disk that cannot keep up would otherwise let queued audio grow without bound:
      // stop reading (TCP pushes back on the sender) until the queue is written.
      if (spool.pendingBytes >= 8 * spoolFlushBytes && !this.#paused) {
        this.#paused = true;
        this.options.socket.pause();
      }
    }
    if (spool.receivedBytes >= recording.maxAudioBytes) {
      this.close('max-duration', CloseCode.MaxDuration, 'call reached its maximum duration');
    } else if (audioRate && !audioRate.take(data.length / bytesPerSecond(identity.sampleRate), nowMono)) {
      this.options.logger.warn('audio arriving much faster than real time; ending the call', {
        ...this.#log(),
        receivedSeconds: spool.receivedBytes / bytesPerSecond(identity.sampleRate),
      });
      this.close('too-fast', CloseCode.TooFast, 'audio sent faster than real time');
    }
  }

  #onText(recording: Recording, data: Buffer): void {
    const { maxTextEvents, maxTextEventBytes } = this.options.settings;
    if (this.#textEvents.length >= maxTextEvents || this.#textEventBytes + data.length > maxTextEventBytes) {
      this.#droppedTextEvents++;
      return;
    }
    this.#textEventBytes += data.length;
    const sampleRate = recording.identity.sampleRate;
    this.#textEvents.push({
      offsetMs: Math.round((recording.spool.receivedBytes / bytesPerSecond(sampleRate)) * 1000),
      receivedAt: this.options.now().toISOString(),
      event: parseTextEvent(data.toString('utf8')),
    });
  }

  #flush(spool: AudioSpool): void {
    this.#lastFlushAt = this.#mono();
    this.#flushing ??= spool
      .flush()
      .catch((error: unknown) => {
        this.options.logger.error('spooling audio failed; ending the call', { ...this.#log(), error });
        this.close('error', CloseCode.InternalError, 'recording storage failed');
      })
      .finally(() => {
        this.#flushing = undefined;
        if (this.#paused) {
          this.#paused = false;
          this.options.socket.resume();
        }
      });
  }

  /** Periodic housekeeping from the server: time-based flush, idle and maximum-duration limits. */
  tick(nowMono: number): void {
    if (this.#closing) return;
    const { idleTimeoutMs, spoolFlushIntervalMs, maxCallMs } = this.options.settings;
    if (this.#state === 'awaiting-connected' && nowMono - this.#lastMessageAt > idleTimeoutMs) {
      this.close('idle-timeout', CloseCode.IdleTimeout, 'no websocket:connected frame in time');
    } else if (this.#state === 'recording' && this.#recording) {
      const { spool } = this.#recording;
      if (spool.pendingBytes > 0 && nowMono - this.#lastFlushAt >= spoolFlushIntervalMs) this.#flush(spool);
      if (nowMono - this.#lastMessageAt > idleTimeoutMs) {
        this.close('idle-timeout', CloseCode.IdleTimeout, 'no audio received in time');
      } else if (nowMono - this.#startedMono > maxCallMs) {
        this.close('max-duration', CloseCode.MaxDuration, 'call reached its maximum duration');
      }
    }
  }

  /**
   * Ends the call from the recorder's side with a close frame. Audio received until the peer
   * answers is still kept; a peer that does not answer within the grace period is cut off.
   */
  close(by: EndedBy, code: number, reason: string): void {
    if (
      this.#closing ||
      this.#state === 'finalizing' ||
      this.#state === 'stored' ||
      this.#state === 'failed' ||
      this.#state === 'duplicate'
    )
      return;
    this.#closing = { by, code, reason };
    this.options.socket.close(code, closeReason(reason));
    this.#closeTimer = setTimeout(() => this.options.socket.terminate(), this.options.settings.closeGraceMs);
    this.#closeTimer.unref();
  }

  /** The heartbeat found the peer dead: cut the socket; what was received is stored. */
  terminate(by: EndedBy): void {
    if (!this.#closing) this.#closing = { by, code: 1006, reason: 'no answer to ping' };
    this.options.socket.terminate();
  }

  onError(error: Error): void {
    // ws closes the socket itself after a protocol error and stops reading, so the close event
    // reports 1006; the code ws sent is recorded instead.
    this.#socketError = error;
    const code = wsErrorCloseCode((error as { code?: unknown }).code);
    if (code !== undefined && !this.#closing) this.#closing = { by: 'error', code, reason: error.message };
    this.options.logger.warn('websocket error', { ...this.#log(), error: error.message });
  }

  onClose(code: number, reason: Buffer): void {
    clearTimeout(this.#closeTimer);
    if (this.#state === 'awaiting-connected') {
      this.#state = 'refused';
      this.options.logger.info('socket closed before a call started; nothing stored', {
        ...this.#log(),
        code,
      });
      this.#resolveDone();
      return;
    }
    const recording = this.#recording;
    if (this.#state !== 'recording' || !recording) return;
    const end: RecordingEnd = this.#closing
      ? { by: this.#closing.by, code: this.#closing.code, reason: this.#closing.reason }
      : {
          by: this.#socketError ? 'error' : 'peer',
          code,
          reason: reason.toString('utf8') || (this.#socketError?.message ?? ''),
        };
    this.#finalize(recording, end).finally(() => this.#resolveDone());
  }

  async #finalize(recording: Recording, end: RecordingEnd): Promise<void> {
    this.#state = 'finalizing';
    const endedAt = this.options.now();
    const hungUpMono = this.#mono();
    const { logger, metrics, storage } = this.options;
    const { spool, upload, checkpointer } = recording;
    // A crash from here on still loses at most one interval; the spool file goes once stored.
    checkpointer?.stop();
    try {
      await this.#flushing;
      await spool.flush().catch(() => {
        // Logged by #flush; what reached the disk is stored and the call marked interrupted.
      });
      const flushedMono = this.#mono();
      const stored = await upload.finish();
      const storedMono = this.#mono();
      const metadata = this.#metadata(recording, endedAt, end, stored);
      const metadataWritten = await putRecordingMetadata(storage.s3, storage.bucket, metadata, storage.retry);
      if (metadataWritten) {
        // Once the metadata is stored, and in the background: the put adds nothing to finalizing.
        this.options.events?.report(storedEvent(metadata, storage.bucket, this.options.now()));
        if (metadata.interrupted) metrics.recordingInterrupted?.();
        else metrics.recordingStored?.();
      } else {
        // Its writer reported the recording; this one must not report it again.
        logger.warn('metadata already stored beside the recording; kept, not written over', {
          ...this.#log(),
          key: metadata.recordingKey,
        });
      }
      const metadataMono = this.#mono();
      await spool.remove();
      // Only now: until the recording is stored, the checkpoints may be all that survives a crash.
      checkpointer?.finish();
      this.#state = 'stored';
      const uploadLatencyMs = this.#mono() - hungUpMono;
      metrics.callFinished(metadata.durationSeconds, uploadLatencyMs);
      logger.info('recording stored', {
        ...this.#log(),
        key: metadata.recordingKey,
        durationSeconds: metadata.durationSeconds,
        parts: stored.parts,
        end,
        uploadLatencyMs: Math.round(uploadLatencyMs),
        finalizeMs: {
          flush: Math.round(flushedMono - hungUpMono),
          ...stored.timings,
          metadata: Math.round(metadataMono - storedMono),
          cleanUp: Math.round(this.#mono() - metadataMono),
        },
      });
    } catch (error) {
      if (error instanceof RecordingExistsError) {
        // The first recording of a call wins: whatever this connection sent is dropped, with its
        // checkpoints, so nothing retries it.
        this.#state = 'duplicate';
        await spool.remove().catch(() => {});
        checkpointer?.finish();
        metrics.callFailed();
        logger.warn(
          "a recording of this call is already stored; it was kept and this connection's audio dropped",
          {
            ...this.#log(),
            key: error.key,
          },
        );
        return;
      }
      this.#state = 'failed';
      // Its checkpoints stay (no finish): with the disk gone they are what a sweeper can recover.
      // The tail after the last checkpoint goes up first (a tick or two, if S3 takes PUTs at all).
      metrics.callFailed();
      await checkpointer?.caughtUp(TAIL_CHECKPOINT_WAIT_MS);
      await spool.close().catch(() => {});
      logger.error('recording could not be stored; its audio is kept on the scratch disk', {
        ...this.#log(),
        spoolPath: spool.path,
        error,
      });
      this.#reportFailed(recording, error);
    }
  }

  /**
   * `Recording Failed`: the spool file holds the audio. With checkpoints on, S3 holds it too, up to
   * the interval: what a sweeper recovers (`Recording Recovered`) once this task has stopped.
   */
  #reportFailed(recording: Recording, error: unknown): void {
    const { identity, spool } = recording;
    this.options.events?.report(
      failedEvent(
        {
          uuid: identity.uuid,
          conversationUuid: identity.conversationUuid,
          from: identity.from,
          to: identity.to,
          startedAt: identity.startedAt,
          bucket: this.options.storage.bucket,
          recordingKey: recordingKey(identity.uuid, this.options.acceptedAt),
          reason: describeS3Error(error),
          audioAt: { kind: 'scratch', location: spool.path },
          durationSeconds: spool.storedBytes / bytesPerSecond(identity.sampleRate),
        },
        this.options.now(),
      ),
    );
  }

  #metadata(
    recording: Recording,
    endedAt: Date,
    end: RecordingEnd,
    stored: StoredRecording,
  ): RecordingMetadata {
    const { identity, connected, spool } = recording;
    const headers: Record<string, unknown> = { ...connected.headers };
    if (connected.uuid !== null && connected.uuid !== identity.uuid) headers.uuid = connected.uuid;
    const interrupted = end.by !== 'peer' || !NORMAL_CLOSE_CODES.has(end.code) || spool.failure !== undefined;
    return recordingMetadata(identity, stored, {
      endedAt: endedAt.toISOString(),
      frameCount: this.#frameCount,
      oddSizeFrames: this.#oddSizeFrames,
      textEvents: this.#textEvents,
      droppedTextEvents: this.#droppedTextEvents,
      end,
      interrupted,
      recordingKey: recordingKey(identity.uuid, this.options.acceptedAt),
      headers,
    });
  }
}
