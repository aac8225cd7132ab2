/**
 * List prices the cost model uses: AWS us-east-1 on-demand, USD, and the per-minute recording
 * prices of the products compared. Compiled 2026-12-01 from the sources named beside each price.
 * AWS's pricing pages render their tables with JavaScript, so most AWS figures were read from
 * dated secondary copies of AWS's price list (named in `note`); `verified: false` marks a figure
 * not read on its provider's own page, or not read anywhere (the note says which). Check a price
 * against its source before relying on it; change it here and the model follows.
 */

export const PRICES_AS_OF = '2026-12-01';
export const PRICES_REGION = 'us-east-1';

export interface Price {
  readonly usd: number;
  readonly unit: string;
  readonly source: string;
  readonly verified: boolean;
  readonly note?: string;
}

const FARGATE = 'https://aws.amazon.com/fargate/pricing/';
const S3 = 'https://aws.amazon.com/s3/pricing/';
const PRICE_LIST_COPIES =
  'read from dated copies of the AWS Price List (Vantage, CloudBurn, March–October 2026), not the rendered page';

export const AWS_PRICES = {
  fargateArmVcpuHour: {
    usd: 0.03238,
    unit: 'vCPU-hour (Linux/ARM64)',
    source: FARGATE,
    verified: false,
    note: PRICE_LIST_COPIES,
  },
  fargateArmGbHour: {
    usd: 0.00356,
    unit: 'GB-hour (Linux/ARM64)',
    source: FARGATE,
    verified: false,
    note: PRICE_LIST_COPIES,
  },
  albHour: {
    usd: 0.0225,
    unit: 'load balancer-hour',
    source: 'https://aws.amazon.com/elasticloadbalancing/pricing/',
    verified: false,
    note: "the page's worked example, as transcribed 2026-09-20",
  },
  albLcuHour: {
    usd: 0.008,
    unit: 'LCU-hour (1 LCU = 1 GB/h processed for IP targets, or 3,000 active connections/min)',
    source: 'https://aws.amazon.com/elasticloadbalancing/pricing/',
    verified: false,
    note: "the page's worked example, as transcribed 2026-09-20",
  },
  cloudfrontToOriginGb: {
    usd: 0.02,
    unit: 'GB, Regional Data Transfer Out to Origin (US, Europe)',
    source: 'https://aws.amazon.com/cloudfront/pricing/',
    verified: false,
    note: 'the stored page stops before this table; $0.020 is the US-DataTransfer-Out-OBytes price-list row',
  },
  cloudfrontHttpsRequest: {
    usd: 0.01 / 10_000,
    unit: 'HTTPS request (a WebSocket upgrade is one)',
    source: 'https://aws.amazon.com/cloudfront/pricing/',
    verified: false,
    note: '$0.0100 per 10,000 (US), from the price list; the always-free tier covers 10 million a month',
  },
  apiGatewayHttpRequest: {
    usd: 1.0 / 1_000_000,
    unit: 'HTTP API request (first 300 million a month)',
    source: 'https://aws.amazon.com/api-gateway/pricing/',
    verified: false,
    note: PRICE_LIST_COPIES,
  },
  lambdaArmGbSecond: {
    usd: 0.0000133334,
    unit: 'GB-second (arm64, first tier)',
    source: 'https://aws.amazon.com/lambda/pricing/',
    verified: false,
    note: PRICE_LIST_COPIES,
  },
  lambdaRequest: {
    usd: 0.2 / 1_000_000,
    unit: 'invocation',
    source: 'https://aws.amazon.com/lambda/pricing/',
    verified: false,
    note: PRICE_LIST_COPIES,
  },
  s3StandardGbMonth: {
    usd: 0.023,
    unit: 'GB-month, S3 Standard (first 50 TB)',
    source: S3,
    verified: false,
    note: PRICE_LIST_COPIES,
  },
  s3StandardIaGbMonth: {
    usd: 0.0125,
    unit: 'GB-month, S3 Standard-IA (30-day minimum)',
    source: S3,
    verified: false,
    note: PRICE_LIST_COPIES,
  },
  s3GlacierFlexibleGbMonth: {
    usd: 0.0036,
    unit: 'GB-month, S3 Glacier Flexible Retrieval (90-day minimum, +40 KB per object)',
    source: S3,
    verified: false,
    note: PRICE_LIST_COPIES,
  },
  s3PutRequest: {
    usd: 0.005 / 1000,
    unit: 'PUT, COPY, POST or LIST request (Standard; a multipart part is a PUT)',
    source: S3,
    verified: false,
    note: PRICE_LIST_COPIES,
  },
  s3GetRequest: {
    usd: 0.0004 / 1000,
    unit: 'GET, HEAD or other request (Standard)',
    source: S3,
    verified: false,
    note: PRICE_LIST_COPIES,
  },
  s3TransitionToIa: {
    usd: 0.01 / 1000,
    unit: 'lifecycle transition to Standard-IA',
    source: S3,
    verified: false,
    note: "not read anywhere: taken as Standard-IA's PUT price, as transitions into the Glacier classes are priced",
  },
  s3TransitionToGlacierFlexible: {
    usd: 0.03 / 1000,
    unit: 'lifecycle transition to Glacier Flexible Retrieval',
    source: S3,
    verified: false,
    note: '"US East, May 2026 list" (awsnegotiations.com)',
  },
  eventBridgeEvent: {
    usd: 1.0 / 1_000_000,
    unit: 'custom event put (per 64 KB)',
    source: 'https://aws.amazon.com/eventbridge/pricing/',
    verified: false,
    note: PRICE_LIST_COPIES,
  },
  sqsRequest: {
    usd: 0.4 / 1_000_000,
    unit: 'standard queue request (per 64 KB)',
    source: 'https://aws.amazon.com/sqs/pricing/',
    verified: false,
    note: PRICE_LIST_COPIES,
  },
  logsIngestedGb: {
    usd: 0.5,
    unit: 'GB of CloudWatch Logs ingested (Standard class)',
    source: 'https://aws.amazon.com/cloudwatch/pricing/',
    verified: false,
    note: 'CloudBurn (February 2026), factualminds (June 2026)',
  },
} as const satisfies Record<string, Price>;

/** Another product's price for recording a call, per minute, where one could be found. */
export interface RecordingOffer {
  readonly product: string;
  /** Undefined where no price could be read in the sources available here. */
  readonly usdPerMinute: number | undefined;
  /** Storage, per stored minute per month; undefined: none or not found. */
  readonly storageUsdPerMinuteMonth: number | undefined;
  readonly storageTerms: string;
  readonly source: string;
  readonly verified: boolean;
  readonly note: string;
}

export const RECORDING_OFFERS: readonly RecordingOffer[] = [
  {
    product: 'Twilio Programmable Voice recording (US)',
    usdPerMinute: 0.0025,
    storageUsdPerMinuteMonth: 0.0005,
    storageTerms: 'first 10,000 stored minutes free, then $0.0005 per minute per month',
    source: 'https://www.twilio.com/en-us/voice/pricing/us',
    verified: false,
    note: "the per-minute price was not read on Twilio's page (four third-party sources agree); the storage terms are Twilio's support articles",
  },
  {
    product: 'Vonage Voice API recording',
    usdPerMinute: undefined,
    storageUsdPerMinuteMonth: undefined,
    storageTerms: 'kept by Vonage for 30 days, then deleted',
    source: 'https://www.vonage.com/communications-apis/voice/pricing/',
    verified: false,
    note: "no price found: the pricing page renders its prices with JavaScript and no stored copy holds them; the 30 days are Vonage's support article 235528528",
  },
  {
    product: 'Amazon Chime SDK call analytics recording',
    usdPerMinute: undefined,
    storageUsdPerMinuteMonth: undefined,
    storageTerms: "written to the customer's own S3 bucket (S3 charges on top)",
    source: 'https://aws.amazon.com/chime/chime-sdk/pricing',
    verified: false,
    note: 'no price found: no stored copy of the page reaches its call analytics rate table',
  },
];
