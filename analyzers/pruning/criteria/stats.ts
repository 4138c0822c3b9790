/**
 * Per-member statistics: one number per unit of a group, computed on one member tensor over the unit's
 * indices along the member's `dim` (`indicesOf(member.indices, u)`). NaN marks a unit that has no index on
 * this member (heads × head-dims overlaps, partial maps), so reductions can skip it.
 *
 *  - l1:   Σ |w| over the unit's slice.
 *  - l2:   ‖slice‖₂ = √Σ w².
 *  - bn:   Σ |γ| over the unit's indices (network slimming); meant for BatchNormalization `norm-scale` members.
 *  - fpgm: Σ over the other units v of ‖slice_u − slice_v‖₂ (He et al. 2019): a filter close to the geometric
 *          median of its layer is replaceable by the others, so a small sum means "prune me".
 */
import { indicesOf, type Member } from "../types.ts";
import { mulberry32 } from "./random.ts";
import type { WeightArray } from "./weights.ts";

export type StatName = "l1" | "l2" | "bn" | "fpgm";

/** Layout of a tensor around one axis: values[(o·size + i)·inner + k]. */
function layout(w: WeightArray, dim: number): { outer: number; size: number; inner: number } | undefined {
  if (dim < 0 || dim >= w.dims.length) return undefined;
  let outer = 1;
  let inner = 1;
  for (let d = 0; d < dim; d++) outer *= w.dims[d]!;
  for (let d = dim + 1; d < w.dims.length; d++) inner *= w.dims[d]!;
  return { outer, size: w.dims[dim]!, inner };
}

export interface AxisSums {
  abs: Float64Array;
  sq: Float64Array;
}

/** Σ|w| and Σw² of every index along `dim`. */
export function axisSums(w: WeightArray, dim: number): AxisSums | undefined {
  const l = layout(w, dim);
  if (!l) return undefined;
  const abs = new Float64Array(l.size);
  const sq = new Float64Array(l.size);
  const v = w.values;
  for (let o = 0, p = 0; o < l.outer; o++)
    for (let i = 0; i < l.size; i++) {
      let a = 0;
      let s = 0;
      for (let k = 0; k < l.inner; k++, p++) {
        const x = v[p]!;
        a += Math.abs(x);
        s += x * x;
      }
      abs[i] += a;
      sq[i] += s;
    }
  return { abs, sq };
}

/** Copies the values of a set of indices along `dim` (index by index, outer-major within each) to `out` at `p`. */
function gather(w: WeightArray, l: { outer: number; size: number; inner: number }, idx: readonly number[], out: Float64Array, p: number): void {
  for (const i of idx)
    for (let o = 0; o < l.outer; o++) {
      const start = (o * l.size + i) * l.inner;
      out.set(w.values.subarray(start, start + l.inner), p);
      p += l.inner;
    }
}

/** Element operations FPGM spends on one member before it measures against a sample of the filters. */
export const FPGM_BUDGET = 1e8;

export interface FpgmResult {
  scores: Float64Array;
  /** Number of reference filters when the sum was estimated from a sample (large layers). */
  sampled?: number;
}

/**
 * FPGM of one member. All pairs cost n²/2 · slice length; past `budget` (a 11008-wide LLM MLP would take
 * hours) each filter's sum is estimated from its distances to a seeded sample of reference filters,
 * scaled to n − 1 terms: unbiased, deterministic, and said so by `sampled`.
 */
export function fpgmStat(w: WeightArray, member: Member, units: number, budget = FPGM_BUDGET): FpgmResult {
  const out = new Float64Array(units).fill(NaN);
  const l = layout(w, member.dim);
  if (!l) return { scores: out };
  const rows: number[] = [];
  const idxs: number[][] = [];
  for (let u = 0; u < units; u++) {
    const idx = indicesOf(member.indices, u);
    if (idx.length && idx.every((i) => i < l.size)) {
      rows.push(u);
      idxs.push(idx);
    }
  }
  // Distances only make sense between slices of one length (units of one shape).
  const count = idxs[0]?.length ?? 0;
  if (idxs.some((x) => x.length !== count)) return { scores: out };
  const len = count * l.outer * l.inner;
  const n = rows.length;
  const m = new Float64Array(n * len);
  idxs.forEach((idx, r) => gather(w, l, idx, m, r * len));
  const dist = (a: number, b: number) => {
    const oa = a * len;
    const ob = b * len;
    let s = 0;
    for (let k = 0; k < len; k++) {
      const d = m[oa + k]! - m[ob + k]!;
      s += d * d;
    }
    return Math.sqrt(s);
  };
  const sums = new Float64Array(n);
  let sampled: number | undefined;
  if ((n * (n - 1) * len) / 2 <= budget) {
    for (let a = 0; a < n; a++)
      for (let b = a + 1; b < n; b++) {
        const d = dist(a, b);
        sums[a] += d;
        sums[b] += d;
      }
  } else {
    const k = Math.min(n, Math.max(16, Math.floor(budget / (n * len))));
    const order = Array.from({ length: n }, (_, i) => i);
    const rnd = mulberry32(n * 31 + len);
    for (let i = 0; i < k; i++) {
      const j = i + Math.floor(rnd() * (n - i));
      [order[i], order[j]] = [order[j]!, order[i]!];
    }
    const refs = order.slice(0, k);
    const isRef = new Uint8Array(n);
    for (const r of refs) isRef[r] = 1;
    for (let a = 0; a < n; a++) {
      let s = 0;
      for (const r of refs) if (r !== a) s += dist(a, r);
      const terms = k - isRef[a]!;
      sums[a] = terms > 0 ? (s * (n - 1)) / terms : 0;
    }
    sampled = k;
  }
  rows.forEach((u, r) => (out[u] = sums[r]!));
  return sampled === undefined ? { scores: out } : { scores: out, sampled };
}

/** Sums of an axis (axisSums) → one statistic per unit of a member (NaN where the unit has no index here). */
export function unitStat(sums: AxisSums, member: Member, units: number, stat: Exclude<StatName, "fpgm">): Float64Array {
  const out = new Float64Array(units).fill(NaN);
  for (let u = 0; u < units; u++) {
    const idx = indicesOf(member.indices, u);
    if (!idx.length || idx.some((i) => i >= sums.abs.length)) continue;
    let s = 0;
    if (stat === "l2") {
      for (const i of idx) s += sums.sq[i]!;
      out[u] = Math.sqrt(s);
    } else {
      for (const i of idx) s += sums.abs[i]!;
      out[u] = s;
    }
  }
  return out;
}

/** One statistic per unit for one member (NaN where the unit has no index here or the data does not fit). */
export function memberStat(w: WeightArray, member: Member, units: number, stat: StatName): Float64Array {
  if (stat === "fpgm") return fpgmStat(w, member, units).scores;
  const sums = axisSums(w, member.dim);
  return sums ? unitStat(sums, member, units, stat) : new Float64Array(units).fill(NaN);
}
