/**
 * Exact params and MACs while units are being removed, from the analysis' cost model: a weight keeps
 * Π (dim − removed) elements and an op keeps macs · Π (kept/size) over its axes, where `removed` of an axis
 * is the union of the indices every chosen unit removes on it (member and rewrite axes, merged over groups,
 * as applyPlan resolves a plan). Updated incrementally, so a greedy selection can test each step.
 */
import { indicesOf, type Group, type GroupAnalysis, type IndexMap } from "../types.ts";

export interface Size {
  params: number;
  macs: number;
}

export class CostTracker {
  private readonly removed: (Uint8Array | undefined)[];
  private readonly cut: Int32Array;
  private readonly weightVal: Float64Array;
  private readonly opVal: Float64Array;
  private readonly weightsOfAxis = new Map<number, number[]>();
  private readonly opsOfAxis = new Map<number, number[]>();
  params = 0;
  macs = 0;

  constructor(private readonly analysis: GroupAnalysis) {
    this.removed = analysis.axes.map(() => undefined);
    this.cut = new Int32Array(analysis.axes.length);
    const link = (m: Map<number, number[]>, axis: number, k: number) => {
      if (axis < 0) return;
      const l = m.get(axis);
      if (l) {
        if (l[l.length - 1] !== k) l.push(k);
      } else m.set(axis, [k]);
    };
    analysis.cost.weights.forEach((w, k) => w.axes.forEach((a) => link(this.weightsOfAxis, a, k)));
    analysis.cost.ops.forEach((o, k) => o.axes.forEach((a) => link(this.opsOfAxis, a, k)));
    this.weightVal = new Float64Array(analysis.cost.weights.length);
    this.opVal = new Float64Array(analysis.cost.ops.length);
    for (let k = 0; k < this.weightVal.length; k++) this.params += (this.weightVal[k] = this.weight(k));
    for (let k = 0; k < this.opVal.length; k++) this.macs += (this.opVal[k] = this.op(k));
  }

  private weight(k: number): number {
    const w = this.analysis.cost.weights[k]!;
    let n = 1;
    w.dims.forEach((d, i) => (n *= d - (w.axes[i]! >= 0 ? this.cut[w.axes[i]!]! : 0)));
    return n;
  }

  private op(k: number): number {
    const o = this.analysis.cost.ops[k]!;
    let m = o.macs;
    for (const a of o.axes) {
      const size = this.analysis.axes[a]!.size;
      m *= (size - this.cut[a]!) / size;
    }
    return m;
  }

  /** Removes units of a group (on every member and rewrite axis) and updates the totals. */
  remove(g: Group, units: readonly number[]): void {
    const changed = new Set<number>();
    const add = (axis: number, map: IndexMap) => {
      let mask = this.removed[axis];
      if (!mask) mask = this.removed[axis] = new Uint8Array(this.analysis.axes[axis]!.size);
      for (const u of units)
        for (const i of indicesOf(map, u))
          if (!mask[i]) {
            mask[i] = 1;
            this.cut[axis]++;
            changed.add(axis);
          }
    };
    for (const m of g.members) add(m.axis, m.indices);
    for (const r of g.rewrites) add(r.axis, r.indices);
    const ws = new Set<number>();
    const os = new Set<number>();
    for (const a of changed) {
      for (const k of this.weightsOfAxis.get(a) ?? []) ws.add(k);
      for (const k of this.opsOfAxis.get(a) ?? []) os.add(k);
    }
    for (const k of ws) {
      const v = this.weight(k);
      this.params += v - this.weightVal[k]!;
      this.weightVal[k] = v;
    }
    for (const k of os) {
      const v = this.op(k);
      this.macs += v - this.opVal[k]!;
      this.opVal[k] = v;
    }
  }

  /** Totals recomputed from scratch (no accumulated rounding), MACs rounded like the analysis reports them. */
  size(): Size {
    let params = 0;
    let macs = 0;
    for (let k = 0; k < this.weightVal.length; k++) params += this.weight(k);
    for (let k = 0; k < this.opVal.length; k++) macs += this.op(k);
    // As measure(): apply writes the folded shape-derived constants once anything goes.
    if (this.cut.some((n) => n > 0)) params += this.analysis.cost.foldedParams ?? 0;
    return { params, macs: Math.round(macs) };
  }
}

/** Params and MACs after removing `prune` (group id → units). */
export function costAfter(analysis: GroupAnalysis, prune: ReadonlyMap<number, readonly number[]>): Size {
  const t = new CostTracker(analysis);
  for (const g of analysis.groups) {
    const units = prune.get(g.id);
    if (units?.length) t.remove(g, units);
  }
  return t.size();
}
