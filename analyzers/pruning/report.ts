/** Text reports of the group analysis and of a prune. */
import { human } from "../report/inspect.ts";
import type { PruneJobReport } from "./job.ts";
import { latencyHint } from "./latencyHint.ts";
import type { GroupAnalysis } from "./types.ts";

function table(rows: string[][]): string[] {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  return rows.map((r) => r.map((c, i) => (i === 0 || i === r.length - 1 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join("  ").trimEnd());
}

const pct = (after: number, before: number) => (before ? `${((100 * (after - before)) / before).toFixed(1)}%` : "");

export function formatGroups(a: GroupAnalysis, top = 40): string {
  const s = a.summary;
  const lines = [
    `${a.model.name}: ${a.model.nodes} nodes, ${human(s.params)} params, ${human(s.macs)} MACs`,
    `${s.groups} groups (${s.prunableGroups} prunable, ${s.frozenGroups} frozen), ${s.units} units (${s.prunableUnits} prunable, ${s.frozenUnits} frozen); analysis ${s.millis} ms`,
  ];
  if (s.unsupportedOps.length) lines.push(`operators without a rule (what touches them is frozen): ${s.unsupportedOps.join(", ")}`);
  const reasons = Object.entries(s.frozenReasons).sort((x, y) => y[1] - x[1]);
  if (reasons.length) lines.push(`frozen units by reason: ${reasons.map(([k, n]) => `${k} ${n}`).join(", ")}`);
  lines.push("");
  const rows = [["id", "units", "kind", "members", "params", "MACs", "frozen", "group"]];
  const groups = [...a.groups].sort((x, y) => y.params - x.params).slice(0, top);
  for (const g of groups)
    rows.push([String(g.id), String(g.units), g.unitKind, String(g.members.length), human(g.params), human(g.macs), g.frozen ? (g.frozen.units ? `${g.frozen.units.length}` : "all") : "", `${g.key}${g.scope ? `  (${g.scope})` : ""}`]);
  lines.push(...table(rows));
  if (a.groups.length > top) lines.push(`… ${a.groups.length - top} more (--top N, or --json for everything)`);
  if (a.frozen.length) {
    lines.push("", "frozen channels:");
    for (const f of a.frozen.slice(0, top)) lines.push(`  ${f.tensor} (${f.op} '${f.node}'): ${f.channels} — ${f.reason}`);
    if (a.frozen.length > top) lines.push(`  … ${a.frozen.length - top} more`);
  }
  return lines.join("\n");
}

export function formatPrune(r: PruneJobReport): string {
  const v = r.verify;
  const lines = [
    `${r.model} → ${r.out}`,
    `plan: ${r.plan.criterion}, ${r.plan.units} units removed in ${r.plan.groups} groups${r.plan.file ? ` (plan ${r.plan.file})` : ""}`,
  ];
  if (r.obspa) {
    const h = r.obspa.hessian;
    const rec = [`Hessian ${h.source}`, h.samples !== undefined ? `${h.samples} samples` : "", h.seed !== undefined ? `seed ${h.seed}` : "", h.sequential ? "sequential" : "", h.calib ? `from ${h.calib}` : ""];
    lines.push(
      `OBSPA: ${rec.filter(Boolean).join(", ")}; ${r.obspa.compensated} layer${r.obspa.compensated === 1 ? "" : "s"} compensated` +
        (r.obspa.varianceCorrection ? ", BatchNorm variances restored (scale kept, so the L2 fidelity below reads higher; --no-variance-correction for the least-squares optimum)" : ""),
    );
    for (const n of r.obspa.notes) lines.push(`  note: ${n}`);
  }
  lines.push("");
  const rows = [["", "before", "after", "change"]];
  rows.push(["params", human(v.params.before), human(v.params.after), pct(v.params.after, v.params.before)]);
  rows.push(["MACs", human(v.macs.before), human(v.macs.after), pct(v.macs.after, v.macs.before)]);
  if (v.latencyMs)
    rows.push([`ORT latency (median of ${v.latencyMs.repeats}, ${v.latencyMs.threads} thread${v.latencyMs.threads > 1 ? "s" : ""})`, `${v.latencyMs.before.toFixed(2)} ms`, `${v.latencyMs.after.toFixed(2)} ms`, pct(v.latencyMs.after, v.latencyMs.before)]);
  lines.push(...table(rows).map((l) => `  ${l}`));
  if (v.latencyMs) {
    const macGain = v.macs.before / Math.max(1, v.macs.after), latGain = v.latencyMs.before / v.latencyMs.after;
    lines.push(`  speed-up ${latGain.toFixed(2)}× for ${macGain.toFixed(2)}× fewer MACs (ratio ${(latGain / macGain).toFixed(2)})`);
    const hint = latencyHint(r);
    if (hint) lines.push(`  hint: ${hint}`);
  }
  lines.push("");
  lines.push(`output fidelity on dummy inputs (relative L2 error vs the original): ${r.plan.criterion} ${v.relativeError.toFixed(4)}${r.baseline ? `, random baseline at the same ratio ${r.baseline.relativeError.toFixed(4)}` : ""}`);
  const fidelityNote = obspaFidelityNote(r);
  if (fidelityNote) lines.push(`  note: ${fidelityNote}`);
  lines.push(v.ok ? `verified: onnxruntime loads and runs it; output shapes ${v.outputs.map((o) => `[${o.after}]`).join(", ")} as before` : `PROBLEMS:\n  ${v.problems.join("\n  ")}`);
  const s = r.seconds;
  lines.push(`time: analyse ${s.analyse.toFixed(2)} s, select ${s.select.toFixed(2)} s, apply ${s.apply.toFixed(2)} s, write ${s.write.toFixed(2)} s, verify ${s.verify.toFixed(2)} s`);
  return lines.join("\n");
}

/**
 * Why OBSPA can read worse than random pruning on dummy inputs: its Hessians describe the activations its
 * BatchNorm statistics record (calibrated synthetic inputs, BN moments) or the user's data, and the variance
 * correction keeps scale rather than least squares. Random-weight networks make it stark (their logits barely
 * depend on the input). Undefined when there is nothing to explain.
 */
export function obspaFidelityNote(r: Pick<PruneJobReport, "obspa" | "baseline" | "verify">): string | undefined {
  if (!r.obspa || !r.baseline || !(r.verify.relativeError > r.baseline.relativeError)) return undefined;
  const source = r.obspa.hessian.source;
  if (source === "identity") return undefined;
  const what = source === "calibration" ? "your calibration data" : "the training statistics its BatchNorms record";
  return (
    `OBSPA's compensation fits the activations of ${what}, not these dummy inputs, so this error says little about accuracy ` +
    "(measure that on real data, e.g. `scalpel accuracy`); if the BatchNorm statistics describe nothing (random weights), prefer magnitude criteria or --no-variance-correction"
  );
}
