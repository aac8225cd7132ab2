import type { CloudFormationClient } from '@aws-sdk/client-cloudformation';
import type { S3Client } from '@aws-sdk/client-s3';
import { OutputNames } from '../../common/contract.js';
import { createS3Client, LOCAL_S3_CREDENTIALS } from '../../common/s3-client.js';
import { UsageError } from './errors.js';
import { DEFAULT_STACK_NAME, readOutputsFile, readStackOutputs, requireOutput } from './stack-outputs.js';

/** The local stack's S3 API and bucket (see `npm start`). */
export const LOCAL_S3_ENDPOINT = 'http://127.0.0.1:4569';
export const LOCAL_BUCKET = 'recordings';

/** How the operator chose the bucket. */
export interface TargetFlags {
  /** The local stack: its S3 endpoint and bucket unless `endpoint`/`bucket` say otherwise. */
  readonly local?: boolean;
  /** A deployed stack's name; its `RecordingsBucketName` output names the bucket. */
  readonly stack?: string;
  /** Read the stack's outputs from this `cdk deploy --outputs-file` file instead of CloudFormation. */
  readonly outputs?: string;
  /** The bucket itself (skips the outputs). */
  readonly bucket?: string;
  /** A custom S3 API endpoint. */
  readonly endpoint?: string;
  readonly region?: string;
}

export interface RecordingsTarget {
  readonly s3: S3Client;
  readonly bucket: string;
  /** e.g. `bucket recordings at http://127.0.0.1:4569`, for messages. */
  readonly description: string;
  /** The stack's recordings index (`recordingsIndex` on), when its outputs name one. */
  readonly index?: { readonly workGroup: string; readonly catalog: string; readonly database: string };
}

/**
 * Picks the bucket and S3 client: `--bucket` as given, else `--local`, else the stack's outputs
 * (from `--outputs FILE` or CloudFormation; stack `CallRecorder` unless `--stack NAME`). Every
 * target but `--local` (the local server's fixed keys) uses the default credential chain, a custom
 * `--endpoint` included.
 */
export async function resolveTarget(
  flags: TargetFlags,
  deps: { cloudFormation?: CloudFormationClient } = {},
): Promise<RecordingsTarget> {
  if (flags.local && (flags.stack || flags.outputs)) {
    throw new UsageError('--local and --stack/--outputs name different targets: pick one');
  }
  let bucket = flags.bucket;
  let endpoint = flags.endpoint;
  let index: RecordingsTarget['index'];
  if (!bucket && flags.local) bucket = LOCAL_BUCKET;
  if (flags.local) endpoint ??= LOCAL_S3_ENDPOINT;
  if (!bucket) {
    const stackName = flags.stack ?? DEFAULT_STACK_NAME;
    const outputs = flags.outputs
      ? await readOutputsFile(flags.outputs, stackName)
      : await readStackOutputs(stackName, deps.cloudFormation);
    const source = flags.outputs ? `stack ${stackName} in ${flags.outputs}` : `stack ${stackName}`;
    bucket = requireOutput(outputs, OutputNames.recordingsBucketName, source);
    const workGroup = outputs[OutputNames.recordingsIndexWorkGroup];
    const catalog = outputs[OutputNames.recordingsIndexCatalog];
    const database = outputs[OutputNames.recordingsIndexDatabase];
    if (workGroup && catalog && database) index = { workGroup, catalog, database };
  }
  const s3 = createS3Client({
    ...(endpoint ? { endpoint } : {}),
    ...(flags.region ? { region: flags.region } : {}),
    // The local stack's server checks its own fixed keys; any other endpoint gets the credential chain.
    ...(flags.local ? { credentials: LOCAL_S3_CREDENTIALS } : {}),
  });
  return {
    s3,
    bucket,
    description: `bucket ${bucket}${endpoint ? ` at ${endpoint}` : ''}`,
    ...(index ? { index } : {}),
  };
}
