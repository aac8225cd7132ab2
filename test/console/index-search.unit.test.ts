import { describe, expect, it } from 'vitest';
import { buildIndexQuery, recentDays, wantsIndex } from '../../tools/console/index-search.js';
import { ConsoleRequestError } from '../../tools/console/recording-index.js';

const page = { beforeDay: '2026-12-01', offset: 0, limit: 50 };

describe('wantsIndex', () => {
  it('sends numbers and uuids without a short range to the index, everything else to listing', () => {
    expect(wantsIndex({ caller: '447700900555' })).toBe(true);
    expect(wantsIndex({ uuid: 'abc-1' })).toBe(true);
    expect(
      wantsIndex({
        callee: '44207',
        from: new Date('2024-01-01T00:00:00Z'),
        to: new Date('2026-01-01T00:00:00Z'),
      }),
    ).toBe(true);
    expect(
      wantsIndex({
        caller: '4477',
        from: new Date('2026-11-20T00:00:00Z'),
        to: new Date('2026-11-22T23:59:59Z'),
      }),
    ).toBe(false);
    expect(wantsIndex({ minDurationSeconds: 60 })).toBe(false);
    expect(wantsIndex({})).toBe(false);
  });
});

describe('recentDays', () => {
  it('is today, and yesterday too within the hour the inventory may lag', () => {
    expect(recentDays(new Date('2026-12-01T12:00:00Z'))).toEqual(['2026-12-01']);
    expect(recentDays(new Date('2026-12-01T00:20:00Z'))).toEqual(['2026-11-30', '2026-12-01']);
  });
});

describe('buildIndexQuery', () => {
  it('puts the caller only in execution parameters, as quoted literals, digits and +digits', () => {
    const query = buildIndexQuery({ caller: '+44 7700 900555' }, page);
    expect(query.sql).not.toContain('7700');
    expect(query.sql).toContain("user_metadata['from'] IN (?, ?)");
    expect(query.parameters).toEqual([
      "'recordings/%.wav'",
      "'recordings/2026/12/01/'",
      "'447700900555'",
      "'+447700900555'",
    ]);
    expect(query.sql.split('?').length - 1).toBe(query.parameters.length);
    expect(query.sql).toMatch(/ORDER BY key DESC\nOFFSET 0 LIMIT 50$/);
  });

  it('bounds the keys by the date range and matches callee and uuid', () => {
    const query = buildIndexQuery(
      {
        callee: '442071838750',
        uuid: 'f1f1f1f1-0000-4000-8000-000000000001',
        from: new Date('2025-03-04T10:00:00Z'),
        to: new Date('2026-02-01T23:59:59Z'),
      },
      { beforeDay: '2026-12-01', offset: 100, limit: 20 },
    );
    expect(query.sql).toContain('key >= ?');
    expect(query.sql).toContain("user_metadata['to'] IN (?, ?)");
    expect(query.sql).toContain("user_metadata['call-uuid'] = ?");
    expect(query.parameters).toContain("'recordings/2025/03/04/'");
    expect(query.parameters).toContain("'recordings/2026/02/01/~'");
    expect(query.parameters).toContain("'f1f1f1f1-0000-4000-8000-000000000001'");
    expect(query.sql).toMatch(/OFFSET 100 LIMIT 20$/);
  });

  it('refuses a caller that is not a number and a uuid with quotes, before any query', () => {
    expect(() => buildIndexQuery({ caller: "4477' OR 1=1 --" }, page)).toThrow(ConsoleRequestError);
    expect(() => buildIndexQuery({ caller: "4477' OR 1=1 --" }, page)).toThrow(
      /caller must be a phone number/,
    );
    expect(() => buildIndexQuery({ uuid: "x' OR 'a'='a" }, page)).toThrow(/uuid must be letters/);
    expect(() => buildIndexQuery({ caller: '4477' }, { ...page, offset: -1 })).toThrow(ConsoleRequestError);
  });
});
