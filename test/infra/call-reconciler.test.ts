import type { Template } from 'aws-cdk-lib/assertions';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  asArray,
  policyStatements,
  resourcesOf,
  synthRecorderStack,
} from '../../test-support/stack-synth.js';

type Props = Record<string, unknown>;

function functionNamed(template: Template, description: string): [string, Props] {
  const fns = resourcesOf(template, 'AWS::Lambda::Function').filter(([, p]) => p.Description === description);
  expect(fns).toHaveLength(1);
  return fns[0]!;
}

const reconcilerFunction = (template: Template) =>
  functionNamed(template, 'Checks each completed call for its recording');
const webhooksFunction = (template: Template) => functionNamed(template, 'Vonage answer and event webhooks');

/** Every statement of the policies attached to a function's role. */
function roleStatements(template: Template, fn: Props): Props[] {
  const roleId = (fn.Role as { 'Fn::GetAtt': [string, string] })['Fn::GetAtt'][0];
  const policies = resourcesOf(template, 'AWS::IAM::Policy')
    .filter(([, p]) => asArray(p.Roles as unknown[]).some((r) => (r as { Ref: string }).Ref === roleId))
    .map(([id]) => id);
  return policyStatements(template)
    .filter((s) => policies.includes(s.policy))
    .map((s) => s.statement);
}

const actionsOf = (statements: Props[]) => statements.flatMap((s) => asArray(s.Action as string | string[]));

/** The queue the reconciler reads (the one with a redrive policy) and its dead-letter queue. */
function queues(template: Template): { queueId: string; queue: Props; dlqId: string; dlq: Props } {
  const all = resourcesOf(template, 'AWS::SQS::Queue');
  const main = all.filter(([, p]) => p.RedrivePolicy !== undefined);
  expect(main).toHaveLength(1);
  const [queueId, queue] = main[0]!;
  const dlqId = (queue.RedrivePolicy as { deadLetterTargetArn: { 'Fn::GetAtt': [string, string] } })
    .deadLetterTargetArn['Fn::GetAtt'][0];
  const dlq = all.find(([id]) => id === dlqId)?.[1];
  expect(dlq).toBeDefined();
  return { queueId, queue, dlqId, dlq: dlq! };
}

describe('CallReconciler in the default stack', () => {
  let template: Template;
  beforeAll(() => {
    template = synthRecorderStack().template;
  });

  it('holds calls on an encrypted standard queue, visible again after 6 × the function timeout, dead-lettered after 5 receives', () => {
    const { queue, dlq } = queues(template);
    expect(queue).toMatchObject({
      SqsManagedSseEnabled: true,
      VisibilityTimeout: 720,
      RedrivePolicy: { maxReceiveCount: 5 },
    });
    // Per-message timers need a standard queue: FIFO queues take only a queue-wide delay.
    expect(queue.FifoQueue).toBeUndefined();
    expect(dlq).toMatchObject({ SqsManagedSseEnabled: true, MessageRetentionPeriod: 14 * 86_400 });
  });

  it('refuses any request to either queue that is not over TLS', () => {
    const { queueId, dlqId } = queues(template);
    for (const id of [queueId, dlqId]) {
      const policies = resourcesOf(template, 'AWS::SQS::QueuePolicy').filter(([, p]) =>
        asArray(p.Queues as unknown[]).some((q) => (q as { Ref: string }).Ref === id),
      );
      expect(policies).toHaveLength(1);
      const statements = (policies[0]![1].PolicyDocument as { Statement: Props[] }).Statement;
      expect(statements).toContainEqual(
        expect.objectContaining({
          Effect: 'Deny',
          Action: 'sqs:*',
          Condition: { Bool: { 'aws:SecureTransport': 'false' } },
        }),
      );
    }
  });

  it('runs Node 24 on ARM64, told the bucket, the default bus and a final check after the sweeper window', () => {
    const [, fn] = reconcilerFunction(template);
    expect(fn).toMatchObject({ Runtime: 'nodejs24.x', Architectures: ['arm64'], Timeout: 120 });
    const variables = (fn.Environment as { Variables: Props }).Variables;
    const { queueId } = queues(template);
    expect(variables).toMatchObject({
      EVENT_BUS_NAME: 'default',
      RECONCILE_FIRST_CHECK_SECONDS: '900',
      RECONCILE_FINAL_CHECK_SECONDS: '1860',
      CHECKPOINT_SECONDS: '10',
      MAX_CALL_SECONDS: '7200',
      RECONCILE_QUEUE_URL: { Ref: queueId },
      POWERTOOLS_SERVICE_NAME: 'reconciler',
      POWERTOOLS_METRICS_NAMESPACE: 'CallRecorder',
    });
    expect(variables.RECORDINGS_BUCKET).toEqual({ Ref: expect.stringMatching(/^RecordingsBucket/) });
  });

  it('is fed by an event source mapping on the queue, with partial batch responses', () => {
    const [fnId] = reconcilerFunction(template);
    const { queueId } = queues(template);
    const mappings = resourcesOf(template, 'AWS::Lambda::EventSourceMapping');
    expect(mappings).toHaveLength(1);
    expect(mappings[0]![1]).toMatchObject({
      FunctionName: { Ref: fnId },
      EventSourceArn: { 'Fn::GetAtt': [queueId, 'Arn'] },
      BatchSize: 10,
      FunctionResponseTypes: ['ReportBatchItemFailures'],
    });
  });

  it('may only read events/ and recordings/, put events on the default bus and use its queue', () => {
    const [, fn] = reconcilerFunction(template);
    const statements = roleStatements(template, fn);
    const actions = actionsOf(statements);
    expect(actions).not.toContain('s3:PutObject');
    expect(actions).not.toContain('s3:DeleteObject');
    expect(actions.filter((a) => a.startsWith('s3:')).sort()).toEqual(['s3:GetObject', 's3:ListBucket']);
    const get = statements.find((s) => asArray(s.Action as string[]).includes('s3:GetObject'))!;
    const getResources = JSON.stringify(get.Resource);
    expect(getResources).toContain('/events/*');
    expect(getResources).toContain('/recordings/*');
    expect(asArray(get.Resource as unknown[])).toHaveLength(2);
    const list = statements.find((s) => asArray(s.Action as string[]).includes('s3:ListBucket'))!;
    expect(list.Condition).toEqual({ StringLike: { 's3:prefix': ['events/*', 'recordings/*'] } });

    const put = statements.find((s) => asArray(s.Action as string[]).includes('events:PutEvents'))!;
    expect(JSON.stringify(put.Resource)).toContain(':event-bus/default');

    const { queueId, dlqId } = queues(template);
    const sqs = statements.filter((s) => actionsOf([s]).some((a) => a.startsWith('sqs:')));
    for (const statement of sqs) expect(statement.Resource).toEqual({ 'Fn::GetAtt': [queueId, 'Arn'] });
    expect(actionsOf(sqs)).toEqual(
      expect.arrayContaining(['sqs:ReceiveMessage', 'sqs:DeleteMessage', 'sqs:SendMessage']),
    );
    expect(JSON.stringify(statements)).not.toContain(dlqId);
  });

  it('lets the webhooks only send to the queue, and tells them its URL', () => {
    const [, fn] = webhooksFunction(template);
    const { queueId } = queues(template);
    expect((fn.Environment as { Variables: Props }).Variables.RECONCILE_QUEUE_URL).toEqual({ Ref: queueId });
    const sqs = roleStatements(template, fn).filter((s) => actionsOf([s]).some((a) => a.startsWith('sqs:')));
    expect(sqs).toHaveLength(1);
    expect(sqs[0]!.Resource).toEqual({ 'Fn::GetAtt': [queueId, 'Arn'] });
    expect(actionsOf(sqs).sort()).toEqual(['sqs:GetQueueAttributes', 'sqs:GetQueueUrl', 'sqs:SendMessage']);
  });
});
