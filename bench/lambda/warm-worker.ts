/**
 * Warm per-request time of the bundled webhooks handler, in one process (started by run.ts with
 * stdout discarded, as the handler logs a JSON line and an EMF line per request; results go back
 * over IPC). The secrets come from a local Secrets Manager double, fetched once and then cached,
 * as on a warm Lambda.
 *
 *   node --import tsx bench/lambda/warm-worker.ts <requests> <signed|unsigned>   (BENCH_BUNDLE=<file URL>)
 */
import { createHash } from 'node:crypto';
import type { APIGatewayProxyEventV2, Context } from 'aws-lambda';
import jwt from 'jsonwebtoken';
import { startSecretsManagerDouble } from '../../test-support/secrets-manager-double.js';
import { summarize } from '../lib/stats.js';

const requests = Number(process.argv[2] ?? 20000);
const signed = process.argv[3] === 'signed';
const warmup = Math.min(2000, requests);
const CALL_TOKEN_SECRET = 'BenchCallTokenSecret0123456789abcdefghijklmnopqrstuvwxyzABCDEFGH';
const SIGNATURE_SECRET = 'bench-vonage-signature-secret-0123456789';
const SIGNATURE_ARN = 'arn:aws:secretsmanager:eu-west-2:123456789012:secret:VonageSignature-AbCdEf';

const secretsManager = await startSecretsManagerDouble();
secretsManager.put(process.env.CALL_TOKEN_SECRET_ARN ?? '', CALL_TOKEN_SECRET);
secretsManager.put(SIGNATURE_ARN, SIGNATURE_SECRET);
process.env.AWS_ENDPOINT_URL_SECRETS_MANAGER = secretsManager.url;
if (signed) process.env.VONAGE_SIGNATURE_SECRET_ARN = SIGNATURE_ARN;

const bundle = process.env.BENCH_BUNDLE;
if (!bundle) throw new Error('BENCH_BUNDLE (file URL of the bundled handler) is required');
const { handler } = (await import(bundle)) as {
  handler: (
    event: APIGatewayProxyEventV2,
    context: Context,
  ) => Promise<{ statusCode?: number; body?: string }>;
};

const query = {
  to: '447700900000',
  from: '447700900001',
  uuid: '63f61863-4a51-4f6b-86e1-46edebcf9356',
  conversation_uuid: 'CON-f972836a-550f-45fa-956c-12a2ab5b7d22',
};
// Vonage POSTs the answer when webhooks are signed: the JWT's payload_hash covers the body.
const body = JSON.stringify(query);
const token = jwt.sign(
  {
    iat: Math.floor(Date.now() / 1000),
    jti: 'bench',
    iss: 'Vonage',
    application_id: 'bench',
    payload_hash: createHash('sha256').update(body).digest('hex'),
  },
  SIGNATURE_SECRET,
  { algorithm: 'HS256' },
);
const method = signed ? 'POST' : 'GET';
const event = {
  version: '2.0',
  routeKey: `${method} /answer`,
  rawPath: '/answer',
  rawQueryString: signed ? '' : new URLSearchParams(query).toString(),
  ...(signed ? { body, isBase64Encoded: false } : { queryStringParameters: query, isBase64Encoded: false }),
  headers: {
    host: 'abc123.execute-api.eu-west-2.amazonaws.com',
    ...(signed ? { authorization: `Bearer ${token}`, 'content-type': 'application/json' } : {}),
  },
  requestContext: {
    domainName: 'abc123.execute-api.eu-west-2.amazonaws.com',
    http: {
      method,
      path: '/answer',
      protocol: 'HTTP/1.1',
      sourceIp: '203.0.113.7',
      userAgent: 'Vonage',
    },
  },
} as unknown as APIGatewayProxyEventV2;
const context = {
  functionName: 'webhooks',
  awsRequestId: 'bench',
  getRemainingTimeInMillis: () => 10_000,
} as unknown as Context;

const first = await handler(event, context);
if (first.statusCode !== 200 || !first.body?.includes('"connect"')) {
  throw new Error(`the handler did not answer an NCCO: ${first.statusCode} ${first.body}`);
}
const times: number[] = [];
let cpu = process.cpuUsage();
for (let i = 0; i < warmup + requests; i++) {
  const start = process.hrtime.bigint();
  await handler(event, context);
  const elapsed = Number(process.hrtime.bigint() - start) / 1e6;
  if (i === warmup - 1) cpu = process.cpuUsage();
  if (i >= warmup) times.push(elapsed);
}
const used = process.cpuUsage(cpu);
const summary = summarize(times);
await secretsManager.close();
process.send?.({
  warmup,
  requests: summary.count,
  p50: summary.median,
  p90: summary.p90,
  p99: summary.p99,
  max: summary.max,
  mean: summary.mean,
  cpuMicrosPerRequest: (used.user + used.system) / summary.count,
});
