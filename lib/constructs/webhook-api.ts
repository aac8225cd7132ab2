import { Duration, RemovalPolicy, Stack, Validations } from 'aws-cdk-lib';
import { AccessLogFormat } from 'aws-cdk-lib/aws-apigateway';
import { HttpApi, HttpMethod, LogGroupLogDestination } from 'aws-cdk-lib/aws-apigatewayv2';
import { HttpLambdaIntegration } from 'aws-cdk-lib/aws-apigatewayv2-integrations';
import { PolicyStatement } from 'aws-cdk-lib/aws-iam';
import type { Function as LambdaFunction } from 'aws-cdk-lib/aws-lambda';
import { LogGroup, RetentionDays } from 'aws-cdk-lib/aws-logs';
import type { IBucket } from 'aws-cdk-lib/aws-s3';
import type { ISecret } from 'aws-cdk-lib/aws-secretsmanager';
import { Construct } from 'constructs';
import { DEFAULT_MAX_CALL_SECONDS, MetricNames, WebhooksEnv } from '../../common/contract.js';
import { EVENTS_PREFIX } from '../../common/recording-keys.js';
import { nagRef } from '../nag.js';
import { createNodeLambda } from './node-lambda.js';

export interface WebhookApiProps {
  /** Bucket the event webhook writes the audit trail into (under `events/`). */
  readonly bucket: IBucket;
  /** Secret that signs per-call websocket tokens; the Lambda reads it at init. */
  readonly callTokenSecret: ISecret;
  /**
   * Vonage signature secret for verifying signed webhooks.
   * @default - signature verification off (the Lambda logs a warning)
   */
  readonly signatureSecret?: ISecret;
  /** Recorder base URL (`ws://…` or `wss://…`, no trailing slash) put into each NCCO. */
  readonly recorderUrl: string;
  /** Greeting read to the caller before recording starts. */
  readonly greeting: { readonly text: string; readonly language: string; readonly style: number };
  /**
   * Audio sample rate requested from Vonage (Hz).
   * @default 16000
   */
  readonly sampleRate?: number;
  /**
   * Longest call, in seconds (the NCCO connect `limit`).
   * @default DEFAULT_MAX_CALL_SECONDS (7200)
   */
  readonly maxCallSeconds?: number;
  /**
   * Lifetime of a per-call websocket token, in seconds.
   * @default 300
   */
  readonly callTokenTtlSeconds?: number;
  /**
   * Oldest signed webhook accepted, in seconds.
   * @default 300
   */
  readonly signatureMaxAgeSeconds?: number;
  /**
   * API Gateway steady-state rate limit (requests per second).
   * @default 50
   */
  readonly rateLimit?: number;
  /**
   * API Gateway burst limit.
   * @default 100
   */
  readonly burstLimit?: number;
  /**
   * Retention of the function's and the API's logs.
   * @default RetentionDays.ONE_MONTH
   */
  readonly logRetention?: RetentionDays;
  /**
   * Powertools log level.
   * @default 'INFO'
   */
  readonly logLevel?: string;
}

/** The Vonage answer and event webhooks: one Lambda behind an HTTP API. */
export class WebhookApi extends Construct {
  readonly api: HttpApi;
  readonly function: LambdaFunction;
  /** `https://…/answer`, for the Vonage application's answer URL. */
  readonly answerUrl: string;
  /** `https://…/event`, for the Vonage application's event URL. */
  readonly eventUrl: string;

  constructor(scope: Construct, id: string, props: WebhookApiProps) {
    super(scope, id);
    const logRetention = props.logRetention ?? RetentionDays.ONE_MONTH;

    const { fn, role } = createNodeLambda(this, {
      entry: 'lambdas/webhooks/handler.ts',
      description: 'Vonage answer and event webhooks',
      roleDescription: 'Vonage webhooks: write events, read the token and signature secrets, write its logs',
      // Vonage fails the call if the answer webhook is slow; a cold start plus one S3 put fits well inside this.
      timeout: Duration.seconds(10),
      logRetention,
      serviceName: MetricNames.webhooksService,
      ...(props.logLevel ? { logLevel: props.logLevel } : {}),
      environment: {
        [WebhooksEnv.recordingsBucket]: props.bucket.bucketName,
        [WebhooksEnv.recorderUrl]: props.recorderUrl,
        [WebhooksEnv.callTokenSecretArn]: props.callTokenSecret.secretArn,
        ...(props.signatureSecret
          ? { [WebhooksEnv.vonageSignatureSecretArn]: props.signatureSecret.secretArn }
          : {}),
        [WebhooksEnv.greetingText]: props.greeting.text,
        [WebhooksEnv.greetingLanguage]: props.greeting.language,
        [WebhooksEnv.greetingStyle]: String(props.greeting.style),
        [WebhooksEnv.sampleRate]: String(props.sampleRate ?? 16000),
        [WebhooksEnv.maxCallSeconds]: String(props.maxCallSeconds ?? DEFAULT_MAX_CALL_SECONDS),
        [WebhooksEnv.callTokenTtlSeconds]: String(props.callTokenTtlSeconds ?? 300),
        [WebhooksEnv.signatureMaxAgeSeconds]: String(props.signatureMaxAgeSeconds ?? 300),
      },
    });
    this.function = fn;

    // Only under events/: the webhook appends to the audit trail. GetObject lets its HEAD find a
    // repeated delivery already stored (200), so a repeat costs no PUT. Without s3:ListBucket a
    // missing key answers 403, not 404; the handler then leaves it to the conditional PUT.
    this.function.addToRolePolicy(
      new PolicyStatement({
        actions: ['s3:GetObject', 's3:PutObject'],
        resources: [props.bucket.arnForObjects(`${EVENTS_PREFIX}*`)],
      }),
    );
    props.bucket.encryptionKey?.grant(this.function, 'kms:GenerateDataKey');
    props.callTokenSecret.grantRead(this.function);
    props.signatureSecret?.grantRead(this.function);

    const accessLogs = new LogGroup(this, 'AccessLogs', {
      retention: logRetention,
      removalPolicy: RemovalPolicy.DESTROY,
    });
    this.api = new HttpApi(this, 'Api', {
      apiName: `${Stack.of(this).stackName}-webhooks`,
      description: 'Vonage voice webhooks',
      createDefaultStage: false,
    });
    this.api.addStage('DefaultStage', {
      stageName: '$default',
      autoDeploy: true,
      // Vonage retries failed event webhooks; a limit keeps a flood from eating the account's Lambda concurrency.
      throttle: { rateLimit: props.rateLimit ?? 50, burstLimit: props.burstLimit ?? 100 },
      accessLogSettings: {
        destination: new LogGroupLogDestination(accessLogs),
        // No query string: the answer webhook's query carries the callers' phone numbers.
        format: AccessLogFormat.custom(
          JSON.stringify({
            requestId: '$context.requestId',
            ip: '$context.identity.sourceIp',
            requestTime: '$context.requestTime',
            routeKey: '$context.routeKey',
            status: '$context.status',
            protocol: '$context.protocol',
            responseLength: '$context.responseLength',
            responseLatency: '$context.responseLatency',
            integrationStatus: '$context.integrationStatus',
            integrationError: '$context.integrationErrorMessage',
          }),
        ),
      },
    });
    const integration = new HttpLambdaIntegration('Webhooks', this.function);
    this.api.addRoutes({ path: '/answer', methods: [HttpMethod.GET, HttpMethod.POST], integration });
    this.api.addRoutes({ path: '/event', methods: [HttpMethod.POST], integration });

    const base = this.api.apiEndpoint;
    this.answerUrl = `${base}/answer`;
    this.eventUrl = `${base}/event`;

    Validations.of(this.api).acknowledge({
      id: 'AwsSolutions-APIG4',
      reason:
        'Vonage calls these webhooks and cannot sign AWS requests or fetch Cognito tokens; the Lambda verifies Vonage signed-webhook JWTs (when a signature secret is configured) and each recording websocket carries an HMAC call token.',
    });
    Validations.of(role).acknowledge({
      id: `AwsSolutions-IAM5[Resource::${nagRef(props.bucket, 'Arn')}/${EVENTS_PREFIX}*]`,
      reason:
        'Event keys are made per event (events/YYYY/MM/DD/<conversation>/<ts>_<leg>_<status>.json), so the grant is the events/ prefix, GetObject (to skip repeated deliveries) and PutObject only.',
    });
  }
}
