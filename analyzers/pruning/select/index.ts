/**
 * Selection entry point used by the CLI and the extension: ratio or params/MACs target, criterion,
 * round-to, protected scopes → Plan. Today it runs the placeholder L1/random selector (simpleL1.ts);
 * criteria/ (L2, BN, FPGM, global selection, LAMP…) replaces it behind this same function.
 */
import type { Model } from "../../onnx/model.ts";
import { ScalpelError } from "../../onnx/errors.ts";
import { resolvePlan } from "../apply/resolve.ts";
import { measure } from "../measure.ts";
import type { GroupAnalysis, Plan, PruneTarget } from "../types.ts";
import { SimpleSelector } from "./simpleL1.ts";

export interface SelectOptions {
  ratio: number;
  target?: PruneTarget;
  criterion?: string;
  scope?: "local" | "global";
  roundTo?: number;
  protect?: string[];
  seed?: number;
}

export const AVAILABLE_CRITERIA = ["l1", "random"];

export function selectPlan(model: Model, analysis: GroupAnalysis, opts: SelectOptions): Plan {
  const criterion = opts.criterion ?? "l1";
  if (!AVAILABLE_CRITERIA.includes(criterion))
    throw new ScalpelError(model.name, `criterion '${criterion}' is not available yet (have: ${AVAILABLE_CRITERIA.join(", ")}; l2, bn, fpgm and obspa come with criteria/)`);
  if ((opts.scope ?? "local") !== "local") throw new ScalpelError(model.name, `scope '${opts.scope}' is not available yet (local only until criteria/ lands)`);
  if (!(opts.ratio >= 0 && opts.ratio < 1)) throw new ScalpelError(model.name, `ratio must be in [0, 1), got ${opts.ratio}`);
  const sel = new SimpleSelector(model, analysis, { criterion: criterion as "l1" | "random", protect: opts.protect, seed: opts.seed });
  const target = opts.target ?? "channels";
  let plan: Plan;
  if (target === "channels") plan = sel.plan(opts.ratio, opts.roundTo);
  else {
    // Find the channel ratio whose params (or MACs) reduction reaches the requested one.
    const total = target === "params" ? analysis.model.params : analysis.model.macs;
    const goal = total * (1 - opts.ratio);
    const sizeAt = (r: number) => {
      const p = sel.plan(r, opts.roundTo);
      const m = measure(analysis, resolvePlan(analysis, p).removed);
      return { p, v: target === "params" ? m.params : m.macs };
    };
    let lo = 0, hi = 0.99;
    let best = sizeAt(0);
    for (let i = 0; i < 18; i++) {
      const mid = (lo + hi) / 2;
      const s = sizeAt(mid);
      if (s.v > goal) lo = mid;
      else {
        hi = mid;
        best = s;
      }
    }
    if (best.v > goal) best = sizeAt(hi);
    plan = best.p;
  }
  plan.settings = { ...plan.settings, ratio: opts.ratio, target, scope: opts.scope ?? "local", roundTo: opts.roundTo, protect: opts.protect };
  return plan;
}
