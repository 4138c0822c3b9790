/**
 * The prune job in the worker: the engine's runPruneJob (analyse → select → apply → write → verify →
 * random baseline), with its stages mapped onto a progress bar and cancellation checked between stages.
 */
import { runPruneJob, type PruneJobReport } from "../../analyzers/pruning/job.ts";
import { varianceCorrectionOption, type PruneOptions } from "../prune/options.ts";
import type { JobContext } from "./context.ts";

export interface PruneParams {
  readonly model: string;
  readonly options: PruneOptions;
  readonly outputs: { readonly pruned: string; readonly plan: string };
  /** The user agreed to replace existing outputs (never the model itself). */
  readonly overwrite: boolean;
  /** Apply this plan file instead of selecting. */
  readonly planFile?: string;
  readonly threads?: number;
}

/** Where each stage starts on the bar (the verify stage runs both models repeatedly: the longest). */
const STAGES: Record<string, [number, string]> = {
  analysing: [0.02, "Finding dependency groups"],
  selecting: [0.25, "Scoring and selecting channels"],
  applying: [0.35, "Removing channels"],
  writing: [0.45, "Writing the pruned model"],
  verifying: [0.5, "Verifying in onnxruntime (shapes, fidelity, latency)"],
  "random baseline": [0.85, "Random baseline at the same ratio"],
};

export async function runPrune(p: PruneParams, ctx: JobContext): Promise<PruneJobReport> {
  const o = p.options;
  const report = await runPruneJob(p.model, {
    out: p.outputs.pruned,
    savePlan: p.planFile ? undefined : p.outputs.plan,
    planFile: p.planFile,
    overwrite: p.overwrite,
    criterion: o.criterion,
    ratio: o.ratio,
    target: o.target,
    scope: o.scope,
    roundTo: o.roundTo > 1 ? o.roundTo : undefined,
    protect: [...o.protect],
    // OBSPA: a plan file carries its own Hessian record (and calibration folder), so only a new selection passes them.
    hessian: o.criterion === "obspa" && !p.planFile ? o.hessian : undefined,
    calib: o.criterion === "obspa" && o.hessian === "calibration" && !p.planFile ? o.calibrationFolder : undefined,
    // "auto" (and the identity source) leave the variance correction to the engine; a plan records its own.
    varianceCorrection: p.planFile ? undefined : varianceCorrectionOption(o),
    signal: ctx.signal,
    threads: p.threads || 1,
    latency: true,
    onProgress: (stage, detail) => {
      ctx.throwIfCancelled();
      const [fraction, message] = STAGES[stage] ?? [undefined, stage];
      // OBSPA's own steps (activations, Hessians, scores, compensation) refine the message of "selecting".
      ctx.progress(detail ? { message: `${message}: ${detail}` } : { fraction, message });
    },
  });
  ctx.progress({ fraction: 1 });
  return report;
}
