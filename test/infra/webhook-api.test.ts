import { execFile } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { App, Stack } from 'aws-cdk-lib';
import type { Template } from 'aws-cdk-lib/assertions';
import { Bucket } from 'aws-cdk-lib/aws-s3';
import { Secret } from 'aws-cdk-lib/aws-secretsmanager';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebhooksEnv } from '../../common/contract.js';
import { WebhookApi } from '../../lib/constructs/webhook-api.js';
import {
  asArray,
  policyStatements,
  resourcesOf,
  SIGNATURE_SECRET_ARN,
  synthRecorderStack,
  TEST_ENV,
} from '../../test-support/stack-synth.js';

function webhookFunction(template: Template): [string, Record<string, unknown>] {
  const fns = resourcesOf(template, 'AWS::Lambda::Function').filter(
    ([, p]) => p.Description === 'Vonage answer and event webhooks',
  );
  expect(fns).toHaveLength(1);
  return fns[0]!;
}

function env(template: Template): Record<string, unknown> {
  return (webhookFunction(template)[1].Environment as { Variables: Record<string, unknown> }).Variables;
}

function roleStatements(template: Template) {
  const roleId = (webhookFunction(template)[1].Role as { 'Fn::GetAtt': [string, string] })['Fn::GetAtt'][0];
  const policies = resourcesOf(template, 'AWS::IAM::Policy')
    .filter(([, p]) => asArray(p.Roles as unknown[]).some((r) => (r as { Ref: string }).Ref === roleId))
    .map(([id]) => id);
  return policyStatements(template)
    .filter((s) => policies.includes(s.policy))
    .map((s) => s.statement);
}

describe('WebhookApi in the default stack', () => {
  let template: Template;
  beforeAll(() => {
    template = synthRecorderStack().template;
  });

  it('runs Node 24 on ARM64 with a 10 s timeout, logging to its own log group kept 30 days', () => {
    const [, fn] = webhookFunction(template);
    expect(fn).toMatchObject({
      Runtime: 'nodejs24.x',
      Architectures: ['arm64'],
      Handler: 'index.handler',
      Timeout: 10,
    });
    const logGroupId = (fn.LoggingConfig as { LogGroup: { Ref: string } }).LogGroup.Ref;
    expect(template.toJSON().Resources[logGroupId]).toMatchObject({
      Type: 'AWS::Logs::LogGroup',
      Properties: { RetentionInDays: 30 },
    });
  });

  it('gets exactly the configured environment, with secrets by ARN and never by value', () => {
    const variables = env(template);
    expect(Object.keys(variables).sort()).toEqual(
      [
        'CALL_TOKEN_SECRET_ARN',
        'CALL_TOKEN_TTL_SECONDS',
        'GREETING_LANGUAGE',
        'GREETING_STYLE',
        'GREETING_TEXT',
        'MAX_CALL_SECONDS',
        'NODE_OPTIONS',
        'POWERTOOLS_LOG_LEVEL',
        'POWERTOOLS_METRICS_NAMESPACE',
        'POWERTOOLS_SERVICE_NAME',
        'RECONCILE_QUEUE_URL',
        'RECORDER_URL',
        'RECORDINGS_BUCKET',
        'SAMPLE_RATE',
        'SIGNATURE_MAX_AGE_SECONDS',
        'VONAGE_SIGNATURE_SECRET_ARN',
      ].sort(),
    );
    const secretId = Object.keys(template.findResources('AWS::SecretsManager::Secret'))[0]!;
    expect(variables).toMatchObject({
      CALL_TOKEN_SECRET_ARN: { Ref: secretId },
      GREETING_TEXT: 'This call is recorded.',
      GREETING_LANGUAGE: 'en-US',
      GREETING_STYLE: '0',
      SAMPLE_RATE: '16000',
      MAX_CALL_SECONDS: '7200',
      CALL_TOKEN_TTL_SECONDS: '300',
      SIGNATURE_MAX_AGE_SECONDS: '300',
      POWERTOOLS_SERVICE_NAME: 'webhooks',
      POWERTOOLS_METRICS_NAMESPACE: 'CallRecorder',
      POWERTOOLS_LOG_LEVEL: 'INFO',
      NODE_OPTIONS: '--enable-source-maps',
    });
    expect(JSON.stringify(variables)).not.toMatch(/resolve:secretsmanager|SecretString/);
    // The NCCO's websocket URI starts here: wss:// on the CloudFront distribution's own name.
    expect(variables.RECORDER_URL).toEqual({
      'Fn::Join': [
        '',
        ['wss://', { 'Fn::GetAtt': [expect.stringMatching(/^RecorderDistribution/), 'DomainName'] }],
      ],
    });
  });

  it('routes GET /answer, POST /answer and POST /event to the function with payload format 2.0', () => {
    const routes = resourcesOf(template, 'AWS::ApiGatewayV2::Route').map(([, p]) => p.RouteKey);
    expect(routes.sort()).toEqual(['GET /answer', 'POST /answer', 'POST /event']);
    const [fnId] = webhookFunction(template);
    template.hasResourceProperties('AWS::ApiGatewayV2::Integration', {
      IntegrationType: 'AWS_PROXY',
      PayloadFormatVersion: '2.0',
      IntegrationUri: { 'Fn::GetAtt': [fnId, 'Arn'] },
    });
    template.hasResourceProperties('AWS::Lambda::Permission', {
      Action: 'lambda:InvokeFunction',
      Principal: 'apigateway.amazonaws.com',
      FunctionName: { 'Fn::GetAtt': [fnId, 'Arn'] },
    });
  });

  it('throttles the stage and writes JSON access logs without query strings (callers’ numbers)', () => {
    const [[, stage]] = resourcesOf(template, 'AWS::ApiGatewayV2::Stage') as [
      [string, Record<string, unknown>],
    ];
    expect(stage).toMatchObject({
      StageName: '$default',
      AutoDeploy: true,
      DefaultRouteSettings: { ThrottlingRateLimit: 50, ThrottlingBurstLimit: 100 },
    });
    const access = stage.AccessLogSettings as {
      DestinationArn: { 'Fn::GetAtt': [string, string] };
      Format: string;
    };
    const format = JSON.parse(access.Format) as Record<string, string>;
    expect(format).toMatchObject({
      requestId: '$context.requestId',
      routeKey: '$context.routeKey',
      status: '$context.status',
    });
    expect(access.Format).not.toMatch(/querystring|\$context\.path|\$input/i);
    const logGroup = template.toJSON().Resources[access.DestinationArn['Fn::GetAtt'][0]];
    expect(logGroup).toMatchObject({ Type: 'AWS::Logs::LogGroup', Properties: { RetentionInDays: 30 } });
  });

  it('may only read and put objects under events/, send to the reconcile queue, read the two secrets and write its own logs', () => {
    const statements = roleStatements(template);
    const secretId = Object.keys(template.findResources('AWS::SecretsManager::Secret'))[0]!;
    const [, fn] = webhookFunction(template);
    const logGroupId = (fn.LoggingConfig as { LogGroup: { Ref: string } }).LogGroup.Ref;
    const bucketId = Object.keys(
      template.findResources('AWS::S3::Bucket', { Properties: { VersioningConfiguration: {} } }),
    )[0]!;
    expect(statements).toEqual(
      expect.arrayContaining([
        {
          Effect: 'Allow',
          Action: ['s3:GetObject', 's3:PutObject'],
          Resource: { 'Fn::Join': ['', [{ 'Fn::GetAtt': [bucketId, 'Arn'] }, '/events/*']] },
        },
        {
          Effect: 'Allow',
          Action: ['secretsmanager:DescribeSecret', 'secretsmanager:GetSecretValue'],
          Resource: [SIGNATURE_SECRET_ARN, { Ref: secretId }],
        },
        {
          Effect: 'Allow',
          Action: ['logs:CreateLogStream', 'logs:PutLogEvents'],
          Resource: { 'Fn::GetAtt': [logGroupId, 'Arn'] },
        },
        {
          Effect: 'Allow',
          Action: ['sqs:GetQueueAttributes', 'sqs:GetQueueUrl', 'sqs:SendMessage'],
          Resource: { 'Fn::GetAtt': [expect.stringMatching(/^ReconcilerQueue/), 'Arn'] },
        },
      ]),
    );
    expect(statements).toHaveLength(4);
    const role = template.toJSON().Resources[(fn.Role as { 'Fn::GetAtt': [string] })['Fn::GetAtt'][0]];
    expect(role.Properties.ManagedPolicyArns).toBeUndefined();
  });

  it('outputs the answer and event URLs of the HTTP API', () => {
    const apiId = Object.keys(template.findResources('AWS::ApiGatewayV2::Api'))[0]!;
    template.hasOutput('AnswerUrl', {
      Value: { 'Fn::Join': ['', [{ 'Fn::GetAtt': [apiId, 'ApiEndpoint'] }, '/answer']] },
    });
    template.hasOutput('EventUrl', {
      Value: { 'Fn::Join': ['', [{ 'Fn::GetAtt': [apiId, 'ApiEndpoint'] }, '/event']] },
    });
  });
});

describe('WebhookApi with a Vonage signature secret and custom greeting', () => {
  let template: Template;
  beforeAll(() => {
    template = synthRecorderStack({
      context: {
        signatureSecretArn: SIGNATURE_SECRET_ARN,
        greetingText: 'Bonjour, cet appel est enregistré.',
        greetingLanguage: 'fr-FR',
        greetingStyle: '2',
        sampleRate: '24000',
        apiRateLimit: '5',
        apiBurstLimit: '10',
        logRetentionDays: '90',
      },
    }).template;
  });

  it('passes the signature secret by ARN and lets the function read only that secret', () => {
    expect(env(template)).toMatchObject({
      VONAGE_SIGNATURE_SECRET_ARN: SIGNATURE_SECRET_ARN,
      GREETING_TEXT: 'Bonjour, cet appel est enregistré.',
      GREETING_LANGUAGE: 'fr-FR',
      GREETING_STYLE: '2',
      SAMPLE_RATE: '24000',
    });
    // Both secrets, by exact ARN, and nothing else in Secrets Manager.
    const secretStatements = roleStatements(template).filter((st) =>
      asArray(st.Action as string | string[]).some((a) => a.startsWith('secretsmanager:')),
    );
    expect(secretStatements).toHaveLength(1);
    expect(secretStatements[0]!.Action).toEqual([
      'secretsmanager:DescribeSecret',
      'secretsmanager:GetSecretValue',
    ]);
    const secretId = Object.keys(template.findResources('AWS::SecretsManager::Secret'))[0]!;
    expect(asArray(secretStatements[0]!.Resource)).toEqual(
      expect.arrayContaining([SIGNATURE_SECRET_ARN, { Ref: secretId }]),
    );
    expect(asArray(secretStatements[0]!.Resource)).toHaveLength(2);
  });

  it('applies the configured throttling and log retention', () => {
    template.hasResourceProperties('AWS::ApiGatewayV2::Stage', {
      DefaultRouteSettings: { ThrottlingRateLimit: 5, ThrottlingBurstLimit: 10 },
    });
    const [, fn] = webhookFunction(template);
    const logGroupId = (fn.LoggingConfig as { LogGroup: { Ref: string } }).LogGroup.Ref;
    expect(template.toJSON().Resources[logGroupId].Properties.RetentionInDays).toBe(90);
  });
});

const run = promisify(execFile);

/** What the handler reads at import; the values are never used, as nothing is invoked. */
const WEBHOOK_ENV = {
  [WebhooksEnv.recordingsBucket]: 'recordings',
  [WebhooksEnv.recorderUrl]: 'wss://recorder.example.com',
  [WebhooksEnv.callTokenSecretArn]: 'arn:aws:secretsmanager:eu-west-2:123456789012:secret:CallToken-AbCdEf',
};

describe('WebhookApi bundle (real esbuild run)', () => {
  const outdir = mkdtempSync(join(tmpdir(), 'webhook-bundle-'));
  let assetDir: string;
  beforeAll(() => {
    const app = new App({ outdir, builtinCloudFormationValidation: false });
    const stack = new Stack(app, 'Bundle', { env: TEST_ENV });
    new WebhookApi(stack, 'Webhooks', {
      bucket: new Bucket(stack, 'Bucket'),
      callTokenSecret: new Secret(stack, 'Secret'),
      recorderUrl: 'ws://recorder.example',
      greeting: { text: 'Hello', language: 'en-US', style: 0 },
    });
    const assembly = app.synth();
    const manifest = JSON.parse(readFileSync(join(assembly.directory, 'Bundle.assets.json'), 'utf8')) as {
      files: Record<string, { source: { path: string; packaging: string } }>;
    };
    const zips = Object.values(manifest.files).filter((f) => f.source.packaging === 'zip');
    expect(zips).toHaveLength(1);
    assetDir = join(assembly.directory, zips[0]!.source.path);
  });
  afterAll(() => rmSync(outdir, { recursive: true, force: true }));

  /** The files `file` imports statically (`import … from "./…"`), not through `import()`. */
  function staticImports(file: string): string[] {
    const code = readFileSync(file, 'utf8');
    return [...code.matchAll(/(?:\bfrom|\bimport)\s*"(\.{1,2}\/[^"]+)"/g)].map((match) =>
      join(dirname(file), match[1] ?? ''),
    );
  }

  /** Every file a cold start reads before the handler runs: index.mjs and what it imports statically. */
  function loadedAtStart(): string[] {
    const seen = new Set<string>();
    const visit = (file: string) => {
      if (seen.has(file)) return;
      seen.add(file);
      for (const imported of staticImports(file)) visit(imported);
    };
    visit(join(assetDir, 'index.mjs'));
    return [...seen];
  }

  const sourcesOf = (files: string[]) =>
    files.flatMap(
      (file) => (JSON.parse(readFileSync(`${file}.map`, 'utf8')) as { sources: string[] }).sources,
    );
  const allFiles = () =>
    readdirSync(assetDir, { recursive: true, encoding: 'utf8' })
      .filter((name) => name.endsWith('.mjs'))
      .map((name) => join(assetDir, name));

  it('is ESM with source maps and the AWS SDK v3 bundled in, importing no package at run time', async () => {
    for (const file of allFiles()) {
      expect(readFileSync(file, 'utf8'), file).toContain(`//# sourceMappingURL=${basename(file)}.map`);
    }
    expect(
      sourcesOf([join(assetDir, 'index.mjs')]).some((s) => s.endsWith('lambdas/webhooks/handler.ts')),
    ).toBe(true);
    // The asset sits in a temporary folder with no node_modules above it: a package imported at run
    // time instead of bundled would fail to resolve here, as it would in the function.
    const imports = allFiles()
      .map((file) => `await import(${JSON.stringify(pathToFileURL(file).href)});`)
      .join(' ');
    const { stdout } = await run(
      process.execPath,
      ['--input-type=module', '-e', `${imports} console.log('loaded')`],
      {
        cwd: assetDir,
        env: { PATH: process.env.PATH ?? '', AWS_REGION: 'eu-west-2', ...WEBHOOK_ENV },
      },
    );
    expect(stdout.trim()).toBe('loaded');
  });

  it('loads only what an answer needs at cold start: Secrets Manager, not S3 or SQS, whose chunks the first event loads', () => {
    const atStart = sourcesOf(loadedAtStart());
    expect(atStart.some((s) => s.includes('/@aws-sdk/client-secrets-manager/'))).toBe(true);
    expect(atStart.filter((s) => /\/@aws-sdk\/client-(s3|sqs)\//.test(s))).toEqual([]);
    expect(atStart.filter((s) => /lambdas\/webhooks\/event-(store|clients)\.ts$/.test(s))).toEqual([]);
    const everything = sourcesOf(allFiles());
    expect(everything.some((s) => s.includes('/@aws-sdk/client-s3/'))).toBe(true);
    expect(everything.some((s) => s.includes('/@aws-sdk/client-sqs/'))).toBe(true);
    expect(everything.some((s) => s.endsWith('lambdas/webhooks/event-store.ts'))).toBe(true);
  });
});
