import { ArnFormat, Duration, RemovalPolicy, Stack } from 'aws-cdk-lib';
import type { IHttpApi } from 'aws-cdk-lib/aws-apigatewayv2';
import {
  Alarm,
  type AlarmProps,
  AlarmStatusWidget,
  ComparisonOperator,
  Dashboard,
  GraphWidget,
  type IMetric,
  MathExpression,
  Metric,
  SingleValueWidget,
  Stats,
  TreatMissingData,
} from 'aws-cdk-lib/aws-cloudwatch';
import { SnsAction } from 'aws-cdk-lib/aws-cloudwatch-actions';
import type { IApplicationTargetGroup } from 'aws-cdk-lib/aws-elasticloadbalancingv2';
import { PolicyStatement, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import { Key } from 'aws-cdk-lib/aws-kms';
import type { IFunction } from 'aws-cdk-lib/aws-lambda';
import { Topic } from 'aws-cdk-lib/aws-sns';
import { EmailSubscription } from 'aws-cdk-lib/aws-sns-subscriptions';
import { Construct } from 'constructs';
import { MetricNames, RECORDER_METRICS_INTERVAL_MS } from '../../common/contract.js';

export interface OperationsProps {
  /** The recorder's target groups (blue and green): a call can reach a task in either. */
  readonly recorderTargetGroups: readonly IApplicationTargetGroup[];
  /** The Vonage webhooks' HTTP API. */
  readonly webhookApi: IHttpApi;
  /** The webhooks Lambda behind it. */
  readonly webhookFunction: IFunction;
  /** The calls per task auto scaling tracks, drawn on the calls-per-task graph. */
  readonly callsPerTask: number;
  /** The most calls one task takes, drawn on the calls-per-task graph. */
  readonly maxCallsPerTask: number;
  /** An address to e-mail every alarm to (it must confirm the subscription). @default no subscription */
  readonly alarmEmail?: string;
}

/** The alarms, by what they watch. */
export interface OperationsAlarms {
  readonly missingRecordings: Alarm;
  readonly failedRecordings: Alarm;
  readonly checkpointFailures: Alarm;
  readonly noHealthyRecorder: Alarm;
  readonly webhookServerErrors: Alarm;
  readonly webhookFunctionErrors: Alarm;
}

const CLOUDWATCH = new ServicePrincipal('cloudwatch.amazonaws.com');

/**
 * What tells a team how calls are going without anyone looking: a dashboard of calls, recordings,
 * webhooks and recorder health, and alarms on the facts that lose or risk a recording, all sent to
 * one encrypted SNS topic (and an e-mail address, if given). See docs/configuration.md, "Alarms and
 * dashboard".
 */
export class Operations extends Construct {
  readonly topic: Topic;
  readonly alarms: OperationsAlarms;
  readonly dashboard: Dashboard;

  constructor(scope: Construct, id: string, props: OperationsProps) {
    super(scope, id);
    if (props.recorderTargetGroups.length === 0)
      throw new Error('operations needs the recorder target groups');
    this.topic = this.buildTopic(props.alarmEmail);
    this.alarms = this.buildAlarms(props);
    const action = new SnsAction(this.topic);
    for (const alarm of Object.values(this.alarms)) {
      alarm.addAlarmAction(action);
      // Recovery is news too: the team learns the problem is over without opening the console.
      alarm.addOkAction(action);
    }
    this.dashboard = this.buildDashboard(props);
  }

  /** An SNS topic encrypted with a key of its own that CloudWatch alarms may use, TLS-only. */
  private buildTopic(alarmEmail: string | undefined): Topic {
    const stack = Stack.of(this);
    const key = new Key(this, 'AlarmTopicKey', {
      description: 'Encrypts the call recorder alarm notifications',
      enableKeyRotation: true,
      // It protects notifications in transit through SNS only, nothing kept: no reason to outlive the stack.
      removalPolicy: RemovalPolicy.DESTROY,
    });
    // CloudWatch encrypts an alarm notification with the topic's key itself, so the key policy must
    // let it (an SSE-SNS topic with the AWS managed key cannot be used by alarms at all):
    // https://docs.aws.amazon.com/sns/latest/dg/sns-key-management.html#compatibility-with-aws-services
    // Who may publish is decided by the topic policy below; this only lets CloudWatch encrypt.
    key.addToResourcePolicy(
      new PolicyStatement({
        sid: 'AllowCloudWatchAlarmsToEncrypt',
        principals: [CLOUDWATCH],
        actions: ['kms:Decrypt', 'kms:GenerateDataKey*'],
        resources: ['*'],
      }),
    );
    const topic = new Topic(this, 'AlarmTopic', {
      displayName: `${stack.stackName} alarms`,
      masterKey: key,
      enforceSSL: true,
    });
    // enforceSSL gives the topic a policy of its own, which replaces SNS's default one: without
    // this statement CloudWatch is refused ("no resource-based policy allows the SNS:Publish").
    // Only this stack's alarms, in this account, may publish.
    topic.addToResourcePolicy(
      new PolicyStatement({
        sid: 'AllowThisStacksAlarmsToPublish',
        principals: [CLOUDWATCH],
        actions: ['sns:Publish'],
        resources: [topic.topicArn],
        conditions: {
          ArnLike: {
            'aws:SourceArn': stack.formatArn({
              service: 'cloudwatch',
              resource: 'alarm',
              resourceName: `${stack.stackName}-*`,
              arnFormat: ArnFormat.COLON_RESOURCE_NAME,
            }),
          },
          StringEquals: { 'aws:SourceAccount': stack.account },
        },
      }),
    );
    if (alarmEmail) topic.addSubscription(new EmailSubscription(alarmEmail));
    return topic;
  }

  private buildAlarms(props: OperationsProps): OperationsAlarms {
    const name = (suffix: string) => `${Stack.of(this).stackName}-${suffix}`;
    // Most alarms fire on any count above zero, and read a period with no data as a quiet one.
    const anyCount = (
      id: string,
      alarm: Pick<AlarmProps, 'alarmName' | 'alarmDescription' | 'metric'> &
        Partial<Pick<AlarmProps, 'evaluationPeriods' | 'datapointsToAlarm'>>,
    ) =>
      new Alarm(this, id, {
        threshold: 0,
        comparisonOperator: ComparisonOperator.GREATER_THAN_THRESHOLD,
        evaluationPeriods: 1,
        treatMissingData: TreatMissingData.NOT_BREACHING,
        ...alarm,
      });
    return {
      // The reconciler publishes a count only when it has checked calls; no data means nothing
      // was found missing, not that something is wrong.
      missingRecordings: anyCount('MissingRecordingsAlarm', {
        alarmName: name('recordings-missing'),
        alarmDescription:
          'A call Vonage completed has no recording after the grace period (Recording Missing events name the calls).',
        metric: reconcilerMetric(MetricNames.recordingsMissing, Stats.SUM, Duration.minutes(5)),
      }),
      // Every task publishes CallsFailed (often 0) each minute; no data means no task is running,
      // which the healthy-targets alarm reports, so it is not counted twice here.
      failedRecordings: anyCount('FailedRecordingsAlarm', {
        alarmName: name('recordings-failed'),
        alarmDescription:
          'A recording could not be stored (Recording Failed events say where its audio waits).',
        metric: recorderMetric(MetricNames.callsFailed, Stats.SUM, Duration.minutes(5)),
      }),
      // One failed checkpoint is retried at the next one; failures in 3 of 5 minutes mean S3 is
      // refusing them, and a crash now would lose more than the documented bound. No data: as above.
      checkpointFailures: anyCount('CheckpointFailuresAlarm', {
        alarmName: name('checkpoints-failing'),
        alarmDescription:
          'Checkpoints of live calls failed in 3 of the last 5 minutes: a recorder crash now would lose more audio than the checkpoint interval.',
        metric: recorderMetric(MetricNames.checkpointsFailed, Stats.SUM, Duration.minutes(1)),
        evaluationPeriods: 5,
        datapointsToAlarm: 3,
      }),
      // The load balancer reports HealthyHostCount whenever health checks are enabled, calls or
      // not, so here (and only here) no data means nothing is being checked: breaching.
      // https://docs.aws.amazon.com/elasticloadbalancing/latest/application/load-balancer-cloudwatch-metrics.html
      noHealthyRecorder: new Alarm(this, 'NoHealthyRecorderAlarm', {
        alarmName: name('recorder-unhealthy'),
        alarmDescription:
          'No recorder task has passed its health check for 3 minutes: new calls cannot be recorded.',
        metric: healthyRecorderTargets(props.recorderTargetGroups, Stats.MAXIMUM),
        threshold: 1,
        comparisonOperator: ComparisonOperator.LESS_THAN_THRESHOLD,
        evaluationPeriods: 3,
        treatMissingData: TreatMissingData.BREACHING,
      }),
      // A failed answer webhook fails the call, so one 5xx is worth a message. API Gateway reports
      // only while requests come in: no data is a quiet line, not an error.
      webhookServerErrors: anyCount('WebhookServerErrorsAlarm', {
        alarmName: name('webhooks-5xx'),
        alarmDescription:
          'The webhook API answered Vonage with a 5xx (a failed answer webhook fails the call).',
        metric: props.webhookApi.metricServerError({ statistic: Stats.SUM, period: Duration.minutes(5) }),
      }),
      webhookFunctionErrors: anyCount('WebhookFunctionErrorsAlarm', {
        alarmName: name('webhooks-lambda-errors'),
        alarmDescription: 'The webhooks Lambda failed an invocation (an unhandled error or a timeout).',
        metric: props.webhookFunction.metricErrors({ statistic: Stats.SUM, period: Duration.minutes(5) }),
      }),
    };
  }

  private buildDashboard(props: OperationsProps): Dashboard {
    const dashboard = new Dashboard(this, 'Dashboard', {
      dashboardName: `${Stack.of(this).stackName}-operations`,
      defaultInterval: Duration.hours(3),
    });
    const minute = Duration.minutes(1);
    const fiveMinutes = Duration.minutes(5);
    dashboard.addWidgets(
      new AlarmStatusWidget({ title: 'Alarms', alarms: Object.values(this.alarms), width: 24, height: 3 }),
    );
    dashboard.addWidgets(
      new GraphWidget({
        title: 'Active calls',
        left: [
          activeCallsAllTasks(),
          recorderMetric(MetricNames.activeCalls, Stats.AVERAGE, minute, 'Per task (average)'),
          recorderMetric(MetricNames.activeCalls, Stats.MAXIMUM, minute, 'Busiest task'),
        ],
        right: [recorderTasksReporting()],
        width: 8,
      }),
      new GraphWidget({
        title: 'Calls per task',
        left: [recorderMetric(MetricNames.activeCalls, Stats.AVERAGE, minute, 'Calls per task')],
        leftAnnotations: [
          { value: props.callsPerTask, label: 'Scaling target' },
          { value: props.maxCallsPerTask, label: 'Per-task cap' },
        ],
        leftYAxis: { min: 0 },
        width: 8,
      }),
      new GraphWidget({
        title: 'Healthy recorder targets',
        left: [
          healthyRecorderTargets(props.recorderTargetGroups, Stats.MINIMUM),
          ...props.recorderTargetGroups.map((group, index) =>
            group.metrics.unhealthyHostCount({
              statistic: Stats.MAXIMUM,
              period: minute,
              label: `Unhealthy (target group ${index + 1})`,
            }),
          ),
        ],
        leftAnnotations: [this.alarms.noHealthyRecorder.toAnnotation()],
        leftYAxis: { min: 0 },
        width: 8,
      }),
    );
    dashboard.addWidgets(
      new GraphWidget({
        title: 'Ingest lag (ms)',
        left: [
          recorderMetric(MetricNames.ingestLag, Stats.MAXIMUM, minute, 'Worst task (p99 per minute)'),
          recorderMetric(MetricNames.ingestLag, Stats.AVERAGE, minute, 'Average task (p99 per minute)'),
        ],
        leftYAxis: { min: 0 },
        width: 8,
      }),
      new GraphWidget({
        title: 'Upload latency (hangup to stored, ms)',
        left: [
          recorderMetric(MetricNames.uploadLatency, Stats.p(50), fiveMinutes, 'p50'),
          recorderMetric(MetricNames.uploadLatency, Stats.p(99), fiveMinutes, 'p99'),
        ],
        leftYAxis: { min: 0 },
        width: 8,
      }),
      new GraphWidget({
        title: 'Checkpoints failed',
        left: [recorderMetric(MetricNames.checkpointsFailed, Stats.SUM, minute, 'Checkpoints failed')],
        leftYAxis: { min: 0 },
        width: 8,
      }),
    );
    const outcomes = recordingOutcomes(fiveMinutes);
    dashboard.addWidgets(
      new GraphWidget({ title: 'Recordings', left: outcomes, leftYAxis: { min: 0 }, width: 16 }),
      new SingleValueWidget({
        title: 'Recordings in the time range',
        metrics: recordingOutcomes(fiveMinutes),
        setPeriodToTimeRange: true,
        width: 8,
        height: 6,
      }),
    );
    dashboard.addWidgets(
      new GraphWidget({
        title: 'Webhook requests and errors',
        left: [
          props.webhookApi.metricCount({ statistic: Stats.SUM, period: fiveMinutes, label: 'Requests' }),
          props.webhookApi.metricClientError({ statistic: Stats.SUM, period: fiveMinutes, label: '4xx' }),
          props.webhookApi.metricServerError({ statistic: Stats.SUM, period: fiveMinutes, label: '5xx' }),
        ],
        right: [
          props.webhookFunction.metricErrors({
            statistic: Stats.SUM,
            period: fiveMinutes,
            label: 'Lambda errors',
          }),
          props.webhookFunction.metricThrottles({
            statistic: Stats.SUM,
            period: fiveMinutes,
            label: 'Lambda throttles',
          }),
        ],
        width: 12,
      }),
      new GraphWidget({
        title: 'Webhook latency (ms)',
        left: [
          props.webhookApi.metricLatency({ statistic: Stats.p(50), period: fiveMinutes, label: 'API p50' }),
          props.webhookApi.metricLatency({ statistic: Stats.p(99), period: fiveMinutes, label: 'API p99' }),
          props.webhookFunction.metricDuration({
            statistic: Stats.p(99),
            period: fiveMinutes,
            label: 'Lambda duration p99',
          }),
        ],
        leftYAxis: { min: 0 },
        width: 12,
      }),
    );
    return dashboard;
  }
}

/** A metric the recorder tasks publish (EMF from Powertools, which adds `service`). */
function recorderMetric(metricName: string, statistic: string, period: Duration, label?: string): Metric {
  return serviceMetric(MetricNames.recorderService, metricName, statistic, period, label);
}

/** A metric the reconciler publishes. */
function reconcilerMetric(metricName: string, statistic: string, period: Duration, label?: string): Metric {
  return serviceMetric(MetricNames.reconcilerService, metricName, statistic, period, label);
}

function serviceMetric(
  service: string,
  metricName: string,
  statistic: string,
  period: Duration,
  label: string | undefined,
): Metric {
  return new Metric({
    namespace: MetricNames.namespace,
    metricName,
    dimensionsMap: { service },
    statistic,
    period,
    ...(label ? { label } : {}),
  });
}

const PUBLISHES_PER_MINUTE = 60_000 / RECORDER_METRICS_INTERVAL_MS;

/**
 * Calls on all tasks together. Every task samples its open calls once per interval under the same
 * dimensions, so a period's Sum counts each task once per interval: divide by the intervals in it.
 */
function activeCallsAllTasks(): MathExpression {
  return new MathExpression({
    expression: `samples / (PERIOD(samples) / 60 * ${PUBLISHES_PER_MINUTE})`,
    usingMetrics: { samples: recorderMetric(MetricNames.activeCalls, Stats.SUM, Duration.minutes(1)) },
    label: 'All tasks',
    period: Duration.minutes(1),
  });
}

/** Tasks publishing metrics: each contributes one ActiveCalls sample per interval. */
function recorderTasksReporting(): MathExpression {
  return new MathExpression({
    expression: `reports / (PERIOD(reports) / 60 * ${PUBLISHES_PER_MINUTE})`,
    usingMetrics: {
      reports: recorderMetric(MetricNames.activeCalls, Stats.SAMPLE_COUNT, Duration.minutes(1)),
    },
    label: 'Tasks reporting',
    period: Duration.minutes(1),
  });
}

/**
 * Healthy targets over both target groups: after a blue/green deployment the calls go to the
 * other group, so either may hold the tasks. FILL makes an empty group count 0, not a gap.
 */
function healthyRecorderTargets(groups: readonly IApplicationTargetGroup[], statistic: string): IMetric {
  const usingMetrics: Record<string, IMetric> = {};
  groups.forEach((group, index) => {
    usingMetrics[`group${index}`] = group.metrics.healthyHostCount({
      statistic,
      period: Duration.minutes(1),
    });
  });
  const filled = Object.keys(usingMetrics).map((id) => `FILL(${id}, 0)`);
  return new MathExpression({
    expression: `SUM([${filled.join(', ')}])`,
    usingMetrics,
    label: 'Healthy recorder tasks',
    period: Duration.minutes(1),
  });
}

/** What became of recordings: the recorder's outcomes and the reconciler's findings. */
function recordingOutcomes(period: Duration): Metric[] {
  return [
    recorderMetric(MetricNames.recordingsStored, Stats.SUM, period, 'Stored'),
    recorderMetric(MetricNames.recordingsInterrupted, Stats.SUM, period, 'Interrupted'),
    recorderMetric(MetricNames.callsRecovered, Stats.SUM, period, 'Recovered'),
    recorderMetric(MetricNames.callsFailed, Stats.SUM, period, 'Failed'),
    reconcilerMetric(MetricNames.recordingsMissing, Stats.SUM, period, 'Missing'),
    reconcilerMetric(MetricNames.recordingDurationMismatches, Stats.SUM, period, 'Duration mismatch'),
  ];
}
