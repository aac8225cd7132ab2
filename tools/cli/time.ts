import { UsageError } from './errors.js';

const UNIT_SECONDS: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86_400, w: 604_800 };

/**
 * Parses a duration such as `90`, `90s`, `15m`, `1h`, `1h30m`, `7d` into seconds (a bare number
 * is seconds, fractions allowed).
 */
export function parseDuration(text: string, flag = 'duration'): number {
  const trimmed = text.trim().toLowerCase();
  if (/^\d+(\.\d+)?$/.test(trimmed)) return Number(trimmed);
  const pattern = /(\d+(?:\.\d+)?)([smhdw])/gy;
  let total = 0;
  let consumed = 0;
  for (const match of trimmed.matchAll(pattern)) {
    total += Number(match[1]) * (UNIT_SECONDS[match[2] as string] as number);
    consumed += match[0].length;
  }
  if (consumed === 0 || consumed !== trimmed.length) {
    throw new UsageError(`${flag} must look like 90, 90s, 15m, 1h30m or 7d, got ${JSON.stringify(text)}`);
  }
  return total;
}

const DATE_ONLY = /^\d{4}-\d{2}-\d{2}$/;

/**
 * Parses a point in time for a filter flag: an ISO date (`2026-11-28`, UTC midnight, or the end
 * of that day when `endOfDay`), an ISO date-time, or a duration back from now (`24h`, `7d`).
 */
export function parseInstant(text: string, options: { flag: string; endOfDay?: boolean; now?: Date }): Date {
  const trimmed = text.trim();
  if (DATE_ONLY.test(trimmed)) {
    const day = new Date(`${trimmed}T00:00:00.000Z`);
    if (Number.isNaN(day.getTime()) || day.toISOString().slice(0, 10) !== trimmed) {
      throw new UsageError(`${options.flag} is not a valid date: ${JSON.stringify(text)}`);
    }
    return options.endOfDay ? new Date(day.getTime() + 86_400_000 - 1) : day;
  }
  if (/^\d{4}-\d{2}-\d{2}T/.test(trimmed)) {
    const instant = new Date(trimmed);
    if (Number.isNaN(instant.getTime())) {
      throw new UsageError(`${options.flag} is not a valid date-time: ${JSON.stringify(text)}`);
    }
    return instant;
  }
  let seconds: number;
  try {
    seconds = parseDuration(trimmed, options.flag);
  } catch {
    throw new UsageError(
      `${options.flag} must be a date (2026-11-28), a date-time (2026-11-28T10:00:00Z) or a time back from now (24h, 7d), got ${JSON.stringify(text)}`,
    );
  }
  return new Date((options.now ?? new Date()).getTime() - seconds * 1000);
}

/** `m:ss` or `h:mm:ss`, to the tenth of a second under a minute. */
export function formatSeconds(seconds: number): string {
  if (seconds < 60) return `${seconds.toFixed(1)}s`;
  const whole = Math.round(seconds);
  const h = Math.floor(whole / 3600);
  const m = Math.floor((whole % 3600) / 60);
  const s = String(whole % 60).padStart(2, '0');
  return h > 0 ? `${h}:${String(m).padStart(2, '0')}:${s}` : `${m}:${s}`;
}

/** Bytes in B, KiB, MiB or GiB with one decimal. */
export function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let value = bytes / 1024;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return `${value.toFixed(1)} ${units[unit]}`;
}
