/**
 * The prune job, as the CLI and the extension run it: load → analyse → select (or read a plan) →
 * apply → verify (shapes, params, MACs, latency) → write, plus the same-ratio random baseline so the
 * criterion is judged by its gain over random (output fidelity on dummy inputs, no data needed).
 */
import fs from "node:fs";
import path from "node:path";
import { analyzeModel } from "../analysis.ts";
import { ScalpelError } from "../onnx/errors.ts";
import { saveModel } from "../onnx/save.ts";
import { applyPlanDetailed } from "./apply/index.ts";
import { findGroups } from "./groups/index.ts";
import { measure } from "./measure.ts";
import { CRITERIA, modelWeights, randomBaselinePlan, scoreGroups, selectPlanDetailed, type Criterion, type SelectSettings } from "./criteria/index.ts";
import { obspaCompensatorForPlan, obspaPlan, type HessianSource, type ImagePreprocess, type ProgressEvent } from "./obspa/index.ts";
import type { Compensator, GroupAnalysis, HessianSpec, Plan } from "./types.ts";
import { verifyPruned, type VerifyReport } from "./verify.ts";

export const HESSIAN_SOURCES: readonly HessianSource[] = ["synthetic", "bn", "identity", "calibration"];

export interface PruneJobOptions extends SelectSettings {
  /** l1 | l2 | bn | fpgm | random | obspa (default l1). */
  criterion?: string;
  /** OBSPA: where the Hessians come from (default synthetic). */
  hessian?: HessianSource;
  /** OBSPA calibration folder (hessian "calibration"; with a plan, overrides the folder the plan records). */
  calib?: string;
  /** OBSPA calibration images: the declared preprocessing. */
  image?: ImagePreprocess;
  /** OBSPA: synthetic samples, or the most calibration samples read. */
  samples?: number;
  /** OBSPA: compensate front to back, Hessians recollected on the compensated prefix. */
  sequential?: boolean;
  /** OBSPA: restore BatchNorm output variances after compensation (true, false; default auto, see ObspaOptions). */
  varianceCorrection?: boolean;
  /** Cancels OBSPA between batches and layers. */
  signal?: AbortSignal;
  seed?: number;
  out: string;
  /** Apply this plan file instead of selecting. */
  planFile?: string;
  /** Write the plan used here. */
  savePlan?: string;
  overwrite?: boolean;
  /** Measure latency (default true). */
  latency?: boolean;
  repeats?: number;
  threads?: number;
  /** Also prune with random selection at the same ratio and compare (default true when selecting). */
  baseline?: boolean;
  /** Stage names (see the extension's worker); OBSPA adds `detail` while selecting ("activations 3/8"). */
  onProgress?: (stage: string, detail?: string) => void;
}

export interface PruneJobReport {
  model: string;
  out: string;
  plan: { criterion: string; groups: number; units: number; file?: string; roundTo?: number };
  analysis: GroupAnalysis["summary"];
  predicted: { params: number; macs: number };
  verify: VerifyReport;
  baseline?: { criterion: "random"; relativeError: number; params: number; macs: number };
  /** OBSPA runs: the Hessian record (as in the plan) and what the compensation did. */
  obspa?: { hessian: HessianSpec; compensated: number; varianceCorrection: boolean; notes: string[] };
  seconds: { analyse: number; select: number; apply: number; write: number; verify: number };
}

export async function runPruneJob(file: string, opts: PruneJobOptions): Promise<PruneJobReport> {
  const progress = opts.onProgress ?? (() => {});
  if (!opts.overwrite && fs.existsSync(opts.out)) throw new ScalpelError(opts.out, "already exists; refusing to overwrite it (use --force to replace it)");
  const t0 = performance.now();
  progress("analysing");
  const a = await analyzeModel(file);
  const analysis = findGroups(a.graph, a.shapes, { metrics: a.metrics });
  const t1 = performance.now();
  progress("selecting");
  let plan: Plan;
  let compensate: Compensator | undefined;
  let obspa: PruneJobReport["obspa"];
  const criterion = opts.criterion ?? "l1";
  const settings: SelectSettings = { ratio: opts.ratio, target: opts.target, scope: opts.scope, roundTo: opts.roundTo, maxGroupRatio: opts.maxGroupRatio, protect: opts.protect };
  const obspaProgress = (e: ProgressEvent) => progress("selecting", `OBSPA ${e.phase} ${e.done}/${e.total}`);
  const calib = opts.calib === undefined ? undefined : path.resolve(opts.calib);
  if (opts.planFile) {
    try {
      plan = JSON.parse(fs.readFileSync(opts.planFile, "utf8")) as Plan;
    } catch (e) {
      throw new ScalpelError(opts.planFile, `is not a readable plan file (${(e as Error).message})`);
    }
    if (opts.hessian && !plan.hessian) throw new ScalpelError(opts.planFile, "was not made by OBSPA (it records no Hessian source); --hessian does not apply");
    if (plan.hessian) {
      // An OBSPA plan: recompute its compensation from the record (same source, seed, samples → same bytes).
      if (opts.hessian && opts.hessian !== plan.hessian.source)
        throw new ScalpelError(opts.planFile, `records the Hessian source '${plan.hessian.source}', not '${opts.hessian}'`);
      if (!HESSIAN_SOURCES.includes(plan.hessian.source)) throw new ScalpelError(opts.planFile, `records an unknown Hessian source '${plan.hessian.source}'`);
      const o: Parameters<typeof obspaCompensatorForPlan>[4] = { threads: opts.threads, onProgress: obspaProgress, signal: opts.signal };
      if (calib) o.calib = calib;
      if (opts.image) o.image = opts.image;
      const r = await obspaCompensatorForPlan(a.model, a.graph, analysis, plan, o);
      compensate = r.compensate;
      obspa = { hessian: plan.hessian, compensated: r.compensation.compensated.length, varianceCorrection: r.compensation.varianceCorrected.length > 0, notes: r.compensation.notes };
    }
  } else if (criterion === "obspa") {
    const hessian = opts.hessian ?? "synthetic";
    if (!HESSIAN_SOURCES.includes(hessian)) throw new ScalpelError(file, `unknown Hessian source '${hessian}' (have ${HESSIAN_SOURCES.join(", ")})`);
    const r = await obspaPlan(a.model, a.graph, analysis, settings, {
      hessian,
      calib,
      image: opts.image,
      samples: opts.samples,
      sequential: opts.sequential,
      varianceCorrection: opts.varianceCorrection,
      seed: opts.seed,
      threads: opts.threads,
      onProgress: obspaProgress,
      signal: opts.signal,
    });
    plan = r.plan;
    compensate = r.compensate;
    obspa = { hessian: r.plan.hessian!, compensated: r.compensation.compensated.length, varianceCorrection: r.compensation.varianceCorrected.length > 0, notes: r.compensation.notes };
  } else {
    if (!(CRITERIA as readonly string[]).includes(criterion))
      throw new ScalpelError(file, `unknown criterion '${criterion}' (have ${[...CRITERIA, "obspa"].join(", ")})`);
    const scores = scoreGroups(analysis, modelWeights(a.model, a.graph), { criterion: criterion as Criterion, seed: opts.seed });
    plan = selectPlanDetailed(analysis, scores, settings).plan;
  }
  const t2 = performance.now();
  progress("applying");
  const applied = applyPlanDetailed(a.model, analysis, plan, { planName: opts.planFile, compensate });
  const predicted = measure(analysis, applied.removal.removed);
  const t3 = performance.now();
  progress("writing");
  saveModel(applied.model, opts.out, { overwrite: opts.overwrite });
  if (opts.savePlan) fs.writeFileSync(opts.savePlan, JSON.stringify(plan, null, 1) + "\n");
  const t4 = performance.now();
  progress("verifying");
  const verify = await verifyPruned(a.model, applied.model, { latency: opts.latency !== false, repeats: opts.repeats, threads: opts.threads, before: a });
  let baseline: PruneJobReport["baseline"];
  if (!opts.planFile && opts.baseline !== false && criterion !== "random") {
    progress("random baseline");
    const rp = randomBaselinePlan(analysis, plan, opts.seed ?? 1);
    const rm = applyPlanDetailed(a.model, analysis, rp).model;
    const rv = await verifyPruned(a.model, rm, { latency: false, threads: opts.threads, before: a });
    baseline = { criterion: "random", relativeError: rv.relativeError, params: rv.params.after, macs: rv.macs.after };
  }
  const t5 = performance.now();
  a.model.external.close();
  return {
    model: file,
    out: opts.out,
    plan: { criterion: plan.criterion, groups: plan.groups.filter((g) => g.prune.length).length, units: plan.groups.reduce((n, g) => n + g.prune.length, 0), file: opts.planFile ?? opts.savePlan, roundTo: plan.settings.roundTo },
    analysis: analysis.summary,
    predicted,
    verify,
    baseline,
    obspa,
    seconds: { analyse: (t1 - t0) / 1e3, select: (t2 - t1) / 1e3, apply: (t3 - t2) / 1e3, write: (t4 - t3) / 1e3, verify: (t5 - t4) / 1e3 },
  };
}
