import { describe, expect, it } from 'vitest';
import { type AwsPrices, type CallUsage, daysByClass, estimateCost } from '../../bench/cost/model.js';
import { AWS_PRICES } from '../../bench/cost/prices.js';

/** Every price 0 but the ones a test sets, so each figure below can be worked out by hand. */
function pricesWith(set: Partial<Record<keyof AwsPrices, number>>): AwsPrices {
  return Object.fromEntries(
    Object.keys(AWS_PRICES).map((name) => [name, { usd: set[name as keyof AwsPrices] ?? 0 }]),
  ) as unknown as AwsPrices;
}

const usage: CallUsage = {
  sampleRate: 16000,
  averageCallMinutes: 5,
  callsPerTask: 75,
  taskVcpu: 0.5,
  taskMemoryGiB: 1,
  s3PutsPerCall: 9,
  s3GetsPerCall: 18,
  smallObjectBytesPerCall: 0,
  partBytes: 5 * 1024 * 1024,
  checkpointPutsPerTaskHour: 3600,
  webhookRequestsPerCall: 9,
  webhookBilledMsPerRequest: 40,
  reconcilerInvocationsPerCall: 2,
  reconcilerBilledMsPerInvocation: 100,
  lambdaMemoryMiB: 512,
  sqsRequestsPerCall: 6,
  eventBridgeEventsPerCall: 1,
  logBytesPerCall: 0,
  websocketOverhead: 0,
};
const keptInStandard = { infrequentAccessAfterDays: 0, glacierAfterDays: 0, retentionDays: 730 / 24 };

describe('cost per 1,000 call-hours', () => {
  it('splits the retention into storage classes, billing each minimum duration', () => {
    expect(daysByClass({ infrequentAccessAfterDays: 30, glacierAfterDays: 90, retentionDays: 365 })).toEqual({
      standard: 30,
      infrequentAccess: 60,
      glacier: 275,
    });
    // Moved on from Standard-IA after 10 days: billed its 30-day minimum.
    expect(
      daysByClass({ infrequentAccessAfterDays: 30, glacierAfterDays: 40, retentionDays: 365 })
        .infrequentAccess,
    ).toBe(30);
    expect(daysByClass({ infrequentAccessAfterDays: 0, glacierAfterDays: 0, retentionDays: 0 })).toEqual({
      standard: 365,
      infrequentAccess: 0,
      glacier: 0,
    });
  });

  it('counts 115.2 GB of 16 kHz audio and 12,000 five-minute calls, stored a month in Standard', () => {
    const estimate = estimateCost(usage, keptInStandard, pricesWith({ s3StandardGbMonth: 0.023 }));
    expect(estimate.calls).toBe(12_000);
    expect(estimate.audioGb).toBeCloseTo(115.2, 6);
    expect(estimate.totalUsd).toBeCloseTo(115.2 * 0.023, 6);
  });

  it('buys task-hours for the calls a task holds, and two parts plus create and complete for each call', () => {
    const fargate = estimateCost(
      usage,
      keptInStandard,
      pricesWith({ fargateArmVcpuHour: 0.03238, fargateArmGbHour: 0.00356 }),
    );
    expect(fargate.totalUsd).toBeCloseTo((1000 / 75) * (0.5 * 0.03238 + 0.00356), 6);
    const puts = estimateCost(usage, keptInStandard, pricesWith({ s3PutRequest: 0.000005 }));
    // 9.6 MB per call: 2 parts of 5 MiB; (2 + 2 + 9) per call, and 3,600 checkpoints per task-hour.
    expect(puts.totalUsd).toBeCloseTo((12_000 * 13 + (1000 / 75) * 3600) * 0.000005, 6);
  });
});
