import { speechFile, startTarget, type TargetName, verifyRecordings } from '../lib/harness.js';
import { runLoadProcess } from '../lib/processes.js';
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

/** Hangup → object complete in S3 for 10-second calls and for long calls. */
export async function runFinalization(
  name: TargetName,
  options: FinalizationOptions,
): Promise<FinalizationResult> {
  const { pcm, file } = await speechFile(16000, 37);
  const target = await startTarget(name);
  try {
    const round = async (
      calls: number,
      seconds: number,
      speed: number,
      rampMs: number,
    ): Promise<FinalizationRound> => {
      console.error(`[${name}] ${calls} calls of ${seconds} s at ${speed}×…`);
      const result = await runLoadProcess(
        {
          url: target.url,
          secret: target.secret,
          calls,
          seconds,
          speed,
          rampMs,
          pcmFile: file,
          finalization: {
            endpoint: target.endpoint,
            bucket: target.bucket,
            timeoutMs: 120_000,
            pollIntervalMs: 5,
          },
        },
        { cpus: '0' },
      );
      const times = result.calls.flatMap((call) =>
        call.finalizedMs === undefined ? [] : [call.finalizedMs],
      );
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
    console.log(`\n### ${name}: finalization (hangup → complete WAV readable in S3)\n`);
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
