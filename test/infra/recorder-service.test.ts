import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { FileSystem, IgnoreMode } from 'aws-cdk-lib';
import { Annotations, Match, type Template } from 'aws-cdk-lib/assertions';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RECORDER_IMAGE_EXCLUDES } from '../../lib/constructs/recorder-service.js';
import {
  asArray,
  CERTIFICATE_ARN,
  checkpointBucketId,
  policyStatements,
  resourcesOf,
  SIGNATURE_SECRET_ARN,
  synthRecorderStack,
} from '../../test-support/stack-synth.js';

function only(template: Template, type: string): [string, Record<string, unknown>] {
  const found = resourcesOf(template, type);
  expect(found, type).toHaveLength(1);
  return found[0]!;
}

function container(template: Template): Record<string, unknown> {
  const [, taskDef] = only(template, 'AWS::ECS::TaskDefinition');
  const containers = taskDef.ContainerDefinitions as Record<string, unknown>[];
  expect(containers).toHaveLength(1);
  return containers[0]!;
}

function listFiles(dir: string): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => relative(dir, join(e.parentPath, e.name)))
    .sort();
}

function logicalIdOf(ref: unknown): string {
  const r = ref as { Ref?: string; 'Fn::GetAtt'?: [string, string] };
  return r.Ref ?? r['Fn::GetAtt']![0];
}

describe('RecorderService in the default stack', () => {
  const outdir = mkdtempSync(join(tmpdir(), 'recorder-assembly-'));
  let template: Template;
  beforeAll(() => {
    template = synthRecorderStack({ outdir }).template;
  });
  afterAll(() => rmSync(outdir, { recursive: true, force: true }));

  describe('network', () => {
    it('spans two AZs with public subnets for the tasks, isolated ones for the load balancer, no NAT gateway, and an S3 gateway endpoint', () => {
      const subnets = resourcesOf(template, 'AWS::EC2::Subnet');
      expect(subnets).toHaveLength(4);
      const publicSubnets = subnets.filter(([, s]) => s.MapPublicIpOnLaunch === true);
      const isolated = subnets.filter(([, s]) => s.MapPublicIpOnLaunch === false);
      expect(publicSubnets).toHaveLength(2);
      expect(isolated).toHaveLength(2);
      for (const group of [publicSubnets, isolated]) {
        expect(new Set(group.map(([, s]) => JSON.stringify(s.AvailabilityZone))).size).toBe(2);
      }
      // The load balancer sits in the isolated subnets, which have no route to the internet gateway.
      const [, alb] = only(template, 'AWS::ElasticLoadBalancingV2::LoadBalancer');
      expect((alb.Subnets as unknown[]).map(logicalIdOf).sort()).toEqual(isolated.map(([id]) => id).sort());
      const gatewayRoutes = resourcesOf(template, 'AWS::EC2::Route').filter(([, r]) => r.GatewayId);
      const associations = resourcesOf(template, 'AWS::EC2::SubnetRouteTableAssociation');
      const tablesOf = (ids: string[]) =>
        associations
          .filter(([, a]) => ids.includes(logicalIdOf(a.SubnetId)))
          .map(([, a]) => logicalIdOf(a.RouteTableId));
      expect(gatewayRoutes.map(([, r]) => logicalIdOf(r.RouteTableId)).sort()).toEqual(
        tablesOf(publicSubnets.map(([id]) => id)).sort(),
      );
      template.resourceCountIs('AWS::EC2::NatGateway', 0);
      template.resourceCountIs('AWS::EC2::EIP', 0);
      template.hasResourceProperties('AWS::EC2::VPCEndpoint', {
        VpcEndpointType: 'Gateway',
        ServiceName: { 'Fn::Join': ['', ['com.amazonaws.', { Ref: 'AWS::Region' }, '.s3']] },
      });
      // Interface endpoints cost money per AZ-hour; the design has none.
      template.resourceCountIs('AWS::EC2::VPCEndpoint', 1);
    });

    it('logs all VPC traffic to a log group with retention', () => {
      const [, flowLog] = only(template, 'AWS::EC2::FlowLog');
      expect(flowLog).toMatchObject({
        ResourceType: 'VPC',
        TrafficType: 'ALL',
        LogDestinationType: 'cloud-watch-logs',
      });
      const logGroup = template.toJSON().Resources[logicalIdOf(flowLog.LogGroupName)];
      expect(logGroup.Properties.RetentionInDays).toBe(30);
    });

    it('lets only the ALB reach the tasks, only on the container port; only the CloudFront VPC origin reaches the ALB', () => {
      const [, service] = only(template, 'AWS::ECS::Service');
      const taskSg = logicalIdOf(
        (service.NetworkConfiguration as { AwsvpcConfiguration: { SecurityGroups: unknown[] } })
          .AwsvpcConfiguration.SecurityGroups[0],
      );
      const [, alb] = only(template, 'AWS::ElasticLoadBalancingV2::LoadBalancer');
      const albSg = logicalIdOf((alb.SecurityGroups as unknown[])[0]);
      const resources = template.toJSON().Resources;

      // No inline ingress on the task group; exactly one ingress rule, from the ALB's group.
      expect(resources[taskSg].Properties.SecurityGroupIngress).toBeUndefined();
      const ingress = resourcesOf(template, 'AWS::EC2::SecurityGroupIngress').filter(
        ([, p]) => logicalIdOf(p.GroupId) === taskSg,
      );
      expect(ingress).toHaveLength(1);
      expect(ingress[0]![1]).toMatchObject({ IpProtocol: 'tcp', FromPort: 8080, ToPort: 8080 });
      expect(logicalIdOf(ingress[0]![1].SourceSecurityGroupId)).toBe(albSg);
      // Tasks reach AWS APIs over HTTPS only.
      expect(resources[taskSg].Properties.SecurityGroupEgress).toEqual([
        expect.objectContaining({ CidrIp: '0.0.0.0/0', IpProtocol: 'tcp', FromPort: 443, ToPort: 443 }),
      ]);

      // Nothing from an address range: one rule, port 80, from the group CloudFront made for its VPC
      // origins, which a deploy-time lookup finds by name in this VPC once the distribution exists.
      expect(resources[albSg].Properties.SecurityGroupIngress).toBeUndefined();
      const albIngress = resourcesOf(template, 'AWS::EC2::SecurityGroupIngress').filter(
        ([, p]) => logicalIdOf(p.GroupId) === albSg,
      );
      expect(albIngress).toHaveLength(1);
      const [, rule] = albIngress[0]!;
      expect(rule).toMatchObject({ IpProtocol: 'tcp', FromPort: 80, ToPort: 80 });
      expect(rule.CidrIp).toBeUndefined();
      expect(rule.SourcePrefixListId).toBeUndefined();
      const lookupId = logicalIdOf(rule.SourceSecurityGroupId);
      expect(rule.SourceSecurityGroupId).toEqual({ 'Fn::GetAtt': [lookupId, 'SecurityGroups.0.GroupId'] });
      const lookup = resources[lookupId];
      expect(lookup.Type).toBe('Custom::AWS');
      const [vpcId] = only(template, 'AWS::EC2::VPC');
      // The SDK call as the custom resource's Lambda receives it, with the VPC's Ref written as its id.
      const parts = (lookup.Properties.Create as { 'Fn::Join': [string, (string | { Ref: string })[]] })[
        'Fn::Join'
      ][1];
      const call = JSON.parse(parts.map((p) => (typeof p === 'string' ? p : p.Ref)).join(''));
      expect(call).toMatchObject({
        service: 'EC2',
        action: 'DescribeSecurityGroups',
        parameters: {
          Filters: [
            { Name: 'vpc-id', Values: [vpcId] },
            { Name: 'group-name', Values: ['CloudFront-VPCOrigins-Service-SG*'] },
          ],
        },
      });
      const [distributionId] = only(template, 'AWS::CloudFront::Distribution');
      expect(lookup.DependsOn).toContain(distributionId);
      // The ALB may send only to the tasks' port.
      const albEgress = resourcesOf(template, 'AWS::EC2::SecurityGroupEgress').filter(
        ([, p]) => logicalIdOf(p.GroupId) === albSg,
      );
      expect(albEgress).toHaveLength(1);
      expect(albEgress[0]![1]).toMatchObject({ FromPort: 8080, ToPort: 8080 });
      expect(logicalIdOf(albEgress[0]![1].DestinationSecurityGroupId)).toBe(taskSg);
    });
  });

  describe('cluster, task and service', () => {
    it('turns on Container Insights', () => {
      template.hasResourceProperties('AWS::ECS::Cluster', {
        ClusterSettings: [{ Name: 'containerInsights', Value: 'enabled' }],
      });
    });

    it('defines an ARM64 Fargate task with a scratch volume', () => {
      const [, taskDef] = only(template, 'AWS::ECS::TaskDefinition');
      expect(taskDef).toMatchObject({
        Cpu: '512',
        Memory: '1024',
        NetworkMode: 'awsvpc',
        RequiresCompatibilities: ['FARGATE'],
        RuntimePlatform: { CpuArchitecture: 'ARM64', OperatingSystemFamily: 'LINUX' },
        Volumes: [{ Name: 'scratch' }],
      });
    });

    it('runs the container as a non-root user, read-only, with an init process and the scratch volume writable', () => {
      expect(container(template)).toMatchObject({
        Name: 'recorder',
        Essential: true,
        User: 'node',
        ReadonlyRootFilesystem: true,
        LinuxParameters: { InitProcessEnabled: true },
        PortMappings: [{ ContainerPort: 8080, Protocol: 'tcp' }],
        MountPoints: [{ SourceVolume: 'scratch', ContainerPath: '/scratch', ReadOnly: false }],
        StopTimeout: 120,
        LogConfiguration: { LogDriver: 'awslogs', Options: { 'awslogs-stream-prefix': 'recorder' } },
      });
    });

    it('checks /healthz from inside the container', () => {
      const check = container(template).HealthCheck as { Command: string[]; Retries: number };
      expect(check.Command.slice(0, 3)).toEqual(['CMD', 'node', '-e']);
      expect(check.Command[3]).toContain('http://127.0.0.1:8080/healthz');
      expect(check.Retries).toBeGreaterThan(0);
    });

    it('names its secrets by ARN (read at run time, for rotation) and puts only non-secret settings in the environment', () => {
      const secretId = Object.keys(template.findResources('AWS::SecretsManager::Secret'))[0]!;
      const c = container(template);
      expect(c.Secrets).toBeUndefined();
      const environment = Object.fromEntries(
        (c.Environment as { Name: string; Value: unknown }[]).map((e) => [e.Name, e.Value]),
      );
      const bucketId = Object.keys(
        template.findResources('AWS::S3::Bucket', { Properties: { VersioningConfiguration: {} } }),
      )[0]!;
      expect(environment).toEqual({
        PORT: '8080',
        RECORDINGS_BUCKET: { Ref: bucketId },
        CHECKPOINT_BUCKET: { Ref: checkpointBucketId(template) },
        SCRATCH_DIR: '/scratch',
        DRAIN_TIMEOUT_SECONDS: '100',
        STOP_TIMEOUT_SECONDS: '120',
        MAX_CALL_SECONDS: '7200',
        // 0.5 vCPU × 250 calls per vCPU (lib/capacity.ts).
        MAX_CALLS: '125',
        CHECKPOINT_SECONDS: '10',
        LOG_LEVEL: 'INFO',
        POWERTOOLS_SERVICE_NAME: 'recorder',
        POWERTOOLS_METRICS_NAMESPACE: 'CallRecorder',
        CALL_TOKEN_SECRET_ARN: { Ref: secretId },
        VONAGE_SIGNATURE_SECRET_ARN: SIGNATURE_SECRET_ARN,
        SIGNATURE_MAX_AGE_SECONDS: '300',
        // Recording events go to the account's default bus.
        EVENT_BUS_NAME: 'default',
      });
      // The execution role pulls the image and writes logs: it reads no secret.
      const [, taskDef] = only(template, 'AWS::ECS::TaskDefinition');
      const execRole = logicalIdOf(taskDef.ExecutionRoleArn);
      const execPolicies = resourcesOf(template, 'AWS::IAM::Policy')
        .filter(([, p]) => asArray(p.Roles as unknown[]).some((r) => logicalIdOf(r) === execRole))
        .map(([id]) => id);
      expect(
        policyStatements(template)
          .filter((s) => execPolicies.includes(s.policy))
          .flatMap((s) => asArray(s.statement.Action as string | string[])),
      ).not.toContain('secretsmanager:GetSecretValue');
    });

    it('without a signature secret (allowUnsignedWebhooks), asks handshakes for the call token only', () => {
      const unsigned = synthRecorderStack({
        context: { signatureSecretArn: undefined, allowUnsignedWebhooks: true },
      }).template;
      const environment = (container(unsigned).Environment as { Name: string }[]).map((e) => e.Name);
      expect(environment).toContain('CALL_TOKEN_SECRET_ARN');
      expect(environment).not.toContain('VONAGE_SIGNATURE_SECRET_ARN');
    });

    it('runs on Fargate in public subnets with public IPs, rolling back failed deployments', () => {
      const [, service] = only(template, 'AWS::ECS::Service');
      expect(service).toMatchObject({
        LaunchType: 'FARGATE',
        NetworkConfiguration: { AwsvpcConfiguration: { AssignPublicIp: 'ENABLED' } },
        DeploymentConfiguration: {
          MinimumHealthyPercent: 100,
          MaximumPercent: 200,
          DeploymentCircuitBreaker: { Enable: true, Rollback: true },
        },
        LoadBalancers: [{ ContainerName: 'recorder', ContainerPort: 8080 }],
      });
      // Auto scaling owns the task count; a fixed DesiredCount would reset it on every deploy.
      expect(service.DesiredCount).toBeUndefined();
    });

    it('deploys blue/green: new tasks in the idle target group, then the calls rule moved to it by ECS', () => {
      const [, service] = only(template, 'AWS::ECS::Service');
      const [ruleId] = only(template, 'AWS::ElasticLoadBalancingV2::ListenerRule');
      const [blueId, greenId] = resourcesOf(template, 'AWS::ElasticLoadBalancingV2::TargetGroup').map(
        ([id]) => id,
      );
      // ECS's own controller (the default when absent), not CodeDeploy.
      expect([undefined, { Type: 'ECS' }]).toContainEqual(service.DeploymentController);
      expect(service.DeploymentConfiguration).toMatchObject({ Strategy: 'BLUE_GREEN', BakeTimeInMinutes: 5 });
      const [lb] = service.LoadBalancers as Record<string, unknown>[];
      expect(lb).toMatchObject({
        TargetGroupArn: { Ref: blueId },
        AdvancedConfiguration: {
          AlternateTargetGroupArn: { Ref: greenId },
          ProductionListenerRule: { Ref: ruleId },
        },
      });
      // ECS moves the rule with a role that carries AWS's managed policy for exactly that.
      const roleId = logicalIdOf((lb!.AdvancedConfiguration as { RoleArn: unknown }).RoleArn);
      const role = template.toJSON().Resources[roleId].Properties;
      expect(JSON.stringify(role.AssumeRolePolicyDocument)).toContain('ecs.amazonaws.com');
      expect(JSON.stringify(role.ManagedPolicyArns)).toContain(
        'AmazonECSInfrastructureRolePolicyForLoadBalancers',
      );
      expect(service.DesiredCount).toBeUndefined();
    });
  });

  describe('load balancer', () => {
    it('is internal (no public address) with a websocket-friendly idle timeout, short-lived access logs and strict header parsing', () => {
      const [, alb] = only(template, 'AWS::ElasticLoadBalancingV2::LoadBalancer');
      expect(alb.Scheme).toBe('internal');
      const attributes = Object.fromEntries(
        (alb.LoadBalancerAttributes as { Key: string; Value: unknown }[]).map((a) => [a.Key, a.Value]),
      );
      expect(attributes).toMatchObject({
        'idle_timeout.timeout_seconds': '300',
        'routing.http.drop_invalid_header_fields.enabled': 'true',
        'access_logs.s3.enabled': 'true',
        'access_logs.s3.prefix': 'alb',
      });
      const logBucket = logicalIdOf(attributes['access_logs.s3.bucket']);
      const logBucketProps = template.toJSON().Resources[logBucket].Properties;
      expect(logBucketProps.VersioningConfiguration).toBeUndefined();
      // Its logs record every URL with its call token: the log bucket drops them after two weeks.
      expect(logBucketProps.LifecycleConfiguration.Rules).toContainEqual(
        expect.objectContaining({ Prefix: `${attributes['access_logs.s3.prefix']}/`, ExpirationInDays: 14 }),
      );
    });

    it('listens for plain HTTP on port 80 only (from the VPC origin) and forwards only /calls/* to the recorder', () => {
      const [listenerId, listener] = only(template, 'AWS::ElasticLoadBalancingV2::Listener');
      const [blueId, greenId] = resourcesOf(template, 'AWS::ElasticLoadBalancingV2::TargetGroup').map(
        ([id]) => id,
      );
      expect(listener).toMatchObject({
        Port: 80,
        Protocol: 'HTTP',
        DefaultActions: [{ Type: 'fixed-response', FixedResponseConfig: { StatusCode: '404' } }],
      });
      expect(listener.Certificates).toBeUndefined();
      const [, rule] = only(template, 'AWS::ElasticLoadBalancingV2::ListenerRule');
      expect(rule).toEqual({
        ListenerArn: { Ref: listenerId },
        Priority: 10,
        Conditions: [{ Field: 'path-pattern', PathPatternConfig: { Values: ['/calls/*'] } }],
        // Both target groups, the idle one at weight 0: ECS moves the weights during a deployment.
        Actions: [
          {
            Type: 'forward',
            ForwardConfig: {
              TargetGroups: [
                { TargetGroupArn: { Ref: blueId }, Weight: 1 },
                { TargetGroupArn: { Ref: greenId }, Weight: 0 },
              ],
            },
          },
        ],
      });
      // The service is created only once the target group is attached (else ECS rejects it).
      const [serviceId] = only(template, 'AWS::ECS::Service');
      const [ruleId] = only(template, 'AWS::ElasticLoadBalancingV2::ListenerRule');
      expect(template.toJSON().Resources[serviceId].DependsOn).toContain(ruleId);
    });

    it('health-checks /healthz and drains targets for as long as the recorder drains, in both target groups', () => {
      const groups = resourcesOf(template, 'AWS::ElasticLoadBalancingV2::TargetGroup');
      expect(groups).toHaveLength(2);
      expect(groups[0]![1]).toEqual(groups[1]![1]);
      const [, tg] = groups[0]!;
      expect(tg).toMatchObject({
        Port: 8080,
        Protocol: 'HTTP',
        TargetType: 'ip',
        HealthCheckPath: '/healthz',
        Matcher: { HttpCode: '200' },
      });
      const attributes = Object.fromEntries(
        (tg.TargetGroupAttributes as { Key: string; Value: unknown }[]).map((a) => [a.Key, a.Value]),
      );
      expect(attributes['deregistration_delay.timeout_seconds']).toBe('100');
      // The drain must finish before Fargate's SIGKILL.
      expect(Number(attributes['deregistration_delay.timeout_seconds'])).toBeLessThan(
        container(template).StopTimeout as number,
      );
    });
  });

  describe('auto scaling', () => {
    it('keeps 1 to 4 tasks, tracking 75 active calls per task (60% of the default task’s cap of 125) from the recorder’s EMF metric', () => {
      template.hasResourceProperties('AWS::ApplicationAutoScaling::ScalableTarget', {
        MinCapacity: 1,
        MaxCapacity: 4,
        ScalableDimension: 'ecs:service:DesiredCount',
      });
      const [, policy] = only(template, 'AWS::ApplicationAutoScaling::ScalingPolicy');
      expect(policy).toMatchObject({
        PolicyType: 'TargetTrackingScaling',
        TargetTrackingScalingPolicyConfiguration: {
          TargetValue: 75,
          CustomizedMetricSpecification: {
            Namespace: 'CallRecorder',
            MetricName: 'ActiveCalls',
            Dimensions: [{ Name: 'service', Value: 'recorder' }],
            Statistic: 'Average',
          },
        },
      });
      template.resourcePropertiesCountIs(
        'AWS::ApplicationAutoScaling::ScalingPolicy',
        { TargetTrackingScalingPolicyConfiguration: { PredefinedMetricSpecification: Match.anyValue() } },
        0,
      );
    });
  });

  describe('IAM', () => {
    it('lets the recorder put and abort uploads under recordings/, keep checkpoints under inflight/, list only those prefixes, protect its own tasks and put events on the default bus, nothing more', () => {
      const [, taskDef] = only(template, 'AWS::ECS::TaskDefinition');
      const taskRole = logicalIdOf(taskDef.TaskRoleArn);
      const policies = resourcesOf(template, 'AWS::IAM::Policy')
        .filter(([, p]) => asArray(p.Roles as unknown[]).some((r) => logicalIdOf(r) === taskRole))
        .map(([id]) => id);
      const statements = policyStatements(template)
        .filter((s) => policies.includes(s.policy))
        .map((s) => s.statement);
      const bucketId = Object.keys(
        template.findResources('AWS::S3::Bucket', { Properties: { VersioningConfiguration: {} } }),
      )[0]!;
      const checkpointsId = checkpointBucketId(template);
      const [clusterId] = only(template, 'AWS::ECS::Cluster');
      const secretId = Object.keys(template.findResources('AWS::SecretsManager::Secret'))[0]!;
      expect(statements).toEqual([
        {
          // Both secrets, read with their previous versions so a rotation refuses no call.
          Effect: 'Allow',
          Action: ['secretsmanager:DescribeSecret', 'secretsmanager:GetSecretValue'],
          Resource: [SIGNATURE_SECRET_ARN, { Ref: secretId }],
        },
        {
          Effect: 'Allow',
          Action: ['s3:AbortMultipartUpload', 's3:PutObject'],
          Resource: { 'Fn::Join': ['', [{ 'Fn::GetAtt': [bucketId, 'Arn'] }, '/recordings/*']] },
        },
        {
          // Checkpoints live in their own bucket, never in the recordings bucket.
          Effect: 'Allow',
          Action: ['s3:DeleteObject', 's3:GetObject', 's3:PutObject'],
          Resource: { 'Fn::Join': ['', [{ 'Fn::GetAtt': [checkpointsId, 'Arn'] }, '/inflight/*']] },
        },
        {
          // Key names only, and only under the prefix the sweeper looks at in each bucket.
          Effect: 'Allow',
          Action: 's3:ListBucket',
          Resource: { 'Fn::GetAtt': [bucketId, 'Arn'] },
          Condition: { StringLike: { 's3:prefix': ['recordings/*'] } },
        },
        {
          Effect: 'Allow',
          Action: 's3:ListBucket',
          Resource: { 'Fn::GetAtt': [checkpointsId, 'Arn'] },
          Condition: { StringLike: { 's3:prefix': ['inflight/*'] } },
        },
        {
          Effect: 'Allow',
          Action: ['ecs:GetTaskProtection', 'ecs:UpdateTaskProtection'],
          Resource: {
            'Fn::Join': [
              '',
              [
                'arn:',
                { Ref: 'AWS::Partition' },
                ':ecs:',
                { Ref: 'AWS::Region' },
                ':',
                { Ref: 'AWS::AccountId' },
                ':task/',
                { Ref: clusterId },
                '/*',
              ],
            ],
          },
        },
        {
          // Recording events: PutEvents on the one bus the recorder is given, no other.
          Effect: 'Allow',
          Action: 'events:PutEvents',
          // The test stack's account and region (test-support/stack-synth.ts).
          Resource: 'arn:aws:events:eu-west-1:123456789012:event-bus/default',
        },
      ]);
    });

    it('grants no wildcard action and no resource "*" anywhere, except ECR login and the security-group lookup, which have no resource scope', () => {
      for (const { policy, statement } of policyStatements(template)) {
        if (statement.Effect !== 'Allow') continue;
        for (const action of asArray(statement.Action as string | string[])) {
          expect(action, policy).not.toMatch(/^\*$|:\*$/);
        }
        if (asArray(statement.Resource).includes('*')) {
          // Neither call has resource-level permissions.
          expect(['ecr:GetAuthorizationToken', 'ec2:DescribeSecurityGroups'], policy).toContain(
            statement.Action,
          );
        }
      }
      // Inline policies on roles (CDK's own custom resources) are held to the same bar.
      for (const [id, role] of resourcesOf(template, 'AWS::IAM::Role')) {
        for (const inline of asArray(
          role.Policies as { PolicyDocument: { Statement: Record<string, unknown>[] } }[],
        )) {
          for (const st of inline.PolicyDocument.Statement) {
            expect(
              asArray(st.Action as string[]).some((a) => a === '*' || a.endsWith(':*')),
              id,
            ).toBe(false);
          }
        }
      }
    });
  });

  it('outputs a wss:// recorder URL on the CloudFront distribution, the bucket name and the answer method', () => {
    const [distributionId] = only(template, 'AWS::CloudFront::Distribution');
    template.hasOutput('RecorderUrl', {
      Value: { 'Fn::Join': ['', ['wss://', { 'Fn::GetAtt': [distributionId, 'DomainName'] }]] },
    });
    const bucketId = Object.keys(
      template.findResources('AWS::S3::Bucket', { Properties: { VersioningConfiguration: {} } }),
    )[0]!;
    template.hasOutput('RecordingsBucketName', { Value: { Ref: bucketId } });
    // Signed answers are POSTed (configure-vonage reads this), so payload_hash covers the uuid.
    template.hasOutput('AnswerMethod', { Value: 'POST' });
    expect(Object.keys(template.toJSON().Outputs).sort()).toEqual(
      [
        'AnswerMethod',
        'AnswerUrl',
        'EventUrl',
        'RecorderUrl',
        'RecordingsBucketName',
        'AlarmTopicArn',
        'DashboardName',
      ].sort(),
    );
  });

  describe('CloudFront in front of the load balancer', () => {
    /** CloudFront's managed policies, by the ids AWS publishes for them. */
    const CACHING_DISABLED = '4135ea2d-6df8-44a3-9df3-4b5a84be39ad';
    const ALL_VIEWER = '216adef6-5c7f-47e4-b989-5492eafa07d3';

    it('reaches the internal load balancer through a VPC origin, over HTTP on port 80', () => {
      const [albId] = only(template, 'AWS::ElasticLoadBalancingV2::LoadBalancer');
      const [vpcOriginId, vpcOrigin] = only(template, 'AWS::CloudFront::VpcOrigin');
      expect(vpcOrigin.VpcOriginEndpointConfig).toMatchObject({
        Arn: { Ref: albId },
        HTTPPort: 80,
        OriginProtocolPolicy: 'http-only',
      });
      const [, distribution] = only(template, 'AWS::CloudFront::Distribution');
      const config = distribution.DistributionConfig as Record<string, unknown>;
      expect(config.Origins).toEqual([
        {
          Id: expect.any(String),
          DomainName: { 'Fn::GetAtt': [albId, 'DNSName'] },
          VpcOriginConfig: { VpcOriginId: { 'Fn::GetAtt': [vpcOriginId, 'Id'] } },
        },
      ]);
    });

    it('takes wss:// only, caches nothing and forwards every header and the query string a handshake needs', () => {
      const [, distribution] = only(template, 'AWS::CloudFront::Distribution');
      const config = distribution.DistributionConfig as Record<string, unknown>;
      expect(config).toMatchObject({
        Enabled: true,
        // WebSockets go over HTTP/1.1 only.
        HttpVersion: 'http1.1',
        DefaultCacheBehavior: {
          ViewerProtocolPolicy: 'https-only',
          AllowedMethods: ['GET', 'HEAD'],
          CachePolicyId: CACHING_DISABLED,
          // Upgrade, Sec-WebSocket-Key/-Version, Authorization (Vonage's JWT) and ?token=.
          OriginRequestPolicyId: ALL_VIEWER,
          Compress: false,
        },
      });
      expect(config.CacheBehaviors).toBeUndefined();
      // No domain of the user's: CloudFront's own *.cloudfront.net name and certificate.
      expect(config.Aliases).toBeUndefined();
      expect(config.ViewerCertificate).toBeUndefined();
      // Custom policies could not forward Authorization; the managed ones are referenced, not copied.
      template.resourceCountIs('AWS::CloudFront::CachePolicy', 0);
      template.resourceCountIs('AWS::CloudFront::OriginRequestPolicy', 0);
    });
  });

  it('builds the image for ARM64 from a context holding only common/ and fargate/ sources and the root manifest and lockfile', () => {
    const manifest = JSON.parse(readFileSync(join(outdir, 'CallRecorder.assets.json'), 'utf8')) as {
      dockerImages: Record<string, { source: { directory: string; dockerFile: string; platform?: string } }>;
    };
    const images = Object.values(manifest.dockerImages);
    expect(images).toHaveLength(1);
    const { source } = images[0]!;
    expect(source.dockerFile).toBe('fargate/Dockerfile');
    expect(source.platform).toBe('linux/arm64');
    const files = listFiles(join(outdir, source.directory));
    expect(files).toContain('fargate/Dockerfile');
    expect(files).toContain('fargate/package.json');
    expect(files).toContain('common/call-token.ts');
    // The context's own .dockerignore goes with it (cdk stages it), so a docker build applies it too;
    // the root manifest and lockfile are what the image installs the recorder's dependencies from.
    expect(files.filter((f) => !f.startsWith('common/') && !f.startsWith('fargate/'))).toEqual([
      '.dockerignore',
      'package-lock.json',
      'package.json',
    ]);
    expect(files.filter((f) => /^fargate\/(node_modules|test|dist)\//.test(f))).toEqual([]);
  });
});

describe('recorder image context filter', () => {
  const root = mkdtempSync(join(tmpdir(), 'image-context-'));
  const copy = mkdtempSync(join(tmpdir(), 'image-context-copy-'));
  afterAll(() => {
    rmSync(root, { recursive: true, force: true });
    rmSync(copy, { recursive: true, force: true });
  });

  it('keeps common/, fargate/ sources and the root manifest and lockfile, and drops everything else, however the repository grows', () => {
    const tree = [
      'common/call-token.ts',
      'common/nested/deep.ts',
      'fargate/Dockerfile',
      'fargate/package.json',
      'fargate/src/main.ts',
      'fargate/node_modules/ws/index.js',
      'fargate/test/server.test.ts',
      'fargate/dist/main.mjs',
      'node_modules/aws-cdk-lib/index.js',
      'lambdas/webhooks/handler.ts',
      'lib/recorder-stack.ts',
      'cdk.out/manifest.json',
      '.git/HEAD',
      '.local/recordings/x.wav',
      'README.md',
      'package.json',
      'package-lock.json',
    ];
    for (const file of tree) {
      mkdirSync(dirname(join(root, file)), { recursive: true });
      writeFileSync(join(root, file), file);
    }
    FileSystem.copyDirectory(root, copy, { exclude: RECORDER_IMAGE_EXCLUDES, ignoreMode: IgnoreMode.DOCKER });
    expect(listFiles(copy)).toEqual(
      [
        'common/call-token.ts',
        'common/nested/deep.ts',
        'fargate/Dockerfile',
        'fargate/package.json',
        'fargate/src/main.ts',
        'package-lock.json',
        'package.json',
      ].sort(),
    );
  });
});

describe('RecorderService with allowPlaintextAudio (trials)', () => {
  let template: Template;
  let warnings: string[];
  beforeAll(() => {
    const { stack, template: t } = synthRecorderStack({ context: { allowPlaintextAudio: 'true' } });
    template = t;
    warnings = Annotations.fromStack(stack)
      .findWarning('*', Match.anyValue())
      .map((w) => String(w.entry.data));
  });

  it('serves plain ws:// on port 80 at an internet-facing load balancer in the public subnets, with no CloudFront', () => {
    const [albId, alb] = only(template, 'AWS::ElasticLoadBalancingV2::LoadBalancer');
    expect(alb.Scheme).toBe('internet-facing');
    const publicSubnets = resourcesOf(template, 'AWS::EC2::Subnet');
    expect(publicSubnets.every(([, s]) => s.MapPublicIpOnLaunch === true)).toBe(true);
    expect((alb.Subnets as unknown[]).map(logicalIdOf).sort()).toEqual(
      publicSubnets.map(([id]) => id).sort(),
    );
    const albSg = logicalIdOf((alb.SecurityGroups as unknown[])[0]);
    expect(template.toJSON().Resources[albSg].Properties.SecurityGroupIngress).toEqual([
      expect.objectContaining({ CidrIp: '0.0.0.0/0', IpProtocol: 'tcp', FromPort: 80, ToPort: 80 }),
    ]);
    template.hasResourceProperties('AWS::ElasticLoadBalancingV2::Listener', { Port: 80, Protocol: 'HTTP' });
    template.resourceCountIs('AWS::CloudFront::Distribution', 0);
    template.resourceCountIs('AWS::CloudFront::VpcOrigin', 0);
    template.resourceCountIs('Custom::AWS', 0);
    template.hasOutput('RecorderUrl', {
      Value: { 'Fn::Join': ['', ['ws://', { 'Fn::GetAtt': [albId, 'DNSName'] }]] },
    });
  });

  it('warns at synth that call audio is unencrypted', () => {
    expect(warnings.some((w) => w.includes('allowPlaintextAudio=true') && w.includes('unencrypted'))).toBe(
      true,
    );
  });
});

describe('RecorderService with TLS, DNS and custom capacity', () => {
  let template: Template;
  beforeAll(() => {
    template = synthRecorderStack({
      context: {
        certificateArn: CERTIFICATE_ARN,
        domainName: 'rec.example.com',
        hostedZoneId: 'Z0123456789ABCDEFGHIJ',
        hostedZoneName: 'example.com',
        minTasks: '2',
        maxTasks: '10',
        callsPerTask: '50',
        taskCpu: '1024',
        taskMemoryMiB: '2048',
        drainSeconds: '60',
      },
    }).template;
  });

  it('serves wss on 443 with the certificate and a TLS 1.2+ policy, and nothing on 80', () => {
    const [listenerId, listener] = only(template, 'AWS::ElasticLoadBalancingV2::Listener');
    template.hasResourceProperties('AWS::ElasticLoadBalancingV2::ListenerRule', {
      ListenerArn: { Ref: listenerId },
      Conditions: [{ Field: 'path-pattern', PathPatternConfig: { Values: ['/calls/*'] } }],
    });
    expect(listener).toMatchObject({
      Port: 443,
      Protocol: 'HTTPS',
      Certificates: [{ CertificateArn: CERTIFICATE_ARN }],
      SslPolicy: expect.stringMatching(/TLS13|TLS-1-2/),
    });
    const [, alb] = only(template, 'AWS::ElasticLoadBalancingV2::LoadBalancer');
    const albSg = logicalIdOf((alb.SecurityGroups as unknown[])[0]);
    expect(template.toJSON().Resources[albSg].Properties.SecurityGroupIngress).toEqual([
      expect.objectContaining({ CidrIp: '0.0.0.0/0', FromPort: 443, ToPort: 443 }),
    ]);
  });

  it('points the domain at the load balancer and outputs a wss:// recorder URL', () => {
    template.hasResourceProperties('AWS::Route53::RecordSet', {
      Name: 'rec.example.com.',
      Type: 'A',
      HostedZoneId: 'Z0123456789ABCDEFGHIJ',
      AliasTarget: Match.objectLike({ DNSName: Match.anyValue() }),
    });
    template.hasOutput('RecorderUrl', { Value: 'wss://rec.example.com' });
    // The user's own name and certificate sit on an internet-facing load balancer; no CloudFront.
    template.resourceCountIs('AWS::CloudFront::Distribution', 0);
    template.hasResourceProperties('AWS::ElasticLoadBalancingV2::LoadBalancer', {
      Scheme: 'internet-facing',
    });
    const [, fn] = resourcesOf(template, 'AWS::Lambda::Function').find(
      ([, p]) => p.Description === 'Vonage answer and event webhooks',
    )!;
    expect((fn.Environment as { Variables: Record<string, unknown> }).Variables.RECORDER_URL).toBe(
      'wss://rec.example.com',
    );
  });

  it('applies capacity, task size and drain time from config', () => {
    template.hasResourceProperties('AWS::ApplicationAutoScaling::ScalableTarget', {
      MinCapacity: 2,
      MaxCapacity: 10,
    });
    template.hasResourceProperties('AWS::ApplicationAutoScaling::ScalingPolicy', {
      TargetTrackingScalingPolicyConfiguration: Match.objectLike({ TargetValue: 50 }),
    });
    // 1 vCPU takes 250 calls; 250 two-hour 16 kHz calls need 59 GiB of audio (+10%, +2 GiB).
    template.hasResourceProperties('AWS::ECS::TaskDefinition', {
      Cpu: '1024',
      Memory: '2048',
      EphemeralStorage: { SizeInGiB: 62 },
    });
    expect(
      (container(template).Environment as { Name: string; Value: unknown }[]).find(
        (e) => e.Name === 'MAX_CALLS',
      )?.Value,
    ).toBe('250');
    template.hasResourceProperties('AWS::ElasticLoadBalancingV2::TargetGroup', {
      TargetGroupAttributes: Match.arrayWith([{ Key: 'deregistration_delay.timeout_seconds', Value: '60' }]),
    });
    expect(
      (container(template).Environment as { Name: string; Value: unknown }[]).find(
        (e) => e.Name === 'DRAIN_TIMEOUT_SECONDS',
      )?.Value,
    ).toBe('60');
  });
});
