import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { captureIo } from '../../test-support/cli-io.js';
import { startCloudFormationDouble } from '../../test-support/cloudformation-double.js';
import { startVonageApiDouble, type VonageApiDouble } from '../../test-support/vonage-api-double.js';
import { runConfigureVonageCli } from '../../tools/cli/configure-vonage.js';
import {
  configureVonageApplication,
  createVonageClient,
  type VoiceWebhooks,
  VonageApiError,
} from '../../tools/cli/vonage-application.js';

const run = promisify(execFile);
const API_KEY = 'a1b2c3d4';
const API_SECRET = 'S3cr3tS3cr3tS3cr';
const APP_ID = '8b3c1e52-6f0a-4d7b-9a21-0c5e7d9f4a10';
const BASIC = `Basic ${Buffer.from(`${API_KEY}:${API_SECRET}`).toString('base64')}`;
const PUBLIC_KEY =
  '-----BEGIN PUBLIC KEY-----\nMIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA\n-----END PUBLIC KEY-----\n';

/** An application as Vonage's API returns it: voice with old webhooks, plus settings to keep. */
function existingApplication(): Record<string, unknown> {
  return {
    id: APP_ID,
    name: 'Call recorder',
    capabilities: {
      voice: {
        webhooks: {
          answer_url: {
            address: 'https://old.example.com/answer',
            http_method: 'POST',
            socket_timeout: 3000,
          },
          event_url: { address: 'https://old.example.com/event', http_method: 'POST', connect_timeout: 1000 },
          fallback_answer_url: { address: 'https://fallback.example.com/answer', http_method: 'GET' },
        },
        signed_callbacks: true,
        conversations_ttl: 48,
        region: 'eu-west',
      },
      messages: {
        webhooks: {
          inbound_url: { address: 'https://example.com/inbound', http_method: 'POST' },
          status_url: { address: 'https://example.com/status', http_method: 'POST' },
        },
        version: 'v1',
      },
      rtc: { webhooks: { event_url: { address: 'https://example.com/rtc', http_method: 'POST' } } },
    },
    keys: { public_key: PUBLIC_KEY },
    privacy: { improve_ai: false },
  };
}

const NEW_HOOKS: VoiceWebhooks = {
  answerUrl: { address: 'https://abc123.execute-api.eu-west-2.amazonaws.com/answer', httpMethod: 'GET' },
  eventUrl: { address: 'https://abc123.execute-api.eu-west-2.amazonaws.com/event', httpMethod: 'POST' },
};

/** The application after the update: only the two webhooks differ. */
function expectedApplication(): Record<string, unknown> {
  const app = existingApplication() as {
    capabilities: { voice: { webhooks: Record<string, Record<string, unknown>> } };
  };
  const hooks = app.capabilities.voice.webhooks;
  hooks.answer_url = { address: NEW_HOOKS.answerUrl.address, http_method: 'GET', socket_timeout: 3000 };
  hooks.event_url = { address: NEW_HOOKS.eventUrl.address, http_method: 'POST', connect_timeout: 1000 };
  return app as unknown as Record<string, unknown>;
}

let double: VonageApiDouble;
beforeEach(async () => {
  double = await startVonageApiDouble({
    apiKey: API_KEY,
    apiSecret: API_SECRET,
    applications: [existingApplication()],
    numbers: [
      { country: 'GB', msisdn: '447700900000', type: 'mobile-lvn', features: ['VOICE', 'SMS'] },
      { country: 'GB', msisdn: '447700900001', type: 'mobile-lvn', features: ['VOICE'], app_id: APP_ID },
    ],
  });
});
afterEach(async () => {
  await double.close();
});

const client = (secret = API_SECRET) =>
  createVonageClient(
    { apiKey: API_KEY, apiSecret: secret, applicationId: APP_ID },
    { apiHost: double.url, restHost: double.url },
  );

describe('configureVonageApplication', () => {
  it('reads the application and sends it back with only the voice webhooks changed', async () => {
    const result = await configureVonageApplication({
      vonage: client(),
      applicationId: APP_ID,
      webhooks: NEW_HOOKS,
    });
    expect(result).toMatchObject({
      applicationName: 'Call recorder',
      changed: true,
      applied: true,
      answerUrl: {
        before: { address: 'https://old.example.com/answer', httpMethod: 'POST' },
        after: NEW_HOOKS.answerUrl,
      },
      eventUrl: {
        before: { address: 'https://old.example.com/event', httpMethod: 'POST' },
        after: NEW_HOOKS.eventUrl,
      },
    });
    const [get, put, ...rest] = double.requests;
    expect(rest).toEqual([]);
    expect(get).toMatchObject({
      method: 'GET',
      path: `/v2/applications/${APP_ID}`,
      authorization: BASIC,
      body: '',
    });
    expect(put).toMatchObject({
      method: 'PUT',
      path: `/v2/applications/${APP_ID}`,
      authorization: BASIC,
      contentType: 'application/json',
    });
    expect(JSON.parse(put?.body ?? '')).toEqual(expectedApplication());
    // What Vonage now holds: every other capability, key and setting survived the replace.
    expect(double.applications.get(APP_ID)).toEqual(expectedApplication());
  });

  it('on a dry run reads only, and reports the change', async () => {
    const result = await configureVonageApplication({
      vonage: client(),
      applicationId: APP_ID,
      webhooks: NEW_HOOKS,
      number: '+44 7700 900000',
      dryRun: true,
    });
    expect(result.changed).toBe(true);
    expect(result.applied).toBe(false);
    expect(result.number).toEqual({
      msisdn: '447700900000',
      country: 'GB',
      before: null,
      after: APP_ID,
      changed: true,
    });
    expect(double.requests.map((r) => `${r.method} ${r.path}`)).toEqual([
      `GET /v2/applications/${APP_ID}`,
      'GET /account/numbers',
    ]);
    expect(double.applications.get(APP_ID)).toEqual(existingApplication());
  });

  it('sends nothing when the webhooks already point at the stack', async () => {
    await configureVonageApplication({ vonage: client(), applicationId: APP_ID, webhooks: NEW_HOOKS });
    double.requests.length = 0;
    const again = await configureVonageApplication({
      vonage: client(),
      applicationId: APP_ID,
      webhooks: NEW_HOOKS,
    });
    expect(again).toMatchObject({ changed: false, applied: false });
    expect(double.requests.map((r) => r.method)).toEqual(['GET']);
  });

  it('links a number to the application through the Numbers API', async () => {
    const result = await configureVonageApplication({
      vonage: client(),
      applicationId: APP_ID,
      webhooks: NEW_HOOKS,
      number: '447700900000',
    });
    expect(result.number).toMatchObject({ msisdn: '447700900000', changed: true });
    const lookup = double.requests[2];
    const update = double.requests[3];
    expect(lookup).toMatchObject({ method: 'GET', path: '/account/numbers', authorization: BASIC });
    expect(lookup?.query).toEqual({ pattern: '447700900000', search_pattern: '1' });
    expect(update).toMatchObject({
      method: 'POST',
      path: '/number/update',
      authorization: BASIC,
      contentType: 'application/x-www-form-urlencoded',
    });
    expect(Object.fromEntries(new URLSearchParams(update?.body))).toEqual({
      app_id: APP_ID,
      country: 'GB',
      msisdn: '447700900000',
    });
    expect(double.numbers.get('447700900000')?.app_id).toBe(APP_ID);
  });

  it('leaves a number already linked alone, and refuses one not on the account', async () => {
    const linked = await configureVonageApplication({
      vonage: client(),
      applicationId: APP_ID,
      webhooks: NEW_HOOKS,
      number: '447700900001',
      dryRun: true,
    });
    expect(linked.number?.changed).toBe(false);
    await expect(
      configureVonageApplication({
        vonage: client(),
        applicationId: APP_ID,
        webhooks: NEW_HOOKS,
        number: '15550001111',
      }),
    ).rejects.toThrow('number 15550001111 is not on this Vonage account');
  });

  it('explains a wrong secret (401) and an unknown application (404)', async () => {
    const denied = configureVonageApplication({
      vonage: client('wrong-secret-00'),
      applicationId: APP_ID,
      webhooks: NEW_HOOKS,
    });
    await expect(denied).rejects.toThrow(VonageApiError);
    await expect(denied).rejects.toThrow(
      /^Vonage rejected the credentials \(401\) while trying to read application .*: check VONAGE_API_KEY and VONAGE_API_SECRET: You did not provide correct credentials\.$/,
    );
    const missing = 'ffffffff-0000-4000-8000-000000000000';
    await expect(
      configureVonageApplication({ vonage: client(), applicationId: missing, webhooks: NEW_HOOKS }),
    ).rejects.toThrow(
      `Vonage has no application ${missing} on this account (404): check VONAGE_APPLICATION_ID`,
    );
    expect(double.requests.every((r) => r.method === 'GET')).toBe(true);
  });
});

describe('configure-vonage (the bin)', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'configure-vonage-'));
    await writeFile(
      join(dir, 'cdk-outputs.json'),
      JSON.stringify({
        CallRecorder: {
          AnswerUrl: NEW_HOOKS.answerUrl.address,
          EventUrl: NEW_HOOKS.eventUrl.address,
          RecorderUrl: 'wss://recorder.example.com',
          RecordingsBucketName: 'callrecorder-recordings-abc',
        },
      }),
    );
    return () => rm(dir, { recursive: true, force: true });
  });

  const bin = join(import.meta.dirname, '../../bin/configure-vonage.js');
  const cli = async (args: string[], env: Record<string, string | undefined>) => {
    try {
      const { stdout, stderr } = await run(process.execPath, [bin, ...args], {
        cwd: dir,
        env: { PATH: process.env.PATH, ...env },
      });
      return { code: 0, stdout, stderr };
    } catch (error) {
      const failed = error as { code: number; stdout: string; stderr: string };
      return { code: failed.code, stdout: failed.stdout, stderr: failed.stderr };
    }
  };
  const vonageEnv = () => ({
    VONAGE_API_KEY: API_KEY,
    VONAGE_API_SECRET: API_SECRET,
    VONAGE_APPLICATION_ID: APP_ID,
    VONAGE_API_HOST: double.url,
    VONAGE_REST_HOST: double.url,
  });

  it('prints the change on --dry-run, then applies it, reading cdk-outputs.json', async () => {
    const dry = await cli(['--dry-run'], vonageEnv());
    expect(dry.code).toBe(0);
    expect(dry.stdout).toBe(
      [
        `Application "Call recorder" (${APP_ID})`,
        `  answer_url: POST https://old.example.com/answer → GET ${NEW_HOOKS.answerUrl.address}`,
        `  event_url:  POST https://old.example.com/event → POST ${NEW_HOOKS.eventUrl.address}`,
        'Dry run: no change sent.',
        '',
      ].join('\n'),
    );
    expect(double.requests.map((r) => r.method)).toEqual(['GET']);

    const applied = await cli(['--json', '--number', '447700900000'], vonageEnv());
    expect(applied.code).toBe(0);
    expect(JSON.parse(applied.stdout)).toMatchObject({
      changed: true,
      applied: true,
      number: { changed: true },
    });
    expect(double.applications.get(APP_ID)).toEqual(expectedApplication());
    expect(double.numbers.get('447700900000')?.app_id).toBe(APP_ID);
  });

  it('for a stack that verifies signed webhooks, sets the answer webhook to POST and turns signed webhooks on', async () => {
    const app = double.applications.get(APP_ID) as { capabilities: { voice: Record<string, unknown> } };
    app.capabilities.voice.signed_callbacks = false;
    await writeFile(
      join(dir, 'signed-outputs.json'),
      JSON.stringify({
        CallRecorder: {
          AnswerUrl: NEW_HOOKS.answerUrl.address,
          AnswerMethod: 'POST',
          EventUrl: NEW_HOOKS.eventUrl.address,
        },
      }),
    );
    const refused = await cli(['--outputs', 'signed-outputs.json', '--answer-method', 'GET'], vonageEnv());
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/verifies signed webhooks, which needs the answer webhook on POST/);
    expect(double.requests.some((r) => r.method === 'PUT')).toBe(false);

    const applied = await cli(['--outputs', 'signed-outputs.json'], vonageEnv());
    expect(applied.code).toBe(0);
    expect(applied.stdout).toContain(`→ POST ${NEW_HOOKS.answerUrl.address}`);
    expect(applied.stdout).toContain('signed webhooks: off → on');
    const stored = double.applications.get(APP_ID) as {
      capabilities: {
        voice: { signed_callbacks: unknown; webhooks: { answer_url: { http_method: string } } };
      };
    };
    expect(stored.capabilities.voice.signed_callbacks).toBe(true);
    expect(stored.capabilities.voice.webhooks.answer_url.http_method).toBe('POST');
  });

  it('fails with one line and exit 1 for wrong credentials', async () => {
    const denied = await cli([], { ...vonageEnv(), VONAGE_API_SECRET: 'not-the-secret' });
    expect(denied.code).toBe(1);
    expect(denied.stderr.trim().split('\n')).toHaveLength(1);
    expect(denied.stderr).toMatch(/^error: Vonage rejected the credentials \(401\)/);

    expect(double.requests.some((r) => r.method === 'PUT')).toBe(false);
  });

  it('reads the outputs from CloudFormation with --stack', async () => {
    const cloudFormation = await startCloudFormationDouble({
      Recorder2: { AnswerUrl: NEW_HOOKS.answerUrl.address, EventUrl: NEW_HOOKS.eventUrl.address },
    });
    // The SDK's documented service endpoint override, and throwaway credentials.
    const overrides: Record<string, string> = {
      AWS_ENDPOINT_URL_CLOUDFORMATION: cloudFormation.url,
      AWS_REGION: 'eu-west-2',
      AWS_ACCESS_KEY_ID: 'AKIDEXAMPLE',
      AWS_SECRET_ACCESS_KEY: 'example',
    };
    const saved = Object.fromEntries(Object.keys(overrides).map((name) => [name, process.env[name]]));
    Object.assign(process.env, overrides);
    try {
      const io = captureIo();
      expect(await runConfigureVonageCli(['--stack', 'Recorder2', '--json'], io, vonageEnv())).toBe(0);
      expect(JSON.parse(io.out())).toMatchObject({
        applied: true,
        answerUrl: { after: NEW_HOOKS.answerUrl },
      });
      expect(cloudFormation.requests).toEqual([
        expect.objectContaining({ Action: 'DescribeStacks', StackName: 'Recorder2' }),
      ]);
      const missing = captureIo();
      expect(await runConfigureVonageCli(['--stack', 'Gone'], missing, vonageEnv())).toBe(1);
      expect(missing.err()).toBe(
        'error: stack Gone not found in CloudFormation (Stack with id Gone does not exist)\n',
      );
    } finally {
      for (const [name, value] of Object.entries(saved)) {
        if (value === undefined) delete process.env[name];
        else process.env[name] = value;
      }
      await cloudFormation.close();
    }
  });

  it('says which credentials or outputs are missing, and warns about a loopback answer URL', async () => {
    const outputs = join(dir, 'cdk-outputs.json');
    const noEnv = captureIo();
    expect(await runConfigureVonageCli(['--outputs', outputs], noEnv, { VONAGE_API_HOST: double.url })).toBe(
      1,
    );
    expect(noEnv.err()).toBe(
      'error: missing VONAGE_API_KEY, VONAGE_API_SECRET, VONAGE_APPLICATION_ID in the environment (credentials are read from the environment only, never from flags)\n',
    );

    const noFile = captureIo();
    const missing = join(dir, 'missing.json');
    expect(await runConfigureVonageCli(['--outputs', missing], noFile, vonageEnv())).toBe(1);
    expect(noFile.err()).toBe(
      `error: outputs file ${missing} not found: deploy with \`cdk deploy --outputs-file ${missing}\` or use --stack\n`,
    );

    const local = join(dir, 'local-outputs.json');
    await writeFile(
      local,
      JSON.stringify({
        CallRecorder: { AnswerUrl: 'http://127.0.0.1:3000/answer', EventUrl: 'http://127.0.0.1:3000/event' },
      }),
    );
    const loopback = captureIo();
    expect(await runConfigureVonageCli(['--outputs', local, '--dry-run'], loopback, vonageEnv())).toBe(0);
    expect(loopback.err()).toContain('warning: AnswerUrl http://127.0.0.1:3000/answer is a loopback address');
    expect(loopback.out()).toContain('→ GET http://127.0.0.1:3000/answer');
    expect(double.requests.some((r) => r.method === 'PUT')).toBe(false);
  });
});
