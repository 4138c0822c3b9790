/**
 * Figures for the CodeLens of a plan file: for each group the plan prunes, the group's size, the units
 * removed, and the params/MACs that group alone saves (the analysis' exact cost model); the whole plan's
 * savings; and the plan's validity for the model (a plan for another model or with a frozen unit is refused
 * by the engine with the reason).
 */
import fs from "node:fs";
import { analyzeModel } from "../../analyzers/analysis.ts";
import { resolvePlan } from "../../analyzers/pruning/apply/resolve.ts";
import { findGroups } from "../../analyzers/pruning/groups/index.ts";
import { measure } from "../../analyzers/pruning/measure.ts";
import { modelWeights, scoreGroups, type Criterion } from "../../analyzers/pruning/criteria/index.ts";
import { LENS_CRITERIA } from "../../analyzers/source/groupLenses.ts";
import type { Plan } from "../../analyzers/pruning/types.ts";
import { ScalpelError } from "../../analyzers/onnx/errors.ts";

export interface PlanGroupFigures {
  readonly key: string;
  readonly units: number;
  readonly unitKind: string;
  readonly removed: number;
  readonly scope: string;
  readonly paramsSaved: number;
  readonly macsSaved: number;
  /** Mean importance of the removed units relative to the group's mean, under the plan's criterion
   * (magnitude criteria only: the score is recomputed from the weights). */
  readonly removedScore?: number;
}

export interface PlanFigures {
  readonly model: string;
  readonly criterion: string;
  /** The criterion `removedScore` was computed with (absent: the plan's criterion cannot be recomputed cheaply). */
  readonly scoredWith?: string;
  readonly params: { readonly before: number; readonly after: number };
  readonly macs: { readonly before: number; readonly after: number };
  readonly groups: readonly PlanGroupFigures[];
}

export async function planFigures({ model, planFile }: { model: string; planFile: string }): Promise<PlanFigures> {
  let plan: Plan;
  try {
    plan = JSON.parse(fs.readFileSync(planFile, "utf8")) as Plan;
  } catch (e) {
    throw new ScalpelError(planFile, `is not a readable plan file (${(e as Error).message})`);
  }
  const a = await analyzeModel(model, { runtimeFallback: false });
  try {
    const analysis = findGroups(a.graph, a.shapes, { metrics: a.metrics });
    const none = measure(analysis, new Map());
    const all = measure(analysis, resolvePlan(analysis, plan, planFile).removed);
    const byKey = new Map(analysis.groups.map((g) => [g.key, g]));
    const criterion = String(plan.criterion);
    const scores = LENS_CRITERIA.includes(criterion) ? scoreGroups(analysis, modelWeights(a.model, a.graph), { criterion: criterion as Criterion }) : undefined;
    const raw = new Map(scores?.groups.map((s) => [s.key, s.raw]));
    const groups = plan.groups
      .filter((pg) => pg.prune.length > 0)
      .map((pg) => {
        const g = byKey.get(pg.key)!;
        const alone = measure(analysis, resolvePlan(analysis, { ...plan, groups: [pg] }, planFile).removed);
        return { key: pg.key, units: g.units, unitKind: g.unitKind, removed: pg.prune.length, scope: g.scope, paramsSaved: none.params - alone.params, macsSaved: none.macs - alone.macs, ...removedScore(raw.get(pg.key), pg.prune) };
      });
    return { model, criterion, ...(scores ? { scoredWith: criterion } : {}), params: { before: none.params, after: all.params }, macs: { before: none.macs, after: all.macs }, groups };
  } finally {
    a.model.external.close();
  }
}

/** Mean score of the removed units over the mean of all scored units of the group. */
function removedScore(raw: Float64Array | undefined, prune: readonly number[]): { removedScore?: number } {
  if (!raw) return {};
  const finite = Array.from(raw).filter(Number.isFinite);
  const removed = prune.map((u) => raw[u]!).filter(Number.isFinite);
  const mean = finite.reduce((a, b) => a + b, 0) / finite.length;
  if (!removed.length || !(mean > 0)) return {};
  return { removedScore: removed.reduce((a, b) => a + b, 0) / removed.length / mean };
}
