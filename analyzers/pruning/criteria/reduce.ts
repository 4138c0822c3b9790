/**
 * Reduction of per-member statistics to one score per unit of a group. Each unit is reduced over the
 * members that have a value for it (NaN = the unit has no index on that member); a unit no member scores
 * stays NaN, which selection treats as "cannot be ranked, never chosen".
 */
export const REDUCTIONS = ["mean", "sum", "max", "first"] as const;
export type Reduction = (typeof REDUCTIONS)[number];

/** `stats[m][u]`: statistic of unit u on member m, members in priority order ("first" takes the earliest). */
export function reduceStats(stats: readonly Float64Array[], units: number, how: Reduction): Float64Array {
  const out = new Float64Array(units).fill(NaN);
  for (let u = 0; u < units; u++) {
    let n = 0;
    let acc = 0;
    for (const s of stats) {
      const x = s[u]!;
      if (Number.isNaN(x)) continue;
      if (how === "first") {
        acc = x;
        n = 1;
        break;
      }
      acc = n === 0 ? x : how === "max" ? Math.max(acc, x) : acc + x;
      n++;
    }
    if (n) out[u] = how === "mean" ? acc / n : acc;
  }
  return out;
}
