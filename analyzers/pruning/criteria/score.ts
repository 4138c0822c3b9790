/**
 * scoreGroups: per-unit importance of every group = per-member statistics (stats.ts) over the members the
 * criterion reads, reduced over the group (reduce.ts), normalised per group (normalize.ts). Pure: the same
 * analysis, weights and options give the same scores.
 *
 * Members read by each criterion:
 *  - l1, l2: producers' out channels, consumers' in channels and normalisation γ (roles out, in, norm-scale);
 *    biases, running statistics and per-channel constants say little about importance. A group with none of
 *    those roles uses all its members.
 *  - bn: the γ of BatchNormalization members only (network slimming); a group without one falls back to L1.
 *  - fpgm: producers' out filters; a group without one falls back to L1.
 *  - random: no weights; uniform scores from a stream seeded by (seed, group key).
 * Out members come first, so the "first" reduction reads the producer.
 */
import type { CriterionName, Group, GroupAnalysis, Member, MemberRole } from "../types.ts";
import { ScalpelError } from "../../onnx/errors.ts";
import { NORMALIZATIONS, normalizeScores, type Normalization } from "./normalize.ts";
import { groupRandom } from "./random.ts";
import { REDUCTIONS, reduceStats, type Reduction } from "./reduce.ts";
import { axisSums, fpgmStat, unitStat, type AxisSums, type StatName } from "./stats.ts";
import type { Weights } from "./weights.ts";

export const CRITERIA = ["l1", "l2", "bn", "fpgm", "random"] as const;
export type Criterion = (typeof CRITERIA)[number];

export interface ScoreOptions {
  criterion: Criterion;
  /** Default "mean". */
  reduction?: Reduction;
  /** Default "mean". */
  normalization?: Normalization;
  /** Seed of the random criterion (default 1). */
  seed?: number;
  /** FPGM: element operations per member before sampling reference filters (default FPGM_BUDGET). */
  fpgmBudget?: number;
}

export interface GroupScores {
  /** Group.id and Group.key of the scored group. */
  group: number;
  key: string;
  /** The criterion actually used (bn and fpgm fall back to l1 where they cannot apply). Other scorers
   * (OBSPA) fill Scores with their own name and reuse selectPlan. */
  criterion: CriterionName;
  /** Normalised score per unit (lower = pruned first); NaN where no member could score the unit. */
  scores: Float64Array;
  /** The reduced scores before normalisation. */
  raw: Float64Array;
  /** Member tensors that contributed. */
  members: string[];
  /** Why a fallback happened, which members could not be read. */
  notes: string[];
}

export interface Scores {
  criterion: CriterionName;
  /** How member statistics were combined; other scorers record their own (e.g. "obs"). */
  reduction: Reduction | (string & {});
  normalization: Normalization;
  seed?: number;
  /** Same order as analysis.groups. */
  groups: GroupScores[];
}

const MAGNITUDE_ROLES: readonly MemberRole[] = ["out", "in", "norm-scale"];

function byRole(members: readonly Member[]): Member[] {
  return [...members.filter((m) => m.role === "out"), ...members.filter((m) => m.role !== "out")];
}

/** Which members a criterion reads in this group, and the statistic; a fallback note when it cannot apply. */
function plan(g: Group, criterion: Exclude<Criterion, "random">): { stat: StatName; used: Criterion; members: Member[]; note?: string } {
  if (criterion === "bn") {
    const bn = g.members.filter((m) => m.role === "norm-scale" && m.op === "BatchNormalization");
    if (bn.length) return { stat: "bn", used: "bn", members: bn };
    return { ...plan(g, "l1"), note: "no BatchNormalization γ in this group: L1 used instead" };
  }
  if (criterion === "fpgm") {
    const out = g.members.filter((m) => m.role === "out");
    if (out.length) return { stat: "fpgm", used: "fpgm", members: out };
    return { ...plan(g, "l1"), note: "no producer (out) weight in this group: L1 used instead of FPGM" };
  }
  const mag = byRole(g.members.filter((m) => MAGNITUDE_ROLES.includes(m.role)));
  if (mag.length) return { stat: criterion, used: criterion, members: mag };
  return { stat: criterion, used: criterion, members: byRole(g.members), note: "no out/in/γ member: every member used" };
}

/** Per-index sums of a (tensor, dim), shared by the groups of one scoring pass. */
export type SumsCache = Map<string, AxisSums | undefined>;

export function scoreGroup(g: Group, weights: Weights, opts: ScoreOptions, cache: SumsCache = new Map()): GroupScores {
  const reduction = opts.reduction ?? "mean";
  const normalization = opts.normalization ?? "mean";
  const notes: string[] = [];
  let raw: Float64Array;
  let used: CriterionName = opts.criterion;
  const members: string[] = [];
  if (g.frozen && !g.frozen.units) {
    // Nothing here can be pruned: do not spend time (FPGM of a classifier is seconds).
    raw = new Float64Array(g.units).fill(NaN);
    notes.push(`frozen (${g.frozen.reason}): not scored`);
  } else if (opts.criterion === "random") {
    const rnd = groupRandom(opts.seed ?? 1, g.key);
    raw = Float64Array.from({ length: g.units }, () => rnd());
  } else {
    const p = plan(g, opts.criterion);
    used = p.used;
    if (p.note) notes.push(p.note);
    const stats: Float64Array[] = [];
    for (const m of p.members) {
      let stat: Float64Array | undefined;
      if (p.stat === "fpgm") {
        const w = weights(m.tensor);
        if (w) {
          const r = fpgmStat(w, m, g.units, opts.fpgmBudget);
          stat = r.scores;
          if (r.sampled) notes.push(`FPGM of '${m.tensor}' estimated against ${r.sampled} sampled filters (layer too large for all pairs)`);
        }
      } else {
        // A tensor is read by several groups (out channels here, in channels there): sum each axis once.
        const k = `${m.tensor}\u0000${m.dim}`;
        if (!cache.has(k)) {
          const w = weights(m.tensor);
          cache.set(k, w && axisSums(w, m.dim));
        }
        const sums = cache.get(k);
        if (sums) stat = unitStat(sums, m, g.units, p.stat);
      }
      if (!stat) {
        notes.push(`'${m.tensor}' has no numeric data: skipped`);
        continue;
      }
      stats.push(stat);
      members.push(m.tensor);
    }
    raw = reduceStats(stats, g.units, reduction);
    const unscored = raw.reduce((n, x) => n + (Number.isNaN(x) ? 1 : 0), 0);
    if (unscored) notes.push(`${unscored} of ${g.units} units have no score (no readable member): never selected`);
  }
  return { group: g.id, key: g.key, criterion: used, scores: normalizeScores(raw, normalization), raw, members, notes };
}

/** Options come from users (CLI flags, plan files): refuse unknown names in one clear line. */
export function checkScoreOptions(where: string, opts: ScoreOptions): void {
  const check = (what: string, v: string | undefined, allowed: readonly string[]) => {
    if (v !== undefined && !allowed.includes(v)) throw new ScalpelError(where, `unknown ${what} '${v}'; choose one of ${allowed.join(", ")}`);
  };
  check("criterion", opts.criterion, CRITERIA);
  check("reduction", opts.reduction, REDUCTIONS);
  check("normalization", opts.normalization, NORMALIZATIONS);
}

export function scoreGroups(analysis: GroupAnalysis, weights: Weights, opts: ScoreOptions): Scores {
  checkScoreOptions(analysis.model.name, opts);
  const cache: SumsCache = new Map();
  return {
    criterion: opts.criterion,
    reduction: opts.reduction ?? "mean",
    normalization: opts.normalization ?? "mean",
    seed: opts.criterion === "random" ? (opts.seed ?? 1) : opts.seed,
    groups: analysis.groups.map((g) => scoreGroup(g, weights, opts, cache)),
  };
}


/** Scores as plain JSON (for plans, the explorer, reports): NaN becomes null. */
export function scoresToJSON(scores: Scores): {
  criterion: CriterionName;
  reduction: string;
  normalization: Normalization;
  seed?: number;
  groups: { group: number; key: string; criterion: CriterionName; scores: (number | null)[]; members: string[]; notes: string[] }[];
} {
  const plain = (a: Float64Array) => Array.from(a, (x) => (Number.isNaN(x) ? null : x));
  return {
    ...scores,
    groups: scores.groups.map((g) => ({ group: g.group, key: g.key, criterion: g.criterion, scores: plain(g.scores), members: g.members, notes: g.notes })),
  };
}
