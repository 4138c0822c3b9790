import assert from "node:assert/strict";
import { mulberry32, normalizeScores, reduceStats, scoreGroups, scoresToJSON, weightsFrom } from "../../../../analyzers/pruning/criteria/index.ts";
import { buildAnalysis, tableOf, type GroupSpec } from "./build.ts";

const close = (a: ArrayLike<number>, b: number[], eps = 1e-12) => {
  assert.equal(a.length, b.length);
  for (let i = 0; i < b.length; i++) assert.ok(Math.abs(a[i]! - b[i]!) < eps, `[${i}] ${a[i]} ≠ ${b[i]}`);
};

// conv1 (4 out × 2 in) → BN → conv2 (3 out × 4 in): one group of 4 channels.
const chain: GroupSpec = {
  key: "conv1.weight:0",
  units: 4,
  members: [
    { tensor: "conv1.weight", dims: [4, 2, 1, 1], dim: 0, role: "out", values: [1, 2, 0, -1, 3, 0, -0.5, 0.5] },
    { tensor: "bn.weight", dims: [4], dim: 0, role: "norm-scale", op: "BatchNormalization", values: [0.5, -2, 0.1, 1] },
    { tensor: "bn.bias", dims: [4], dim: 0, role: "norm-bias", op: "BatchNormalization", values: [100, 100, 100, 100] },
    { tensor: "conv2.weight", dims: [3, 4, 1, 1], dim: 1, role: "in", values: [1, 0, 0, 2, 1, 1, 0, 0, 0, 0, 1, 0] },
  ],
};
// A Gemm pair without BatchNormalization.
const plain: GroupSpec = {
  key: "fc1.weight:0",
  units: 3,
  members: [
    { tensor: "fc1.weight", dims: [3, 1], dim: 0, role: "out", op: "Gemm", values: [0, 1, 3] },
    { tensor: "fc2.weight", dims: [2, 3], dim: 1, role: "in", op: "Gemm", values: [1, -1, 0, 0, 0, 2] },
  ],
};
const analysis = buildAnalysis([chain, plain]);
const mean = (a: Float64Array) => a.reduce((x, y) => x + y, 0) / a.length;
const weights = weightsFrom(tableOf([chain, plain]));

describe("criteria: scores", () => {
  it("L1 per unit is the mean over out, in and γ members (biases ignored)", () => {
    const s = scoreGroups(analysis, weights, { criterion: "l1", reduction: "mean", normalization: "none" });
    // conv1 rows |·|: 3, 1, 3, 1; |γ|: .5, 2, .1, 1; conv2 columns: 2, 1, 1, 2.
    close(s.groups[0]!.scores, [5.5 / 3, 4 / 3, 4.1 / 3, 4 / 3]);
    assert.deepEqual(s.groups[0]!.members, ["conv1.weight", "bn.weight", "conv2.weight"]);
    // fc1 |·|: 0, 1, 3; fc2 columns: 1, 1, 2.
    close(s.groups[1]!.scores, [0.5, 1, 2.5]);
  });

  it("L2 is the norm of the slice; sum, max and first reductions", () => {
    const sum = scoreGroups(analysis, weights, { criterion: "l2", reduction: "sum", normalization: "none" });
    close(sum.groups[0]!.scores, [Math.sqrt(5) + 0.5 + Math.sqrt(2), 1 + 2 + 1, 3 + 0.1 + 1, Math.sqrt(0.5) + 1 + 2]);
    const max = scoreGroups(analysis, weights, { criterion: "l2", reduction: "max", normalization: "none" });
    close(max.groups[0]!.scores, [Math.sqrt(5), 2, 3, 2]);
    const first = scoreGroups(analysis, weights, { criterion: "l2", reduction: "first", normalization: "none" });
    close(first.groups[0]!.scores, [Math.sqrt(5), 1, 3, Math.sqrt(0.5)]);
  });

  it("BN reads |γ| of BatchNormalization only, and falls back to L1 (saying so) without one", () => {
    const s = scoreGroups(analysis, weights, { criterion: "bn", normalization: "none" });
    assert.equal(s.groups[0]!.criterion, "bn");
    close(s.groups[0]!.scores, [0.5, 2, 0.1, 1]);
    assert.equal(s.groups[1]!.criterion, "l1");
    assert.match(s.groups[1]!.notes.join(), /no BatchNormalization/);
    close(s.groups[1]!.scores, [0.5, 1, 2.5]);
  });

  it("FPGM sums distances between the producer's filters", () => {
    const s = scoreGroups(analysis, weights, { criterion: "fpgm", normalization: "none" });
    // fc1 filters 0, 1, 3: u0 1+3, u1 1+2, u2 3+2.
    close(s.groups[1]!.scores, [4, 3, 5]);
    // conv1 filters (1,2) (0,-1) (3,0) (-.5,.5).
    const f = [[1, 2], [0, -1], [3, 0], [-0.5, 0.5]];
    const d = (a: number[], b: number[]) => Math.hypot(a[0]! - b[0]!, a[1]! - b[1]!);
    close(s.groups[0]!.scores, f.map((a) => f.reduce((t, b) => t + d(a, b), 0)), 1e-9);
  });

  it("FPGM of a layer past the budget is estimated from sampled filters, close to the exact sums", () => {
    const rnd = mulberry32(5);
    const n = 200;
    const values = Array.from({ length: n * 50 }, () => rnd() - 0.5);
    const big = buildAnalysis([{ key: "big", units: n, members: [{ tensor: "big.weight", dims: [n, 50], dim: 0, role: "out" }] }]);
    const w = weightsFrom({ "big.weight": { dims: [n, 50], values } });
    const exact = scoreGroups(big, w, { criterion: "fpgm", normalization: "none" }).groups[0]!;
    const est = scoreGroups(big, w, { criterion: "fpgm", normalization: "none", fpgmBudget: 1000 }).groups[0]!;
    assert.deepEqual(exact.notes, []);
    assert.match(est.notes.join(), /estimated against 16 sampled filters/);
    for (let u = 0; u < n; u++) assert.ok(Math.abs(est.scores[u]! / exact.scores[u]! - 1) < 0.1, `unit ${u}: ${est.scores[u]} vs ${exact.scores[u]}`);
    assert.deepEqual(scoreGroups(big, w, { criterion: "fpgm", fpgmBudget: 1000 }).groups[0]!.scores, est.scores.map((x) => x / mean(est.scores)));
  });

  it("random scores are seeded, reproducible and per group key", () => {
    const a = scoreGroups(analysis, weights, { criterion: "random", seed: 7 });
    const b = scoreGroups(analysis, weights, { criterion: "random", seed: 7 });
    const c = scoreGroups(analysis, weights, { criterion: "random", seed: 8 });
    assert.deepEqual([...a.groups[0]!.scores], [...b.groups[0]!.scores]);
    assert.notDeepEqual([...a.groups[0]!.scores], [...c.groups[0]!.scores]);
    // Independent of the order of groups.
    const swapped = scoreGroups(buildAnalysis([plain, chain]), weights, { criterion: "random", seed: 7 });
    assert.deepEqual([...swapped.groups[1]!.scores], [...a.groups[0]!.scores]);
  });

  it("refuses unknown criteria, reductions and normalisations by name", () => {
    assert.throws(() => scoreGroups(analysis, weights, { criterion: "l3" as never }), /hand\.onnx: unknown criterion 'l3'; choose one of l1, l2, bn, fpgm, random/);
    assert.throws(() => scoreGroups(analysis, weights, { criterion: "l1", normalization: "z" as never }), /unknown normalization 'z'/);
  });

  it("scores serialise to JSON with null for unscored units", () => {
    const json = scoresToJSON(scoreGroups(analysis, weights, { criterion: "l1", normalization: "none" }));
    assert.deepEqual(JSON.parse(JSON.stringify(json)).groups[1].scores, [0.5, 1, 2.5]);
  });

  it("units without an index on any readable member score NaN", () => {
    const partial = buildAnalysis([
      { key: "p", units: 3, members: [{ tensor: "p.weight", dims: [2, 1], dim: 0, role: "out", indices: { flat: [0, 1], offsets: [0, 1, 2, 2] } }] },
    ]);
    const s = scoreGroups(partial, weightsFrom({ "p.weight": { dims: [2, 1], values: [1, -2] } }), { criterion: "l1", normalization: "none" });
    close(s.groups[0]!.scores.subarray(0, 2), [1, 2]);
    assert.ok(Number.isNaN(s.groups[0]!.scores[2]!));
    assert.match(s.groups[0]!.notes.join(), /1 of 3 units have no score/);
  });
});

describe("criteria: reduce and normalize", () => {
  it("reductions skip NaN members", () => {
    const stats = [Float64Array.from([1, NaN]), Float64Array.from([3, 4])];
    close(reduceStats(stats, 2, "mean"), [2, 4]);
    close(reduceStats(stats, 2, "first"), [1, 4]);
  });

  it("LAMP on a 4-unit group: s² / Σ of the squares ranked at or above", () => {
    // Ranked 1 (u1), 2 (u2), 3 (u0), 4 (u3); squares 1, 4, 9, 16.
    close(normalizeScores(Float64Array.from([3, 1, 2, 4]), "lamp"), [9 / 25, 1 / 30, 4 / 29, 1]);
  });

  it("mean and max normalisation", () => {
    close(normalizeScores(Float64Array.from([1, 2, 3, 6]), "mean"), [1 / 3, 2 / 3, 1, 2]);
    close(normalizeScores(Float64Array.from([1, 2, 3, 6]), "max"), [1 / 6, 1 / 3, 0.5, 1]);
    close(normalizeScores(Float64Array.from([0, 0]), "max"), [0, 0]);
  });
});
