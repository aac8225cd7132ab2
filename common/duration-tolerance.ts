/**
 * How far a recording's duration may differ from Vonage's `completed` duration before the
 * reconciler and `recordings verify` call it a mismatch. One function, so both agree.
 */
import type { RecordingMetadata } from './recording-metadata.js';

/** Vonage reports whole seconds, and the websocket leg opens a moment before the first frame. */
export const DURATION_TOLERANCE_SECONDS = 1;
/** The recorder's checkpoint interval when none is configured: a crash loses at most this much. */
export const DEFAULT_CRASH_LOSS_BOUND_SECONDS = 10;

/**
 * The allowed shortfall of the recording against Vonage's figure: the normal tolerance, plus the
 * documented crash-loss bound for a recording rebuilt after a crash (`end.by: recovered`).
 */
export function durationToleranceSeconds(
  metadata: Pick<RecordingMetadata, 'end'>,
  crashLossBoundSeconds = DEFAULT_CRASH_LOSS_BOUND_SECONDS,
): { shorter: number; longer: number } {
  const recovered = metadata.end.by === 'recovered';
  return {
    shorter: DURATION_TOLERANCE_SECONDS + (recovered ? crashLossBoundSeconds : 0),
    longer: DURATION_TOLERANCE_SECONDS,
  };
}
