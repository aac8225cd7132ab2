import { Duration, RemovalPolicy, Stack, Validations } from 'aws-cdk-lib';
import { AnyPrincipal, Effect, PolicyStatement } from 'aws-cdk-lib/aws-iam';
import { Key } from 'aws-cdk-lib/aws-kms';
import {
  BlockPublicAccess,
  Bucket,
  BucketEncryption,
  type IBucket,
  type LifecycleRule,
  ObjectLockRetention,
  ObjectOwnership,
  StorageClass,
} from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';
import { EVENTS_PREFIX, INFLIGHT_PREFIX, RECORDINGS_PREFIX } from '../../common/recording-keys.js';

/**
 * Checkpoints of a call are deleted once its recording is stored, or swept into a recording
 * within minutes of a crash; this expiry is only the safety net for anything left over.
 */
const INFLIGHT_EXPIRATION_DAYS = 7;

/** Key prefix of the recorder load balancer's access logs in the log bucket. */
export const LOAD_BALANCER_LOGS_PREFIX = 'alb/';
/**
 * Load balancer access logs record each request's full URL, per-call `?token=` included. A token
 * is good for minutes (callTokenTtlSeconds, at most an hour), but there is no reason to keep it for
 * the year other access logs keep: two weeks covers looking into a failed call.
 */
export const LOAD_BALANCER_LOG_RETENTION_DAYS = 14;

/**
 * Below this size S3 bills Standard-IA and Glacier objects as if they were this big, so the small
 * metadata JSON beside each WAV stays in Standard (a 128 KiB WAV is ~4 s of 16 kHz audio).
 */
const TIERING_MIN_OBJECT_BYTES = 128 * 1024;

export interface RecordingsBucketProps {
  /**
   * Days to keep recordings and events; 0 keeps them forever.
   * @default 365
   */
  readonly retentionDays?: number;
  /**
   * Days before a recording moves to Standard-IA; 0 skips the transition.
   * @default 30
   */
  readonly infrequentAccessAfterDays?: number;
  /**
   * Days before a recording moves to Glacier Flexible Retrieval; 0 skips the transition.
   * @default 90
   */
  readonly glacierAfterDays?: number;
  /**
   * Days an overwritten or deleted version is kept.
   * @default 30
   */
  readonly noncurrentVersionExpirationDays?: number;
  /**
   * Days to keep server access logs (and anything else written to the log bucket; load balancer
   * logs, which hold call tokens, go after {@link LOAD_BALANCER_LOG_RETENTION_DAYS} at most).
   * @default 365
   */
  readonly accessLogRetentionDays?: number;
  /**
   * Encrypt with a customer-managed KMS key (created here, rotated yearly) instead of S3-managed keys.
   * @default false
   */
  readonly kmsEncryption?: boolean;
  /**
   * Object Lock default retention. Object Lock can only be chosen when the bucket is created.
   * @default - Object Lock off
   */
  readonly objectLock?: { readonly mode: 'governance' | 'compliance'; readonly days: number };
}

/**
 * The customer's recordings bucket, the bucket for live calls' checkpoints, and the bucket that
 * receives their access logs.
 *
 * Construct IDs here are a contract: renaming `Bucket` would replace (and orphan) the bucket.
 */
export class RecordingsBucket extends Construct {
  /** Recordings (`recordings/…`) and the event audit trail (`events/…`). */
  readonly bucket: IBucket;
  /**
   * Live calls' audio checkpoints (`inflight/…`): working copies, deleted once a call is stored.
   * A bucket of their own, always: unversioned, so a delete removes the audio at once; never under
   * the recordings' Object Lock, retention or write-once policy; one layout whatever the options.
   */
  readonly checkpointBucket: IBucket;
  /**
   * Server access logs of {@link bucket}, and other logs that must live in an S3-managed-key
   * bucket (ALB access logs, whose delivery cannot use KMS).
   */
  readonly logBucket: IBucket;

  constructor(scope: Construct, id: string, props: RecordingsBucketProps = {}) {
    super(scope, id);
    const retentionDays = props.retentionDays ?? 365;
    const infrequentAccessAfterDays = props.infrequentAccessAfterDays ?? 30;
    const glacierAfterDays = props.glacierAfterDays ?? 90;

    // ACLs stay disabled: with cdk.json's `@aws-cdk/aws-s3:serverAccessLogsUseBucketPolicy` flag, S3
    // log delivery is authorized by bucket policy instead.
    const logBucket = new Bucket(this, 'AccessLogs', {
      // Log delivery (S3 server access logs, ALB) requires S3-managed keys.
      encryption: BucketEncryption.S3_MANAGED,
      blockPublicAccess: BlockPublicAccess.BLOCK_ALL,
      enforceSSL: true,
      objectOwnership: ObjectOwnership.BUCKET_OWNER_ENFORCED,
      removalPolicy: RemovalPolicy.RETAIN,
      lifecycleRules: [
        {
          id: 'expire-logs',
          expiration: Duration.days(props.accessLogRetentionDays ?? 365),
          abortIncompleteMultipartUploadAfter: Duration.days(1),
        },
        // Where two expirations overlap S3 applies the shorter one, so this never keeps logs longer
        // than the rule above: https://docs.aws.amazon.com/AmazonS3/latest/userguide/lifecycle-conflicts.html
        {
          id: 'expire-load-balancer-logs',
          prefix: LOAD_BALANCER_LOGS_PREFIX,
          expiration: Duration.days(LOAD_BALANCER_LOG_RETENTION_DAYS),
        },
      ],
    });
    Validations.of(logBucket).acknowledge({
      id: 'AwsSolutions-S1',
      reason: 'This is the access-log destination itself; logging it into itself would loop.',
    });

    const lifecycleRules: LifecycleRule[] = [
      {
        id: 'bucket-hygiene',
        enabled: true,
        abortIncompleteMultipartUploadAfter: Duration.days(1),
        noncurrentVersionExpiration: Duration.days(props.noncurrentVersionExpirationDays ?? 30),
        expiredObjectDeleteMarker: true,
      },
    ];
    // Checkpoints now go to their own bucket (below); this rule clears what earlier versions of
    // the stack left under inflight/ here: leftovers expire, deleted ones' versions go after a day.
    lifecycleRules.push({
      id: 'inflight-cleanup',
      enabled: true,
      prefix: INFLIGHT_PREFIX,
      expiration: Duration.days(INFLIGHT_EXPIRATION_DAYS),
      noncurrentVersionExpiration: Duration.days(1),
    });
    const transitions = [
      ...(infrequentAccessAfterDays > 0
        ? [
            {
              storageClass: StorageClass.INFREQUENT_ACCESS,
              transitionAfter: Duration.days(infrequentAccessAfterDays),
            },
          ]
        : []),
      ...(glacierAfterDays > 0
        ? [{ storageClass: StorageClass.GLACIER, transitionAfter: Duration.days(glacierAfterDays) }]
        : []),
    ];
    if (transitions.length > 0) {
      lifecycleRules.push({
        id: 'recordings-tiering',
        enabled: true,
        prefix: RECORDINGS_PREFIX,
        objectSizeGreaterThan: TIERING_MIN_OBJECT_BYTES,
        transitions,
      });
    }
    if (retentionDays > 0) {
      for (const [ruleId, prefix] of [
        ['recordings-retention', RECORDINGS_PREFIX],
        ['events-retention', EVENTS_PREFIX],
      ] as const) {
        lifecycleRules.push({ id: ruleId, enabled: true, prefix, expiration: Duration.days(retentionDays) });
      }
    }

    const encryptionKey = props.kmsEncryption
      ? new Key(this, 'Key', {
          description: 'Encrypts call recordings and call events',
          enableKeyRotation: true,
          removalPolicy: RemovalPolicy.RETAIN,
        })
      : undefined;

    // What both buckets that hold call audio share: encrypted alike, private, TLS-only, logged, kept.
    const audioBucketBasics = {
      ...(encryptionKey
        ? { encryption: BucketEncryption.KMS, encryptionKey, bucketKeyEnabled: true }
        : { encryption: BucketEncryption.S3_MANAGED }),
      blockPublicAccess: BlockPublicAccess.BLOCK_ALL,
      enforceSSL: true,
      objectOwnership: ObjectOwnership.BUCKET_OWNER_ENFORCED,
      removalPolicy: RemovalPolicy.RETAIN,
      serverAccessLogsBucket: logBucket,
    };

    this.bucket = new Bucket(this, 'Bucket', {
      ...audioBucketBasics,
      versioned: true,
      serverAccessLogsPrefix: 's3-access/',
      eventBridgeEnabled: true,
      lifecycleRules,
      ...(props.objectLock
        ? {
            objectLockEnabled: true,
            objectLockDefaultRetention:
              props.objectLock.mode === 'compliance'
                ? ObjectLockRetention.compliance(Duration.days(props.objectLock.days))
                : ObjectLockRetention.governance(Duration.days(props.objectLock.days)),
          }
        : {}),
    });
    this.logBucket = logBucket;

    // Nothing overwrites a recording: under recordings/, S3 refuses a PutObject or
    // CompleteMultipartUpload without If-None-Match (the recorder sends `*`, so S3 answers 412 if
    // the key exists). s3:ObjectCreationOperation is false for CreateMultipartUpload and
    // UploadPart, which carry no such header and stay allowed. CopyObject into the prefix is
    // refused too. https://docs.aws.amazon.com/AmazonS3/latest/userguide/conditional-writes-enforce.html
    this.bucket.addToResourcePolicy(
      new PolicyStatement({
        sid: 'DenyOverwritingRecordings',
        effect: Effect.DENY,
        principals: [new AnyPrincipal()],
        actions: ['s3:PutObject'],
        resources: [this.bucket.arnForObjects(`${RECORDINGS_PREFIX}*`)],
        conditions: {
          Null: { 's3:if-none-match': 'true' },
          Bool: { 's3:ObjectCreationOperation': 'true' },
        },
      }),
    );

    this.checkpointBucket = new Bucket(this, 'Checkpoints', {
      ...audioBucketBasics,
      serverAccessLogsPrefix: 's3-access-checkpoints/',
      lifecycleRules: [
        {
          id: 'checkpoints-expiry',
          enabled: true,
          expiration: Duration.days(INFLIGHT_EXPIRATION_DAYS),
          abortIncompleteMultipartUploadAfter: Duration.days(1),
        },
      ],
    });

    Validations.of(this.bucket).acknowledge({
      id: 'CloudFormation-Validate::W9003',
      reason:
        'The Bucket construct writes ObjectSizeGreaterThan as a number; CloudFormation accepts and coerces it.',
    });
    // eventBridgeEnabled adds CDK's stack-wide bucket-notifications custom resource.
    const notificationsHandler = Stack.of(this).node.children.find((child) =>
      child.node.id.startsWith('BucketNotificationsHandler'),
    );
    if (notificationsHandler) {
      Validations.of(notificationsHandler).acknowledge({
        id: 'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]',
        reason:
          "CDK's bucket-notification custom resource uses the AWS-managed basic execution role (CloudWatch Logs writes only) for its one deploy-time call.",
      });
    }
  }
}
