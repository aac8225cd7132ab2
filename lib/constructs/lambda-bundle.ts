import { type BuildOptions, buildSync, type Metafile } from 'esbuild';

/** The file each Lambda's code starts from, beside its chunks; the handler is `index.handler`. */
export const LAMBDA_INDEX_FILE = 'index.mjs';

/** What every Lambda build shares; `bench/lambda/run.ts` varies only splitting and the SDK. */
export const LAMBDA_ESBUILD_OPTIONS = {
  bundle: true,
  format: 'esm',
  platform: 'node',
  target: 'node24',
  minify: true,
  // The SDK's ESM builds, so unused commands and protocols are left out.
  mainFields: ['module', 'main'],
  // CommonJS dependencies inside an ESM bundle still call require().
  banner: {
    js: "import { createRequire as __createRequire } from 'node:module'; const require = __createRequire(import.meta.url);",
  },
  logLevel: 'warning',
} as const satisfies BuildOptions;

/**
 * Bundles one Lambda for the Node 24 runtime: minified ESM with source maps, the AWS SDK v3
 * included, and code splitting, so a module reached only through `await import()` (the event
 * path's S3 and SQS clients) is a chunk of its own, read and compiled when first needed. Loading
 * the runtime's own SDK from `node_modules` instead took about twice as long at cold start
 * (BENCHMARKS.md, "Webhooks Lambda benchmark"), and AWS advises packaging the SDK a function
 * depends on: https://docs.aws.amazon.com/lambda/latest/dg/best-practices.html
 * Used by the stack (`node-lambda.ts`) and by `bench/lambda/run.ts`, so both measure one build.
 */
export function bundleLambda(entry: string, outdir: string): Metafile {
  const result = buildSync({
    ...LAMBDA_ESBUILD_OPTIONS,
    entryPoints: { index: entry },
    outdir,
    outExtension: { '.js': '.mjs' },
    chunkNames: 'chunks/[name]-[hash]',
    splitting: true,
    sourcemap: true,
    sourcesContent: false,
    metafile: true,
  });
  return result.metafile;
}
