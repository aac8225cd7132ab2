/**
 * The load generator as a process of its own, so its CPU is not the recorder's: the parent sends
 * one `run` message over IPC and gets progress messages and one `result` message back.
 * Start it with `spawnLoadGenerator` (from `processes.ts`).
 */
import { readFile } from 'node:fs/promises';
import type { SampleRate } from '../../common/audio-format.js';
import { createS3Client } from '../../common/s3-client.js';
import { type LoadResult, startLoad } from './load-generator.js';

/** What the parent sends: `LoadOptions` made serializable (PCM by file, S3 by endpoint). */
export interface LoadRunMessage {
  readonly type: 'run';
  readonly url: string;
  readonly secret: string;
  readonly calls: number;
  readonly seconds: number;
  readonly speed?: number;
  readonly sampleRate?: SampleRate;
  readonly rampMs?: number;
  readonly pingIntervalMs?: number;
  readonly pcmFile: string;
  readonly finalization?: {
    readonly endpoint: string;
    readonly bucket: string;
    readonly timeoutMs?: number;
    readonly pollIntervalMs?: number;
  };
}

export type LoadChildMessage =
  | {
      readonly type: 'progress';
      readonly open: number;
      readonly finished: number;
      readonly framesSent: number;
    }
  | { readonly type: 'result'; readonly result: LoadResult }
  | { readonly type: 'error'; readonly message: string };

function withoutEndpoint<T extends { endpoint: string }>(value: T): Omit<T, 'endpoint'> {
  const { endpoint: _endpoint, ...rest } = value;
  return rest;
}

function reply(message: LoadChildMessage): void {
  process.send?.(message);
}

process.once('message', (message: LoadRunMessage) => {
  void (async () => {
    const pcm = await readFile(message.pcmFile);
    const s3 = message.finalization ? createS3Client({ endpoint: message.finalization.endpoint }) : undefined;
    const load = startLoad({
      url: message.url,
      secret: message.secret,
      calls: message.calls,
      seconds: message.seconds,
      ...(message.speed === undefined ? {} : { speed: message.speed }),
      ...(message.sampleRate === undefined ? {} : { sampleRate: message.sampleRate }),
      ...(message.rampMs === undefined ? {} : { rampMs: message.rampMs }),
      ...(message.pingIntervalMs === undefined ? {} : { pingIntervalMs: message.pingIntervalMs }),
      pcm,
      ...(message.finalization && s3
        ? { finalization: { ...withoutEndpoint(message.finalization), s3 } }
        : {}),
      onProgress: (progress) => reply({ type: 'progress', ...progress }),
    });
    const result = await load.done;
    s3?.destroy();
    process.send?.({ type: 'result', result } satisfies LoadChildMessage, () => process.exit(0));
  })().catch((error: Error) => {
    reply({ type: 'error', message: error.stack ?? error.message });
    process.exitCode = 1;
  });
});
