/**
 * The text of the dependency-group CodeLens in PyTorch sources (presentation only; the facts come from
 * analyzers/source/groupLenses.ts): "group blocks.0.conv1 · 16 channels · importance 0.42 (l1) · plan −25% (4 of 16)".
 */
import type { ModuleGroups } from "../analyzers/source/groupLenses.ts";

const plural = (n: number, kind: string) => `${n} ${kind}${n === 1 ? "" : "s"}`;
const sig = (v: number) => (Math.abs(v) >= 1e4 || (Math.abs(v) < 1e-3 && v !== 0) ? v.toExponential(2) : String(Number(v.toPrecision(3))));
const pct = (r: number) => `${Number((r * 100).toPrecision(3))}%`;

export function groupLensTitle(m: ModuleGroups): string {
  const parts: string[] = [];
  const [only] = m.groups;
  parts.push(m.groups.length === 1 ? `group ${only!.scope || only!.key}` : `${m.groups.length} groups`);
  parts.push(m.kinds.map((k) => plural(k.units, k.unitKind)).join(" + "));
  const units = m.kinds.reduce((a, k) => a + k.units, 0);
  const frozen = m.kinds.reduce((a, k) => a + k.frozen, 0);
  const allFrozen = frozen > 0 && frozen >= units;
  if (allFrozen) parts.push(m.groups.length === 1 && only!.frozenReason ? `frozen: ${only!.frozenReason}` : "frozen");
  else if (frozen) parts.push(`${frozen} frozen`);
  if (m.importance) parts.push(`importance ${sig(m.importance.mean)} (${m.importance.criterion})`);
  if (allFrozen) return parts.join(" · ");
  if (m.plan && !m.plan.removed) parts.push("plan keeps all");
  else if (m.plan && m.kinds.length > 1) parts.push(`plan removes ${m.kinds.map((k) => `${k.removed}/${k.units} ${k.unitKind}s`).join(", ")}`);
  else if (m.plan) parts.push(`plan −${pct(m.plan.ratio)} (${m.plan.removed} of ${m.plan.units})`);
  else if (m.planProblem) parts.push(`plan not used: ${m.planProblem}`);
  return parts.join(" · ");
}

export function groupLensTooltip(m: ModuleGroups, model: string, planFile?: string): string {
  const lines = [model];
  const shown = m.groups.slice(0, 8);
  for (const g of shown) {
    const scored = (g.scores ?? []).filter((v): v is number => v !== null);
    const mean = scored.length ? `, importance ${sig(scored.reduce((a, b) => a + b, 0) / scored.length)}` : "";
    lines.push(`• ${g.key}${g.scope ? ` (${g.scope})` : ""}: ${plural(g.units, g.unitKind)}${g.frozenUnits ? `, ${g.frozenUnits} frozen${g.frozenReason ? ` (${g.frozenReason})` : ""}` : ""}${mean}`);
  }
  if (m.groups.length > shown.length) lines.push(`… ${m.groups.length - shown.length} more groups`);
  const i = m.importance;
  if (i)
    lines.push(
      `Importance (${i.criterion}, mean raw score per unit): ${sig(i.mean)}, from ${sig(i.min)} to ${sig(i.max)}` +
        (i.removedRelative !== undefined ? `; the units the plan removes score ${sig(i.removedRelative)}× the mean` : ""),
    );
  if (m.plan) lines.push(`Plan (${m.plan.criterion}${planFile ? `, ${planFile}` : ""}): removes ${m.plan.removed} of ${m.plan.units} units (${pct(m.plan.ratio)})`);
  else if (m.planProblem) lines.push(`Plan${planFile ? ` ${planFile}` : ""} not used: ${m.planProblem}`);
  else lines.push("No pruning plan yet (Prune Model… writes NAME.prune.json beside the model)");
  lines.push("Click to show the group in the ONNX Model tree and the graph");
  return lines.join("\n");
}
