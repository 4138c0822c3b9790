/** Exact params and MACs after a pruning, from the analysis' cost model and the removed indices per axis. */
import type { GroupAnalysis } from "./types.ts";

export interface Size {
  params: number;
  macs: number;
}

export function measure(analysis: GroupAnalysis, removed: ReadonlyMap<number, readonly number[]>): Size {
  const cut = (a: number) => (a >= 0 ? (removed.get(a)?.length ?? 0) : 0);
  let params = 0;
  for (const w of analysis.cost.weights) {
    let n = 1;
    w.dims.forEach((d, i) => (n *= d - cut(w.axes[i]!)));
    params += n;
  }
  // applyPlan leaves the model untouched when nothing is removed; otherwise it adds the folded constants.
  if (removed.size > 0) params += analysis.cost.foldedParams ?? 0;
  let macs = 0;
  for (const op of analysis.cost.ops) {
    let m = op.macs;
    for (const a of op.axes) {
      const size = analysis.axes[a]!.size;
      m *= (size - cut(a)) / size;
    }
    macs += m;
  }
  return { params, macs: Math.round(macs) };
}
