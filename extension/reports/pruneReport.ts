/**
 * The before/after report of a prune: verification verdict, params / MACs / measured latency before and
 * after, output fidelity against the random baseline at the same ratio, the groups pruned, the analysis
 * summary and the time split. Pure: no `vscode` import.
 */
import path from "node:path";
import type { PruneJobReport } from "../../analyzers/pruning/job.ts";
import type { PlanGroup } from "../../analyzers/pruning/types.ts";
import { escapeHtml as h, formatCount } from "../format.ts";
import { ratioBarsSvg, toCsv } from "./charts.ts";
import { latencyHint } from "../../analyzers/pruning/latencyHint.ts";
import { obspaFidelityNote } from "../../analyzers/pruning/report.ts";

export interface PruneReportInput {
  readonly report: PruneJobReport;
  /** The groups of the plan that lose units (from the written plan file). */
  readonly groups: readonly PlanGroup[];
  /** The equivalent CLI command. */
  readonly cli: string;
}

const change = (before: number, after: number) => (before ? `${(((after - before) / before) * 100).toFixed(1)}%` : "");

export function pruneTitle(r: PruneJobReport): string {
  return `Pruned ${path.basename(r.model)}`;
}

function rows(r: PruneJobReport): [string, string, string, string][] {
  const v = r.verify;
  const out: [string, string, string, string][] = [
    ["Params", formatCount(v.params.before), formatCount(v.params.after), change(v.params.before, v.params.after)],
    ["MACs", formatCount(v.macs.before), formatCount(v.macs.after), change(v.macs.before, v.macs.after)],
  ];
  if (v.latencyMs)
    out.push([`ORT latency (median of ${v.latencyMs.repeats}, ${v.latencyMs.threads} thread${v.latencyMs.threads > 1 ? "s" : ""})`, `${v.latencyMs.before.toFixed(2)} ms`, `${v.latencyMs.after.toFixed(2)} ms`, change(v.latencyMs.before, v.latencyMs.after)]);
  return out;
}

export function pruneReportHtml({ report: r, groups, cli }: PruneReportInput): string {
  const v = r.verify;
  const s = r.analysis;
  const parts: string[] = [];
  parts.push(`<header class="report-header"><h1>${h(pruneTitle(r))}</h1>
<dl class="facts">
<dt>Model</dt><dd data-fact="model">${h(r.model)}</dd>
<dt>Pruned model</dt><dd data-fact="out">${h(r.out)}</dd>
<dt>Plan</dt><dd data-fact="plan">${h(`${r.plan.criterion}: ${r.plan.units} units removed in ${r.plan.groups} groups${r.plan.file ? ` (${r.plan.file})` : ""}`)}</dd>
<dt>Same as</dt><dd data-fact="cli"><code>${h(cli)}</code></dd>
</dl></header>`);
  parts.push(
    v.ok
      ? `<p class="verdict ok" id="verdict">${h(`Verified: onnxruntime loads and runs the pruned model; output shapes ${v.outputs.map((o) => `[${o.after?.join("×")}]`).join(", ")} as before.`)}</p>`
      : `<div class="verdict problems" id="verdict"><p>Verification found problems:</p><ul>${v.problems.map((p) => `<li>${h(p)}</li>`).join("")}</ul></div>`,
  );
  parts.push(
    `<table class="results" id="before-after"><thead><tr><th></th><th>before</th><th>after</th><th>change</th></tr></thead><tbody>${rows(r)
      .map(([k, b, a, c]) => `<tr><td>${h(k)}</td><td class="num">${h(b)}</td><td class="num">${h(a)}</td><td class="num">${h(c)}</td></tr>`)
      .join("")}</tbody></table>`,
  );
  const bars = [
    { label: "Params", before: v.params.before, after: v.params.after, detail: `${formatCount(v.params.after)} of ${formatCount(v.params.before)}` },
    { label: "MACs", before: v.macs.before, after: v.macs.after, detail: `${formatCount(v.macs.after)} of ${formatCount(v.macs.before)}` },
  ];
  if (v.latencyMs) bars.push({ label: "Latency", before: v.latencyMs.before, after: v.latencyMs.after, detail: `${v.latencyMs.after.toFixed(2)} of ${v.latencyMs.before.toFixed(2)} ms` });
  parts.push(ratioBarsSvg("After pruning, as a share of before", bars));
  if (v.latencyMs) {
    const macGain = v.macs.before / Math.max(1, v.macs.after), latGain = v.latencyMs.before / v.latencyMs.after;
    parts.push(`<p id="speedup">${h(`Speed-up ${latGain.toFixed(2)}× for ${macGain.toFixed(2)}× fewer MACs (ratio ${(latGain / macGain).toFixed(2)}).`)}</p>`);
    const hint = latencyHint(r);
    if (hint) parts.push(`<p id="speed-hint" class="hint">${h(`Hint: ${hint}.`)}</p>`);
  }
  parts.push(
    `<p id="fidelity">${h(
      `Output change on dummy inputs (relative L2 error against the original, lower is better): ${r.plan.criterion} ${v.relativeError.toFixed(4)}` +
        (r.baseline ? `; random selection at the same ratio ${r.baseline.relativeError.toFixed(4)}` : ""),
    )}.</p>`,
  );
  const fidelityNote = obspaFidelityNote(r);
  if (fidelityNote) parts.push(`<p id="fidelity-note" class="hint">${h(`Note: ${fidelityNote}.`)}</p>`);
  parts.push(`<h2>Groups pruned (${groups.length})</h2>`);
  parts.push(
    `<table class="results" id="groups"><thead><tr><th>group</th><th>units removed</th></tr></thead><tbody>${groups
      .map((g) => `<tr><td><code>${h(g.key)}</code></td><td class="num">${g.prune.length}</td></tr>`)
      .join("")}</tbody></table>`,
  );
  parts.push(
    `<p class="analysis">${h(
      `Dependency analysis: ${s.groups} groups (${s.prunableGroups} prunable, ${s.frozenGroups} frozen), ${s.units} units (${s.prunableUnits} prunable, ${s.frozenUnits} frozen)` +
        (s.unsupportedOps.length ? `; operators without a rule: ${s.unsupportedOps.join(", ")}` : ""),
    )}.</p>`,
  );
  const t = r.seconds;
  parts.push(`<p class="timing">${h(`Time: analyse ${t.analyse.toFixed(2)} s, select ${t.select.toFixed(2)} s, apply ${t.apply.toFixed(2)} s, write ${t.write.toFixed(2)} s, verify ${t.verify.toFixed(2)} s.`)}</p>`);
  return parts.join("\n");
}

export function pruneCsv({ report: r }: PruneReportInput): string {
  const v = r.verify;
  const data: (string | number)[][] = [
    ["params", v.params.before, v.params.after],
    ["macs", v.macs.before, v.macs.after],
  ];
  if (v.latencyMs) data.push(["latency_ms", v.latencyMs.before, v.latencyMs.after]);
  data.push(["relative_error", 0, v.relativeError]);
  if (r.baseline) data.push(["random_baseline_relative_error", 0, r.baseline.relativeError]);
  return toCsv(["measure", "before", "after"], data);
}
