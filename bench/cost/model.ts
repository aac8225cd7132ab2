/**
 * What recording costs on AWS, per 1,000 call-hours: a pure function of measured usage and list
 * prices (prices.ts). `run.ts` measures the usage against the local stack and prints the result.
 */
import type { AWS_PRICES } from './prices.js';

export type AwsPrices = { readonly [K in keyof typeof AWS_PRICES]: { readonly usd: number } };

/** What one recorded call uses, measured (requests) or taken from the stack's configuration. */
export interface CallUsage {
  readonly sampleRate: number;
  readonly averageCallMinutes: number;
  /** Calls one task holds on average (auto scaling's target, `callsPerTask`). */
  readonly callsPerTask: number;
  readonly taskVcpu: number;
  readonly taskMemoryGiB: number;
  /** S3 PUT-class requests per call, besides the WAV's own multipart upload and the checkpoints. */
  readonly s3PutsPerCall: number;
  /** S3 GET-class requests (GET, HEAD) per call. */
  readonly s3GetsPerCall: number;
  /** Bytes per call of the small objects (metadata, events), which lifecycle rules leave in Standard. */
  readonly smallObjectBytesPerCall: number;
  /** The WAV's multipart part size. */
  readonly partBytes: number;
  /** Checkpoint batch PUTs a task makes per hour while it holds `callsPerTask` calls. */
  readonly checkpointPutsPerTaskHour: number;
  /** Webhook requests per call (API Gateway requests, each one webhooks Lambda invocation). */
  readonly webhookRequestsPerCall: number;
  readonly webhookBilledMsPerRequest: number;
  readonly reconcilerInvocationsPerCall: number;
  readonly reconcilerBilledMsPerInvocation: number;
  readonly lambdaMemoryMiB: number;
  readonly sqsRequestsPerCall: number;
  readonly eventBridgeEventsPerCall: number;
  readonly logBytesPerCall: number;
  /** Bytes on the websocket per audio byte (frame headers): 8 bytes per 20 ms frame. */
  readonly websocketOverhead: number;
}

/** The recordings bucket's lifecycle rules (the stack's `infrequentAccessAfterDays` etc.). */
export interface Lifecycle {
  /** 0: no transition. */
  readonly infrequentAccessAfterDays: number;
  /** 0: no transition. */
  readonly glacierAfterDays: number;
  /** 0: kept for ever (the model then counts `horizonDays`). */
  readonly retentionDays: number;
  /** How long a kept-for-ever recording is counted. @default 365 */
  readonly horizonDays?: number;
}

export interface CostLine {
  readonly item: string;
  /** What is bought, in the price's unit, per 1,000 call-hours. */
  readonly quantity: number;
  readonly unit: string;
  readonly usd: number;
}

export interface CostEstimate {
  readonly lines: readonly CostLine[];
  /** Dollars per 1,000 call-hours, storage over the recordings' whole retention included. */
  readonly totalUsd: number;
  readonly calls: number;
  readonly audioGb: number;
}

const CALL_HOURS = 1000;
const DAYS_PER_MONTH = 730 / 24;
const GB = 1e9;
const GLACIER_OVERHEAD_BYTES = { glacier: 32 * 1024, standard: 8 * 1024 };
const MINIMUM_DAYS = { infrequentAccess: 30, glacier: 90 };

/** Days a recording spends in each storage class under the lifecycle rules (minimum durations billed). */
export function daysByClass(lifecycle: Lifecycle): {
  standard: number;
  infrequentAccess: number;
  glacier: number;
} {
  const end = lifecycle.retentionDays || (lifecycle.horizonDays ?? 365);
  const ia = lifecycle.infrequentAccessAfterDays;
  const glacier = lifecycle.glacierAfterDays;
  const firstMove = [ia, glacier].filter((day) => day > 0 && day < end).sort((a, b) => a - b)[0] ?? end;
  const iaDays =
    ia > 0 && ia < end
      ? Math.max((glacier > ia && glacier < end ? glacier : end) - ia, MINIMUM_DAYS.infrequentAccess)
      : 0;
  const glacierDays = glacier > 0 && glacier < end ? Math.max(end - glacier, MINIMUM_DAYS.glacier) : 0;
  return { standard: firstMove, infrequentAccess: iaDays, glacier: glacierDays };
}

export function estimateCost(usage: CallUsage, lifecycle: Lifecycle, prices: AwsPrices): CostEstimate {
  const calls = (CALL_HOURS * 60) / usage.averageCallMinutes;
  const audioBytesPerCall = usage.sampleRate * 2 * usage.averageCallMinutes * 60;
  const audioGb = (calls * audioBytesPerCall) / GB;
  const wireGb = audioGb * (1 + usage.websocketOverhead);
  const partsPerCall = Math.ceil((audioBytesPerCall + 44) / usage.partBytes);
  const taskHours = CALL_HOURS / usage.callsPerTask;
  const days = daysByClass(lifecycle);
  const transitions = {
    ia: days.infrequentAccess > 0 ? calls : 0,
    glacier: days.glacier > 0 ? calls : 0,
  };
  const smallGbMonths =
    (calls * usage.smallObjectBytesPerCall * (days.standard + days.infrequentAccess + days.glacier)) /
    GB /
    DAYS_PER_MONTH;
  // Glacier adds 40 KB per object: 32 KB billed at its own rate, 8 KB (the index) at Standard's.
  const glacierObjectMonths = (transitions.glacier * days.glacier) / DAYS_PER_MONTH;
  const lambdaGbSeconds =
    (calls *
      (usage.webhookRequestsPerCall * usage.webhookBilledMsPerRequest +
        usage.reconcilerInvocationsPerCall * usage.reconcilerBilledMsPerInvocation) *
      (usage.lambdaMemoryMiB / 1024)) /
    1000;
  const line = (item: string, quantity: number, unit: string, price: number): CostLine => ({
    item,
    quantity,
    unit,
    usd: quantity * price,
  });
  const lines: CostLine[] = [
    line('Fargate vCPU', taskHours * usage.taskVcpu, 'vCPU-hours', prices.fargateArmVcpuHour.usd),
    line('Fargate memory', taskHours * usage.taskMemoryGiB, 'GB-hours', prices.fargateArmGbHour.usd),
    line('CloudFront to the origin (the audio)', wireGb, 'GB', prices.cloudfrontToOriginGb.usd),
    line('CloudFront requests (one upgrade a call)', calls, 'requests', prices.cloudfrontHttpsRequest.usd),
    line('Load balancer capacity units (bytes processed)', wireGb, 'LCU-hours', prices.albLcuHour.usd),
    line(
      'S3 Standard, recordings',
      (audioGb * days.standard) / DAYS_PER_MONTH,
      'GB-months',
      prices.s3StandardGbMonth.usd,
    ),
    line(
      'S3 Standard-IA, recordings',
      (audioGb * days.infrequentAccess) / DAYS_PER_MONTH,
      'GB-months',
      prices.s3StandardIaGbMonth.usd,
    ),
    line(
      'S3 Glacier Flexible Retrieval, recordings',
      (audioGb * days.glacier) / DAYS_PER_MONTH + (glacierObjectMonths * GLACIER_OVERHEAD_BYTES.glacier) / GB,
      'GB-months',
      prices.s3GlacierFlexibleGbMonth.usd,
    ),
    line(
      'S3 Standard, metadata, events, Glacier index',
      smallGbMonths + (glacierObjectMonths * GLACIER_OVERHEAD_BYTES.standard) / GB,
      'GB-months',
      prices.s3StandardGbMonth.usd,
    ),
    line(
      'S3 PUTs: the WAV (create, parts, complete)',
      calls * (partsPerCall + 2),
      'requests',
      prices.s3PutRequest.usd,
    ),
    line(
      'S3 PUTs: checkpoints',
      taskHours * usage.checkpointPutsPerTaskHour,
      'requests',
      prices.s3PutRequest.usd,
    ),
    line('S3 PUTs: metadata and events', calls * usage.s3PutsPerCall, 'requests', prices.s3PutRequest.usd),
    line('S3 GETs and HEADs', calls * usage.s3GetsPerCall, 'requests', prices.s3GetRequest.usd),
    line('S3 lifecycle transitions', transitions.ia, 'to Standard-IA', prices.s3TransitionToIa.usd),
    line(
      'S3 lifecycle transitions',
      transitions.glacier,
      'to Glacier',
      prices.s3TransitionToGlacierFlexible.usd,
    ),
    line(
      'API Gateway requests',
      calls * usage.webhookRequestsPerCall,
      'requests',
      prices.apiGatewayHttpRequest.usd,
    ),
    line(
      'Lambda invocations',
      calls * (usage.webhookRequestsPerCall + usage.reconcilerInvocationsPerCall),
      'invocations',
      prices.lambdaRequest.usd,
    ),
    line('Lambda duration', lambdaGbSeconds, 'GB-seconds', prices.lambdaArmGbSecond.usd),
    line('SQS requests (reconciling)', calls * usage.sqsRequestsPerCall, 'requests', prices.sqsRequest.usd),
    line('EventBridge events', calls * usage.eventBridgeEventsPerCall, 'events', prices.eventBridgeEvent.usd),
    line('CloudWatch Logs', (calls * usage.logBytesPerCall) / GB, 'GB ingested', prices.logsIngestedGb.usd),
  ];
  return { lines, totalUsd: lines.reduce((sum, each) => sum + each.usd, 0), calls, audioGb };
}
