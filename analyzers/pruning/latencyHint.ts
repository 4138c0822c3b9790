// No runtime imports: the extension host's report uses it without pulling the engine into its bundle.
import type { PruneJobReport } from "./job.ts";

/** Advice when the pruned model measured slower. onnxruntime's CPU convolutions work on channel blocks of
 * 8/16, so odd widths can make a smaller model slower; rounding kept widths to 8 fixes that. */
export function latencyHint(r: PruneJobReport): string | undefined {
  const l = r.verify.latencyMs;
  if (!l || l.after <= l.before || (r.plan.roundTo ?? 1) >= 8) return undefined;
  return "slower despite fewer MACs; round kept channels to multiples of 8 (--round-to 8), which onnxruntime's kernels run fastest";
}
