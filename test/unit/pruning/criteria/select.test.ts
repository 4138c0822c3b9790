import assert from "node:assert/strict";
import {
  choosePlan,
  costAfter,
  randomBaselinePlan,
  scoreGroups,
  selectPlan,
  selectPlanDetailed,
  weightsFrom,
} from "../../../../analyzers/pruning/criteria/index.ts";
import { buildAnalysis, handScores, tableOf, type GroupSpec } from "./build.ts";

const pruned = (plan: { groups: { key: string; prune: number[] }[] }) => Object.fromEntries(plan.groups.map((g) => [g.key, g.prune]));

/** A group of n channels: one out member [n, perUnit]. */
const group = (key: string, n: number, perUnit = 1, scope = key): GroupSpec => ({
  key,
  units: n,
  scope,
  members: [{ tensor: `${key}.weight`, dims: [n, perUnit], dim: 0, role: "out" }],
});

describe("criteria: selection", () => {
  it("local ratio removes the lowest-scored units of each group (ties by index)", () => {
    const chain: GroupSpec = {
      key: "conv1.weight:0",
      units: 4,
      members: [{ tensor: "conv1.weight", dims: [4, 2], dim: 0, role: "out", values: [1, 2, 0, -1, 3, 0, -0.5, 0.5] }],
    };
    const a = buildAnalysis([chain]);
    const scores = scoreGroups(a, weightsFrom(tableOf([chain])), { criterion: "l1" });
    // L1 rows: 3, 1, 3, 1.
    const plan = selectPlan(a, scores, { ratio: 0.5 });
    assert.deepEqual(pruned(plan), { "conv1.weight:0": [1, 3] });
    assert.equal(plan.criterion, "l1");
    assert.equal(plan.settings.target, "channels");
    assert.equal(plan.model.structure, a.model.structure);
    // Never all units: ratio 1 keeps the best one (u0 and u2 tie; u0 goes first).
    assert.deepEqual(pruned(selectPlan(a, scores, { ratio: 1 })), { "conv1.weight:0": [0, 1, 3] });
    assert.deepEqual(selectPlan(a, scores, { ratio: 0 }).groups, []);
  });

  it("roundTo keeps counts multiple of N, at least N", () => {
    const a = buildAnalysis([group("g", 10), { ...group("h", 12), unitKind: "head" }]);
    const s = handScores(a, [[9, 8, 7, 6, 5, 4, 3, 2, 1, 0], [11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0]]);
    // 10 units, N = 4: kept 8 or 4; ratio .5 wants 5 removed, nearest reachable is 6 (kept 4).
    let plan = selectPlan(a, s, { ratio: 0.5, roundTo: 4 });
    assert.deepEqual(pruned(plan).g, [4, 5, 6, 7, 8, 9]);
    // Heads are whole units already: roundTo does not apply.
    assert.deepEqual(pruned(plan).h, [6, 7, 8, 9, 10, 11]);
    // ratio .3 wants 3: nearest is 2 (kept 8).
    plan = selectPlan(a, s, { ratio: 0.3, roundTo: 4 });
    assert.deepEqual(pruned(plan).g, [8, 9]);
    // A group smaller than N is left alone.
    const small = selectPlanDetailed(a, s, { ratio: 0.9, roundTo: 16 });
    assert.deepEqual(small.plan.groups.map((g) => g.key), ["h"]);
    assert.equal(small.reached, false);
  });

  it("protected scopes and tensors are left whole; frozen units are never chosen", () => {
    const a = buildAnalysis([group("a", 4, 1, "features.0.conv"), group("b", 4, 1, "classifier.fc"), group("c", 4)]);
    a.groups[2]!.frozen = { reason: "feeds an output", units: [0] };
    const s = handScores(a, [[0, 1, 2, 3], [0, 1, 2, 3], [0, 1, 2, 3]]);
    const sel = selectPlanDetailed(a, s, { ratio: 0.5, protect: ["classifier"] });
    assert.deepEqual(pruned(sel.plan), { a: [0, 1], c: [1, 2] });
    assert.deepEqual(sel.protected, [{ key: "b", pattern: "classifier" }]);
    assert.deepEqual(Object.keys(pruned(selectPlan(a, s, { ratio: 0.5, protect: ["a.w*"] }))), ["b", "c"]);
    assert.deepEqual(Object.keys(pruned(selectPlan(a, s, { ratio: 0.5, protect: ["/^features\\./"] }))), ["b", "c"]);
    // A wholly frozen group is skipped.
    a.groups[2]!.frozen = { reason: "unsupported op" };
    assert.deepEqual(Object.keys(pruned(selectPlan(a, s, { ratio: 0.5 }))), ["a", "b"]);
  });

  it("per-group ratios override the ratio for matching groups", () => {
    const a = buildAnalysis([group("a", 4, 1, "layer1.conv"), group("b", 4, 1, "layer4.conv"), group("c", 4, 1, "layer4.fc")]);
    const s = handScores(a, [[0, 1, 2, 3], [0, 1, 2, 3], [0, 1, 2, 3]]);
    const plan = selectPlan(a, s, { ratio: 0.25, groupRatios: { "layer4.conv": 0.75, "layer4": 0.5 } });
    assert.deepEqual(pruned(plan), { a: [0], b: [0, 1, 2], c: [0, 1] });
    assert.deepEqual(plan.settings.groupRatios, { "layer4.conv": 0.75, "layer4": 0.5 });
    assert.throws(() => selectPlan(a, s, { ratio: 0.25, scope: "global", groupRatios: { a: 0.5 } }), /local scope with the channels target only/);
    assert.throws(() => selectPlan(a, s, { ratio: 0.25, groupRatios: { a: 2 } }), /ratio for groups 'a' must be a number in \[0, 1\]/);
  });

  it("maxGroupRatio caps each group", () => {
    const a = buildAnalysis([group("g", 8)]);
    const s = handScores(a, [[7, 6, 5, 4, 3, 2, 1, 0]]);
    const sel = selectPlanDetailed(a, s, { ratio: 0.75, maxGroupRatio: 0.25 });
    assert.deepEqual(pruned(sel.plan).g, [6, 7]);
    assert.equal(sel.reached, false);
    assert.match(sel.plan.note!, /1 groups kept above the ratio/);
    assert.ok(selectPlanDetailed(a, s, { ratio: 0.25, maxGroupRatio: 0.25 }).reached);
  });

  it("never removes every index a group maps on one axis", () => {
    // Units 2 and 3 have no index on m2: removing units 0 and 1 would empty it.
    const a = buildAnalysis([
      {
        key: "g",
        units: 4,
        members: [
          { tensor: "m1.weight", dims: [4, 1], dim: 0, role: "out" },
          { tensor: "m2.weight", dims: [2, 1], dim: 0, role: "out", indices: { flat: [0, 1], offsets: [0, 1, 2, 2, 2] } },
        ],
      },
    ]);
    const s = handScores(a, [[0, 1, 2, 3]]);
    assert.deepEqual(pruned(selectPlan(a, s, { ratio: 1 })).g, [0]);
  });

  // Group A: 4 units of 10 params; B: 6 units of 3 params; 42 fixed params: 100 in all.
  const ab = () => buildAnalysis([group("A", 4, 10), group("B", 6, 3)], 42);
  const abScores = (a: ReturnType<typeof ab>) => handScores(a, [[0.1, 0.5, 0.9, 0.95], [0.2, 0.3, 0.4, 0.6, 0.7, 0.8]]);

  it("global params target: units taken by score across groups until reached, within one unit", () => {
    const a = ab();
    const sel = selectPlanDetailed(a, abScores(a), { ratio: 0.2, target: "params", scope: "global" });
    // A0 (10), B0 B1 B2 (9) = 19 < 20, then A1: 29.
    assert.deepEqual(pruned(sel.plan), { A: [0, 1], B: [0, 1, 2] });
    assert.equal(sel.before.params, 100);
    assert.equal(sel.after.params, 71);
    assert.ok(sel.reached);
    // Without the last unit (A1) the target is missed: reached within one unit.
    assert.ok(costAfter(a, new Map([[0, [0]], [1, [0, 1, 2]]])).params > 80);
    assert.deepEqual(costAfter(a, new Map([[0, [0, 1]], [1, [0, 1, 2]]])), sel.after);
  });

  it("global channels target counts units over the candidate groups", () => {
    const a = ab();
    const plan = selectPlan(a, abScores(a), { ratio: 0.5, scope: "global" });
    assert.deepEqual(pruned(plan), { A: [0, 1], B: [0, 1, 2] });
  });

  it("global MACs target and local params target reach their goal", () => {
    const a = ab();
    const macs = selectPlanDetailed(a, abScores(a), { ratio: 0.3, target: "macs", scope: "global" });
    assert.ok(macs.reached && macs.after.macs <= 0.7 * macs.before.macs, `${macs.after.macs} of ${macs.before.macs}`);
    const local = selectPlanDetailed(a, abScores(a), { ratio: 0.25, target: "params" });
    assert.ok(local.reached && local.after.params <= 75, `${local.after.params}`);
    // The smallest common ratio r reaching 25 params: r just above 3/8 rounds A to 2 of 4 and B to 2 of 6
    // (20 + 6 = 26); at r = 3/8 A rounds to 1 (10 + 6 = 16).
    assert.deepEqual(pruned(local.plan), { A: [0, 1], B: [0, 1] });
    assert.equal(local.after.params, 74);
    // Unreachable target: as much as the limits allow, and said so.
    const far = selectPlanDetailed(a, abScores(a), { ratio: 0.9, target: "params", scope: "global" });
    assert.equal(far.reached, false);
    assert.match(far.plan.note!, /target not reached/);
    assert.deepEqual(pruned(far.plan), { A: [0, 1, 2], B: [0, 1, 2, 3, 4] });
  });

  it("refuses scores of another analysis and ratios out of range", () => {
    const a = ab();
    const other = buildAnalysis([group("X", 4)]);
    assert.throws(() => selectPlan(a, handScores(other, [[0, 1, 2, 3]]), { ratio: 0.5 }), /do not match/);
    assert.throws(() => selectPlan(a, abScores(a), { ratio: 1.5 }), /hand\.onnx: pruning ratio must be a number in \[0, 1\], got 1\.5/);
    assert.throws(() => selectPlan(a, abScores(a), { ratio: 0.5, roundTo: 0 }), /round-to must be a whole number/);
    assert.throws(() => selectPlan(a, abScores(a), { ratio: 0.5, target: "flops" as never }), /target must be channels, params or macs/);
    assert.throws(() => selectPlan(a, abScores(a), { ratio: 0.5, protect: ["/(/"] }), /protect pattern '\/\(\/' is not a valid regular expression/);
  });
});

describe("criteria: random baseline", () => {
  it("removes the same number of units per group as the reference plan, at random, reproducibly", () => {
    const a = buildAnalysis([group("A", 16), group("B", 16)]);
    a.groups[1]!.frozen = { reason: "test", units: [0, 1, 2, 3] };
    const s = handScores(a, [Array.from({ length: 16 }, (_, u) => u), Array.from({ length: 16 }, (_, u) => u)]);
    const ref = selectPlan(a, s, { ratio: 0.5, scope: "global" });
    const r1 = randomBaselinePlan(a, ref, 3);
    const r2 = randomBaselinePlan(a, ref, 3);
    const r3 = randomBaselinePlan(a, ref, 4);
    assert.deepEqual(r1, r2);
    assert.notDeepEqual(pruned(r1), pruned(r3));
    assert.equal(r1.criterion, "random");
    for (const g of ref.groups) assert.equal(pruned(r1)[g.key]!.length, g.prune.length);
    for (const u of pruned(r1).B ?? []) assert.ok(u >= 4, "frozen unit chosen");
    // From settings: local counts equal any criterion's.
    const fromSettings = randomBaselinePlan(a, { ratio: 0.25 }, 5);
    assert.deepEqual(fromSettings.groups.map((g) => g.prune.length), selectPlan(a, s, { ratio: 0.25 }).groups.map((g) => g.prune.length));
  });
});

describe("criteria: heads and head-dims on one axis", () => {
  // A [4, 3] projection: 2 heads of 2 dims. Heads remove rows {0,1} / {2,3}; head-dims rows {0,2} / {1,3}.
  const build = () => {
    const a = buildAnalysis([
      {
        key: "q:heads",
        units: 2,
        unitKind: "head",
        members: [{ tensor: "q.weight", dims: [4, 3], dim: 0, role: "out", indices: { flat: [0, 1, 2, 3], offsets: [0, 2, 4] } }],
      },
    ]);
    const heads = a.groups[0]!;
    a.groups.push({
      ...heads,
      id: 1,
      key: "q:head-dims",
      unitKind: "head-dim",
      members: [{ ...heads.members[0]!, indices: { flat: [0, 2, 1, 3], offsets: [0, 2, 4] } }],
    });
    return a;
  };
  const w = weightsFrom({ "q.weight": { dims: [4, 3], values: [1, 1, 1, 2, 2, 2, 3, 3, 3, 0, 0, 0] } });

  it("scores a head over all its rows", () => {
    const s = scoreGroups(build(), w, { criterion: "l1", normalization: "none" });
    // Head 0: rows 0, 1 → 3 + 6; head 1: rows 2, 3 → 9 + 0. Dim 0: rows 0, 2 → 12; dim 1: rows 1, 3 → 6.
    assert.deepEqual([...s.groups[0]!.scores], [9, 9]);
    assert.deepEqual([...s.groups[1]!.scores], [12, 6]);
  });

  it("merges removals of both groups on the shared axis when costing", () => {
    const a = build();
    // Head 1 (rows 2, 3) and dim 1 (rows 1, 3): rows 1, 2, 3 go, 1 row of 3 params stays.
    assert.equal(costAfter(a, new Map([[0, [1]], [1, [1]]])).params, 3);
    const sel = selectPlanDetailed(a, scoreGroups(a, w, { criterion: "l1" }), { ratio: 0.5 });
    assert.deepEqual(pruned(sel.plan), { "q:heads": [0], "q:head-dims": [1] });
    assert.equal(sel.after.params, 3);
  });
});

describe("criteria: choosePlan", () => {
  it("scores, selects and draws the baseline in one call", () => {
    const spec: GroupSpec = {
      key: "c",
      units: 8,
      members: [{ tensor: "c.weight", dims: [8, 1], dim: 0, role: "out", values: [5, 1, 7, 3, 8, 2, 6, 4] }],
    };
    const a = buildAnalysis([spec]);
    const w = weightsFrom(tableOf([spec]));
    const c = choosePlan(a, w, { criterion: "l1", normalization: "max", ratio: 0.5, roundTo: 2, baselineSeed: 9 });
    assert.deepEqual(c.selection.plan, selectPlan(a, scoreGroups(a, w, { criterion: "l1", normalization: "max" }), { ratio: 0.5, roundTo: 2 }));
    assert.deepEqual(pruned(c.selection.plan), { c: [1, 3, 5, 7] });
    assert.deepEqual(c.selection.plan.settings, { ratio: 0.5, target: "channels", scope: "local", roundTo: 2, reduction: "mean", normalization: "max" });
    assert.equal(c.baseline.groups[0]!.prune.length, 4);
    assert.deepEqual(c.baseline, randomBaselinePlan(a, c.selection.plan, 9));
  });
});
