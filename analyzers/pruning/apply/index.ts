/**
 * applyPlan: a new, pruned model from a model, its group analysis and a plan. The input model is
 * never modified. Order: resolve the plan to removed indices per axis → compensation hook (OBSPA may
 * rewrite surviving weights of consumers) → slice every weight → rewrite shape constants, split sizes,
 * slice bounds, gather indices, attributes → drop what is no longer read → refresh declared shapes.
 */
import type { Model } from "../../onnx/model.ts";
import type { CompensationContext, Compensator, GroupAnalysis, Plan } from "../types.ts";
import { ModelEditor } from "./editor.ts";
import { resolvePlan, type Removal } from "./resolve.ts";
import { applyRewrites } from "./rewrites.ts";
import { refreshDeclaredShapes } from "./shapes.ts";
import { sliceWeights } from "./weights.ts";

export { resolvePlan, keptIndices, countBelow, type Removal } from "./resolve.ts";

export interface ApplyOptions {
  /** Runs before slicing, on the copy (see Compensator). */
  compensate?: Compensator;
  /** Name used in error messages about the plan (e.g. the plan file). */
  planName?: string;
}

export interface ApplyResult {
  model: Model;
  removal: Removal;
  /** Weights sliced and constants/attributes rewritten. */
  slicedTensors: number;
  rewrites: number;
}

export function applyPlan(model: Model, analysis: GroupAnalysis, plan: Plan, opts: ApplyOptions = {}): Model {
  return applyPlanDetailed(model, analysis, plan, opts).model;
}

export function applyPlanDetailed(model: Model, analysis: GroupAnalysis, plan: Plan, opts: ApplyOptions = {}): ApplyResult {
  const removal = resolvePlan(analysis, plan, opts.planName);
  const ed = new ModelEditor(model);
  if (removal.removed.size === 0) return { model: ed.model, removal, slicedTensors: 0, rewrites: 0 };
  if (opts.compensate) {
    const ctx: CompensationContext = {
      model: ed.model,
      analysis,
      plan,
      removed: (axis) => removal.removed.get(axis) ?? [],
      tensor: (name) => (ed.tensor(name) ? ed.writable(name) : undefined),
    };
    opts.compensate(ctx);
  }
  const candidates = new Set<string>();
  const slicedTensors = sliceWeights(ed, analysis, removal.removed, candidates);
  const rewrites = applyRewrites(ed, analysis, removal.removed, candidates);
  ed.finish(candidates);
  refreshDeclaredShapes(ed.model);
  return { model: ed.model, removal, slicedTensors, rewrites };
}
