import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Logger } from '@aws-lambda-powertools/logger';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type EcsAgentDouble, startEcsAgentDouble } from '../../test-support/ecs-agent-double.js';
import { type LocalS3, startLocalS3 } from '../../test-support/local-s3.js';
import {
  callUrl,
  closed,
  connectedFrame,
  frames,
  newCallUuid,
  openSocket,
  SECRET,
  sendAll,
  waitForRecording,
  waitUntil,
} from '../../test-support/recorder.js';
import { speechPcm } from '../../test-support/speech.js';
import { createRecorder } from '../src/recorder.js';
import { EcsTaskProtection } from '../src/task-protection.js';

const MIN = 60_000;
const T0 = Date.parse('2026-03-01T10:00:00Z');

describe('EcsTaskProtection against the agent endpoint', () => {
  let clock = T0;
  const now = () => clock;
  const agents: EcsAgentDouble[] = [];
  afterEach(async () => {
    await Promise.all(agents.splice(0).map((agent) => agent.close()));
  });
  async function agent(): Promise<EcsAgentDouble> {
    const double = await startEcsAgentDouble(now);
    agents.push(double);
    return double;
  }

  it('protects the task for its call and clears it once idle, using what the agent confirms', async () => {
    clock = T0;
    const ecs = await agent();
    const protection = new EcsTaskProtection({ agentUri: ecs.uri, maxCallSeconds: 7200, now });
    protection.callAccepted(clock);
    await protection.settled();
    expect(ecs.state()).toEqual({ protectionEnabled: true, expiresAtMs: T0 + 140 * MIN });
    expect(protection.applied).toEqual({ enabled: true, expiresAtMs: T0 + 140 * MIN });
    clock += MIN;
    protection.callAccepted(clock); // within the slack: nothing sent
    protection.setActive(true);
    await protection.settled();
    protection.setActive(false);
    await protection.settled();
    expect(ecs.state().protectionEnabled).toBe(false);
    expect(ecs.requests).toEqual([
      { method: 'PUT', body: { ProtectionEnabled: true, ExpiresInMinutes: 140 } },
      { method: 'PUT', body: { ProtectionEnabled: false } },
    ]);
  });

  it('retries a refused request after its delay (DEPLOYMENT_BLOCKED, throttling), not on every tick', async () => {
    clock = T0;
    const ecs = await agent();
    ecs.blockDeployment(true);
    const protection = new EcsTaskProtection({
      agentUri: ecs.uri,
      maxCallSeconds: 600,
      now,
      retryDelayMs: 5000,
    });
    protection.callAccepted(clock);
    await protection.settled();
    expect(ecs.state().protectionEnabled).toBe(false);
    clock += 1000;
    protection.setActive(true);
    await protection.settled();
    expect(ecs.requests).toHaveLength(1);
    ecs.blockDeployment(false);
    ecs.throttle(1);
    clock += 5000;
    protection.setActive(true);
    await protection.settled();
    expect(ecs.requests).toHaveLength(2);
    clock += 5000;
    protection.setActive(true);
    await protection.settled();
    expect(ecs.state().protectionEnabled).toBe(true);
    expect(ecs.requests).toHaveLength(3);
  });

  it('stops asking once ECS says the task is stopping', async () => {
    clock = T0;
    const ecs = await agent();
    ecs.stopTask();
    const protection = new EcsTaskProtection({
      agentUri: ecs.uri,
      maxCallSeconds: 600,
      now,
      retryDelayMs: 1,
    });
    protection.callAccepted(clock);
    await protection.settled();
    clock += 60_000;
    protection.setActive(true);
    protection.callAccepted(clock);
    await protection.settled();
    expect(ecs.requests).toHaveLength(1);
  });

  it('lets protection lapse by itself when the recorder cannot reach the agent to renew it', async () => {
    clock = T0;
    const ecs = await agent();
    const protection = new EcsTaskProtection({ agentUri: ecs.uri, maxCallSeconds: 600, now });
    protection.callAccepted(clock);
    await protection.settled();
    // 10 + 15 + 5 minutes, then ECS itself clears it.
    clock += 29 * MIN;
    expect(ecs.state().protectionEnabled).toBe(true);
    clock += 2 * MIN;
    expect(ecs.state().protectionEnabled).toBe(false);
  });

  it('does nothing off ECS', async () => {
    const protection = new EcsTaskProtection({ agentUri: '', maxCallSeconds: 600 });
    expect(protection.enabled).toBe(false);
    protection.callAccepted(Date.now());
    await protection.settled();
  });
});

describe('a recorder on ECS', () => {
  let s3: LocalS3;
  let work: string;
  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), 'protection-test-'));
    s3 = await startLocalS3();
  });
  afterAll(async () => {
    await s3?.close();
    await rm(work, { recursive: true, force: true });
  });

  it('holds protection while its call is live and gives the task back once the recording is stored', async () => {
    const ecs = await startEcsAgentDouble();
    const recorder = createRecorder({
      bucket: s3.bucket,
      s3: s3.client,
      callTokenSecret: SECRET,
      scratchDir: await mkdtemp(join(work, 'scratch-')),
      logger: new Logger({ logLevel: 'SILENT' }),
      maxCallSeconds: 600,
      taskProtection: new EcsTaskProtection({ agentUri: ecs.uri, maxCallSeconds: 600 }),
    });
    try {
      const address = await recorder.listen(0, '127.0.0.1');
      const rate = 8000;
      const uuid = newCallUuid();
      const ws = await openSocket(callUrl(`ws://127.0.0.1:${address.port}`, uuid));
      const end = closed(ws);
      await sendAll(ws, [connectedFrame(rate, uuid), ...frames(await speechPcm('Hello.', rate), rate)]);
      await waitUntil(async () => ecs.state().protectionEnabled);
      // 600 s call + 15 min to store it + 5 min slack, from now.
      const expected = Date.now() + 30 * MIN;
      expect(Math.abs(ecs.state().expiresAtMs! - expected)).toBeLessThan(60_000);
      ws.close(1000);
      await end;
      await waitForRecording(s3.client, s3.bucket, uuid);
      await waitUntil(async () => !ecs.state().protectionEnabled);
      // One request to protect (an idle tick before the call may have sent a `false` first), one to clear.
      const seen = ecs.requests.map((r) => (r.body as { ProtectionEnabled: boolean }).ProtectionEnabled);
      expect(seen.slice(-2)).toEqual([true, false]);
      expect(seen.filter(Boolean)).toHaveLength(1);
    } finally {
      await recorder.close();
      await ecs.close();
    }
  });
});
