/**
 * What a recorded call-hour costs on AWS, from measured usage and list prices.
 *
 *   npx tsx bench/cost/run.ts [--calls 75] [--seconds 60] [--average-call-minutes 5]
 *
 * Measures, against the local stack (the same webhooks, recorder and reconciler code as the
 * deployed stack, with the local S3 server), what `--calls` real-time calls of `--seconds` each
 * cost in requests: S3 requests by kind (counted as the server receives them), webhook requests,
 * recording events. `--calls` defaults to the stack's `callsPerTask`, so the checkpoint batches
 * (one object per tick for all of a task's due calls) are counted at the load a task holds.
 * Then turns that, the stack's defaults (task size, calls per task, sample rate, lifecycle rules)
 * and the list prices in prices.ts into dollars per 1,000 call-hours (model.ts), beside other
 * products' recording prices for the same hours. Writes bench/cost/results/latest.json.
 */
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { INFLIGHT_PREFIX } from '../../common/recording-keys.js';
import { MIN_PART_BYTES } from '../../fargate/src/upload.js';
import { BASE_MIB, defaultCallsPerTask, MIB_PER_CALL, taskCapacity } from '../../lib/capacity.js';
import { DEFAULTS } from '../../lib/config.js';
import { startTestStack } from '../../test-support/local-stack.js';
import { LOCAL_EVENTS_FILE } from '../../tools/local/stack.js';
import { simulateCalls } from '../../tools/simulator/simulate-call.js';
import { type CallUsage, estimateCost, type Lifecycle } from './model.js';
import { AWS_PRICES, PRICES_AS_OF, PRICES_REGION, RECORDING_OFFERS } from './prices.js';

const SAMPLE_RATE = DEFAULTS.sampleRate;
const capacity = taskCapacity({
  cpu: DEFAULTS.taskCpu,
  memoryMiB: DEFAULTS.taskMemoryMiB,
  maxCallSeconds: DEFAULTS.maxCallSeconds,
  sampleRate: SAMPLE_RATE,
});
const callsPerTask = defaultCallsPerTask(capacity.maxCalls);

const { values } = parseArgs({
  options: {
    calls: { type: 'string', default: String(callsPerTask) },
    seconds: { type: 'string', default: '60' },
    'average-call-minutes': { type: 'string', default: '5' },
  },
});
const calls = Number(values.calls);
const seconds = Number(values.seconds);
const averageCallMinutes = Number(values['average-call-minutes']);

/** One S3 request, by what it is billed as and what it was for. */
function classify(method: string, url: string): string {
  const parsed = new URL(url, 'http://s3');
  const key = decodeURIComponent(parsed.pathname.split('/').slice(2).join('/'));
  const query = parsed.searchParams;
  if (method === 'DELETE') return 'delete (free)';
  if (method === 'GET' && key === '') return 'put: list';
  if (method === 'GET' || method === 'HEAD') return 'get';
  if (key.startsWith(INFLIGHT_PREFIX)) return 'put: checkpoint';
  if (key.endsWith('.wav')) {
    if (query.has('uploads')) return 'put: wav create';
    if (query.has('partNumber')) return 'put: wav part';
    if (query.has('uploadId')) return 'put: wav complete';
    return 'put: wav whole';
  }
  return 'put: metadata and events';
}

/** A 440 Hz tone at a speaking level: what the calls send. */
function tone(durationSeconds: number): Buffer {
  const samples = durationSeconds * SAMPLE_RATE;
  const pcm = Buffer.alloc(samples * 2);
  for (let i = 0; i < samples; i++)
    pcm.writeInt16LE(Math.round(8000 * Math.sin((2 * Math.PI * 440 * i) / SAMPLE_RATE)), i * 2);
  return pcm;
}

const dataDir = await mkdtemp(join(tmpdir(), 'cost-model-'));
const s3Requests = new Map<string, number>();
const webhookRequests = new Map<string, number>();
const reconcileSeconds = { firstCheckSeconds: 2, finalCheckSeconds: 5 };
const stack = await startTestStack(dataDir, {
  onS3Request: ({ method, url }) => {
    const kind = classify(method, url);
    s3Requests.set(kind, (s3Requests.get(kind) ?? 0) + 1);
  },
  onRequest: (entry) => {
    const route = `${entry.method} ${entry.path}`;
    webhookRequests.set(route, (webhookRequests.get(route) ?? 0) + 1);
  },
  reconcile: reconcileSeconds,
});
console.log(
  `measuring: ${calls} calls of ${seconds} s at ${SAMPLE_RATE} Hz, real time, against the local stack`,
);
const before = new Map(s3Requests);
const startedAt = performance.now();
const outcomes = await simulateCalls(
  { answerUrl: stack.answerUrl, audio: { pcm: tone(seconds), sampleRate: SAMPLE_RATE }, speed: 1 },
  calls,
);
const streamingSeconds = (performance.now() - startedAt) / 1000;
const failed = outcomes.filter((outcome) => !outcome.ok).length;
// Let the reconciler's two checks of every call run, as they would on AWS.
await new Promise((done) => setTimeout(done, (reconcileSeconds.finalCheckSeconds + 3) * 1000));
const eventLines = (await readFile(join(dataDir, LOCAL_EVENTS_FILE), 'utf8'))
  .split('\n')
  .filter(Boolean).length;
await stack.stop();
await rm(dataDir, { recursive: true, force: true });
if (failed > 0) throw new Error(`${failed} of ${calls} calls failed: the measurement is not usable`);

const counted = (kind: string) => (s3Requests.get(kind) ?? 0) - (before.get(kind) ?? 0);
const perCall = (kind: string) => counted(kind) / calls;
const webhookTotal = [...webhookRequests.values()].reduce((sum, count) => sum + count, 0);
const answers = webhookRequests.get('POST /answer') ?? webhookRequests.get('GET /answer') ?? 0;
const measured = {
  calls,
  seconds,
  streamingSeconds,
  s3Requests: Object.fromEntries([...s3Requests].sort()),
  webhookRequests: Object.fromEntries(webhookRequests),
  recordingEventsPerCall: eventLines / calls,
};
console.log(JSON.stringify(measured, null, 2));
if (calls !== callsPerTask) {
  console.log(
    `note: checkpoint batches were counted at ${calls} calls; a task holds ${callsPerTask} (--calls ${callsPerTask})`,
  );
}

// Assumed, not measurable here: billed Lambda time on AWS and log volume (see BENCHMARKS.md).
const ASSUMED = {
  answerBilledMs: 10,
  eventBilledMs: 40,
  reconcilerBilledMs: 100,
  logBytesPerWebhookRequest: 1300,
  logBytesPerCallRecorder: 1600,
  // The call's metadata JSON and its Vonage events, each under a kilobyte or two.
  smallObjectBytesPerCall: 8 * 1024,
};
const webhookRequestsPerCall = webhookTotal / calls;
const usage: CallUsage = {
  sampleRate: SAMPLE_RATE,
  averageCallMinutes,
  callsPerTask,
  taskVcpu: DEFAULTS.taskCpu / 1024,
  taskMemoryGiB: DEFAULTS.taskMemoryMiB / 1024,
  s3PutsPerCall: perCall('put: metadata and events') + perCall('put: list'),
  s3GetsPerCall: perCall('get'),
  smallObjectBytesPerCall: ASSUMED.smallObjectBytesPerCall,
  partBytes: MIN_PART_BYTES,
  // One batch object per tick holds every due call of a task: counted at the load measured.
  checkpointPutsPerTaskHour: (counted('put: checkpoint') / streamingSeconds) * 3600,
  webhookRequestsPerCall,
  webhookBilledMsPerRequest:
    (answers * ASSUMED.answerBilledMs + (webhookTotal - answers) * ASSUMED.eventBilledMs) / webhookTotal,
  reconcilerInvocationsPerCall: 2,
  reconcilerBilledMsPerInvocation: ASSUMED.reconcilerBilledMs,
  lambdaMemoryMiB: 512,
  // Two sends (webhooks for the first check, the reconciler for the final one), each received
  // and deleted once by Lambda's SQS poller.
  sqsRequestsPerCall: 6,
  eventBridgeEventsPerCall: eventLines / calls,
  logBytesPerCall:
    webhookRequestsPerCall * ASSUMED.logBytesPerWebhookRequest + ASSUMED.logBytesPerCallRecorder,
  websocketOverhead: 8 / (SAMPLE_RATE * 2 * 0.02),
};
const lifecycle: Lifecycle = {
  infrequentAccessAfterDays: DEFAULTS.infrequentAccessAfterDays,
  glacierAfterDays: DEFAULTS.glacierAfterDays,
  retentionDays: DEFAULTS.retentionDays,
};
const estimate = estimateCost(usage, lifecycle, AWS_PRICES);
const minutes = 1000 * 60;
const retentionMonths = (DEFAULTS.retentionDays * 24) / 730;

console.log(
  `\ninputs: calls per task ${callsPerTask} (auto scaling's target, ${Math.round(100 * (callsPerTask / capacity.maxCalls))}% of the ${capacity.maxCalls}-call cap, ` +
    `limited by ${capacity.limitedBy}: 1 ms of CPU per call-second, measured 0.81–0.90 ms, BENCHMARKS.md); ` +
    `memory would allow ${Math.floor((DEFAULTS.taskMemoryMiB - BASE_MIB) / MIB_PER_CALL)} at ${MIB_PER_CALL} MiB a call (218 KiB RSS measured); ` +
    `${usage.checkpointPutsPerTaskHour.toFixed(0)} checkpoint PUTs per task-hour; ` +
    `per call: ${usage.s3PutsPerCall.toFixed(2)} other PUT/LIST, ${usage.s3GetsPerCall.toFixed(2)} GET/HEAD, ${usage.webhookRequestsPerCall.toFixed(2)} webhook requests, ${usage.eventBridgeEventsPerCall} recording events`,
);
const money = (usd: number) => (usd >= 1 ? `$${usd.toFixed(2)}` : `$${usd.toFixed(4)}`);
console.log(
  `\nPer 1,000 call-hours (${estimate.calls} calls of ${averageCallMinutes} min, ${SAMPLE_RATE} Hz, ${estimate.audioGb.toFixed(1)} GB of audio), ` +
    `${PRICES_REGION} list prices as of ${PRICES_AS_OF}, storage for the whole ${DEFAULTS.retentionDays}-day retention ` +
    `(Standard-IA after ${DEFAULTS.infrequentAccessAfterDays} days, Glacier Flexible Retrieval after ${DEFAULTS.glacierAfterDays}):\n`,
);
console.log('| Item | Quantity | $ |\n|---|---|---|');
for (const line of estimate.lines) {
  console.log(
    `| ${line.item} | ${line.quantity.toLocaleString('en-US', { maximumFractionDigits: 1 })} ${line.unit} | ${money(line.usd)} |`,
  );
}
console.log(`| **Total** | | **${money(estimate.totalUsd)}** |`);
console.log(`\n${money(estimate.totalUsd / 1000)} per recorded call-hour.`);

console.log(
  `\nThe same ${minutes.toLocaleString('en-US')} minutes elsewhere (recording only; storage for the same ${DEFAULTS.retentionDays} days where offered):\n`,
);
console.log('| Product | Recording | Storage | Total | Source |\n|---|---|---|---|---|');
console.log(`| This stack on AWS | – | – | ${money(estimate.totalUsd)} | above |`);
const offers = RECORDING_OFFERS.map((offer) => {
  const recording = offer.usdPerMinute === undefined ? undefined : offer.usdPerMinute * minutes;
  const storage =
    offer.storageUsdPerMinuteMonth === undefined
      ? undefined
      : offer.storageUsdPerMinuteMonth * minutes * retentionMonths;
  const total = recording === undefined ? undefined : recording + (storage ?? 0);
  console.log(
    `| ${offer.product} | ${recording === undefined ? 'not found' : money(recording)} | ${storage === undefined ? offer.storageTerms : money(storage)} | ${total === undefined ? '–' : money(total)} | ${offer.source} |`,
  );
  return { ...offer, recordingUsd: recording, storageUsd: storage, totalUsd: total };
});

const results = resolve(import.meta.dirname, 'results');
await mkdir(results, { recursive: true });
await writeFile(
  join(results, 'latest.json'),
  `${JSON.stringify({ measuredAt: new Date().toISOString(), measured, assumed: ASSUMED, usage, lifecycle, pricesAsOf: PRICES_AS_OF, estimate, offers }, null, 2)}\n`,
);
