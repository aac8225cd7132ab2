import { DEFAULT_MAX_CALL_SECONDS, ReconcilerEnv } from '../../common/contract.js';
import { DEFAULT_CRASH_LOSS_BOUND_SECONDS } from '../../common/duration-tolerance.js';
import { DEFAULT_RECONCILE_SCHEDULE, type ReconcileSchedule } from '../../common/reconcile-requests.js';
import { DEFAULT_EVENT_BUS_NAME } from '../../common/recording-events.js';

/** The reconciler Lambda's settings, read once at cold start. */
export interface ReconcilerEnvironment {
  readonly bucket: string;
  readonly queueUrl: string;
  readonly eventBusName: string;
  readonly schedule: ReconcileSchedule;
  readonly crashLossBoundSeconds: number;
  readonly maxCallSeconds: number;
  /** A custom S3 endpoint (local runs and tests only). */
  readonly s3Endpoint: string | undefined;
}

/** A setting missing or not a number: the function cannot start. */
export class ReconcilerConfigurationError extends Error {
  override readonly name = 'ReconcilerConfigurationError';
}

function required(env: NodeJS.ProcessEnv, name: string): string {
  const value = env[name]?.trim();
  if (!value) throw new ReconcilerConfigurationError(`environment variable ${name} is required`);
  return value;
}

function seconds(env: NodeJS.ProcessEnv, name: string, fallback: number): number {
  const raw = env[name]?.trim();
  if (!raw) return fallback;
  if (!/^\d+$/.test(raw)) {
    throw new ReconcilerConfigurationError(`environment variable ${name} must be whole seconds, got ${raw}`);
  }
  return Number(raw);
}

export function readReconcilerEnvironment(env: NodeJS.ProcessEnv): ReconcilerEnvironment {
  const schedule = {
    firstCheckSeconds: seconds(
      env,
      ReconcilerEnv.firstCheckSeconds,
      DEFAULT_RECONCILE_SCHEDULE.firstCheckSeconds,
    ),
    finalCheckSeconds: seconds(
      env,
      ReconcilerEnv.finalCheckSeconds,
      DEFAULT_RECONCILE_SCHEDULE.finalCheckSeconds,
    ),
  };
  if (schedule.finalCheckSeconds <= schedule.firstCheckSeconds) {
    throw new ReconcilerConfigurationError(
      `${ReconcilerEnv.finalCheckSeconds} (${schedule.finalCheckSeconds}) must be later than ${ReconcilerEnv.firstCheckSeconds} (${schedule.firstCheckSeconds})`,
    );
  }
  return {
    bucket: required(env, ReconcilerEnv.recordingsBucket),
    queueUrl: required(env, ReconcilerEnv.reconcileQueueUrl),
    eventBusName: env[ReconcilerEnv.eventBusName]?.trim() || DEFAULT_EVENT_BUS_NAME,
    schedule,
    crashLossBoundSeconds: seconds(env, ReconcilerEnv.checkpointSeconds, DEFAULT_CRASH_LOSS_BOUND_SECONDS),
    maxCallSeconds: seconds(env, ReconcilerEnv.maxCallSeconds, DEFAULT_MAX_CALL_SECONDS),
    s3Endpoint: env[ReconcilerEnv.s3Endpoint]?.trim() || undefined,
  };
}
