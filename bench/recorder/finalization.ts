import { setTimeout as sleep } from 'node:timers/promises';
import { MAX_CALL_SECONDS_LIMIT } from '../../common/contract.js';
import { RECORDINGS_PREFIX } from '../../common/recording-keys.js';
import { listObjects } from '../../common/s3-objects.js';
import {
  CPUS,
  speechFile,
  startTarget,
  type Target,
  type TargetName,
  verifyRecordings,
} from '../lib/harness.js';
import type { CallResult } from '../lib/load-generator.js';
import { type ObjectCreated, runLoadProcess } from '../lib/processes.js';
import { type Summary, summarize } from '../lib/stats.js';

export interface FinalizationOptions {
  readonly shortCalls: number;
  readonly longCalls: number;
  readonly longSeconds: number;
  readonly longSpeed: number;
}

export interface FinalizationRound {
  readonly calls: number;
  readonly audioSeconds: number;
  readonly speed: number;
  /** Hangup → complete WAV readable in S3, ms. */
  readonly finalizeMs: Summary;
  readonly recordingsComplete: number;
  readonly notFinalized: number;
}

export interface FinalizationResult {
  readonly short: FinalizationRound;
  readonly long: FinalizationRound;
}

const LISTING_INTERVAL_MS = 50;

/**
 * Objects as they become readable. On s3rver, from the server's own `ObjectCreated`
 * notifications: observed without a request, so the observer adds no load to the server the
 * recorders are waiting on. (Polling HeadObject every 5 ms per call did: 20 calls finalizing at
 * once made 4,000 requests a second, and the single-threaded server's queue, not the recorders,
 * set the figure.) RGW sends no notifications here: one listing of `recordings/` every 50 ms
 * (20 requests a second, whatever the number of calls) stands in, so a time is late by up to
 * 50 ms plus the listing's own latency.
 */
function watchObjects(target: Target): { objects(): ObjectCreated[]; stop(): void } {
  if (target.objectsCreated) return { objects: target.objectsCreated, stop: () => {} };
  const seen = new Map<string, ObjectCreated>();
  let stopped = false;
  const poll = async () => {
    while (!stopped) {
      const started = performance.timeOrigin + performance.now();
      for await (const object of listObjects(target.s3, target.bucket, RECORDINGS_PREFIX)) {
        const known = seen.get(object.key);
        if (!known || known.size !== object.size)
          seen.set(object.key, { key: object.key, size: object.size, atMs: started });
      }
      await sleep(LISTING_INTERVAL_MS);
    }
  };
  const polling = poll().catch((error: unknown) =>
    console.error(`listing the bucket failed: ${String(error)}`),
  );
  return {
    objects: () => [...seen.values()],
    stop: () => {
      stopped = true;
      void polling;
    },
  };
}

/** When each call's complete WAV (`44 + bytesSent` bytes) became readable, epoch ms by call uuid. */
async function waitForRecordings(
  watcher: ReturnType<typeof watchObjects>,
  calls: readonly CallResult[],
  timeoutMs: number,
): Promise<Map<string, number>> {
  const wanted = new Map(
    calls.filter((call) => call.hangupAt !== undefined).map((call) => [call.uuid, 44 + call.bytesSent]),
  );
  const stored = new Map<string, number>();
  const deadline = Date.now() + timeoutMs;
  do {
    for (const object of watcher.objects()) {
      const uuid = /([0-9a-f-]{36})\.wav$/.exec(object.key)?.[1];
      if (uuid === undefined || stored.has(uuid)) continue;
      if (object.size === wanted.get(uuid)) stored.set(uuid, object.atMs);
    }
    if (stored.size === wanted.size) break;
    await sleep(250);
  } while (Date.now() < deadline);
  return stored;
}

/**
 * The recorder's call cap for a run whose long calls last `longSeconds`: the harness's 700 s, or
 * enough for them (2-hour calls need 7,200, Vonage's and the recorder's limit). The scratch-disk
 * check then reserves what is left of the cap for every live call: up to 230 MB per 16 kHz call
 * at 7,200 s, so run few short calls beside 2-hour ones.
 */
export function finalizationCallCap(longSeconds: number): Record<string, string> {
  if (longSeconds <= 690) return {};
  if (longSeconds >= MAX_CALL_SECONDS_LIMIT) {
    throw new RangeError(
      `--long-seconds must stay under the recorder's ${MAX_CALL_SECONDS_LIMIT} s call cap, got ${longSeconds}`,
    );
  }
  return { MAX_CALL_SECONDS: String(Math.min(MAX_CALL_SECONDS_LIMIT, Math.ceil(longSeconds) + 10)) };
}

/** Hangup → object complete in S3 for 10-second calls and for long calls. */
export async function runFinalization(
  name: TargetName,
  options: FinalizationOptions,
): Promise<FinalizationResult> {
  const { pcm, file } = await speechFile(16000, 37);
  const target = await startTarget(name, { s3Events: true, env: finalizationCallCap(options.longSeconds) });
  try {
    const round = async (
      calls: number,
      seconds: number,
      speed: number,
      rampMs: number,
    ): Promise<FinalizationRound> => {
      console.error(`[${name}] ${calls} calls of ${seconds} s at ${speed}×…`);
      const watcher = watchObjects(target);
      const result = await runLoadProcess(
        {
          url: target.url,
          secret: target.secret,
          calls,
          seconds,
          speed,
          rampMs,
          pcmFile: file,
        },
        { cpus: CPUS.others },
      );
      const stored = await waitForRecordings(watcher, result.calls, 120_000).finally(() => watcher.stop());
      const times = result.calls.flatMap((call) => {
        const at = stored.get(call.uuid);
        return at === undefined || call.hangupAt === undefined ? [] : [at - call.hangupAt];
      });
      const verification = await verifyRecordings(target.s3, target.bucket, result.calls, pcm);
      return {
        calls,
        audioSeconds: seconds,
        speed,
        finalizeMs: summarize(times),
        recordingsComplete: verification.complete,
        notFinalized: calls - times.length,
      };
    };
    // Hangups are spread over the ramp, as calls end at different times.
    const short = await round(options.shortCalls, 10, 1, 10_000);
    const long = await round(options.longCalls, options.longSeconds, options.longSpeed, 5_000);
    console.log(
      `\n### ${name}: finalization (hangup → complete WAV readable in S3, ${target.objectsCreated ? 's3rver' : 'Ceph RGW'})\n`,
    );
    console.log('| calls | audio s | speed | median ms | p99 ms | max ms | complete |');
    console.log('|---:|---:|---:|---:|---:|---:|---:|');
    for (const r of [short, long]) {
      console.log(
        `| ${r.calls} | ${r.audioSeconds} | ${r.speed}× | ${r.finalizeMs.median.toFixed(0)} | ${r.finalizeMs.p99.toFixed(0)} | ${r.finalizeMs.max.toFixed(0)} | ${r.recordingsComplete}/${r.calls} |`,
      );
    }
    return { short, long };
  } finally {
    await target.stop();
  }
}
