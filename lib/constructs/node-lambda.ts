import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { AssetHashType, type Duration, RemovalPolicy } from 'aws-cdk-lib';
import { Role, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import { Architecture, Code, Function as LambdaFunction, Runtime } from 'aws-cdk-lib/aws-lambda';
import { LogGroup, type RetentionDays } from 'aws-cdk-lib/aws-logs';
import type { Construct } from 'constructs';
import { MetricNames } from '../../common/contract.js';
import { bundleLambda, LAMBDA_INDEX_FILE } from './lambda-bundle.js';

const repoRoot = fileURLToPath(new URL('../../', import.meta.url));

/**
 * The function's code, bundled on this machine by esbuild (`lambda-bundle.ts`), never in Docker:
 * the runtime's build image is named only because CDK's bundling options require an image.
 */
function bundledCode(entry: string, runtime: Runtime): Code {
  return Code.fromAsset(dirname(entry), {
    assetHashType: AssetHashType.OUTPUT,
    bundling: {
      image: runtime.bundlingImage,
      local: {
        tryBundle(outputDir) {
          bundleLambda(entry, outputDir);
          return true;
        },
      },
    },
  });
}

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
): { fn: LambdaFunction; role: Role } {
  const logs = new LogGroup(scope, 'FunctionLogs', {
    retention: props.logRetention,
    removalPolicy: RemovalPolicy.DESTROY,
  });
  const role = new Role(scope, 'Role', {
    assumedBy: new ServicePrincipal('lambda.amazonaws.com'),
    description: props.roleDescription,
  });
  logs.grantWrite(role);
  const runtime = Runtime.NODEJS_24_X;
  const fn = new LambdaFunction(scope, 'Function', {
    role,
    code: bundledCode(`${repoRoot}${props.entry}`, runtime),
    handler: `${LAMBDA_INDEX_FILE.replace(/\.mjs$/, '')}.handler`,
    runtime,
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
  });
  return { fn, role };
}
