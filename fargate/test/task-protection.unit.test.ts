import { describe, expect, it } from 'vitest';
import { ProtectionPlan } from '../src/task-protection.js';

const MIN = 60_000;
const T0 = Date.parse('2026-03-01T10:00:00Z');

describe('ProtectionPlan (the decision logic)', () => {
  // 2-hour calls, 15 minutes to store one, 5 minutes of slack: one call needs 140 minutes.
  const plan = () =>
    new ProtectionPlan({ maxCallSeconds: 7200, finalizeMarginSeconds: 900, slackSeconds: 300 });

  it('clears protection when idle, once, and then leaves the agent alone', () => {
    const p = plan();
    expect(p.next(T0, undefined)).toEqual({ ProtectionEnabled: false });
    expect(p.next(T0, { enabled: false, expiresAtMs: undefined })).toBeUndefined();
  });

  it('protects a task with a call until that call must be over, not for a fixed two hours', () => {
    const p = plan();
    p.callAccepted(T0);
    expect(p.next(T0, { enabled: false, expiresAtMs: undefined })).toEqual({
      ProtectionEnabled: true,
      ExpiresInMinutes: 140,
    });
  });

  it('costs one request for a burst of calls, and extends protection only when a call needs longer', () => {
    const p = plan();
    p.callAccepted(T0);
    const applied = { enabled: true, expiresAtMs: T0 + 140 * MIN };
    for (let minute = 1; minute <= 5; minute++) {
      p.callAccepted(T0 + minute * MIN);
      expect(p.next(T0 + minute * MIN, applied)).toBeUndefined();
    }
    p.callAccepted(T0 + 6 * MIN);
    expect(p.next(T0 + 6 * MIN, applied)).toEqual({ ProtectionEnabled: true, ExpiresInMinutes: 140 });
  });

  it('on a task that gets no new calls (an old one after a deployment), never asks past its last call + the bound', () => {
    const p = plan();
    p.callAccepted(T0);
    let applied = { enabled: true, expiresAtMs: T0 + 140 * MIN };
    for (let minute = 0; minute < 200; minute++) {
      const request = p.next(T0 + minute * MIN, applied);
      if (request?.ProtectionEnabled) {
        applied = { enabled: true, expiresAtMs: T0 + minute * MIN + request.ExpiresInMinutes * MIN };
      }
      expect(applied.expiresAtMs).toBeLessThanOrEqual(T0 + 140 * MIN);
    }
    // A call stuck in finalization past its bound no longer holds the task.
    expect(p.next(T0 + 136 * MIN, applied)).toEqual({ ProtectionEnabled: false });
  });

  it('clears protection as soon as the last call is stored', () => {
    const p = plan();
    p.callAccepted(T0);
    p.idle();
    expect(p.next(T0 + 3 * MIN, { enabled: true, expiresAtMs: T0 + 140 * MIN })).toEqual({
      ProtectionEnabled: false,
    });
  });

  it('stays within the 1–2880 minutes the agent accepts', () => {
    const short = new ProtectionPlan({ maxCallSeconds: 1, finalizeMarginSeconds: 0, slackSeconds: 0 });
    short.callAccepted(T0);
    expect(short.next(T0, undefined)).toEqual({ ProtectionEnabled: true, ExpiresInMinutes: 1 });
  });
});
