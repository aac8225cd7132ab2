/**
 * The websocket close codes the recorder sends (documented in fargate/README.md). 4xxx codes are
 * application-defined; their last three digits echo the closest HTTP status.
 */
export const CloseCode = {
  /** The peer hung up; the recorder echoes the peer's own code. */
  Normal: 1000,
  /** The recorder is shutting down (drain deadline reached, or closed). Audio kept. */
  GoingAway: 1001,
  /** The first frame was binary: audio before `websocket:connected`. Nothing stored. */
  UnsupportedData: 1003,
  /** A frame larger than `maxPayloadBytes` (sent by ws itself). Audio so far kept. */
  MessageTooBig: 1009,
  /** The recorder could not write the call's audio to its scratch disk. Audio so far kept. */
  InternalError: 1011,
  /** The first frame was not JSON or not a `websocket:connected` event. Nothing stored. */
  BadFirstFrame: 4400,
  /** Nothing received for `idleTimeoutMs` (before the first frame: nothing stored; else audio kept). */
  IdleTimeout: 4408,
  /** The call reached `MAX_CALL_SECONDS` of audio or wall time. Audio kept. */
  MaxDuration: 4413,
  /**
   * Audio arrived much faster than real time, sustained (a token bucket of audio seconds against
   * wall seconds ran dry). Audio received until then kept; later frames dropped.
   */
  TooFast: 4429,
  /** `websocket:connected` named a content-type other than audio/l16 at 8000, 16000 or 24000 Hz. Nothing stored. */
  UnsupportedContentType: 4415,
} as const;
