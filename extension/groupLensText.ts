/**
 * The text of the dependency-group CodeLens in PyTorch sources (presentation only; the facts come from
 * analyzers/source/groupLenses.ts): "group blocks.0.conv1 · 16 channels · importance 0.42 (l1) · plan −25% (4 of 16)".
 * A plan whose criterion is not the importance shown (OBSPA, random: too slow or meaningless to recompute for a
 * lens, and a plan file records the units it removes, not their scores) is named: "… (l1) · obspa plan −25% (4 of 16)".
 */
import type { ModuleGroups, ModulePlan } from "../analyzers/source/groupLenses.ts";

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
  const plan = m.plan ? planName(m.plan) : "";
  if (m.plan && !m.plan.removed) parts.push(`${plan} keeps all`);
  else if (m.plan && m.kinds.length > 1) parts.push(`${plan} removes ${m.kinds.map((k) => `${k.removed}/${k.units} ${k.unitKind}s`).join(", ")}`);
  else if (m.plan) parts.push(`${plan} −${pct(m.plan.ratio)} (${m.plan.removed} of ${m.plan.units})`);
  else if (m.planProblem) parts.push(`plan not used: ${m.planProblem}`);
  return parts.join(" · ");
}

/** "plan" when the importance shown is the plan's own criterion, else "obspa plan", "random plan". */
function planName(p: ModulePlan): string {
  return p.scoredByPlanCriterion ? "plan" : `${p.criterion} plan`;
}

/** "0, 3, 7" (at most `max` indices, then "…"). */
function unitList(units: readonly number[], max = 12): string {
  return units.length > max ? `${units.slice(0, max).join(", ")}, …` : units.join(", ");
}

/** "Hessians: bn, variance correction on; seed 1": what the plan file records of how it was made. */
function planRecordText(p: ModulePlan): string {
  const r = p.record;
  const parts = [
    ...(r.hessian ? [`Hessians: ${r.hessian}`] : []),
    ...(r.varianceCorrection !== undefined ? [`variance correction ${r.varianceCorrection === "auto" ? "auto" : r.varianceCorrection ? "on" : "off"}`] : []),
    ...(r.seed !== undefined ? [`seed ${r.seed}`] : []),
  ];
  return parts.length ? `, ${parts.join(", ")}` : "";
}

/** Why the importance shown is not the plan's criterion (OBSPA and random plans). */
function whyNotPlanScores(p: ModulePlan, shown: string | undefined): string {
  const instead = shown ? `; the importance shown is ${shown} (the scalpel.prune.criterion setting when it is a magnitude criterion, else L1)` : "";
  if (p.criterion === "random") return `The plan picked its units at random${p.record.seed !== undefined ? ` (seed ${p.record.seed})` : ""}: there is no score to show${instead}`;
  if (p.criterion === "obspa")
    return `The plan ranked units by OBSPA's second-order scores; its file records which units it removes, not the scores, and lenses do not run OBSPA (too slow for a lens)${instead}`;
  return `The plan ranked units by ${p.criterion}; its file records which units it removes, not their scores${instead}`;
}

export function groupLensTooltip(m: ModuleGroups, model: string, planFile?: string): string {
  const lines = [model];
  const shown = m.groups.slice(0, 8);
  const decided = new Map(m.plan?.decisions.map((d) => [d.key, d]));
  for (const g of shown) {
    const scored = (g.scores ?? []).filter((v): v is number => v !== null);
    const mean = scored.length ? `, importance ${sig(scored.reduce((a, b) => a + b, 0) / scored.length)}` : "";
    const d = decided.get(g.key);
    const plan = !d ? "" : d.removed.length ? `; plan removes ${d.removed.length} (${g.unitKind}s ${unitList(d.removed)}), keeps ${d.units - d.removed.length}` : "; plan keeps all";
    lines.push(`• ${g.key}${g.scope ? ` (${g.scope})` : ""}: ${plural(g.units, g.unitKind)}${g.frozenUnits ? `, ${g.frozenUnits} frozen${g.frozenReason ? ` (${g.frozenReason})` : ""}` : ""}${mean}${plan}`);
  }
  if (m.groups.length > shown.length) lines.push(`… ${m.groups.length - shown.length} more groups`);
  const i = m.importance;
  const p = m.plan;
  if (i)
    lines.push(
      `Importance (${i.criterion}, mean raw score per unit): ${sig(i.mean)}, from ${sig(i.min)} to ${sig(i.max)}` +
        (i.removedRelative !== undefined ? `; the units the ${p ? planName(p) : "plan"} removes score ${sig(i.removedRelative)}× the mean${p && !p.scoredByPlanCriterion ? ` under ${i.criterion}` : ""}` : ""),
    );
  if (p && !p.scoredByPlanCriterion) lines.push(whyNotPlanScores(p, i?.criterion));
  if (p) lines.push(`Plan (${p.criterion}${planRecordText(p)}${planFile ? `, ${planFile}` : ""}): removes ${p.removed} of ${p.units} units (${pct(p.ratio)}), keeps ${p.units - p.removed}`);
  else if (m.planProblem) lines.push(`Plan${planFile ? ` ${planFile}` : ""} not used: ${m.planProblem}`);
  else lines.push("No pruning plan yet (Prune Model… writes NAME.prune.json beside the model)");
  lines.push("Click to show the group in the ONNX Model tree and the graph");
  return lines.join("\n");
}
