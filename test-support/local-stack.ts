import { type LocalStack, type LocalStackOptions, startLocalStack } from '../tools/local/stack.js';

/**
 * The local stack as tests run it: every port picked free (so tests run side by side), its data
 * under `dataDir`, silent, and a short drain so stopping it does not wait on a hung call.
 */
export function startTestStack(dataDir: string, options: LocalStackOptions = {}): Promise<LocalStack> {
  return startLocalStack({
    webhooksPort: 0,
    recorderPort: 0,
    s3Port: 0,
    dataDir,
    logLevel: 'SILENT',
    drainTimeoutMs: 500,
    ...options,
  });
}
