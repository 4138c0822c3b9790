/**
 * Criteria and selection: unit importance per group (score.ts), a pruning Plan from scores (select.ts),
 * and the random baseline at the same per-group counts (baseline.ts); choosePlan (choose.ts) does all
 * three. Pure functions over a GroupAnalysis and the model's weights (weights.ts).
 */
export { modelWeights, weightsFrom, type WeightArray, type Weights } from "./weights.ts";
export { memberStat, unitStat, axisSums, fpgmStat, FPGM_BUDGET, type FpgmResult, type AxisSums, type StatName } from "./stats.ts";
export { reduceStats, REDUCTIONS, type Reduction } from "./reduce.ts";
export { normalizeScores, NORMALIZATIONS, type Normalization } from "./normalize.ts";
export { scoreGroups, scoreGroup, scoresToJSON, checkScoreOptions, CRITERIA, type Criterion, type ScoreOptions, type Scores, type GroupScores } from "./score.ts";
export { selectPlan, selectPlanDetailed, checkSettings, type SelectSettings, type Selection } from "./select.ts";
export { randomBaselinePlan } from "./baseline.ts";
export { choosePlan, type ChooseOptions, type Choice } from "./choose.ts";
export { CostTracker, costAfter, type Size } from "./cost.ts";
export { compilePattern, matchingPattern, protectedBy } from "./protect.ts";
export { mulberry32, groupRandom } from "./random.ts";
