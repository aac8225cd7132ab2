/**
 * The lean load generator as a process of its own (pinned apart from the server under test): the
 * parent sends one `run` message over IPC and gets one `result` (or `error`) message back.
 * Started by `runLeanLoadProcess` (processes.ts).
 */
import { readFile } from 'node:fs/promises';
import { type LeanLoadOptions, type LeanLoadResult, runLeanLoad } from './lean-load-generator.js';

export type LeanRunMessage = Omit<LeanLoadOptions, 'pcm'> & {
  readonly type: 'run';
  readonly pcmFile: string;
};

export type LeanChildMessage =
  | { readonly type: 'result'; readonly result: LeanLoadResult }
  | { readonly type: 'error'; readonly message: string };

process.once('message', (message: LeanRunMessage) => {
  void (async () => {
    const { type: _type, pcmFile, ...options } = message;
    const result = await runLeanLoad({ ...options, pcm: await readFile(pcmFile) });
    process.send?.({ type: 'result', result } satisfies LeanChildMessage, () => process.exit(0));
  })().catch((error: Error) => {
    process.send?.({ type: 'error', message: error.stack ?? error.message } satisfies LeanChildMessage);
    process.exitCode = 1;
  });
});
