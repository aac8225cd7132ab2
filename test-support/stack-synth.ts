import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { App } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { parseConfig, type RawConfig } from '../lib/config.js';
import { RecorderStack } from '../lib/recorder-stack.js';

export const repoRoot = fileURLToPath(new URL('../', import.meta.url));

/** The feature flags and defaults a real `cdk synth` gets from cdk.json. */
const cdkJsonContext: Record<string, unknown> = JSON.parse(
  readFileSync(`${repoRoot}cdk.json`, 'utf8'),
).context;

export const TEST_ENV = { account: '123456789012', region: 'eu-west-1' };

export const CERTIFICATE_ARN =
  'arn:aws:acm:eu-west-1:123456789012:certificate/0b1f6c6e-2d4a-4b7e-9c1a-3f5e8d7c6b5a';
export const SIGNATURE_SECRET_ARN =
  'arn:aws:secretsmanager:eu-west-1:123456789012:secret:vonage/signature-AbC123';

const signedContext = { ...cdkJsonContext, signatureSecretArn: SIGNATURE_SECRET_ARN };

export interface SynthOptions {
  /**
   * Context as a user would put it in cdk.json or pass with -c (strings are fine), on top of
   * cdk.json and the signature secret every deployment needs (pass `signatureSecretArn: undefined`
   * with `allowUnsignedWebhooks: true` for an unsigned one).
   */
  readonly context?: RawConfig;
  /** Where the cloud assembly goes (to inspect staged assets). @default a temp dir */
  readonly outdir?: string;
}

/**
 * Builds the stack the way bin/call-recorder.ts does, minus Lambda bundling and the built-in
 * CloudFormation schema validation (seconds per synth; `cdk synth` runs it).
 */
export function synthRecorderStack(options: SynthOptions = {}): {
  app: App;
  stack: RecorderStack;
  template: Template;
} {
  const app = new App({
    context: { ...signedContext, ...options.context, 'aws:cdk:bundling-stacks': [] },
    builtinCloudFormationValidation: false,
    ...(options.outdir ? { outdir: options.outdir } : {}),
  });
  const stack = new RecorderStack(app, 'CallRecorder', {
    config: parseConfig({ ...signedContext, ...options.context } as RawConfig, { region: TEST_ENV.region }),
    env: TEST_ENV,
  });
  return { app, stack, template: Template.fromStack(stack) };
}

/** Resources of one type, as `[logicalId, properties]` pairs. */
export function resourcesOf(template: Template, type: string): [string, Record<string, unknown>][] {
  return Object.entries(template.findResources(type)).map(([id, r]) => [
    id,
    (r as { Properties: Record<string, unknown> }).Properties,
  ]);
}

/** Every IAM policy statement in the template, with the logical id of the policy that holds it. */
export function policyStatements(
  template: Template,
): { policy: string; statement: Record<string, unknown> }[] {
  return resourcesOf(template, 'AWS::IAM::Policy').flatMap(([policy, props]) =>
    ((props.PolicyDocument as { Statement: Record<string, unknown>[] }).Statement ?? []).map((statement) => ({
      policy,
      statement,
    })),
  );
}

export function asArray<T>(value: T | T[] | undefined): T[] {
  return value === undefined ? [] : Array.isArray(value) ? value : [value];
}

/** The logical id of the live calls' checkpoint bucket (construct `Recordings/Checkpoints`). */
export function checkpointBucketId(template: Template): string {
  const ids = Object.keys(template.findResources('AWS::S3::Bucket')).filter((id) =>
    id.startsWith('RecordingsCheckpoints'),
  );
  if (ids.length !== 1) throw new Error(`expected one checkpoint bucket, found ${ids.length}`);
  return ids[0]!;
}
