/**
 * The synthesized template checked the way AWS checks it: AWS's offline CloudFormation validator
 * (resource schemas plus cfn-lint rules), strict and at WARN level, so a warning fails like an error.
 *
 * `cdk synth` runs the same validator (cdk.json's `@aws-cdk/core:validateAgainstDefaultRules`), but
 * leniently: it drops several rules (W3005, W9013, …), honours `Validations.acknowledge`, and fails
 * only on errors. This test calls the validator itself, so it holds whatever those settings become.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CfnElement, type Stack } from 'aws-cdk-lib';
import type { Template } from 'aws-cdk-lib/assertions';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RawConfig } from '../../lib/config.js';
// Types only: the validator ships inside aws-cdk-lib (a bundled dependency, not hoisted), and the
// npm registry carries only older betas of it, so it is loaded from there below.
import type * as CloudFormationValidate from '../../node_modules/aws-cdk-lib/node_modules/@aws/cloudformation-validate/index.js';
import {
  CERTIFICATE_ARN,
  SIGNATURE_SECRET_ARN,
  synthRecorderStack,
  TEST_ENV,
} from '../../test-support/stack-synth.js';

const requireFromCdk = createRequire(createRequire(import.meta.url).resolve('aws-cdk-lib/package.json'));
const { CompositeEngine, TemplateFile, version } = requireFromCdk(
  '@aws/cloudformation-validate',
) as typeof CloudFormationValidate;

/**
 * Context of the "every option on" synth. A new option goes here (as its key in cdk.json would),
 * and the validator then covers it.
 */
const EVERY_OPTION_ON: RawConfig = {
  certificateArn: CERTIFICATE_ARN,
  domainName: 'rec.example.com',
  hostedZoneId: 'Z0123456789ABCDEFGHIJ',
  hostedZoneName: 'example.com',
  signatureSecretArn: SIGNATURE_SECRET_ARN,
  bucketEncryption: 'kms',
  objectLockMode: 'compliance',
  objectLockRetentionDays: 365,
  alarmEmail: 'oncall@example.com',
  recordingsIndex: true,
};

const SYNTHS: Record<string, RawConfig> = {
  // cdk.json as shipped plus the one key a deployment must add, signatureSecretArn
  // (synthRecorderStack adds it).
  default: {},
  'every option on': EVERY_OPTION_ON,
};

/**
 * Findings CDK itself emits for what it renders, each with why it stays. Anything else fails.
 * Matched by rule and construct path, so the same rule on one of our own resources still fails.
 */
const CDK_OWN_FINDINGS: readonly { ruleId: string; path: RegExp; reason: string }[] = [
  {
    ruleId: 'W3005',
    path: /^CallRecorder\/Recorder\/Service\/Service$/,
    reason:
      'ecs.FargateService adds DependsOn on the listener rules of its target groups; with blue/green deployments its AdvancedConfiguration also Refs the production rule: redundant, not wrong.',
  },
  {
    ruleId: 'W3005',
    path: /^CallRecorder\/(Webhooks|Reconciler)\/Function\/Resource$/,
    reason:
      'lambda.Function always adds DependsOn on its role next to the GetAtt of the role ARN: redundant, not wrong.',
  },
  {
    ruleId: 'W3005',
    path: /^CallRecorder\/BucketNotificationsHandler[0-9a-f]+\/Resource$/,
    reason:
      "CDK's own bucket-notifications handler (from eventBridgeEnabled) carries the same redundant DependsOn on its role.",
  },
  {
    ruleId: 'W3005',
    path: /^CallRecorder\/Custom::VpcRestrictDefaultSGCustomResourceProvider\/Handler$/,
    reason:
      "CDK's own provider for @aws-cdk/aws-ec2:restrictDefaultSecurityGroup carries the same redundant DependsOn on its role.",
  },
  {
    ruleId: 'W3005',
    path: /^CallRecorder\/AWS679f53fac002430cb0da5b7982bd2287\/Resource$/,
    reason:
      "CDK's AwsCustomResource provider (the lookup of CloudFront's VPC-origin security group) carries the same redundant DependsOn on its role.",
  },
  {
    ruleId: 'W9003',
    path: /^CallRecorder\/Recordings\/Bucket\/Resource$/,
    reason:
      's3.Bucket writes LifecycleRule ObjectSizeGreaterThan as a number where the schema says string; CloudFormation coerces it, and the Bucket construct acknowledges this finding itself.',
  },
  {
    ruleId: 'W9013',
    path: /^CallRecorder\/Recorder\/Service\/TaskCount\/Target\/Resource$/,
    reason:
      "autoScaleTaskCount names Application Auto Scaling's service-linked role with Stack.formatArn, which writes the stack's account literally when its env names one.",
  },
];

interface Finding {
  readonly ruleId: string;
  readonly severity: string;
  /** Construct path of the resource, or the template entity when it is not a resource. */
  readonly path: string;
  readonly message: string;
}

function isCdkOwn(finding: Finding): boolean {
  return CDK_OWN_FINDINGS.some((own) => own.ruleId === finding.ruleId && own.path.test(finding.path));
}

/** One synth as validated: the stack, its template, the report and its findings. */
interface Validated {
  readonly stack: Stack;
  readonly template: Template;
  readonly report: CloudFormationValidate.ValidationReport;
  readonly findings: readonly Finding[];
}

describe(`AWS CloudFormation Validate ${version()}, strict, WARN and above`, () => {
  let engine: CloudFormationValidate.Engine;
  let dir: string;
  const synths: Record<string, Validated> = {};

  /** Writes the template to a file, as `cdk synth` would, and validates it as that stack's. */
  function validate(name: string, stack: Stack, template: unknown): Omit<Validated, 'template'> {
    const file = join(dir, `${name.replaceAll(' ', '-')}.template.json`);
    writeFileSync(file, JSON.stringify(template, undefined, 1));
    const report = engine.validateTemplate(new TemplateFile(file), {
      severityLevel: 'WARN',
      strict: true,
      pseudoParameterOverrides: { accountId: TEST_ENV.account, region: TEST_ENV.region },
    });
    const paths = new Map(
      stack.node
        .findAll()
        .filter(CfnElement.isCfnElement)
        .map((element) => [stack.resolve(element.logicalId) as string, element.node.path]),
    );
    const findings = report.diagnostics.map((d) => ({
      ruleId: d.ruleId,
      severity: d.severity,
      path:
        (d.entity && paths.get(d.entity.logicalId)) ??
        `${d.entity?.entityType ?? 'template'} ${d.entity?.logicalId ?? ''}`,
      message: `${d.propertyPath ? `${d.propertyPath}: ` : ''}${d.message}`,
    }));
    return { stack, report, findings };
  }

  function synth(name: string): Validated {
    const validated = synths[name];
    if (!validated) throw new Error(`no synth named ${name}`);
    return validated;
  }

  beforeAll(() => {
    // Compiling the rules takes most of this file's time (seconds); one engine serves every synth.
    engine = new CompositeEngine();
    dir = mkdtempSync(join(tmpdir(), 'cfn-validate-'));
    for (const [name, context] of Object.entries(SYNTHS)) {
      const { stack, template } = synthRecorderStack({ context });
      synths[name] = { template, ...validate(name, stack, template.toJSON()) };
    }
  });

  afterAll(() => {
    engine?.free();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it.each(Object.keys(SYNTHS))('finds nothing in the %s synth beyond what CDK emits itself', (name) => {
    const { report, findings } = synth(name);
    expect(report.status).toBe('OK');
    expect(findings.filter((f) => !isCdkOwn(f))).toEqual([]);
  });

  it('still sees every finding it lets through (the list shrinks when CDK stops emitting one)', () => {
    const seen = Object.values(synths).flatMap((s) => s.findings);
    for (const own of CDK_OWN_FINDINGS) {
      expect(
        seen.some((f) => f.ruleId === own.ruleId && own.path.test(f.path)),
        `${own.ruleId} at ${own.path}`,
      ).toBe(true);
    }
  });

  it('reports warnings as errors, and a real problem outside the list fails', () => {
    const { stack, template, findings } = synth('default');
    // strict: true upgrades WARN findings (W3005 and the rest above) to ERROR.
    expect(findings.filter((f) => f.ruleId.startsWith('W')).map((f) => f.severity)).toContain('ERROR');

    const broken = structuredClone(template.toJSON()) as {
      Resources: Record<string, { Type: string; Properties: Record<string, unknown> }>;
    };
    const taskDefinition = Object.values(broken.Resources).find((r) => r.Type === 'AWS::ECS::TaskDefinition');
    if (!taskDefinition) throw new Error('the default synth has no task definition');
    Object.assign(taskDefinition.Properties, { Cpu: '256', Memory: '1536' });
    expect(validate('broken', stack, broken).findings.filter((f) => !isCdkOwn(f))).toEqual([
      expect.objectContaining({ ruleId: 'E3047', path: 'CallRecorder/Recorder/TaskDefinition/Resource' }),
    ]);
  });

  it('synthesizes every option it claims to', () => {
    const { template } = synth('every option on');
    // The bucket's key, and the alarm topic's (always there).
    template.resourceCountIs('AWS::KMS::Key', 2);
    template.hasResourceProperties('AWS::SNS::Subscription', { Endpoint: 'oncall@example.com' });
    template.resourceCountIs('AWS::Route53::RecordSet', 1);
    template.resourceCountIs('AWS::Athena::WorkGroup', 1);
    template.hasResourceProperties('AWS::ElasticLoadBalancingV2::Listener', {
      Protocol: 'HTTPS',
      Certificates: [{ CertificateArn: CERTIFICATE_ARN }],
    });
    template.hasResourceProperties('AWS::S3::Bucket', {
      ObjectLockEnabled: true,
      ObjectLockConfiguration: { Rule: { DefaultRetention: { Mode: 'COMPLIANCE', Days: 365 } } },
    });
    template.hasResourceProperties('AWS::Lambda::Function', {
      Environment: { Variables: { VONAGE_SIGNATURE_SECRET_ARN: SIGNATURE_SECRET_ARN } },
    });
  });
});
