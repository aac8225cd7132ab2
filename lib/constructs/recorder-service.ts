import { fileURLToPath } from 'node:url';
import { Aws, Duration, IgnoreMode, RemovalPolicy, Stack, Validations } from 'aws-cdk-lib';
import { Certificate } from 'aws-cdk-lib/aws-certificatemanager';
import {
  AllowedMethods,
  CachePolicy,
  Distribution,
  HttpVersion,
  OriginProtocolPolicy,
  OriginRequestPolicy,
  ViewerProtocolPolicy,
} from 'aws-cdk-lib/aws-cloudfront';
import { VpcOrigin } from 'aws-cdk-lib/aws-cloudfront-origins';
import { Metric } from 'aws-cdk-lib/aws-cloudwatch';
import {
  CfnSecurityGroupIngress,
  FlowLogDestination,
  FlowLogTrafficType,
  GatewayVpcEndpointAwsService,
  type IVpc,
  Peer,
  Port,
  SecurityGroup,
  SubnetType,
  Vpc,
} from 'aws-cdk-lib/aws-ec2';
import { Platform } from 'aws-cdk-lib/aws-ecr-assets';
import {
  AlternateTarget,
  Cluster,
  type ContainerDefinition,
  ContainerImage,
  ContainerInsights,
  CpuArchitecture,
  DeploymentStrategy,
  FargateService,
  FargateTaskDefinition,
  LinuxParameters,
  ListenerRuleConfiguration,
  LogDrivers,
  OperatingSystemFamily,
  Protocol,
} from 'aws-cdk-lib/aws-ecs';
import {
  ApplicationListenerRule,
  ApplicationLoadBalancer,
  ApplicationProtocol,
  ApplicationTargetGroup,
  ListenerAction,
  ListenerCondition,
  SslPolicy,
  TargetType,
} from 'aws-cdk-lib/aws-elasticloadbalancingv2';
import { EventBus, type IEventBus } from 'aws-cdk-lib/aws-events';
import { PolicyStatement } from 'aws-cdk-lib/aws-iam';
import { LogGroup, RetentionDays } from 'aws-cdk-lib/aws-logs';
import { ARecord, HostedZone, RecordTarget } from 'aws-cdk-lib/aws-route53';
import { LoadBalancerTarget } from 'aws-cdk-lib/aws-route53-targets';
import type { IBucket } from 'aws-cdk-lib/aws-s3';
import type { ISecret } from 'aws-cdk-lib/aws-secretsmanager';
import { AwsCustomResource, AwsCustomResourcePolicy, PhysicalResourceId } from 'aws-cdk-lib/custom-resources';
import { Construct } from 'constructs';
import {
  CALL_PATH_PREFIX,
  DEFAULT_MAX_CALL_SECONDS,
  MetricNames,
  RECORDER_PORT,
  RecorderEnv,
} from '../../common/contract.js';
import { DEFAULT_EVENT_BUS_NAME } from '../../common/recording-events.js';
import { INFLIGHT_PREFIX, RECORDINGS_PREFIX } from '../../common/recording-keys.js';
import { defaultCallsPerTask, type TaskCapacity, taskCapacity } from '../capacity.js';
import { nagRef } from '../nag.js';
import { LOAD_BALANCER_LOGS_PREFIX } from './recordings-bucket.js';

const repoRoot = fileURLToPath(new URL('../../', import.meta.url));

/** Writable volume for in-progress audio; everything else in the container is read-only. */
export const SCRATCH_DIR = '/scratch';

/**
 * Only what the recorder image is built from goes into the Docker build context (the repository
 * root, so `common/` and the one lockfile are reachable): the image hash then changes only when
 * recorder code or the root manifest and lockfile do.
 */
export const RECORDER_IMAGE_EXCLUDES = [
  '*',
  '!package.json',
  '!package-lock.json',
  '!common',
  '!fargate',
  'fargate/node_modules',
  'fargate/test',
  'fargate/dist',
  '**/.DS_Store',
];

/** Minutes blue and green run side by side after the traffic shift, before ECS removes blue. */
export const BAKE_MINUTES = 5;

/**
 * CloudFront creates this security group in the VPC for its VPC origins' network interfaces (AWS
 * reserves the name); the internal load balancer admits only it.
 */
export const VPC_ORIGIN_SECURITY_GROUP_NAME = 'CloudFront-VPCOrigins-Service-SG';

/** Fargate's ceiling for the time between SIGTERM and SIGKILL. */
const STOP_TIMEOUT = Duration.seconds(120);

export interface RecorderServiceProps {
  /** Bucket the recorder streams WAV files and metadata into (under `recordings/`). */
  readonly bucket: IBucket;
  /**
   * Bucket for live calls' checkpoints (under `inflight/`); the recorder gets it as CHECKPOINT_BUCKET.
   * @default the recordings bucket
   */
  readonly checkpointBucket?: IBucket;
  /** Bucket for ALB access logs (must use S3-managed keys). */
  readonly logBucket: IBucket;
  /**
   * Secret that verifies per-call websocket tokens. The recorder reads it (with its previous
   * version, so a rotation refuses no call) by ARN, `CALL_TOKEN_SECRET_ARN`.
   */
  readonly callTokenSecret: ISecret;
  /**
   * Vonage's signature secret: the recorder then also asks each handshake for Vonage's signed JWT.
   * @default - the per-call token alone admits a call
   */
  readonly signatureSecret?: ISecret;
  /**
   * Oldest handshake JWT accepted (its `iat` age), in seconds.
   * @default 300
   */
  readonly signatureMaxAgeSeconds?: number;
  /**
   * Fewest tasks kept running.
   * @default 1
   */
  readonly minTasks?: number;
  /**
   * Most tasks auto scaling may run.
   * @default 4
   */
  readonly maxTasks?: number;
  /**
   * Target average concurrent calls per task.
   * @default - 60% of the per-task call cap (lib/capacity.ts, `defaultCallsPerTask`)
   */
  readonly callsPerTask?: number;
  /**
   * Most calls one task takes (the recorder's MAX_CALLS; more get 503).
   * @default - derived from cpu, memory, maxCallSeconds and sampleRate (lib/capacity.ts)
   */
  readonly maxCallsPerTask?: number;
  /**
   * The audio rate asked of Vonage, in Hz: sizes the scratch disk.
   * @default 16000
   */
  readonly sampleRate?: number;
  /**
   * Task vCPU units.
   * @default 512
   */
  readonly cpu?: number;
  /**
   * Task memory (MiB).
   * @default 1024
   */
  readonly memoryMiB?: number;
  /**
   * Seconds a stopping task lets calls finish; also the target group's deregistration delay.
   * @default 100
   */
  readonly drainSeconds?: number;
  /**
   * Longest call (seconds), passed to the recorder.
   * @default DEFAULT_MAX_CALL_SECONDS (7200)
   */
  readonly maxCallSeconds?: number;
  /**
   * Most audio (seconds) a crash may lose when the task's disk goes with it: live calls'
   * audio is checkpointed to S3 (`inflight/`) this often. 0 turns checkpoints off.
   * @default 10
   */
  readonly checkpointSeconds?: number;
  /**
   * Serve wss:// on 443 at an internet-facing load balancer with this certificate for this name.
   * @default - wss:// through CloudFront (see {@link plaintextAudio})
   */
  readonly tls?: {
    readonly certificateArn: string;
    readonly domainName: string;
    /** Creates an alias record for `domainName` in this zone. */
    readonly hostedZone?: { readonly id: string; readonly name: string };
  };
  /**
   * Without `tls`: serve plain ws:// on port 80 at an internet-facing load balancer (call audio and
   * tokens unencrypted; for trials) instead of wss:// through CloudFront.
   * @default false
   */
  readonly plaintextAudio?: boolean;
  /**
   * Retention of the recorder's and the VPC flow logs.
   * @default RetentionDays.ONE_MONTH
   */
  readonly logRetention?: RetentionDays;
  /**
   * Recorder log level.
   * @default 'INFO'
   */
  readonly logLevel?: string;
  /**
   * The EventBridge bus recording events (`Recording Stored`, …) go to; the task may put events
   * on this bus only.
   * @default - the account's default bus
   */
  readonly eventBus?: IEventBus;
}

/**
 * The websocket recorder: a Fargate service behind an ALB, in its own VPC.
 *
 * How calls reach it (docs/configuration.md, "How call audio reaches the recorder"): by default
 * wss:// on CloudFront's own `*.cloudfront.net` name, through a CloudFront VPC origin to an internal
 * ALB that has no public address; with `tls`, wss:// at an internet-facing ALB with the user's
 * certificate; with `plaintextAudio`, ws:// at an internet-facing ALB.
 *
 * VPC choice: two public subnets, no NAT gateway. Tasks get public IPs for egress to ECR,
 * Secrets Manager and CloudWatch, while their security group admits only the ALB. Two NAT
 * gateways (one per AZ, for AZ independence) would add about $66/month plus data processing to an
 * otherwise near-idle system, and the interface endpoints that replace them (ECR API, ECR Docker,
 * CloudWatch Logs, Secrets Manager, in two AZs) about $58/month. A free S3 gateway endpoint keeps
 * recording uploads on the AWS network.
 */
/** How calls reach the tasks: the listener rule and the blue and green target groups it weighs. */
interface CallsRoute {
  readonly targetGroup: ApplicationTargetGroup;
  readonly greenTargetGroup: ApplicationTargetGroup;
  readonly callsRule: ApplicationListenerRule;
}

export class RecorderService extends Construct {
  readonly vpc: IVpc;
  readonly cluster: Cluster;
  readonly service: FargateService;
  readonly loadBalancer: ApplicationLoadBalancer;
  /** The CloudFront distribution in front of the load balancer (the default endpoint only). */
  readonly distribution?: Distribution;
  /** `wss://<distribution>.cloudfront.net`, `wss://<domain>` or `ws://<alb dns>`, no trailing slash. */
  readonly recorderUrl: string;
  /** Calls one task takes at once (its MAX_CALLS). */
  readonly maxCallsPerTask: number;
  /** The calls per task auto scaling aims at (`callsPerTask`, or its default from the cap). */
  readonly callsPerTask: number;
  /** Where the recorder puts recording events: rules that subscribe to them go on this bus. */
  readonly eventBus: IEventBus;
  /** The blue and green target groups; after a deployment the tasks may be in either. */
  readonly targetGroups: readonly ApplicationTargetGroup[];

  constructor(scope: Construct, id: string, props: RecorderServiceProps) {
    super(scope, id);
    const logRetention = props.logRetention ?? RetentionDays.ONE_MONTH;
    const tls = props.tls;
    if (tls && props.plaintextAudio) throw new Error('plaintextAudio and tls exclude each other');
    const behindCloudFront = !tls && !props.plaintextAudio;
    const checkpointBucket = props.checkpointBucket ?? props.bucket;

    this.vpc = this.buildNetwork(behindCloudFront, logRetention);
    this.cluster = new Cluster(this, 'Cluster', {
      vpc: this.vpc,
      containerInsightsV2: ContainerInsights.ENABLED,
    });
    const capacity = this.sizeTask(props);
    this.maxCallsPerTask = capacity.maxCalls;
    this.callsPerTask = props.callsPerTask ?? defaultCallsPerTask(this.maxCallsPerTask);
    const { taskDefinition, container } = this.buildTask(props, capacity, checkpointBucket, logRetention);
    this.grantTaskRole(taskDefinition, props, checkpointBucket);
    this.eventBus = props.eventBus ?? EventBus.fromEventBusName(this, 'EventBus', DEFAULT_EVENT_BUS_NAME);
    container.addEnvironment(RecorderEnv.eventBusName, this.eventBus.eventBusName);
    // events:PutEvents on this bus's ARN and no other.
    this.eventBus.grantPutEventsTo(taskDefinition.taskRole);
    const { albSecurityGroup, taskSecurityGroup } = this.buildSecurityGroups();
    this.loadBalancer = this.buildLoadBalancer(albSecurityGroup, behindCloudFront, props.logBucket);
    const route = this.buildCallsRoute(props, behindCloudFront);
    this.targetGroups = [route.targetGroup, route.greenTargetGroup];
    this.service = this.buildService(taskDefinition, container, taskSecurityGroup, route);
    this.buildScaling(props);
    if (tls?.hostedZone) this.buildAliasRecord(tls.domainName, tls.hostedZone);

    if (behindCloudFront) {
      this.distribution = this.buildDistribution(this.vpc, albSecurityGroup, logRetention);
      this.recorderUrl = `wss://${this.distribution.distributionDomainName}`;
    } else {
      this.recorderUrl = tls ? `wss://${tls.domainName}` : `ws://${this.loadBalancer.loadBalancerDnsName}`;
      Validations.of(albSecurityGroup).acknowledge({
        id: 'AwsSolutions-EC23',
        reason:
          'Vonage media servers open the recording websocket from addresses that are not a fixed, published list; every upgrade must carry a per-call HMAC token or it is refused with 401.',
      });
    }
    this.acknowledgeFindings(taskDefinition, props.bucket, checkpointBucket);
  }

  /** Two AZs of public subnets for the tasks (no NAT), and isolated ones for an internal load balancer. */
  private buildNetwork(behindCloudFront: boolean, logRetention: RetentionDays): Vpc {
    const vpc = new Vpc(this, 'Vpc', {
      maxAzs: 2,
      natGateways: 0,
      subnetConfiguration: [
        { name: 'public', subnetType: SubnetType.PUBLIC, cidrMask: 24 },
        // AWS places a VPC origin's load balancer in private subnets; these have no route out at all.
        ...(behindCloudFront
          ? [{ name: 'origin', subnetType: SubnetType.PRIVATE_ISOLATED, cidrMask: 24 }]
          : []),
      ],
      gatewayEndpoints: { S3: { service: GatewayVpcEndpointAwsService.S3 } },
    });
    vpc.addFlowLog('FlowLog', {
      destination: FlowLogDestination.toCloudWatchLogs(
        new LogGroup(this, 'FlowLogs', { retention: logRetention, removalPolicy: RemovalPolicy.DESTROY }),
      ),
      trafficType: FlowLogTrafficType.ALL,
    });
    return vpc;
  }

  /** The per-task call cap and the scratch disk it needs (the arithmetic is in lib/capacity.ts). */
  private sizeTask(props: RecorderServiceProps): TaskCapacity {
    const maxCallSeconds = props.maxCallSeconds ?? DEFAULT_MAX_CALL_SECONDS;
    const capacity = taskCapacity({
      cpu: props.cpu ?? 512,
      memoryMiB: props.memoryMiB ?? 1024,
      maxCallSeconds,
      sampleRate: props.sampleRate ?? 16000,
      ...(props.maxCallsPerTask !== undefined ? { maxCallsPerTask: props.maxCallsPerTask } : {}),
    });
    if (props.callsPerTask !== undefined && props.callsPerTask > capacity.maxCalls) {
      throw new Error(
        `callsPerTask (${props.callsPerTask}) must be at most the per-task call cap (${capacity.maxCalls}, limited by ${capacity.limitedBy})`,
      );
    }
    return capacity;
  }

  /** The ARM64 task: one read-only, non-root recorder container with a scratch volume. */
  private buildTask(
    props: RecorderServiceProps,
    capacity: TaskCapacity,
    checkpointBucket: IBucket,
    logRetention: RetentionDays,
  ): { taskDefinition: FargateTaskDefinition; container: ContainerDefinition } {
    const drainSeconds = props.drainSeconds ?? 100;
    const maxCallSeconds = props.maxCallSeconds ?? DEFAULT_MAX_CALL_SECONDS;
    const taskDefinition = new FargateTaskDefinition(this, 'TaskDefinition', {
      cpu: props.cpu ?? 512,
      memoryLimitMiB: props.memoryMiB ?? 1024,
      ephemeralStorageGiB: capacity.ephemeralStorageGiB,
      runtimePlatform: {
        cpuArchitecture: CpuArchitecture.ARM64,
        operatingSystemFamily: OperatingSystemFamily.LINUX,
      },
      volumes: [{ name: 'scratch' }],
    });

    const container = taskDefinition.addContainer('recorder', {
      image: ContainerImage.fromAsset(repoRoot, {
        file: 'fargate/Dockerfile',
        platform: Platform.LINUX_ARM64,
        ignoreMode: IgnoreMode.DOCKER,
        exclude: RECORDER_IMAGE_EXCLUDES,
      }),
      essential: true,
      user: 'node',
      readonlyRootFilesystem: true,
      // An init process reaps zombies and forwards SIGTERM to node, so the drain below actually starts.
      linuxParameters: new LinuxParameters(this, 'LinuxParameters', { initProcessEnabled: true }),
      portMappings: [{ containerPort: RECORDER_PORT, protocol: Protocol.TCP }],
      logging: LogDrivers.awsLogs({
        streamPrefix: 'recorder',
        logGroup: new LogGroup(this, 'Logs', {
          retention: logRetention,
          removalPolicy: RemovalPolicy.DESTROY,
        }),
      }),
      environment: {
        [RecorderEnv.port]: String(RECORDER_PORT),
        [RecorderEnv.recordingsBucket]: props.bucket.bucketName,
        [RecorderEnv.checkpointBucket]: checkpointBucket.bucketName,
        [RecorderEnv.scratchDir]: SCRATCH_DIR,
        [RecorderEnv.drainTimeoutSeconds]: String(drainSeconds),
        // The recorder exits just before SIGKILL, naming any recordings S3 has not taken yet.
        [RecorderEnv.stopTimeoutSeconds]: String(STOP_TIMEOUT.toSeconds()),
        [RecorderEnv.maxCallSeconds]: String(maxCallSeconds),
        [RecorderEnv.maxCalls]: String(capacity.maxCalls),
        [RecorderEnv.checkpointSeconds]: String(props.checkpointSeconds ?? 10),
        [RecorderEnv.logLevel]: props.logLevel ?? 'INFO',
        POWERTOOLS_SERVICE_NAME: MetricNames.recorderService,
        POWERTOOLS_METRICS_NAMESPACE: MetricNames.namespace,
        // By ARN, not injected by ECS: an injected value is fixed for the task's life, so a
        // rotated secret would refuse calls until every task was replaced.
        [RecorderEnv.callTokenSecretArn]: props.callTokenSecret.secretArn,
        ...(props.signatureSecret
          ? {
              [RecorderEnv.vonageSignatureSecretArn]: props.signatureSecret.secretArn,
              [RecorderEnv.signatureMaxAgeSeconds]: String(props.signatureMaxAgeSeconds ?? 300),
            }
          : {}),
      },
      // The image has no curl; Node 24's fetch does the probe. 503 while draining marks it unhealthy.
      healthCheck: {
        command: [
          'CMD',
          'node',
          '-e',
          `fetch('http://127.0.0.1:${RECORDER_PORT}/healthz').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))`,
        ],
        interval: Duration.seconds(15),
        timeout: Duration.seconds(5),
        retries: 3,
        startPeriod: Duration.seconds(20),
      },
      stopTimeout: STOP_TIMEOUT,
    });
    props.callTokenSecret.grantRead(taskDefinition.taskRole);
    props.signatureSecret?.grantRead(taskDefinition.taskRole);
    container.addMountPoints({ sourceVolume: 'scratch', containerPath: SCRATCH_DIR, readOnly: false });

    return { taskDefinition, container };
  }

  /** Least privilege for the recorder: its two prefixes, its secrets, its own tasks' protection. */
  private grantTaskRole(
    taskDefinition: FargateTaskDefinition,
    props: RecorderServiceProps,
    checkpointBucket: IBucket,
  ): void {
    // Least privilege: create/continue/finish/abort uploads under recordings/ and nothing else.
    // (Create/UploadPart/CompleteMultipartUpload are authorized by s3:PutObject.)
    taskDefinition.addToTaskRolePolicy(
      new PolicyStatement({
        actions: ['s3:PutObject', 's3:AbortMultipartUpload'],
        resources: [props.bucket.arnForObjects(`${RECORDINGS_PREFIX}*`)],
      }),
    );
    // Crash safety without the task's disk: live calls' audio is checkpointed under inflight/ (in
    // batches per task) and deleted once stored; a sweeper reads a stopped task's batches back
    // into recordings.
    taskDefinition.addToTaskRolePolicy(
      new PolicyStatement({
        actions: ['s3:PutObject', 's3:GetObject', 's3:DeleteObject'],
        resources: [checkpointBucket.arnForObjects(`${INFLIGHT_PREFIX}*`)],
      }),
    );
    // The sweeper lists inflight/ to find stopped tasks, and lists (names only, no reads) the one
    // recording a call would have, so it never replaces a stored recording with a shorter one.
    const listable =
      checkpointBucket === props.bucket
        ? [{ bucket: props.bucket, prefixes: [`${INFLIGHT_PREFIX}*`, `${RECORDINGS_PREFIX}*`] }]
        : [
            { bucket: props.bucket, prefixes: [`${RECORDINGS_PREFIX}*`] },
            { bucket: checkpointBucket, prefixes: [`${INFLIGHT_PREFIX}*`] },
          ];
    for (const { bucket, prefixes } of listable) {
      taskDefinition.addToTaskRolePolicy(
        new PolicyStatement({
          actions: ['s3:ListBucket'],
          resources: [bucket.bucketArn],
          conditions: { StringLike: { 's3:prefix': prefixes } },
        }),
      );
    }
    // Multipart uploads to an SSE-KMS bucket need Decrypt as well as GenerateDataKey.
    const keys = new Set([props.bucket.encryptionKey, checkpointBucket.encryptionKey]);
    for (const key of keys) key?.grant(taskDefinition.taskRole, 'kms:GenerateDataKey', 'kms:Decrypt');
    // The recorder protects its task from scale-in while it holds calls (ECS agent task-protection endpoint).
    taskDefinition.addToTaskRolePolicy(
      new PolicyStatement({
        actions: ['ecs:GetTaskProtection', 'ecs:UpdateTaskProtection'],
        resources: [
          `arn:${Aws.PARTITION}:ecs:${Aws.REGION}:${Aws.ACCOUNT_ID}:task/${this.cluster.clusterName}/*`,
        ],
      }),
    );
  }

  /** The load balancer admits websocket clients; the tasks admit only the load balancer. */
  private buildSecurityGroups(): { albSecurityGroup: SecurityGroup; taskSecurityGroup: SecurityGroup } {
    const vpc = this.vpc;
    const albSecurityGroup = new SecurityGroup(this, 'LoadBalancerSecurityGroup', {
      vpc,
      description: 'Recorder load balancer: websocket clients in, recorder tasks out',
      allowAllOutbound: false,
    });
    const taskSecurityGroup = new SecurityGroup(this, 'TaskSecurityGroup', {
      vpc,
      description: 'Recorder tasks: only the load balancer may connect',
      allowAllOutbound: false,
    });
    // Egress to AWS APIs (ECR, S3, Secrets Manager, CloudWatch) is HTTPS only.
    taskSecurityGroup.addEgressRule(Peer.anyIpv4(), Port.tcp(443), 'HTTPS to AWS APIs');
    taskSecurityGroup.addIngressRule(
      albSecurityGroup,
      Port.tcp(RECORDER_PORT),
      'Websocket and health checks from the ALB',
    );
    albSecurityGroup.addEgressRule(taskSecurityGroup, Port.tcp(RECORDER_PORT), 'To recorder tasks');
    return { albSecurityGroup, taskSecurityGroup };
  }

  private buildLoadBalancer(
    albSecurityGroup: SecurityGroup,
    behindCloudFront: boolean,
    logBucket: IBucket,
  ): ApplicationLoadBalancer {
    const loadBalancer = new ApplicationLoadBalancer(this, 'LoadBalancer', {
      vpc: this.vpc,
      // Behind CloudFront the load balancer is internal: no public address, nothing to reach from the internet.
      internetFacing: !behindCloudFront,
      securityGroup: albSecurityGroup,
      vpcSubnets: { subnetType: behindCloudFront ? SubnetType.PRIVATE_ISOLATED : SubnetType.PUBLIC },
      // Vonage streams a 20 ms audio frame continuously, so a quiet socket is a dead one; the
      // recorder's own idle timeout and ping heartbeat notice first and finalize the recording.
      // This only has to exceed them by a margin (the default 60 s does, barely) so the ALB never
      // cuts a live call first.
      idleTimeout: Duration.seconds(300),
      dropInvalidHeaderFields: true,
    });
    // These logs hold each call's URL with its token; the log bucket expires them within days.
    loadBalancer.logAccessLogs(logBucket, LOAD_BALANCER_LOGS_PREFIX.replace(/\/$/, ''));
    return loadBalancer;
  }

  /** `/calls/*` to the tasks (two target groups for blue/green), everything else 404 at the load balancer. */
  private buildCallsRoute(props: RecorderServiceProps, behindCloudFront: boolean): CallsRoute {
    const vpc = this.vpc;
    const tls = props.tls;
    const drainSeconds = props.drainSeconds ?? 100;
    const targetGroupProps = {
      vpc,
      port: RECORDER_PORT,
      protocol: ApplicationProtocol.HTTP,
      targetType: TargetType.IP,
      healthCheck: {
        path: '/healthz',
        healthyHttpCodes: '200',
        interval: Duration.seconds(10),
        timeout: Duration.seconds(5),
        healthyThresholdCount: 2,
        unhealthyThresholdCount: 2,
      },
      // Stopping a task behind an ALB goes: (1) ECS deregisters it, the ALB sends it no new calls
      // and keeps its open websockets; (2) once the deregistration delay ends (or no connection is
      // left), ECS sends SIGTERM; (3) the recorder drains: /healthz turns 503, new upgrades are
      // refused, calls still open get up to DRAIN_TIMEOUT_SECONDS, then a 1001 close, and every
      // recording is finalized in S3; (4) SIGKILL at the 120 s stop timeout. The delay equals the
      // drain time so a call gets the same grace in step 1 as in step 3, and the drain time stays
      // under the stop timeout so the last multipart upload completes before SIGKILL. Task
      // protection keeps ECS from choosing a task with calls, for scale-in and for deployments
      // alike, so this path is for failures and for tasks whose calls are over; see the service
      // below for how deployments finish.
      deregistrationDelay: Duration.seconds(drainSeconds),
    };
    // Blue/green: ECS registers a deployment's new tasks in the target group the calls rule does
    // not currently send to, then moves the rule over (see the service below).
    const targetGroup = new ApplicationTargetGroup(this, 'TargetGroup', targetGroupProps);
    const greenTargetGroup = new ApplicationTargetGroup(this, 'GreenTargetGroup', targetGroupProps);

    // Only the websocket path reaches the tasks; scanners probing anything else get a 404 from the
    // ALB. (Target health checks go straight to the tasks, not through the listener.)
    const notFound = ListenerAction.fixedResponse(404, {
      contentType: 'text/plain',
      messageBody: 'not found',
    });
    const listener = tls
      ? this.loadBalancer.addListener('Https', {
          port: 443,
          protocol: ApplicationProtocol.HTTPS,
          certificates: [Certificate.fromCertificateArn(this, 'Certificate', tls.certificateArn)],
          sslPolicy: SslPolicy.RECOMMENDED_TLS,
          open: true,
          defaultAction: notFound,
        })
      : this.loadBalancer.addListener('Http', {
          port: 80,
          protocol: ApplicationProtocol.HTTP,
          // Behind CloudFront only the VPC origin may connect (below).
          open: !behindCloudFront,
          defaultAction: notFound,
        });
    // The same construct path `listener.addAction('Calls')` gave it, so the rule is not replaced.
    // Both target groups sit in its forward action (the idle one at weight 0), so both are
    // attached to the load balancer; ECS moves the weights during a deployment.
    const callsRule = new ApplicationListenerRule(listener, 'CallsRule', {
      listener,
      priority: 10,
      conditions: [ListenerCondition.pathPatterns([`${CALL_PATH_PREFIX}*`])],
      action: ListenerAction.weightedForward([
        { targetGroup, weight: 1 },
        { targetGroup: greenTargetGroup, weight: 0 },
      ]),
    });
    return { targetGroup, greenTargetGroup, callsRule };
  }

  private buildService(
    taskDefinition: FargateTaskDefinition,
    container: ContainerDefinition,
    taskSecurityGroup: SecurityGroup,
    route: CallsRoute,
  ): FargateService {
    const { targetGroup, greenTargetGroup, callsRule } = route;
    const service = new FargateService(this, 'Service', {
      cluster: this.cluster,
      taskDefinition,
      // Public subnets without NAT: the public IP is the task's only route to ECR and AWS APIs.
      assignPublicIp: true,
      vpcSubnets: { subnetType: SubnetType.PUBLIC },
      securityGroups: [taskSecurityGroup],
      // Rollouts that finish without cutting calls (docs/configuration.md, "Deployments and live
      // calls"). ECS-native blue/green starts the new tasks (green) beside the old (blue), then
      // points the calls rule at green: every new call goes to a new task while the old tasks keep
      // their open websockets. After the bake time ECS removes blue, but a task with calls holds
      // task protection, which deployments honour, and clears it once its last call is stored;
      // protection never outlasts a call's start + maxCallSeconds + 20 min (fargate/src/
      // task-protection.ts), so the update ends within CloudFormation's 3 hours. A rolling update
      // instead keeps old tasks registered beside the new ones, so old tasks take new calls and
      // stay protected for as long as calls keep coming.
      // https://docs.aws.amazon.com/AmazonECS/latest/developerguide/deployment-type-blue-green.html
      // https://docs.aws.amazon.com/AmazonECS/latest/developerguide/task-scale-in-protection.html
      deploymentStrategy: DeploymentStrategy.BLUE_GREEN,
      bakeTime: Duration.minutes(BAKE_MINUTES),
      // Green starts at full size beside blue: blue's calls keep their capacity.
      minHealthyPercent: 100,
      maxHealthyPercent: 200,
      // Failure detection and rollback work for blue/green as for rolling updates:
      // https://docs.aws.amazon.com/AmazonECS/latest/developerguide/deployment-failure-detection.html
      circuitBreaker: { enable: true, rollback: true },
      healthCheckGracePeriod: Duration.seconds(60),
    });
    service
      .loadBalancerTarget({
        containerName: container.containerName,
        containerPort: RECORDER_PORT,
        alternateTarget: new AlternateTarget('GreenTarget', {
          alternateTargetGroup: greenTargetGroup,
          productionListener: ListenerRuleConfiguration.applicationListenerRule(callsRule),
        }),
      })
      .attachToApplicationTargetGroup(targetGroup);
    return service;
  }

  private buildScaling(props: RecorderServiceProps): void {
    // Why ActiveCalls and not CPU: a call is a small steady stream (32 kB/s at 16 kHz) with
    // bursts only at upload time, so CPU stays low while a task fills up with sockets, file
    // handles and part buffers; CPU tracking would scale in a task full of live calls. The
    // recorder publishes its open-call count (EMF, dimension service=recorder) from every task,
    // so the metric's Average is calls per task, which is what capacity is sized by.
    const scaling = this.service.autoScaleTaskCount({
      minCapacity: props.minTasks ?? 1,
      maxCapacity: props.maxTasks ?? 4,
    });
    scaling.scaleToTrackCustomMetric('ActiveCallsPerTask', {
      metric: new Metric({
        namespace: MetricNames.namespace,
        metricName: MetricNames.activeCalls,
        dimensionsMap: { service: MetricNames.recorderService },
        statistic: 'Average',
        period: Duration.minutes(1),
      }),
      targetValue: this.callsPerTask,
      // Scale out fast (a burst of calls), in slowly (calls last minutes; a task with calls is protected anyway).
      scaleOutCooldown: Duration.seconds(60),
      scaleInCooldown: Duration.minutes(10),
    });
  }

  private buildAliasRecord(domainName: string, zone: { readonly id: string; readonly name: string }): void {
    new ARecord(this, 'AliasRecord', {
      zone: HostedZone.fromHostedZoneAttributes(this, 'Zone', {
        hostedZoneId: zone.id,
        zoneName: zone.name,
      }),
      recordName: domainName,
      target: RecordTarget.fromAlias(new LoadBalancerTarget(this.loadBalancer)),
    });
  }

  /** cdk-nag findings that stay, each with why. */
  private acknowledgeFindings(
    taskDefinition: FargateTaskDefinition,
    bucket: IBucket,
    checkpointBucket: IBucket,
  ): void {
    Validations.of(taskDefinition.taskRole).acknowledge(
      {
        id: `AwsSolutions-IAM5[Resource::${nagRef(bucket, 'Arn')}/${RECORDINGS_PREFIX}*]`,
        reason:
          'Recording keys are made per call (recordings/YYYY/MM/DD/<uuid>.wav|.json), so the grant is the recordings/ prefix, PutObject and AbortMultipartUpload only.',
      },
      {
        id: `AwsSolutions-IAM5[Resource::${nagRef(checkpointBucket, 'Arn')}/${INFLIGHT_PREFIX}*]`,
        reason:
          'Checkpoint keys are made per task and batch (inflight/<task id>/<seq>.batch, alive.json), so the grant is the inflight/ prefix: put, read back and delete the checkpoints only.',
      },
      {
        id: `AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:ecs:<AWS::Region>:<AWS::AccountId>:task/${nagRef(this.cluster)}/*]`,
        reason:
          'A task protects itself from scale-in while it holds calls; task ids exist only at run time, so the grant covers tasks of this cluster only.',
      },
    );
    Validations.of(this.service.node.findChild('GreenTargetRole')).acknowledge({
      id: 'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/AmazonECSInfrastructureRolePolicyForLoadBalancers]',
      reason:
        'The role ECS assumes to move the calls rule between the blue and green target groups during a deployment; AWS maintains this managed policy for exactly that (https://docs.aws.amazon.com/AmazonECS/latest/developerguide/AmazonECSInfrastructureRolePolicyForLoadBalancers.html).',
    });
    Validations.of(taskDefinition.obtainExecutionRole()).acknowledge({
      id: 'AwsSolutions-IAM5[Resource::*]',
      reason:
        'ecr:GetAuthorizationToken has no resource-level permissions; image pulls themselves are scoped to the asset repository.',
    });
    Validations.of(taskDefinition).acknowledge({
      id: 'AwsSolutions-ECS2',
      reason:
        'The environment holds only non-secret settings (port, bucket name, timeouts, checkpoint interval, log level) and the ARNs of the secrets, which the recorder reads from Secrets Manager itself (current and previous versions, for rotation).',
    });
  }

  /**
   * wss:// on CloudFront's own name, with no domain or certificate of the user's: a distribution
   * whose only origin is the internal load balancer, reached through a CloudFront VPC origin.
   * Sources (docs/configuration.md, "How call audio reaches the recorder"):
   * https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/private-content-vpc-origins.html
   * https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/distribution-working-with.websockets.html
   * https://aws.amazon.com/about-aws/whats-new/2026/05/amazon-cloudfront-websockets-vpc-origins/
   */
  private buildDistribution(
    vpc: IVpc,
    albSecurityGroup: SecurityGroup,
    logRetention: RetentionDays,
  ): Distribution {
    const distribution = new Distribution(this, 'Distribution', {
      comment: 'Call recorder websocket endpoint (wss)',
      defaultBehavior: {
        // Plain HTTP on the AWS network from the VPC origin to the internal load balancer: TLS to it
        // would need a certificate for a name of the user's, which is what the tls option is for.
        origin: VpcOrigin.withApplicationLoadBalancer(this.loadBalancer, {
          protocolPolicy: OriginProtocolPolicy.HTTP_ONLY,
          httpPort: 80,
        }),
        // wss:// only; a ws:// request gets 403 from CloudFront instead of a redirect Vonage would not follow.
        viewerProtocolPolicy: ViewerProtocolPolicy.HTTPS_ONLY,
        allowedMethods: AllowedMethods.ALLOW_GET_HEAD,
        // Nothing is cached, and every viewer header (Upgrade, Sec-WebSocket-Key and -Version, the
        // Authorization header with Vonage's JWT) and the query string (the call token) reaches the
        // recorder. AllViewer may forward Authorization only because caching is disabled.
        cachePolicy: CachePolicy.CACHING_DISABLED,
        originRequestPolicy: OriginRequestPolicy.ALL_VIEWER,
        compress: false,
      },
      // CloudFront carries WebSockets over HTTP/1.1 only.
      httpVersion: HttpVersion.HTTP1_1,
    });

    // CloudFront creates the VPC origins' security group when it creates the first VPC origin in
    // the VPC; CloudFormation cannot name it, so it is looked up once the distribution exists.
    const lookup = new AwsCustomResource(this, 'VpcOriginSecurityGroup', {
      onUpdate: {
        service: 'EC2',
        action: 'DescribeSecurityGroups',
        parameters: {
          Filters: [
            { Name: 'vpc-id', Values: [vpc.vpcId] },
            { Name: 'group-name', Values: [`${VPC_ORIGIN_SECURITY_GROUP_NAME}*`] },
          ],
        },
        outputPaths: ['SecurityGroups.0.GroupId'],
        physicalResourceId: PhysicalResourceId.fromResponse('SecurityGroups.0.GroupId'),
      },
      // DescribeSecurityGroups has no resource-level permissions.
      policy: AwsCustomResourcePolicy.fromSdkCalls({ resources: AwsCustomResourcePolicy.ANY_RESOURCE }),
      installLatestAwsSdk: false,
      logGroup: new LogGroup(this, 'VpcOriginSecurityGroupLogs', {
        retention: logRetention,
        removalPolicy: RemovalPolicy.DESTROY,
      }),
    });
    lookup.node.addDependency(distribution);
    Validations.of(lookup).acknowledge({
      id: 'AwsSolutions-IAM5[Resource::*]',
      reason:
        'ec2:DescribeSecurityGroups has no resource-level permissions; this deploy-time lookup reads only the name and id of the group CloudFront made for the VPC origin.',
    });
    // The custom resource's Lambda is one per stack, created beside the stack's top-level constructs.
    const provider = Stack.of(this).node.tryFindChild(
      `AWS${AwsCustomResource.PROVIDER_FUNCTION_UUID.replaceAll('-', '')}`,
    );
    if (provider) {
      Validations.of(provider).acknowledge({
        id: 'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]',
        reason:
          "CDK's AwsCustomResource Lambda uses the AWS-managed basic execution role (CloudWatch Logs writes only) for its one deploy-time call.",
      });
    }
    // A rule of its own, not inline in the group: the VPC origin needs the load balancer, which needs the group.
    new CfnSecurityGroupIngress(this, 'VpcOriginIngress', {
      groupId: albSecurityGroup.securityGroupId,
      sourceSecurityGroupId: lookup.getResponseField('SecurityGroups.0.GroupId'),
      ipProtocol: 'tcp',
      fromPort: 80,
      toPort: 80,
      description: 'CloudFront VPC origin',
    });

    Validations.of(distribution).acknowledge(
      {
        id: 'AwsSolutions-CFR1',
        reason:
          'The only client is Vonage, whose media servers connect from regions Vonage chooses; a geo restriction could refuse calls and blocks nothing the per-call token does not.',
      },
      {
        id: 'AwsSolutions-CFR2',
        reason:
          "Every websocket upgrade must carry a per-call HMAC token (and Vonage's signed JWT when signing is on) before the recorder accepts a byte; a web ACL would see only that upgrade request, never the audio frames after it, and would add its monthly cost for checks the recorder already makes.",
      },
      {
        id: 'AwsSolutions-CFR3',
        reason:
          "The load balancer's access logs record every request CloudFront forwards (kept 14 days, as they carry call tokens) and the recorder logs the viewer address of each refused handshake; CloudFront's own logs would keep the same tokens a second time.",
      },
      {
        id: 'AwsSolutions-CFR4',
        reason:
          "With its default *.cloudfront.net certificate CloudFront fixes the security policy at TLSv1 (API ViewerCertificate); clients still negotiate their highest version. A stricter policy needs a domain and certificate of the user's: the certificateArn/domainName option.",
      },
    );
    return distribution;
  }
}
