/**
 * The random baseline every report shows next to a criterion: the same number of units removed from each
 * group as a reference plan, chosen uniformly at random among the group's prunable units (seeded per
 * group key, so it does not depend on group order). A criterion is judged by its gain over this.
 *
 * Given settings instead of a plan, it selects with random scores under those settings (local scope: the
 * same per-group counts as any criterion; global scope: random ranks across groups).
 */
import type { Group, GroupAnalysis, Plan } from "../types.ts";
import { AxisGuard } from "./guard.ts";
import { groupRandom } from "./random.ts";
import { scoreGroups } from "./score.ts";
import { selectPlan, type SelectSettings } from "./select.ts";

function shuffled(units: number[], rnd: () => number): number[] {
  const a = units.slice();
  for (let i = a.length - 1; i > 0; i--) {
    const j = Math.floor(rnd() * (i + 1));
    [a[i], a[j]] = [a[j]!, a[i]!];
  }
  return a;
}

/** `count` random prunable units of g, skipping any that would empty an axis the group maps. */
function pick(g: Group, count: number, seed: number): number[] {
  const frozen = new Set(g.frozen ? (g.frozen.units ?? []) : []);
  const free = Array.from({ length: g.units }, (_, u) => u).filter((u) => !frozen.has(u));
  const guard = new AxisGuard(g);
  const out: number[] = [];
  for (const u of shuffled(free, groupRandom(seed, g.key))) {
    if (out.length >= count) break;
    if (guard.tryRemove([u])) out.push(u);
  }
  return out.sort((a, b) => a - b);
}

export function randomBaselinePlan(analysis: GroupAnalysis, reference: Plan | SelectSettings, seed = 1): Plan {
  if (!("groups" in reference)) {
    const scores = scoreGroups(analysis, () => undefined, { criterion: "random", normalization: "none", seed });
    const plan = selectPlan(analysis, scores, reference);
    return { ...plan, note: `random baseline (seed ${seed}); ${plan.note ?? ""}` };
  }
  const byKey = new Map(analysis.groups.map((g) => [g.key, g]));
  const groups: Plan["groups"] = [];
  for (const pg of reference.groups) {
    const g = byKey.get(pg.key);
    if (!g || !pg.prune.length || (g.frozen && !g.frozen.units)) continue;
    const prune = pick(g, pg.prune.length, seed);
    if (prune.length) groups.push({ key: g.key, id: g.id, prune });
  }
  return {
    version: 1,
    model: analysis.model,
    criterion: "random",
    settings: { ...reference.settings, baselineOf: reference.criterion },
    seed,
    groups,
    note: `random baseline (seed ${seed}): same units per group as the ${reference.criterion} plan`,
  };
}
