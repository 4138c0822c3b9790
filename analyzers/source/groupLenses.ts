/**
 * Dependency groups, importance and the planned prune ratio of source modules, for CodeLens: which groups
 * a module (or the instances of a class) owns, how important their units are under a criterion, and what
 * share of them a plan (NAME.prune.json) removes. Pure: a GroupAnalysis, the node → module map and scores
 * in; plain JSON out (the facts cross the worker boundary, the matching runs wherever the lenses are built).
 *
 * A module owns a group when one of its layers produces the group's channels (role out or bias) or
 * normalises them (BatchNorm/LayerNorm members): `self.conv1` owns conv1's output channels, `self.bn1`
 * the same group, a container owns every group its submodules own. Input-channel members do not count:
 * those channels belong to the producer's group.
 */
import type { GroupScores, Scores } from "../pruning/criteria/score.ts";
import type { GroupAnalysis, MemberRole, Plan, UnitKind } from "../pruning/types.ts";

/** Criteria a lens scores with: cheap (weights only, no onnxruntime run) and meaningful (random is not). */
export const LENS_CRITERIA: readonly string[] = ["l1", "l2", "bn", "fpgm"];

/** The criterion of a lens: the plan's when it is one of LENS_CRITERIA, else the preferred one, else L1. */
export function lensCriterion(planCriterion: string | undefined, preferred: string | undefined): string {
  if (planCriterion && LENS_CRITERIA.includes(planCriterion)) return planCriterion;
  return preferred && LENS_CRITERIA.includes(preferred) ? preferred : "l1";
}

const OWNER_ROLES: ReadonlySet<MemberRole> = new Set(["out", "bias", "norm-scale", "norm-bias", "norm-mean", "norm-var"]);

export interface GroupFact {
  readonly id: number;
  readonly key: string;
  /** Module of the group's first producer ("" at the root). */
  readonly scope: string;
  readonly units: number;
  readonly unitKind: UnitKind;
  /** Units that cannot be pruned (all of them for a frozen group), and why. */
  readonly frozenUnits: number;
  readonly frozenReason?: string;
  /** Modules whose layers produce or normalise the group's channels, sorted, distinct. */
  readonly owners: readonly string[];
  /** Raw importance per unit under `GroupFacts.criterion` (null: not scored, e.g. frozen). */
  readonly scores?: readonly (number | null)[];
}

export interface GroupFacts {
  /** The model's structural fingerprint (plans name the model they were made for). */
  readonly structure: string;
  /** The criterion of the importance scores (absent: not scored). */
  readonly criterion?: string;
  readonly groups: readonly GroupFact[];
}

/** The lens-relevant facts of every group of an analysis. */
export function groupFacts(analysis: GroupAnalysis, moduleOf: (node: string) => string, scores?: Scores): GroupFacts {
  const byKey = new Map<string, GroupScores>(scores?.groups.map((s) => [s.key, s]));
  const groups = analysis.groups.map((g): GroupFact => {
    const owners = [...new Set(g.members.filter((m) => OWNER_ROLES.has(m.role)).map((m) => moduleOf(m.node)))].sort();
    const s = byKey.get(g.key);
    const frozenUnits = g.frozen ? (g.frozen.units?.length ?? g.units) : 0;
    return {
      id: g.id,
      key: g.key,
      scope: g.scope,
      units: g.units,
      unitKind: g.unitKind,
      frozenUnits,
      ...(g.frozen ? { frozenReason: g.frozen.reason } : {}),
      owners,
      ...(s ? { scores: Array.from(s.raw, (v) => (Number.isFinite(v) ? v : null)) } : {}),
    };
  });
  return { structure: analysis.model.structure, ...(scores ? { criterion: String(scores.criterion) } : {}), groups };
}

/** Whether module `owner` is `module` or inside it ("" is the whole model). */
export function withinModule(owner: string, module: string): boolean {
  return module === "" || owner === module || owner.startsWith(module + ".");
}

/** The groups owned by any of `modules`, in analysis order. */
export function groupsOfModules(modules: readonly string[], facts: GroupFacts): GroupFact[] {
  return facts.groups.filter((g) => g.owners.some((o) => modules.some((m) => withinModule(o, m))));
}

// ---- plans -------------------------------------------------------------------------------------------

/** How a plan was made, beyond its criterion, as far as the plan file records it (OBSPA, random). */
export interface PlanRecord {
  /** OBSPA: the Hessian source. */
  readonly hessian?: string;
  /** OBSPA: whether BatchNorm output variances are restored after compensation ("auto": the engine decides per BatchNorm). */
  readonly varianceCorrection?: boolean | "auto";
  /** Seed of anything random (random criterion, synthetic inputs). */
  readonly seed?: number;
}

export type PlanMatch =
  /**
   * The plan fits the model: removed units per group key. A plan file records what it removes (and, for
   * OBSPA, how its Hessians were made), never the scores it ranked units by.
   */
  | { readonly kind: "ok"; readonly criterion: string; readonly removed: ReadonlyMap<string, readonly number[]>; readonly record: PlanRecord }
  /** A plan exists but does not fit (another model, unknown group, unreadable): why. */
  | { readonly kind: "mismatch"; readonly problem: string };

/** Checks a parsed plan file against the model's facts (the same checks as applying it, minus the axes). */
export function matchPlan(plan: unknown, facts: GroupFacts): PlanMatch {
  const p = plan as Partial<Plan> | null;
  if (!p || typeof p !== "object" || !Array.isArray(p.groups)) return { kind: "mismatch", problem: "not a pruning plan (no groups list)" };
  if (p.version !== 1) return { kind: "mismatch", problem: `plan version ${String(p.version)} (this tool reads version 1)` };
  if (p.model?.structure && p.model.structure !== facts.structure) return { kind: "mismatch", problem: `made for another model (${p.model.name ?? p.model.structure})` };
  const byKey = new Map(facts.groups.map((g) => [g.key, g]));
  const removed = new Map<string, number[]>();
  for (const pg of p.groups) {
    const g = byKey.get(pg?.key);
    if (!g) return { kind: "mismatch", problem: `names group '${String(pg?.key)}', which the model does not have` };
    if (!Array.isArray(pg.prune) || pg.prune.some((u) => !Number.isInteger(u) || u < 0 || u >= g.units))
      return { kind: "mismatch", problem: `group '${g.key}': units to prune must be whole numbers below ${g.units}` };
    const set = new Set([...(removed.get(g.key) ?? []), ...pg.prune]);
    if (set.size) removed.set(g.key, [...set].sort((a, b) => a - b));
  }
  return { kind: "ok", criterion: String(p.criterion ?? "?"), removed, record: planRecord(p) };
}

function planRecord(p: Partial<Plan>): PlanRecord {
  const hessian = typeof p.hessian?.source === "string" ? p.hessian.source : undefined;
  const variance = p.compensation?.variance;
  const seed = p.criterion === "random" || hessian === "synthetic" ? (p.seed ?? p.hessian?.seed) : undefined;
  return {
    ...(hessian ? { hessian } : {}),
    ...(typeof variance === "boolean" || variance === "auto" ? { varianceCorrection: variance } : {}),
    ...(Number.isInteger(seed) ? { seed } : {}),
  };
}

// ---- what a lens shows -------------------------------------------------------------------------------

export interface KindCount {
  readonly unitKind: UnitKind;
  readonly units: number;
  readonly frozen: number;
  /** Units the plan removes (0 without a plan). */
  readonly removed: number;
}

export interface Importance {
  readonly criterion: string;
  /** Mean raw score of the scored units. */
  readonly mean: number;
  readonly min: number;
  readonly max: number;
  /** Mean of the units the plan removes, relative to `mean` (absent without a plan or removals). */
  readonly removedRelative?: number;
}

/** What the plan decided for one group: the units it removes (the others are kept). */
export interface PlanGroupDecision {
  readonly key: string;
  readonly units: number;
  readonly removed: readonly number[];
}

export interface ModulePlan {
  readonly criterion: string;
  /** The importance shown is under the plan's own criterion (a magnitude plan); false for OBSPA and random plans. */
  readonly scoredByPlanCriterion: boolean;
  readonly record: PlanRecord;
  readonly removed: number;
  readonly units: number;
  readonly ratio: number;
  /** Per group of the lens, in analysis order (frozen groups included: they keep everything). */
  readonly decisions: readonly PlanGroupDecision[];
}

export interface ModuleGroups {
  readonly groups: readonly GroupFact[];
  /** Units per kind over the distinct groups. */
  readonly kinds: readonly KindCount[];
  readonly importance?: Importance;
  /** The plan's share: removed / units over all matched groups (absent without a matching plan). */
  readonly plan?: ModulePlan;
  /** Why the plan file was not used. */
  readonly planProblem?: string;
}

/** Groups, importance and planned ratio of the modules behind one lens; undefined when they own no group. */
export function moduleGroups(modules: readonly string[], facts: GroupFacts, plan?: PlanMatch): ModuleGroups | undefined {
  const groups = groupsOfModules(modules, facts);
  if (!groups.length) return undefined;
  const ok = plan?.kind === "ok" ? plan : undefined;
  const kinds = new Map<UnitKind, { units: number; frozen: number; removed: number }>();
  let sum = 0, n = 0, min = Infinity, max = -Infinity, rSum = 0, rN = 0;
  for (const g of groups) {
    const k = kinds.get(g.unitKind) ?? { units: 0, frozen: 0, removed: 0 };
    const removed = ok?.removed.get(g.key) ?? [];
    k.units += g.units;
    k.frozen += g.frozenUnits;
    k.removed += removed.length;
    kinds.set(g.unitKind, k);
    g.scores?.forEach((v) => {
      if (v === null) return;
      sum += v;
      n++;
      min = Math.min(min, v);
      max = Math.max(max, v);
    });
    for (const u of removed) {
      const v = g.scores?.[u];
      if (v !== undefined && v !== null) {
        rSum += v;
        rN++;
      }
    }
  }
  const kindList = [...kinds].map(([unitKind, c]) => ({ unitKind, ...c }));
  const units = kindList.reduce((a, k) => a + k.units, 0);
  const removed = kindList.reduce((a, k) => a + k.removed, 0);
  const mean = n ? sum / n : NaN;
  const importance: Importance | undefined =
    n && facts.criterion ? { criterion: facts.criterion, mean, min, max, ...(rN && mean > 0 ? { removedRelative: rSum / rN / mean } : {}) } : undefined;
  return {
    groups,
    kinds: kindList,
    ...(importance ? { importance } : {}),
    ...(ok
      ? {
          plan: {
            criterion: ok.criterion,
            scoredByPlanCriterion: facts.criterion === ok.criterion,
            record: ok.record,
            removed,
            units,
            ratio: units ? removed / units : 0,
            decisions: groups.map((g) => ({ key: g.key, units: g.units, removed: ok.removed.get(g.key) ?? [] })),
          },
        }
      : {}),
    ...(plan?.kind === "mismatch" ? { planProblem: plan.problem } : {}),
  };
}
