/** Small order statistics for benchmark reports. Inputs are not modified. */

/** The q-quantile (0 ≤ q ≤ 1) by linear interpolation between closest ranks; NaN for no samples. */
export function quantile(values: readonly number[], q: number): number {
  if (values.length === 0) return Number.NaN;
  if (q < 0 || q > 1) throw new RangeError(`quantile must be between 0 and 1, got ${q}`);
  const sorted = Float64Array.from(values).sort();
  const position = (sorted.length - 1) * q;
  const lower = Math.floor(position);
  const upper = Math.ceil(position);
  const low = sorted[lower] as number;
  const high = sorted[upper] as number;
  return low + (high - low) * (position - lower);
}

export function median(values: readonly number[]): number {
  return quantile(values, 0.5);
}

export function p99(values: readonly number[]): number {
  return quantile(values, 0.99);
}

export interface Summary {
  readonly count: number;
  readonly min: number;
  readonly median: number;
  readonly p90: number;
  readonly p99: number;
  readonly max: number;
  readonly mean: number;
}

/** Count, min, median, p90, p99, max and mean of a sample. */
export function summarize(values: readonly number[]): Summary {
  let sum = 0;
  let min = Number.POSITIVE_INFINITY;
  let max = Number.NEGATIVE_INFINITY;
  for (const value of values) {
    sum += value;
    if (value < min) min = value;
    if (value > max) max = value;
  }
  const count = values.length;
  return {
    count,
    min: count ? min : Number.NaN,
    median: median(values),
    p90: quantile(values, 0.9),
    p99: p99(values),
    max: count ? max : Number.NaN,
    mean: count ? sum / count : Number.NaN,
  };
}

/** `a / b` rounded for a report, or 'n/a' when either side is missing. */
export function ratio(a: number, b: number, digits = 2): string {
  if (!Number.isFinite(a) || !Number.isFinite(b) || b === 0) return 'n/a';
  return `${(a / b).toFixed(digits)}×`;
}
