import { type BundlingOptions, OutputFormat, SourceMapMode } from 'aws-cdk-lib/aws-lambda-nodejs';

/**
 * How both Lambdas are bundled: one minified ESM file for the Node 24 runtime, with a source map
 * (the functions run with `--enable-source-maps`), built by the local esbuild, never in Docker.
 */
export const NODE24_ESM_BUNDLING: BundlingOptions = {
  format: OutputFormat.ESM,
  target: 'node24',
  minify: true,
  sourceMap: true,
  sourceMapMode: SourceMapMode.DEFAULT,
  sourcesContent: false,
  // The Node 24 runtime ships AWS SDK v3; bundling it would only add cold-start weight.
  externalModules: ['@aws-sdk/*'],
  mainFields: ['module', 'main'],
  // CommonJS dependencies inside an ESM bundle still call require().
  banner:
    "import { createRequire as __createRequire } from 'node:module'; const require = __createRequire(import.meta.url);",
  forceDockerBundling: false,
};
