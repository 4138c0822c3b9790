/**
 * selectPlan: from unit scores to a Plan — which units of which group to remove.
 *
 * Per group, the prunable units (not frozen, scored) are ordered by ascending score (ties by unit index)
 * and cut into *blocks*, the steps a group can shrink by: with roundTo N (channel-like units only) the kept
 * count must stay a multiple of N and ≥ N, so the first block removes `units mod N` units and the others N;
 * otherwise every block is one unit. A group never loses all its units (nor, with roundTo, goes below N),
 * nor more than maxGroupRatio of them, nor every index it maps on any axis.
 *
 *  - local scope: every group removes the number of blocks nearest to ratio × units (channels target); for a
 *    params or MACs target, the smallest such common ratio whose exact cost reaches the target.
 *  - global scope: all blocks of all groups ranked by their mean (normalised) score and taken in order until
 *    the target is reached: ratio × Σ units of the candidate groups (channels), or ratio × the model's params
 *    or MACs — so the target is reached within one block.
 *
 * Protected groups (protect.ts), wholly frozen groups and frozen units are never touched. Deterministic.
 */
import type { Group, GroupAnalysis, Plan, PlanSettings, PruneTarget } from "../types.ts";
import { CostTracker, type Size } from "./cost.ts";
import { AxisGuard } from "./guard.ts";
import { ScalpelError } from "../../onnx/errors.ts";
import { compilePattern, matchingPattern, protectedBy } from "./protect.ts";
import type { Scores } from "./score.ts";

export interface SelectSettings {
  /** Fraction to remove, in [0, 1]: of units (channels target), of the model's params or of its MACs. */
  ratio: number;
  /** Default "channels". */
  target?: PruneTarget;
  /** Default "local". */
  scope?: "local" | "global";
  /** Keep counts multiple of N (channel, head-dim and group-channel units; heads and conv groups are whole already). */
  roundTo?: number;
  /** Most of a group's units that may go (default 1, still keeping at least one). */
  maxGroupRatio?: number;
  /** Local scope, channels target: per-group ratios, pattern (as in protect) → ratio; the first match wins,
   * other groups take `ratio`. */
  groupRatios?: Record<string, number>;
  /** Patterns (protect.ts) of groups to leave whole. */
  protect?: string[];
}

export interface Selection {
  plan: Plan;
  before: Size;
  after: Size;
  /** Units removed / units of the candidate groups. */
  removedUnits: number;
  candidateUnits: number;
  /** Whether the target was reached: params/MACs/global channels, the total; local channels, every candidate
   * group's share within rounding (false when freezing, roundTo, maxGroupRatio or the axis guard stop it). */
  reached: boolean;
  /** Keys of protected groups, with the pattern that protected them. */
  protected: { key: string; pattern: string }[];
  notes: string[];
}

/** A group that may lose units, with the blocks it may lose them in (in order). */
interface Candidate {
  g: Group;
  blocks: number[][];
  /** Mean score of each block. */
  blockScores: number[];
}

const ROUNDED_KINDS = new Set(["channel", "head-dim", "group-channel"]);

function frozenUnits(g: Group): Set<number> {
  if (!g.frozen) return new Set();
  return new Set(g.frozen.units ?? Array.from({ length: g.units }, (_, u) => u));
}

/** Stops at the first block that would remove every index the group maps on one of its axes. */
function feasibleBlocks(g: Group, blocks: number[][]): number[][] {
  const guard = new AxisGuard(g);
  const out: number[][] = [];
  for (const b of blocks) {
    if (!guard.tryRemove(b)) break;
    out.push(b);
  }
  return out;
}

function candidate(g: Group, scores: Float64Array, s: SelectSettings): Candidate | undefined {
  const frozen = frozenUnits(g);
  const free: number[] = [];
  for (let u = 0; u < g.units; u++) if (!frozen.has(u) && !Number.isNaN(scores[u]!)) free.push(u);
  free.sort((a, b) => scores[a]! - scores[b]! || a - b);
  const n = s.roundTo && s.roundTo > 1 && ROUNDED_KINDS.has(g.unitKind) ? Math.floor(s.roundTo) : 1;
  const maxRatio = s.maxGroupRatio ?? 1;
  const most = Math.min(free.length, Math.floor(maxRatio * g.units + 1e-9), g.units - n);
  const blocks: number[][] = [];
  let taken = 0;
  let size = g.units % n || n;
  while (taken + size <= most) {
    blocks.push(free.slice(taken, taken + size));
    taken += size;
    size = n;
  }
  const ok = feasibleBlocks(g, blocks);
  if (!ok.length) return undefined;
  const blockScores = ok.map((b) => b.reduce((a, u) => a + scores[u]!, 0) / b.length);
  return { g, blocks: ok, blockScores };
}

/** Number of blocks whose cumulative size is nearest to `want` (ties: fewer). */
function nearestBlocks(c: Candidate, want: number): number {
  let best = 0;
  let bestErr = want;
  let cum = 0;
  c.blocks.forEach((b, k) => {
    cum += b.length;
    const err = Math.abs(cum - want);
    if (err < bestErr - 1e-9) {
      best = k + 1;
      bestErr = err;
    }
  });
  return best;
}

/** Settings come from users (CLI flags, a plan file, the Prune dialog): refuse bad ones in one clear line. */
export function checkSettings(where: string, s: SelectSettings): void {
  const bad = (problem: string) => {
    throw new ScalpelError(where, problem);
  };
  if (typeof s.ratio !== "number" || !(s.ratio >= 0 && s.ratio <= 1)) bad(`pruning ratio must be a number in [0, 1], got ${s.ratio}`);
  if (s.target !== undefined && !["channels", "params", "macs"].includes(s.target)) bad(`target must be channels, params or macs, got '${s.target}'`);
  if (s.scope !== undefined && !["local", "global"].includes(s.scope)) bad(`scope must be local or global, got '${s.scope}'`);
  if (s.roundTo !== undefined && !(Number.isInteger(s.roundTo) && s.roundTo >= 1)) bad(`round-to must be a whole number ≥ 1, got ${s.roundTo}`);
  if (s.maxGroupRatio !== undefined && !(s.maxGroupRatio >= 0 && s.maxGroupRatio <= 1)) bad(`maximum group ratio must be in [0, 1], got ${s.maxGroupRatio}`);
  for (const [p, r] of Object.entries(s.groupRatios ?? {}))
    if (!(typeof r === "number" && r >= 0 && r <= 1)) bad(`ratio for groups '${p}' must be a number in [0, 1], got ${r}`);
  for (const p of [...(s.protect ?? []), ...Object.keys(s.groupRatios ?? {})])
    try {
      compilePattern(p);
    } catch (e) {
      bad(`protect pattern '${p}' is not a valid regular expression (${(e as Error).message})`);
    }
}

function costOf(tracker: CostTracker, t: PruneTarget): number {
  return t === "macs" ? tracker.macs : tracker.params;
}

export function selectPlanDetailed(analysis: GroupAnalysis, scores: Scores, settings: SelectSettings): Selection {
  const target = settings.target ?? "channels";
  const scope = settings.scope ?? "local";
  const ratio = settings.ratio;
  checkSettings(analysis.model.name, settings);
  const overrides = Object.entries(settings.groupRatios ?? {}).map(([p, r]) => ({ p, r }));
  const ratioOf = (g: Group) => overrides.find((o) => matchingPattern(g, [o.p]) !== undefined)?.r ?? ratio;
  if (overrides.length && (scope !== "local" || target !== "channels")) throw new ScalpelError(analysis.model.name, "per-group ratios apply to the local scope with the channels target only");
  const notes: string[] = [];
  const protectedGroups: Selection["protected"] = [];
  const cands: Candidate[] = [];
  /** Local channels target: groups whose limits keep them well short of the ratio. */
  const short: string[] = [];
  let candidateUnits = 0;
  analysis.groups.forEach((g, i) => {
    const sc = scores.groups[i];
    if (!sc || sc.key !== g.key) throw new Error(`scores do not match the analysis (group ${i} '${g.key}')`);
    const p = protectedBy(g, settings.protect ?? []);
    if (p !== undefined) return void protectedGroups.push({ key: g.key, pattern: p });
    if (g.frozen && !g.frozen.units) return;
    candidateUnits += g.units;
    const c = candidate(g, sc.scores, settings);
    if (c) cands.push(c);
    else if (scope === "local" && target === "channels" && Math.round(ratioOf(g) * g.units) > 0) short.push(g.key);
  });

  const chosen = new Map<number, number>(); // candidate index → blocks taken
  const fresh = new CostTracker(analysis);
  const before = fresh.size();
  const apply = (counts: Map<number, number>) => {
    const t = new CostTracker(analysis);
    counts.forEach((k, ci) => k && t.remove(cands[ci]!.g, cands[ci]!.blocks.slice(0, k).flat()));
    return t;
  };
  const localCounts = (r: number) => new Map(cands.map((c, ci) => [ci, nearestBlocks(c, r * c.g.units)]));
  const localChannelCounts = () => new Map(cands.map((c, ci) => [ci, nearestBlocks(c, ratioOf(c.g) * c.g.units)]));
  let reached = true;

  if (scope === "local") {
    if (target === "channels")
      localChannelCounts().forEach((k, ci) => {
        chosen.set(ci, k);
        const c = cands[ci]!;
        const all = c.blocks.reduce((a, b) => a + b.length, 0);
        // Short when even every allowed block leaves it more than half a block below its share.
        if (k === c.blocks.length && all < ratioOf(c.g) * c.g.units - c.blocks[c.blocks.length - 1]!.length / 2) short.push(c.g.key);
      });
    else {
      // Smallest common ratio whose exact cost reaches the target (cost only falls as r grows).
      const goal = costOf(fresh, target) * (1 - ratio);
      let lo = 0;
      let hi = 1;
      if (costOf(apply(localCounts(hi)), target) > goal) {
        reached = ratio === 0;
        lo = hi;
      } else
        for (let it = 0; it < 24; it++) {
          const mid = (lo + hi) / 2;
          if (costOf(apply(localCounts(mid)), target) <= goal) hi = mid;
          else lo = mid;
        }
      localCounts(ratio === 0 ? 0 : hi).forEach((k, ci) => chosen.set(ci, k));
    }
  } else {
    const items: { ci: number; k: number; score: number }[] = [];
    cands.forEach((c, ci) => c.blockScores.forEach((score, k) => items.push({ ci, k, score })));
    items.sort((a, b) => a.score - b.score || a.ci - b.ci || a.k - b.k);
    const tracker = new CostTracker(analysis);
    const goalUnits = Math.round(ratio * candidateUnits);
    const goalCost = target === "channels" ? 0 : costOf(tracker, target) * (1 - ratio);
    let removed = 0;
    const done = () => (target === "channels" ? removed >= goalUnits : costOf(tracker, target) <= goalCost);
    for (const it of items) {
      if (done()) break;
      // Blocks of a group are ranked in order (block means never decrease); guard against ties anyway.
      if ((chosen.get(it.ci) ?? 0) !== it.k) continue;
      chosen.set(it.ci, it.k + 1);
      const b = cands[it.ci]!.blocks[it.k]!;
      tracker.remove(cands[it.ci]!.g, b);
      removed += b.length;
    }
    reached = done();
  }

  const groups: Plan["groups"] = [];
  let removedUnits = 0;
  const counts = new Map<number, number>();
  cands.forEach((c, ci) => {
    const k = chosen.get(ci) ?? 0;
    counts.set(ci, k);
    if (!k) return;
    const prune = c.blocks.slice(0, k).flat().sort((a, b) => a - b);
    removedUnits += prune.length;
    groups.push({ key: c.g.key, id: c.g.id, prune });
  });
  const after = apply(counts).size();
  if (target === "channels" && scope === "local") {
    reached = short.length === 0;
    if (short.length) notes.push(`${short.length} groups kept above the ratio by their limits (${short.slice(0, 3).join(", ")}${short.length > 3 ? ", …" : ""})`);
  }
  if (!reached) notes.push(`target not reached: ${target} ratio ${ratio} asked, limits (protection, freezing, maxGroupRatio, roundTo) stop earlier`);
  if (protectedGroups.length) notes.push(`${protectedGroups.length} protected groups left whole`);
  const pct = (a: number, b: number) => (b ? ((100 * (b - a)) / b).toFixed(1) : "0.0");
  notes.push(
    `removes ${removedUnits} of ${candidateUnits} units; params ${before.params} → ${after.params} (−${pct(after.params, before.params)}%), ` +
      `MACs ${before.macs} → ${after.macs} (−${pct(after.macs, before.macs)}%)`,
  );
  const planSettings: PlanSettings = {
    ratio,
    target,
    scope,
    roundTo: settings.roundTo,
    maxGroupRatio: settings.maxGroupRatio,
    protect: settings.protect,
    groupRatios: settings.groupRatios,
    reduction: scores.reduction,
    normalization: scores.normalization,
  };
  for (const k of Object.keys(planSettings)) if (planSettings[k] === undefined) delete planSettings[k];
  const plan: Plan = {
    version: 1,
    model: analysis.model,
    criterion: scores.criterion,
    settings: planSettings,
    groups,
    note: notes.join("; "),
  };
  if (scores.seed !== undefined) plan.seed = scores.seed;
  return { plan, before, after, removedUnits, candidateUnits, reached, protected: protectedGroups, notes };
}

export function selectPlan(analysis: GroupAnalysis, scores: Scores, settings: SelectSettings): Plan {
  return selectPlanDetailed(analysis, scores, settings).plan;
}
