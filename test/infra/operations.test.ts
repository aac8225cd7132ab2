import type { Template } from 'aws-cdk-lib/assertions';
import { describe, expect, it } from 'vitest';
import { MetricNames, OutputNames } from '../../common/contract.js';
import { EmfRecorderMetrics } from '../../fargate/src/metrics.js';
import { StackConfigError } from '../../lib/config.js';
import { asArray, resourcesOf, synthRecorderStack } from '../../test-support/stack-synth.js';

/** A reference in a template, as a readable placeholder: `{Ref:X}`, `{X.Arn}`, or the function quoted. */
function placeholder(token: unknown): string {
  const t = token as { Ref?: string; 'Fn::GetAtt'?: [string, string] };
  if (t.Ref) return `{Ref:${t.Ref}}`;
  if (t['Fn::GetAtt']) return `{${t['Fn::GetAtt'][0]}.${t['Fn::GetAtt'][1]}}`;
  return JSON.stringify(token).replace(/"/g, "'");
}

interface DashboardBody {
  widgets: { type: string; properties: { title: string; metrics?: unknown[][]; alarms?: string[] } }[];
}

/** The dashboard's JSON as CloudWatch will read it, references shown as placeholders. */
function dashboardBody(template: Template): DashboardBody {
  const [dashboard] = resourcesOf(template, 'AWS::CloudWatch::Dashboard');
  const body = dashboard?.[1].DashboardBody as { 'Fn::Join': [string, unknown[]] };
  const text = body['Fn::Join'][1]
    .map((part) => (typeof part === 'string' ? part : placeholder(part)))
    .join('');
  return JSON.parse(text) as DashboardBody;
}

interface ChartedMetric {
  widget: string;
  namespace: string;
  name: string;
  dimensions: Record<string, string>;
  stat: string;
}

/** Every metric the dashboard charts (math expressions' inputs included), one row each. */
function chartedMetrics(body: DashboardBody): ChartedMetric[] {
  return body.widgets.flatMap((widget) =>
    (widget.properties.metrics ?? []).flatMap((row) => {
      const last = row[row.length - 1];
      const options = (typeof last === 'object' ? last : {}) as { stat?: string; expression?: string };
      if (options.expression) return [];
      const fields = row.filter((f) => typeof f === 'string') as string[];
      const [namespace, name, ...pairs] = fields;
      const dimensions: Record<string, string> = {};
      for (let i = 0; i + 1 < pairs.length; i += 2) dimensions[pairs[i]!] = pairs[i + 1]!;
      return [
        {
          widget: widget.properties.title,
          namespace: namespace!,
          name: name!,
          dimensions,
          stat: options.stat ?? 'Average',
        },
      ];
    }),
  );
}

/** What the recorder really writes: one EMF document from a publish. */
function recorderEmf(): { namespace: string; dimensionSets: string[][]; values: Record<string, unknown> } {
  const written: string[] = [];
  const write = process.stdout.write;
  process.stdout.write = ((chunk: string | Uint8Array) => {
    written.push(String(chunk));
    return true;
  }) as typeof process.stdout.write;
  try {
    const metrics = new EmfRecorderMetrics();
    metrics.callFinished(12, 340);
    metrics.activeCalls(3);
    metrics.ingestLag(25);
    metrics.checkpointFailed();
    metrics.publish();
  } finally {
    process.stdout.write = write;
  }
  const doc = JSON.parse(written.join('')) as {
    _aws: { CloudWatchMetrics: { Namespace: string; Dimensions: string[][] }[] };
  } & Record<string, unknown>;
  const directive = doc._aws.CloudWatchMetrics[0]!;
  return { namespace: directive.Namespace, dimensionSets: directive.Dimensions, values: doc };
}

function alarmsByName(template: Template): Map<string, Record<string, unknown>> {
  return new Map(
    resourcesOf(template, 'AWS::CloudWatch::Alarm').map(([, props]) => [props.AlarmName as string, props]),
  );
}

describe('operations: dashboard, alarms and their topic', () => {
  const { template } = synthRecorderStack();
  const topicId = resourcesOf(template, 'AWS::SNS::Topic')
    .map(([id]) => id)
    .find((id) => id.startsWith('OperationsAlarmTopic'));
  const charted = chartedMetrics(dashboardBody(template));

  it('charts the recorder metrics under the namespace, name and dimensions the recorder writes', () => {
    const emf = recorderEmf();
    expect(emf.namespace).toBe(MetricNames.namespace);
    expect(emf.dimensionSets).toEqual([['service']]);
    const dimensions = { service: emf.values.service as string };
    const written = [
      MetricNames.activeCalls,
      MetricNames.uploadLatency,
      MetricNames.ingestLag,
      MetricNames.checkpointsFailed,
      MetricNames.callsFailed,
      MetricNames.callsRecovered,
    ];
    for (const name of written) {
      expect(emf.values, name).toHaveProperty(name);
      expect(
        charted.some(
          (m) => m.namespace === emf.namespace && m.name === name && equal(m.dimensions, dimensions),
        ),
        `${name} ${JSON.stringify(dimensions)} on the dashboard`,
      ).toBe(true);
    }
  });

  it('charts every panel a team asked for', () => {
    const has = (widget: RegExp, namespace: string, name: string, stat?: string) =>
      charted.some(
        (m) =>
          widget.test(m.widget) && m.namespace === namespace && m.name === name && (!stat || m.stat === stat),
      );
    const ns = MetricNames.namespace;
    expect(has(/^Active calls$/, ns, MetricNames.activeCalls, 'Sum')).toBe(true); // all tasks
    expect(has(/^Active calls$/, ns, MetricNames.activeCalls, 'Average')).toBe(true); // per task
    expect(has(/^Calls per task$/, ns, MetricNames.activeCalls, 'Average')).toBe(true);
    expect(has(/^Ingest lag/, ns, MetricNames.ingestLag, 'Maximum')).toBe(true);
    expect(has(/^Upload latency/, ns, MetricNames.uploadLatency, 'p50')).toBe(true);
    expect(has(/^Upload latency/, ns, MetricNames.uploadLatency, 'p99')).toBe(true);
    expect(has(/^Checkpoints failed$/, ns, MetricNames.checkpointsFailed, 'Sum')).toBe(true);
    for (const name of [
      MetricNames.recordingsStored,
      MetricNames.recordingsInterrupted,
      MetricNames.callsRecovered,
      MetricNames.callsFailed,
      MetricNames.recordingsMissing,
      MetricNames.recordingDurationMismatches,
    ]) {
      expect(has(/^Recordings$/, ns, name, 'Sum'), name).toBe(true);
      expect(has(/^Recordings in the time range$/, ns, name, 'Sum'), name).toBe(true);
    }
    // The reconciler's findings under its own service dimension.
    const missing = charted.find((m) => m.name === MetricNames.recordingsMissing);
    expect(missing?.dimensions).toEqual({ service: MetricNames.reconcilerService });
    expect(has(/^Webhook requests/, 'AWS/ApiGateway', '5xx', 'Sum')).toBe(true);
    expect(has(/^Webhook requests/, 'AWS/ApiGateway', '4xx', 'Sum')).toBe(true);
    expect(has(/^Webhook requests/, 'AWS/Lambda', 'Errors', 'Sum')).toBe(true);
    expect(has(/^Webhook latency/, 'AWS/ApiGateway', 'Latency', 'p99')).toBe(true);
    expect(has(/^Webhook latency/, 'AWS/Lambda', 'Duration', 'p99')).toBe(true);
    const apiMetric = charted.find((m) => m.namespace === 'AWS/ApiGateway');
    expect(apiMetric?.dimensions.ApiId).toMatch(/^\{Ref:WebhooksApi/);
    // Both blue and green target groups: after a deployment the tasks are in the other one.
    const healthy = charted.filter((m) => m.name === 'HealthyHostCount' && /^Healthy/.test(m.widget));
    expect(new Set(healthy.map((m) => m.dimensions.TargetGroup)).size).toBe(2);
  });

  it('alarms on missing and failed recordings, failing checkpoints, no healthy recorder and webhook errors', () => {
    const alarms = alarmsByName(template);
    expect([...alarms.keys()].sort()).toEqual(
      [
        'CallRecorder-checkpoints-failing',
        'CallRecorder-recorder-unhealthy',
        'CallRecorder-recordings-failed',
        'CallRecorder-recordings-missing',
        'CallRecorder-webhooks-5xx',
        'CallRecorder-webhooks-lambda-errors',
      ].sort(),
    );
    const expectAlarm = (name: string, expected: Record<string, unknown>) =>
      expect(alarms.get(name), name).toMatchObject(expected);
    expectAlarm('CallRecorder-recordings-missing', {
      Namespace: MetricNames.namespace,
      MetricName: MetricNames.recordingsMissing,
      Dimensions: [{ Name: 'service', Value: MetricNames.reconcilerService }],
      Statistic: 'Sum',
      Threshold: 0,
      ComparisonOperator: 'GreaterThanThreshold',
      TreatMissingData: 'notBreaching',
    });
    expectAlarm('CallRecorder-recordings-failed', {
      MetricName: MetricNames.callsFailed,
      Dimensions: [{ Name: 'service', Value: MetricNames.recorderService }],
      Statistic: 'Sum',
      Threshold: 0,
      ComparisonOperator: 'GreaterThanThreshold',
      TreatMissingData: 'notBreaching',
    });
    expectAlarm('CallRecorder-checkpoints-failing', {
      MetricName: MetricNames.checkpointsFailed,
      Period: 60,
      EvaluationPeriods: 5,
      DatapointsToAlarm: 3,
      ComparisonOperator: 'GreaterThanThreshold',
      Threshold: 0,
    });
    expectAlarm('CallRecorder-webhooks-5xx', {
      Namespace: 'AWS/ApiGateway',
      MetricName: '5xx',
      Statistic: 'Sum',
      Threshold: 0,
      TreatMissingData: 'notBreaching',
    });
    expectAlarm('CallRecorder-webhooks-lambda-errors', { Namespace: 'AWS/Lambda', MetricName: 'Errors' });

    // No healthy target: both target groups summed, below 1 for 3 minutes, and no data is breaching.
    const unhealthy = alarms.get('CallRecorder-recorder-unhealthy')!;
    expect(unhealthy).toMatchObject({
      Threshold: 1,
      ComparisonOperator: 'LessThanThreshold',
      EvaluationPeriods: 3,
      TreatMissingData: 'breaching',
    });
    const queries = unhealthy.Metrics as {
      Expression?: string;
      MetricStat?: { Metric: { MetricName: string } };
    }[];
    expect(queries.find((q) => q.Expression)?.Expression).toBe('SUM([FILL(group0, 0), FILL(group1, 0)])');
    expect(queries.filter((q) => q.MetricStat?.Metric.MetricName === 'HealthyHostCount')).toHaveLength(2);

    // Every alarm tells the topic when it fires and when it clears.
    for (const [name, props] of alarms) {
      expect(props.AlarmActions, name).toEqual([{ Ref: topicId }]);
      expect(props.OKActions, name).toEqual([{ Ref: topicId }]);
    }
  });

  it('sends to an SNS topic encrypted with a rotated key CloudWatch may use, published to over TLS only', () => {
    const [, topic] = resourcesOf(template, 'AWS::SNS::Topic').find(([id]) => id === topicId)!;
    const keyRef = (topic.KmsMasterKeyId as { 'Fn::GetAtt': [string, string] })['Fn::GetAtt'][0];
    const [, key] = resourcesOf(template, 'AWS::KMS::Key').find(([id]) => id === keyRef)!;
    expect(key.EnableKeyRotation).toBe(true);
    const keyStatements = (key.KeyPolicy as { Statement: Record<string, unknown>[] }).Statement;
    expect(keyStatements).toContainEqual(
      expect.objectContaining({
        Effect: 'Allow',
        Principal: { Service: 'cloudwatch.amazonaws.com' },
        Action: ['kms:Decrypt', 'kms:GenerateDataKey*'],
      }),
    );

    const [, policy] = resourcesOf(template, 'AWS::SNS::TopicPolicy').find(([, p]) =>
      asArray(p.Topics as unknown[]).some((t) => (t as { Ref?: string }).Ref === topicId),
    )!;
    const statements = (policy.PolicyDocument as { Statement: Record<string, unknown>[] }).Statement;
    expect(statements).toContainEqual(
      expect.objectContaining({
        Effect: 'Deny',
        Action: 'sns:Publish',
        Condition: { Bool: { 'aws:SecureTransport': 'false' } },
      }),
    );
    const allow = statements.find((s) => s.Effect === 'Allow');
    expect(allow).toMatchObject({
      Principal: { Service: 'cloudwatch.amazonaws.com' },
      Action: 'sns:Publish',
      Condition: { StringEquals: { 'aws:SourceAccount': '123456789012' } },
    });
    expect(JSON.stringify(allow?.Condition)).toContain(':123456789012:alarm:CallRecorder-*');
  });

  it('subscribes no one by default, and the alarmEmail address when given', () => {
    expect(resourcesOf(template, 'AWS::SNS::Subscription')).toEqual([]);
    const withEmail = synthRecorderStack({ context: { alarmEmail: 'oncall@example.com' } }).template;
    const subscriptions = resourcesOf(withEmail, 'AWS::SNS::Subscription');
    expect(subscriptions).toHaveLength(1);
    expect(subscriptions[0]?.[1]).toMatchObject({ Protocol: 'email', Endpoint: 'oncall@example.com' });
  });

  it('refuses an alarmEmail that is not one address, naming the key', () => {
    for (const bad of ['oncall', 'oncall@example.com, boss@example.com', 'On Call <oncall@example.com>']) {
      expect(() => synthRecorderStack({ context: { alarmEmail: bad } }), bad).toThrow(StackConfigError);
      expect(() => synthRecorderStack({ context: { alarmEmail: bad } }), bad).toThrow(
        `alarmEmail must be one e-mail address such as ops@example.com, got ${JSON.stringify(bad)}`,
      );
    }
  });

  it('outputs the topic ARN and the dashboard name', () => {
    const outputs = template.toJSON().Outputs as Record<string, { Value: unknown }>;
    expect(outputs[OutputNames.alarmTopicArn]?.Value).toEqual({ Ref: topicId });
    const [dashboardId] = resourcesOf(template, 'AWS::CloudWatch::Dashboard')[0]!;
    expect(outputs[OutputNames.dashboardName]?.Value).toEqual({ Ref: dashboardId });
    const [, dashboard] = resourcesOf(template, 'AWS::CloudWatch::Dashboard')[0]!;
    expect(dashboard.DashboardName).toBe('CallRecorder-operations');
  });
});

function equal(a: Record<string, string>, b: Record<string, string>): boolean {
  return JSON.stringify(Object.entries(a).sort()) === JSON.stringify(Object.entries(b).sort());
}
