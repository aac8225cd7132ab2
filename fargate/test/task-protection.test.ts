import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { EcsTaskProtection } from '../src/task-protection.js';

/** A stand-in for the ECS agent's task-protection endpoint, recording what it is told. */
async function startAgent(
  status = 200,
): Promise<{ uri: string; requests: { method: string; path: string; body: unknown }[]; server: Server }> {
  const requests: { method: string; path: string; body: unknown }[] = [];
  const server = createServer((request, response) => {
    let body = '';
    request.on('data', (chunk) => {
      body += chunk;
    });
    request.on('end', () => {
      requests.push({ method: request.method!, path: request.url!, body: JSON.parse(body) });
      response.writeHead(status, { 'content-type': 'application/json' });
      response.end(
        JSON.stringify(status === 200 ? { protection: {} } : { error: { Code: 'ServerException' } }),
      );
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { uri: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, requests, server };
}

const servers: Server[] = [];
afterEach(() => {
  for (const server of servers.splice(0)) server.close();
});

describe('EcsTaskProtection', () => {
  it('protects the task while calls are live and clears it when idle, coalescing changes', async () => {
    const agent = await startAgent();
    servers.push(agent.server);
    const protection = new EcsTaskProtection({ agentUri: agent.uri, expiresInMinutes: 150 });
    protection.setActive(true);
    protection.setActive(true);
    await protection.settled();
    protection.setActive(false);
    protection.setActive(true);
    protection.setActive(false);
    await protection.settled();
    expect(agent.requests).toEqual([
      {
        method: 'PUT',
        path: '/task-protection/v1/state',
        body: { ProtectionEnabled: true, ExpiresInMinutes: 150 },
      },
      { method: 'PUT', path: '/task-protection/v1/state', body: { ProtectionEnabled: false } },
    ]);
  });

  it('tries again on the next change after the agent fails', async () => {
    const agent = await startAgent(500);
    servers.push(agent.server);
    const protection = new EcsTaskProtection({ agentUri: agent.uri });
    protection.setActive(true);
    await protection.settled();
    protection.setActive(true);
    await protection.settled();
    expect(agent.requests).toHaveLength(2);
  });

  it('does nothing off ECS', async () => {
    const protection = new EcsTaskProtection({ agentUri: '' });
    expect(protection.enabled).toBe(false);
    protection.setActive(true);
    await protection.settled();
  });
});
