/** Small helpers for the benchmarks: percentiles, formatting, a table printer. */
export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i]!;
}

export function fmt(n: number, digits = 0): string {
  if (!Number.isFinite(n)) return String(n);
  return n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });
}

/** Prints rows of metric, value, target and (when any row has one) the baseline measured in the same run. */
export function printTable(title: string, rows: Array<[string, string, string?, string?]>): void {
  const w0 = Math.max(...rows.map((r) => r[0].length), 6);
  const w1 = Math.max(...rows.map((r) => r[1].length), 6);
  const withBase = rows.some((r) => r[3] !== undefined);
  const w2 = withBase ? Math.max(...rows.map((r) => (r[2] ?? '').length), 6) : 0;
  console.log(`\n${title}`);
  if (withBase) {
    console.log(`${'metric'.padEnd(w0)}  ${'value'.padStart(w1)}  ${'target'.padEnd(w2)}  baseline (same run)`);
    console.log(`${'-'.repeat(w0)}  ${'-'.repeat(w1)}  ${'-'.repeat(w2)}  -------------------`);
    for (const [k, v, t, b] of rows) console.log(`${k.padEnd(w0)}  ${v.padStart(w1)}  ${(t ?? '').padEnd(w2)}  ${b ?? ''}`);
    return;
  }
  console.log(`${'metric'.padEnd(w0)}  ${'value'.padStart(w1)}  target`);
  console.log(`${'-'.repeat(w0)}  ${'-'.repeat(w1)}  ------`);
  for (const [k, v, t] of rows) console.log(`${k.padEnd(w0)}  ${v.padStart(w1)}  ${t ?? ''}`);
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
