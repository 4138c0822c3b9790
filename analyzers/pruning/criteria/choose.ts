/**
 * choosePlan: the whole criteria step in one call, as `scalpel prune` and the Prune dialog need it —
 * score, select, and the random baseline at the same per-group counts (every report shows it).
 */
import type { GroupAnalysis, Plan } from "../types.ts";
import { randomBaselinePlan } from "./baseline.ts";
import { scoreGroups, type ScoreOptions, type Scores } from "./score.ts";
import { selectPlanDetailed, type SelectSettings, type Selection } from "./select.ts";
import type { Weights } from "./weights.ts";

export interface ChooseOptions extends ScoreOptions, SelectSettings {
  /** Seed of the random baseline (default 1). */
  baselineSeed?: number;
}

export interface Choice {
  scores: Scores;
  selection: Selection;
  /** Same number of units per group as selection.plan, chosen at random. */
  baseline: Plan;
}

export function choosePlan(analysis: GroupAnalysis, weights: Weights, opts: ChooseOptions): Choice {
  const { criterion, reduction, normalization, seed, fpgmBudget, baselineSeed, ...settings } = opts;
  const scores = scoreGroups(analysis, weights, { criterion, reduction, normalization, seed, fpgmBudget });
  const selection = selectPlanDetailed(analysis, scores, settings);
  return { scores, selection, baseline: randomBaselinePlan(analysis, selection.plan, baselineSeed ?? 1) };
}
