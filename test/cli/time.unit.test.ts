import { describe, expect, it } from 'vitest';
import { UsageError } from '../../tools/cli/errors.js';
import { formatBytes, formatSeconds, parseDuration, parseInstant } from '../../tools/cli/time.js';

describe('flag values', () => {
  it('parses durations with units, combined units and bare seconds', () => {
    expect(parseDuration('90')).toBe(90);
    expect(parseDuration('2.5')).toBe(2.5);
    expect(parseDuration('15m')).toBe(900);
    expect(parseDuration('1h30m')).toBe(5400);
    expect(parseDuration('7d')).toBe(604_800);
    expect(parseDuration('1W')).toBe(604_800);
    for (const bad of ['', 'soon', '1h30', 'h', '-5m', '1 h']) {
      expect(() => parseDuration(bad, '--expires')).toThrow(UsageError);
    }
  });

  it('parses dates (whole UTC days), date-times and times back from now', () => {
    const now = new Date('2026-11-28T12:00:00.000Z');
    expect(parseInstant('2026-11-01', { flag: '--from' }).toISOString()).toBe('2026-11-01T00:00:00.000Z');
    expect(parseInstant('2026-11-01', { flag: '--to', endOfDay: true }).toISOString()).toBe(
      '2026-11-01T23:59:59.999Z',
    );
    expect(parseInstant('2026-11-01T10:30:00+01:00', { flag: '--from' }).toISOString()).toBe(
      '2026-11-01T09:30:00.000Z',
    );
    expect(parseInstant('24h', { flag: '--since', now }).toISOString()).toBe('2026-11-27T12:00:00.000Z');
    expect(() => parseInstant('2026-02-30', { flag: '--from' })).toThrow(
      '--from is not a valid date: "2026-02-30"',
    );
    expect(() => parseInstant('yesterday', { flag: '--since' })).toThrow(UsageError);
  });

  it('formats durations and sizes for tables', () => {
    expect(formatSeconds(6.96)).toBe('7.0s');
    expect(formatSeconds(75)).toBe('1:15');
    expect(formatSeconds(3725)).toBe('1:02:05');
    expect(formatBytes(44)).toBe('44 B');
    expect(formatBytes(222_764)).toBe('217.5 KiB');
    expect(formatBytes(5 * 1024 ** 3)).toBe('5.0 GiB');
  });
});
