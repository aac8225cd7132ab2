import { S3Client } from '@aws-sdk/client-s3';
import type { Hono } from 'hono';
import { beforeAll, describe, expect, it } from 'vitest';
import { buildConsoleApp } from '../../tools/console/console-server.js';

/**
 * The console's access rules, driven in process through `app.request` (no socket) with an
 * injected clock: the token's lifetime, the cookie it becomes, the Host check.
 */

const TOKEN = 'x'.repeat(43);
const HOST = '127.0.0.1:8090';
const startedAt = Date.parse('2026-12-01T12:00:00Z');
let now = startedAt;
let app: Hono;

beforeAll(async () => {
  app = await buildConsoleApp({
    // Never called: every request below is refused or answered before S3.
    s3: new S3Client({ region: 'us-east-1' }),
    bucket: 'recordings',
    description: 'test',
    token: TOKEN,
    expiresAt: startedAt + 3600_000,
    hosts: () => [HOST, 'localhost:8090'],
    now: () => now,
  });
});

const request = (path: string, headers: Record<string, string> = {}) =>
  app.request(`http://${HOST}${path}`, { headers: { host: HOST, ...headers } });

describe('console access', () => {
  it('swaps the token for a cookie that lives as long as the token has left', async () => {
    now = startedAt + 600_000;
    const response = await request(`/?token=${TOKEN}`);
    expect(response.status).toBe(303);
    const cookie = response.headers.get('set-cookie') ?? '';
    expect(cookie).toMatch(/^recordings_console=x{43}; Max-Age=3000; Path=\/; HttpOnly; SameSite=Strict$/);
    const page = await request('/', { cookie: `recordings_console=${TOKEN}` });
    expect(page.status).toBe(200);
    expect(await page.text()).toContain('<h1>Recordings</h1>');
  });

  it('refuses a wrong token in the URL and a wrong cookie', async () => {
    now = startedAt;
    expect((await request('/?token=y')).status).toBe(401);
    const api = await request('/api/info', { cookie: 'recordings_console=nope' });
    expect(api.status).toBe(401);
    expect(await api.json()).toEqual({ error: expect.stringMatching(/no access token/) });
  });

  it('refuses the right token once it has expired, saying to start the console again', async () => {
    now = startedAt + 3600_000;
    const response = await request('/', { cookie: `recordings_console=${TOKEN}` });
    expect(response.status).toBe(401);
    expect(await response.text()).toContain('this console start has expired');
    expect((await request(`/?token=${TOKEN}`)).status).toBe(401);
  });

  it('answers only under its own host name', async () => {
    now = startedAt;
    const response = await app.request('http://attacker.example/api/info', {
      headers: { host: 'attacker.example', cookie: `recordings_console=${TOKEN}` },
    });
    expect(response.status).toBe(403);
    expect(((await response.json()) as { error: string }).error).toMatch(/answers only at 127\.0\.0\.1:8090/);
  });
});
