/**
 * The load generator as a process of its own, so its CPU is not the recorder's: the parent sends
 * one `run` message over IPC and gets progress messages and one `result` message back.
 * Start it with `spawnLoadGenerator` (from `processes.ts`).
 */
import { readFile } from 'node:fs/promises';
import { createS3Client, LOCAL_S3_CREDENTIALS } from '../../common/s3-client.js';
import { type LoadOptions, type LoadResult, startLoad } from './load-generator.js';

/** What the parent sends: `LoadOptions` made serializable (PCM by file, S3 by endpoint). */
export type LoadRunMessage = Pick<
  LoadOptions,
  'url' | 'secret' | 'calls' | 'seconds' | 'speed' | 'sampleRate' | 'rampMs' | 'pingIntervalMs'
> & {
  readonly type: 'run';
  readonly pcmFile: string;
  readonly finalization?: Omit<NonNullable<LoadOptions['finalization']>, 's3'> & {
    readonly endpoint: string;
  };
};

export type LoadChildMessage =
  | {
      readonly type: 'progress';
      readonly open: number;
      readonly finished: number;
      readonly framesSent: number;
    }
  | { readonly type: 'result'; readonly result: LoadResult }
  | { readonly type: 'error'; readonly message: string };

function reply(message: LoadChildMessage): void {
  process.send?.(message);
}

process.once('message', (message: LoadRunMessage) => {
  void (async () => {
    const { type: _type, pcmFile, finalization, ...options } = message;
    const pcm = await readFile(pcmFile);
    const s3 = finalization
      ? createS3Client({ endpoint: finalization.endpoint, credentials: LOCAL_S3_CREDENTIALS })
      : undefined;
    const load = startLoad({
      ...options,
      pcm,
      ...(finalization && s3 ? { finalization: { ...finalization, s3 } } : {}),
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
