import { randomUUID } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { PutEventsEntry } from '../../common/recording-events.js';
import { startTestStack } from '../../test-support/local-stack.js';
import type { LocalStack } from '../../tools/local/stack.js';
import { simulateCall } from '../../tools/simulator/simulate-call.js';
import { callEvent, completedEvent, deliverEvent, sendWebhook } from '../../tools/simulator/webhooks.js';

/** Short checks, so a test sees both: the first 1.5 s after `completed`, the final 3 s after. */
const SCHEDULE = { firstCheckSeconds: 1.5, finalCheckSeconds: 3 };

/** 2 s of a quiet tone at 16 kHz: what is said does not matter here. */
const TWO_SECONDS = { pcm: Buffer.alloc(16000 * 2 * 2, 0x10), sampleRate: 16000 as const };

let workDir: string;
let stack: LocalStack;

beforeAll(async () => {
  workDir = await mkdtemp(join(tmpdir(), 'reconciler-'));
  stack = await startTestStack(workDir, {
    reconcile: SCHEDULE,
  });
});

afterAll(async () => {
  await stack?.stop();
  await rm(workDir, { recursive: true, force: true });
});

/** The events the local stack has put, as PutEvents entries, read from `<dataDir>/eventbridge.jsonl`. */
async function putEvents(): Promise<PutEventsEntry[]> {
  const text = await readFile(join(stack.dataDir, 'eventbridge.jsonl'), 'utf8').catch(() => '');
  return text
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => JSON.parse(line) as PutEventsEntry);
}

function eventsFor(entries: readonly PutEventsEntry[], uuid: string): PutEventsEntry[] {
  return entries.filter((entry) => (JSON.parse(entry.Detail) as { uuid: string }).uuid === uuid);
}

async function waitForEvent(uuid: string, detailType: string, timeoutMs = 15_000): Promise<PutEventsEntry> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const found = eventsFor(await putEvents(), uuid).find((entry) => entry.DetailType === detailType);
    if (found) return found;
    await sleep(100);
  }
  throw new Error(`no "${detailType}" event for ${uuid} within ${timeoutMs} ms`);
}

describe('the reconciler in the local stack', () => {
  it('reports Recording Missing, once, for a call answered by Vonage whose websocket never opened', async () => {
    const leg = {
      from: '447700900001',
      to: '447700900000',
      uuid: randomUUID(),
      conversationUuid: `CON-${randomUUID()}`,
      direction: 'inbound' as const,
    };
    // Vonage fetches the answer (an NCCO that connects the websocket), posts the call's events...
    const answer = await sendWebhook(
      stack.answerUrl,
      'GET',
      { from: leg.from, to: leg.to, uuid: leg.uuid, conversation_uuid: leg.conversationUuid },
      { timeoutMs: 5000 },
    );
    expect(answer.status).toBe(200);
    for (const status of ['started', 'ringing', 'answered']) {
      await deliverEvent(stack.eventUrl, 'POST', callEvent(leg, status, new Date()), { timeoutMs: 5000 });
    }
    // ...but the websocket never opens; the caller hangs up, billed 4 s.
    const endTime = new Date();
    await deliverEvent(
      stack.eventUrl,
      'POST',
      completedEvent(leg, {
        startTime: new Date(endTime.getTime() - 4000),
        endTime,
        network: 'GB-FIXED',
        rate: 0.0045,
      }),
      { timeoutMs: 5000 },
    );
    const completedPostedAt = Date.now();
    // Nothing after the first check: the sweeper might yet store it.
    await sleep(SCHEDULE.firstCheckSeconds * 1000 + 500);
    expect(eventsFor(await putEvents(), leg.uuid)).toEqual([]);

    const entry = await waitForEvent(leg.uuid, 'Recording Missing');
    expect(Date.now() - completedPostedAt).toBeGreaterThanOrEqual(SCHEDULE.finalCheckSeconds * 1000 - 1000);
    expect(entry).toMatchObject({ Source: 'call-recorder', EventBusName: 'default' });
    const detail = JSON.parse(entry.Detail);
    expect(detail).toMatchObject({
      schemaVersion: 1,
      eventId: `missing:${leg.uuid}`,
      uuid: leg.uuid,
      conversationUuid: leg.conversationUuid,
      from: leg.from,
      to: leg.to,
      bucket: stack.bucket,
      reason: 'never-connected',
      vonageDurationSeconds: 4,
    });
    expect(detail.expectedKey).toMatch(new RegExp(`^recordings/\\d{4}/\\d{2}/\\d{2}/${leg.uuid}\\.wav$`));
    await sleep(1000);
    expect(eventsFor(await putEvents(), leg.uuid)).toHaveLength(1);
  });

  it('reports nothing for a good call, and a Duration Mismatch when Vonage says the websocket ran 5 s longer', async () => {
    const good = await simulateCall({ answerUrl: stack.answerUrl, speed: 8, audio: TWO_SECONDS });
    // The same, but Vonage's websocket leg reports more than was recorded.
    const short = await simulateCall({
      answerUrl: stack.answerUrl,
      speed: 8,
      audio: TWO_SECONDS,
      websocketLegEvents: false,
    });
    const websocketLeg = {
      from: short.from,
      to: `${stack.recorderUrl}/calls/${short.uuid}?token=redacted`,
      uuid: short.websocketUuid,
      conversationUuid: short.conversationUuid,
      direction: 'outbound' as const,
    };
    await deliverEvent(
      stack.eventUrl,
      'POST',
      completedEvent(websocketLeg, {
        startTime: short.websocketOpenedAt,
        endTime: short.websocketClosedAt,
        network: 'websocket',
        rate: 0,
        simulatedSeconds: short.audioSeconds + 5,
      }),
      { timeoutMs: 5000 },
    );

    const mismatch = await waitForEvent(short.uuid, 'Recording Duration Mismatch');
    expect(JSON.parse(mismatch.Detail)).toMatchObject({
      eventId: `durationMismatch:${short.uuid}`,
      vonageDurationSeconds: Math.round(short.audioSeconds + 5),
      durationSeconds: short.audioSeconds,
      toleranceSeconds: 1,
    });
    // Past the good call's final check: it was found stored and intact, so nothing was put for it.
    await sleep(SCHEDULE.finalCheckSeconds * 1000);
    expect(
      eventsFor(await putEvents(), good.uuid).filter((entry) => entry.DetailType.match(/Missing|Mismatch/)),
    ).toEqual([]);
  });
});
