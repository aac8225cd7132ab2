import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import { MetricNames } from '../../common/contract.js';

/** What the recorder reports. The stack's auto scaling tracks `ActiveCalls` (average per task). */
export interface RecorderMetrics {
  callStarted(): void;
  callFinished(audioSeconds: number, uploadLatencyMs: number): void;
  callFailed(): void;
  /** Sampled on every publish. */
  activeCalls(count: number): void;
  /** A checkpoint to S3, or removing a call's checkpoints, was given up on (the call goes on). */
  checkpointFailed?(): void;
  /** Recordings stored by a sweep of abandoned calls' checkpoints. */
  callsRecovered?(count: number): void;
  /** A call that ended normally has its recording and metadata stored. */
  recordingStored?(): void;
  /** A call cut short (drain, idle, cap, error…) has what it sent stored, marked interrupted. */
  recordingInterrupted?(): void;
  /** A recording event could not be put on the bus after the sink's retries (the recording is fine). */
  recordingEventFailed?(): void;
  /** The event loop's p99 delay since the last publish, in ms: how long an arrived frame waits to be read. */
  ingestLag?(milliseconds: number): void;
  /** Writes what was gathered since the last publish. */
  publish(): void;
}

/** Reports nothing: the default when no metrics sink is given (tests, local runs). */
export const noMetrics: RecorderMetrics = {
  callStarted() {},
  callFinished() {},
  callFailed() {},
  activeCalls() {},
  publish() {},
};

/**
 * CloudWatch metrics in Embedded Metric Format, written to stdout by Powertools.
 *
 * Counts are summed between publishes so a busy task writes one EMF line per interval, not one
 * per call; upload latencies are kept as values (Powertools flushes every 100 on its own).
 */
export class EmfRecorderMetrics implements RecorderMetrics {
  readonly #metrics: Metrics;
  #started = 0;
  #finished = 0;
  #failed = 0;
  #audioSeconds = 0;
  #active = 0;
  #checkpointsFailed = 0;
  #recovered = 0;
  #stored = 0;
  #interrupted = 0;
  #eventsFailed = 0;
  #ingestLagMs: number | undefined;

  constructor(options: { namespace?: string; serviceName?: string } = {}) {
    this.#metrics = new Metrics({
      namespace: options.namespace ?? process.env.POWERTOOLS_METRICS_NAMESPACE ?? MetricNames.namespace,
      serviceName: options.serviceName ?? process.env.POWERTOOLS_SERVICE_NAME ?? MetricNames.recorderService,
    });
  }

  callStarted(): void {
    this.#started++;
  }

  callFinished(audioSeconds: number, uploadLatencyMs: number): void {
    this.#finished++;
    this.#audioSeconds += audioSeconds;
    this.#metrics.addMetric(MetricNames.uploadLatency, MetricUnit.Milliseconds, uploadLatencyMs);
  }

  callFailed(): void {
    this.#failed++;
  }

  activeCalls(count: number): void {
    this.#active = count;
  }

  checkpointFailed(): void {
    this.#checkpointsFailed++;
  }

  callsRecovered(count: number): void {
    this.#recovered += count;
  }

  recordingStored(): void {
    this.#stored++;
  }

  recordingInterrupted(): void {
    this.#interrupted++;
  }

  recordingEventFailed(): void {
    this.#eventsFailed++;
  }

  ingestLag(milliseconds: number): void {
    this.#ingestLagMs = milliseconds;
  }

  publish(): void {
    this.#metrics.addMetric(MetricNames.activeCalls, MetricUnit.Count, this.#active);
    this.#metrics.addMetric(MetricNames.callsStarted, MetricUnit.Count, this.#started);
    this.#metrics.addMetric(MetricNames.callsFinished, MetricUnit.Count, this.#finished);
    this.#metrics.addMetric(MetricNames.callsFailed, MetricUnit.Count, this.#failed);
    this.#metrics.addMetric(MetricNames.audioSeconds, MetricUnit.Seconds, this.#audioSeconds);
    this.#metrics.addMetric(MetricNames.checkpointsFailed, MetricUnit.Count, this.#checkpointsFailed);
    this.#metrics.addMetric(MetricNames.callsRecovered, MetricUnit.Count, this.#recovered);
    this.#metrics.addMetric(MetricNames.recordingsStored, MetricUnit.Count, this.#stored);
    this.#metrics.addMetric(MetricNames.recordingsInterrupted, MetricUnit.Count, this.#interrupted);
    this.#metrics.addMetric(MetricNames.recordingEventsFailed, MetricUnit.Count, this.#eventsFailed);
    if (this.#ingestLagMs !== undefined) {
      this.#metrics.addMetric(MetricNames.ingestLag, MetricUnit.Milliseconds, this.#ingestLagMs);
      this.#ingestLagMs = undefined;
    }
    this.#started = this.#finished = this.#failed = this.#audioSeconds = 0;
    this.#checkpointsFailed = this.#recovered = 0;
    this.#stored = this.#interrupted = this.#eventsFailed = 0;
    this.#metrics.publishStoredMetrics();
  }
}
