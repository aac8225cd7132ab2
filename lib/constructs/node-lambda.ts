import { fileURLToPath } from 'node:url';
import { type Duration, RemovalPolicy } from 'aws-cdk-lib';
import { Role, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import { Architecture, Runtime } from 'aws-cdk-lib/aws-lambda';
import {
  type BundlingOptions,
  NodejsFunction,
  OutputFormat,
  SourceMapMode,
} from 'aws-cdk-lib/aws-lambda-nodejs';
import { LogGroup, type RetentionDays } from 'aws-cdk-lib/aws-logs';
import type { Construct } from 'constructs';
import { MetricNames } from '../../common/contract.js';

const repoRoot = fileURLToPath(new URL('../../', import.meta.url));

/**
 * How both Lambdas are bundled: one minified ESM file for the Node 24 runtime, with a source map
 * (the functions run with `--enable-source-maps`), built by the local esbuild, never in Docker.
 */
const NODE24_ESM_BUNDLING: BundlingOptions = {
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

export interface NodeLambdaProps {
  /** The handler module, from the repository root (`lambdas/…/handler.ts`), exporting `handler`. */
  readonly entry: string;
  readonly description: string;
  /** What the function's own role may do, in a line. */
  readonly roleDescription: string;
  readonly timeout: Duration;
  readonly logRetention: RetentionDays;
  /** Powertools' service name (metrics dimension, log field). */
  readonly serviceName: string;
  readonly logLevel?: string;
  readonly environment: Record<string, string>;
}

/**
 * One of the stack's Lambdas in `scope`: Node 24 on arm64, bundled as above, logging to a log
 * group of its own through its own role (rather than the AWS-managed basic execution role: log
 * writes to this log group only). The caller grants the rest to `role`.
 */
export function createNodeLambda(
  scope: Construct,
  props: NodeLambdaProps,
): { fn: NodejsFunction; role: Role } {
  const logs = new LogGroup(scope, 'FunctionLogs', {
    retention: props.logRetention,
    removalPolicy: RemovalPolicy.DESTROY,
  });
  const role = new Role(scope, 'Role', {
    assumedBy: new ServicePrincipal('lambda.amazonaws.com'),
    description: props.roleDescription,
  });
  logs.grantWrite(role);
  const fn = new NodejsFunction(scope, 'Function', {
    role,
    entry: `${repoRoot}${props.entry}`,
    handler: 'handler',
    projectRoot: repoRoot,
    depsLockFilePath: `${repoRoot}package-lock.json`,
    runtime: Runtime.NODEJS_24_X,
    architecture: Architecture.ARM_64,
    timeout: props.timeout,
    memorySize: 512,
    logGroup: logs,
    description: props.description,
    environment: {
      ...props.environment,
      POWERTOOLS_SERVICE_NAME: props.serviceName,
      POWERTOOLS_METRICS_NAMESPACE: MetricNames.namespace,
      POWERTOOLS_LOG_LEVEL: props.logLevel ?? 'INFO',
      // Stack traces point at the TypeScript sources through the bundled source map.
      NODE_OPTIONS: '--enable-source-maps',
    },
    bundling: NODE24_ESM_BUNDLING,
  });
  return { fn, role };
}
