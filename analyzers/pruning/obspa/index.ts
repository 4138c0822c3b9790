/**
 * OBSPA as a criterion of the pruning pipeline: scores in the criteria's `Scores` shape (so selectPlan,
 * global thresholds and reports treat it like L1 or BN), the Hessian source recorded in the plan, and the
 * compensation as applyPlan's hook (computed beforehand: the hook itself is synchronous).
 */
import type { Graph } from "../../graph/graph.ts";
import type { Model } from "../../onnx/model.ts";
import { fromNumbers, setTensorData } from "../../onnx/tensor.ts";
import { normalizeScores, type Normalization } from "../criteria/normalize.ts";
import type { Criterion, GroupScores, Scores } from "../criteria/score.ts";
import type { Compensator, GroupAnalysis, HessianSpec, Plan } from "../types.ts";
import { selectPlan, type SelectSettings } from "../criteria/select.ts";
import { ScalpelError } from "../../onnx/errors.ts";
import { calibrationFeeds, type ImagePreprocess } from "./calibration.ts";
import { ObspaSession, type CompensationResult, type HessianSource, type ObspaOptions } from "./obspa.ts";

export { ObspaSession, type ObspaOptions, type ObspaScores, type CompensationResult, type HessianSource, type LayerReport } from "./obspa.ts";
export { syntheticFeeds, arrayFeeds, type FeedSource, type Feeds } from "./feeds.ts";
export { calibrationFeeds, type CalibrationOptions, type ImagePreprocess } from "./calibration.ts";
export type { ProgressEvent, Timing } from "./collect.ts";

export interface ObspaCriterionOptions extends ObspaOptions {
  /** Per-group normalisation of the unit scores (default "mean", like the other criteria). */
  normalization?: Normalization;
}

/** The plan's record of how the Hessians were made, so the same plan can be recomputed. */
export function hessianSpec(opts: ObspaOptions): HessianSpec {
  const spec: HessianSpec = { source: opts.source, damping: opts.lambda ?? 0.01 };
  if (opts.source === "synthetic") {
    spec.seed = opts.seed ?? 1;
    spec.samples = opts.samples ?? 64;
  }
  if (opts.source === "calibration") {
    // The seed picks the rows subsampled from the activations.
    spec.seed = opts.seed ?? 1;
    spec.samples = opts.feeds?.samples;
  }
  if (opts.sequential) spec.sequential = true;
  return spec;
}

/**
 * OBSPA scores of every group, in the criteria's shape. Consumers' OBS costs and producers' energies are
 * summed per unit (the reduction of OBSPA is the sum: each term is an error in its own layer's output).
 */
export async function scoreObspa(
  model: Model,
  graph: Graph,
  analysis: GroupAnalysis,
  opts: ObspaCriterionOptions,
): Promise<{ scores: Scores; session: ObspaSession }> {
  const session = new ObspaSession(model, graph, analysis.groups, opts);
  const result = await session.scores();
  const normalization = opts.normalization ?? "mean";
  const groups: GroupScores[] = analysis.groups.map((g) => {
    const raw = result.units.get(g.id) ?? new Float64Array(g.units).fill(NaN);
    const members = [...(result.members.get(g.id)?.keys() ?? [])].map((i) => g.members[i]!.tensor);
    const notes: string[] = [];
    if (!result.units.has(g.id)) notes.push(g.frozen ? `frozen (${g.frozen.reason}): not scored` : "no weight layer to score");
    else if (members.length === 0) {
      // No Conv/Gemm/MatMul member: the group's units cost nothing OBSPA can see; keep them comparable.
      notes.push("no consumer or producer weight layer: OBSPA score is 0");
    }
    // "obspa" is a criterion name of plans (CriterionName); the criteria module's own union lists its built-ins.
    return { group: g.id, key: g.key, criterion: "obspa" as Criterion, scores: normalizeScores(raw, normalization), raw, members, notes };
  });
  const scores: Scores = { criterion: "obspa" as Criterion, reduction: "sum", normalization, groups };
  if (opts.source === "synthetic") scores.seed = opts.seed ?? 1;
  return { scores, session };
}

/** Adds OBSPA's record (Hessian source, compensation settings) to a plan selected from its scores. */
export function recordObspa(plan: Plan, opts: ObspaOptions): Plan {
  return {
    ...plan,
    criterion: "obspa",
    hessian: hessianSpec(opts),
    compensation: { method: "obs", bias: opts.biasCompensation !== false, variance: opts.varianceCorrection ?? "auto", sequential: !!opts.sequential },
  };
}

/** The units a plan removes, by group id. */
export function plannedUnits(analysis: GroupAnalysis, plan: Plan): Map<number, number[]> {
  const byKey = new Map(analysis.groups.map((g) => [g.key, g]));
  const out = new Map<number, number[]>();
  for (const pg of plan.groups) {
    const g = byKey.get(pg.key);
    if (g && pg.prune.length) out.set(g.id, [...new Set([...(out.get(g.id) ?? []), ...pg.prune])].sort((a, b) => a - b));
  }
  return out;
}

/** applyPlan's hook writing precomputed compensated tensors into the copy being pruned. */
export function compensator(result: CompensationResult): Compensator {
  return (ctx) => {
    for (const [name, t] of result.tensors) {
      const tp = ctx.tensor(name);
      if (!tp) continue;
      setTensorData(tp, { dataType: t.dataType, dims: t.dims, data: fromNumbers(t.dataType, t.values) });
    }
  };
}

/** Options that reproduce a plan's OBSPA settings (the caller supplies calibration data when needed). */
export function optionsFromPlan(plan: Plan, extra: Partial<ObspaOptions> = {}): ObspaOptions {
  const h = plan.hessian;
  if (!h) throw new Error("the plan records no Hessian source (it was not made by OBSPA)");
  const comp = plan.compensation as { bias?: boolean; variance?: boolean | "auto"; sequential?: boolean } | undefined;
  return {
    source: h.source,
    seed: h.seed,
    samples: h.samples,
    lambda: h.damping,
    sequential: h.sequential ?? comp?.sequential,
    biasCompensation: comp?.bias ?? true,
    // Plans written before the variance correction existed are reproduced without it.
    varianceCorrection: comp?.variance === "auto" ? undefined : (comp?.variance ?? false),
    ...extra,
  };
}

// ---- the prune job's entry points (CLI `--criterion obspa --hessian …`, the extension's worker) ---------

export interface ObspaJobOptions {
  hessian: HessianSource;
  /** Calibration folder (hessian "calibration"). */
  calib?: string;
  /** Declared preprocessing when the calibration folder holds images. */
  image?: ImagePreprocess;
  /** Synthetic samples, or the most calibration samples to read. */
  samples?: number;
  sequential?: boolean;
  /** Restore BatchNorm output variances after compensation (true, false; default auto: see ObspaOptions). */
  varianceCorrection?: boolean;
  seed?: number;
  lambda?: number;
  threads?: number;
  onProgress?: ObspaOptions["onProgress"];
  signal?: AbortSignal;
}

function sessionOptions(graph: Graph, o: ObspaJobOptions): ObspaOptions {
  if (o.hessian === "calibration" && !o.calib) throw new ScalpelError(graph.name, "the calibration Hessian source needs a folder of inputs (--calib DIR)");
  return {
    source: o.hessian,
    samples: o.hessian === "synthetic" ? o.samples : undefined,
    feeds: o.hessian === "calibration" ? calibrationFeeds(graph, o.calib!, { samples: o.samples, image: o.image }) : undefined,
    sequential: o.sequential,
    varianceCorrection: o.varianceCorrection,
    seed: o.seed,
    lambda: o.lambda,
    threads: o.threads,
    onProgress: o.onProgress,
    signal: o.signal,
  };
}

/** Scores, selects and prepares the compensation: the plan (with OBSPA's record) and applyPlan's hook. */
export async function obspaPlan(
  model: Model,
  graph: Graph,
  analysis: GroupAnalysis,
  settings: SelectSettings,
  o: ObspaJobOptions,
): Promise<{ plan: Plan; compensate: Compensator; compensation: CompensationResult; scores: Scores }> {
  const opts = sessionOptions(graph, o);
  const { scores, session } = await scoreObspa(model, graph, analysis, opts);
  const plan = recordObspa(selectPlan(analysis, scores, settings), opts);
  if (o.calib) plan.hessian!.calib = o.calib;
  const compensation = await session.compensation(plannedUnits(analysis, plan));
  return { plan, compensate: compensator(compensation), compensation, scores };
}

/**
 * The compensation of a saved OBSPA plan, recomputed from its record (source, seed, samples, damping,
 * sequential). Calibration plans need the same folder (the plan keeps its path; `calib` overrides it).
 * Options given as undefined do not override the record.
 */
export async function obspaCompensatorForPlan(
  model: Model,
  graph: Graph,
  analysis: GroupAnalysis,
  plan: Plan,
  o: Partial<ObspaJobOptions> = {},
): Promise<{ compensate: Compensator; compensation: CompensationResult }> {
  const base = optionsFromPlan(plan);
  const given = Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<ObspaJobOptions>;
  const job: ObspaJobOptions = { hessian: base.source, samples: base.samples, seed: base.seed, lambda: base.lambda, sequential: base.sequential, calib: plan.hessian?.calib, ...given };
  const opts = { ...sessionOptions(graph, job), biasCompensation: base.biasCompensation, varianceCorrection: base.varianceCorrection };
  const session = new ObspaSession(model, graph, analysis.groups, opts);
  const compensation = await session.compensation(plannedUnits(analysis, plan));
  return { compensate: compensator(compensation), compensation };
}
