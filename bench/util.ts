/** Small helpers shared by the benchmarks: medians, ratio rows, aligned tables. */
export function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

export const ms = (x: number) => `${x.toFixed(x < 10 ? 2 : 0)} ms`;

/** [label, ours, baseline, ratio, goal, verdict] for a "smaller is better" ratio with an upper goal. */
export function ratioRow(label: string, ours: number, baseline: number, goal: number): string[] {
  const r = ours / baseline;
  return [label, ms(ours), ms(baseline), r.toFixed(2), `≤ ${goal}`, r <= goal ? "ok" : "MISS"];
}

export function printTable(rows: string[][]): void {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? "").length)));
  for (const r of rows) console.log(r.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join("  "));
}
