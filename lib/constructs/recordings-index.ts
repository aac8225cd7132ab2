import { Duration, Fn, RemovalPolicy } from 'aws-cdk-lib';
import { CfnWorkGroup } from 'aws-cdk-lib/aws-athena';
import {
  BlockPublicAccess,
  Bucket,
  BucketEncryption,
  CfnBucket,
  type IBucket,
  ObjectOwnership,
} from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';

/**
 * The AWS-managed table bucket that holds every S3 Metadata table of the account and Region, as
 * Athena names it once the table buckets are integrated with the AWS analytics services:
 * https://docs.aws.amazon.com/AmazonS3/latest/userguide/metadata-tables-bucket-integration.html
 */
export const METADATA_TABLES_CATALOG = 's3tablescatalog/aws-s3';

/** Journal records kept, in days (S3 allows 7 or more); the console queries the inventory table. */
export const JOURNAL_RECORD_DAYS = 7;
/** Athena query results are only read back by the console once, right after the query. */
export const QUERY_RESULTS_EXPIRATION_DAYS = 7;
/** A runaway query stops after this much data scanned (the workgroup's per-query cutoff). */
export const QUERY_BYTES_CUTOFF = 10 * 1024 ** 3;

export interface RecordingsIndexProps {
  /** The recordings bucket; must be an L2 `Bucket` made in this stack (its L1 gets the configuration). */
  readonly bucket: IBucket;
  /** Where the query results bucket writes its server access logs. */
  readonly logBucket: IBucket;
}

/**
 * An index of the recordings that AWS keeps: S3 Metadata's journal and live inventory tables on
 * the recordings bucket (every object's key, size and `x-amz-meta-*` fields), and an Athena
 * workgroup to query them, its results in an encrypted, TLS-only bucket that expires them.
 * https://docs.aws.amazon.com/AmazonS3/latest/userguide/metadata-tables-create-configuration.html
 */
export class RecordingsIndex extends Construct {
  readonly workGroup: CfnWorkGroup;
  readonly resultsBucket: IBucket;
  /** Athena's catalog for the metadata tables. */
  readonly catalog = METADATA_TABLES_CATALOG;
  /** Athena's database (the table bucket namespace): `b_<bucket name>`. */
  readonly database: string;

  constructor(scope: Construct, id: string, props: RecordingsIndexProps) {
    super(scope, id);
    const cfnBucket = props.bucket.node.defaultChild;
    if (!(cfnBucket instanceof CfnBucket)) {
      throw new Error('recordings index needs the recordings bucket created in this stack (an L2 Bucket)');
    }
    // The tables use S3-managed keys: SSE-KMS would need a key policy for the S3 Metadata service.
    const tableEncryption = { sseAlgorithm: 'AES256' };
    cfnBucket.metadataConfiguration = {
      journalTableConfiguration: {
        recordExpiration: { expiration: 'ENABLED', days: JOURNAL_RECORD_DAYS },
        encryptionConfiguration: tableEncryption,
      },
      inventoryTableConfiguration: {
        configurationState: 'ENABLED',
        encryptionConfiguration: tableEncryption,
      },
    };
    // Namespace of a bucket's metadata tables in the aws-s3 table bucket:
    // https://docs.aws.amazon.com/AmazonS3/latest/userguide/metadata-tables-create-configuration.html
    this.database = Fn.join('', ['b_', props.bucket.bucketName]);

    this.resultsBucket = new Bucket(this, 'QueryResults', {
      encryption: BucketEncryption.S3_MANAGED,
      blockPublicAccess: BlockPublicAccess.BLOCK_ALL,
      enforceSSL: true,
      objectOwnership: ObjectOwnership.BUCKET_OWNER_ENFORCED,
      removalPolicy: RemovalPolicy.RETAIN,
      serverAccessLogsBucket: props.logBucket,
      serverAccessLogsPrefix: 's3-access-athena-results/',
      lifecycleRules: [
        {
          id: 'expire-query-results',
          expiration: Duration.days(QUERY_RESULTS_EXPIRATION_DAYS),
          abortIncompleteMultipartUploadAfter: Duration.days(1),
        },
      ],
    });

    // Enforced: a client cannot send results elsewhere or unencrypted, nor lift the scan cutoff.
    this.workGroup = new CfnWorkGroup(this, 'WorkGroup', {
      name: Fn.join('-', [Fn.ref('AWS::StackName'), 'recordings-index']),
      description: 'Queries the recordings bucket S3 Metadata tables for the audit console',
      state: 'ENABLED',
      recursiveDeleteOption: true,
      workGroupConfiguration: {
        enforceWorkGroupConfiguration: true,
        publishCloudWatchMetricsEnabled: true,
        bytesScannedCutoffPerQuery: QUERY_BYTES_CUTOFF,
        engineVersion: { selectedEngineVersion: 'AUTO' },
        resultConfiguration: {
          outputLocation: this.resultsBucket.s3UrlForObject('results/'),
          encryptionConfiguration: { encryptionOption: 'SSE_S3' },
        },
      },
    });
  }
}
