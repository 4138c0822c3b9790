/**
 * Normalisation of a group's unit scores, so scores of different groups can be compared by one global
 * threshold (a local, per-group selection is unaffected by any monotone normalisation but LAMP's).
 *
 *  - none: raw scores.
 *  - mean: s / mean(s).  - max: s / max(s).   (a zero or NaN denominator leaves the scores as they are)
 *  - lamp: Lee et al. 2021, "Layer-adaptive sparsity for the Magnitude-based Pruning": with the units sorted
 *    by ascending score, lamp(u) = s_u² / Σ_{v ranked at or after u} s_v². The largest unit of every group
 *    scores 1, so a global threshold never empties a group and prunes more where a layer's weights are flat.
 *    Ties are ranked by unit index, so the result is deterministic.
 *
 * NaN scores (units no member could rank) stay NaN and take no part.
 */
export const NORMALIZATIONS = ["none", "mean", "max", "lamp"] as const;
export type Normalization = (typeof NORMALIZATIONS)[number];

export function normalizeScores(scores: Float64Array, how: Normalization): Float64Array {
  const out = Float64Array.from(scores);
  const live: number[] = [];
  for (let u = 0; u < scores.length; u++) if (!Number.isNaN(scores[u]!)) live.push(u);
  if (!live.length || how === "none") return out;
  if (how === "mean" || how === "max") {
    let d = how === "max" ? -Infinity : 0;
    for (const u of live) d = how === "max" ? Math.max(d, scores[u]!) : d + scores[u]!;
    if (how === "mean") d /= live.length;
    if (d !== 0 && Number.isFinite(d)) for (const u of live) out[u] = scores[u]! / d;
    return out;
  }
  // lamp
  live.sort((a, b) => scores[a]! - scores[b]! || a - b);
  let tail = 0;
  for (let r = live.length - 1; r >= 0; r--) {
    const u = live[r]!;
    const s2 = scores[u]! * scores[u]!;
    tail += s2;
    out[u] = tail > 0 ? s2 / tail : 0;
  }
  return out;
}
