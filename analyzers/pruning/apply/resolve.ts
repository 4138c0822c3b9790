/**
 * From a plan to removed indices per axis: each planned unit of each group removes its indices on every
 * member and rewrite axis; several groups removing from one axis (heads and head-dims of the same
 * projection) merge. Invalid plans (unknown group, frozen or out-of-range units, an axis emptied,
 * another model) are refused with a message naming the problem.
 */
import { ScalpelError } from "../../onnx/errors.ts";
import { indicesOf, type Group, type GroupAnalysis, type IndexMap, type Plan } from "../types.ts";

export interface Removal {
  /** Axis id → removed indices (sorted). */
  readonly removed: Map<number, number[]>;
  /** Group id → removed units (sorted). */
  readonly units: Map<number, number[]>;
}

export function resolvePlan(analysis: GroupAnalysis, plan: Plan, where = "plan"): Removal {
  if (plan.version !== 1) throw new ScalpelError(where, `has version ${plan.version}; this tool reads version 1`);
  if (plan.model && plan.model.structure !== analysis.model.structure)
    throw new ScalpelError(where, `was made for another model (structure ${plan.model.structure} '${plan.model.name}', this model is ${analysis.model.structure} '${analysis.model.name}')`);
  const byKey = new Map(analysis.groups.map((g) => [g.key, g]));
  const sets = new Map<number, Set<number>>();
  const units = new Map<number, number[]>();
  for (const pg of plan.groups) {
    const g = byKey.get(pg.key);
    if (!g) throw new ScalpelError(where, `names group '${pg.key}', which this model does not have`);
    if (pg.id !== undefined && pg.id !== g.id) throw new ScalpelError(where, `gives id ${pg.id} to group '${pg.key}', which is group ${g.id} here`);
    if (!pg.prune.length) continue;
    const frozen = g.frozen ? new Set(g.frozen.units ?? Array.from({ length: g.units }, (_, u) => u)) : undefined;
    const seen = new Set<number>();
    for (const u of pg.prune) {
      if (!Number.isInteger(u) || u < 0 || u >= g.units) throw new ScalpelError(where, `group '${g.key}' has ${g.units} units; unit ${u} does not exist`);
      if (frozen?.has(u)) throw new ScalpelError(where, `unit ${u} of group '${g.key}' is frozen (${g.frozen!.reason})`);
      seen.add(u);
    }
    if (seen.size === 0) continue;
    const list = [...seen].sort((a, b) => a - b);
    const prev = units.get(g.id);
    units.set(g.id, prev ? [...new Set([...prev, ...list])].sort((a, b) => a - b) : list);
    addGroup(g, list, sets);
  }
  const removed = new Map<number, number[]>();
  for (const [axis, set] of sets) {
    const ref = analysis.axes[axis]!;
    if (set.size >= ref.size) throw new ScalpelError(where, `removes every index of '${ref.tensor}' axis ${ref.axis} (${ref.size}); keep at least one`);
    removed.set(axis, [...set].sort((a, b) => a - b));
  }
  return { removed, units };
}

function addGroup(g: Group, prune: number[], sets: Map<number, Set<number>>): void {
  const add = (axis: number, map: IndexMap) => {
    let s = sets.get(axis);
    if (!s) sets.set(axis, (s = new Set()));
    for (const u of prune) for (const i of indicesOf(map, u)) s.add(i);
  };
  for (const m of g.members) add(m.axis, m.indices);
  for (const r of g.rewrites) add(r.axis, r.indices);
  for (const x of g.extraAxes ?? []) add(x.axis, x.indices);
}

/** Kept indices of an axis of `size`, given the removed ones (sorted). */
export function keptIndices(size: number, removed: readonly number[] | undefined): number[] {
  if (!removed || removed.length === 0) return Array.from({ length: size }, (_, i) => i);
  const out: number[] = [];
  let r = 0;
  for (let i = 0; i < size; i++) {
    if (r < removed.length && removed[r] === i) r++;
    else out.push(i);
  }
  return out;
}

/** How many removed indices are < i (removed sorted). */
export function countBelow(removed: readonly number[], i: number): number {
  let lo = 0, hi = removed.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (removed[mid]! < i) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
