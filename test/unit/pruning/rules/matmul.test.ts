import assert from "node:assert/strict";
import { TestGraph } from "../../../helpers/pruneGraph.ts";
import { analyze, groupOf, member, onnxChecker, planOf, pruneAndCompare, unitIndices } from "../../../helpers/pruneCheck.ts";

describe("pruning rules: Gemm / MatMul / Einsum", () => {
  it("Gemm with transB (torch Linear) and transA", async () => {
    const g = new TestGraph();
    const x = g.input([2, 6]);
    const h = g.op("Relu", [g.op("Gemm", [x, g.weight([8, 6]), g.weight([8])], { transB: 1 })]);
    // transA: Aᵀ·B with A = hᵀ.
    const ht = g.op("Transpose", [h], { perm: [1, 0] });
    const y = g.op("Gemm", [ht, g.weight([8, 4])], { transA: 1 });
    g.output(y);
    const m = g.model();
    const a = analyze(m);
    const grp = groupOf(a.groups, "w0");
    assert.equal(member(grp, "w0", 0).role, "out");
    assert.equal(member(grp, "w1", 0).role, "bias");
    assert.equal(member(grp, "w2", 0).role, "in");
    const c = await pruneAndCompare(m, a.groups, planOf(a.groups, [[grp, [0, 5, 7]]]));
    assert.ok(c.diff < 1e-5, `diff ${c.diff}`);
    assert.equal(onnxChecker(c.pruned), undefined);
  });

  it("MatMul with a weight on a 3-D activation, and activation × activation (contraction axis)", async () => {
    const g = new TestGraph();
    const x = g.input([1, 5, 6]);
    const q = g.linear(x, 6, 4);
    const k = g.linear(x, 6, 4);
    const kt = g.op("Transpose", [k], { perm: [0, 2, 1] });
    const s = g.op("MatMul", [q, kt]); // [1,5,5]: contracts q's and k's features
    const v = g.linear(x, 6, 3);
    const o = g.op("MatMul", [g.op("Softmax", [s], { axis: -1 }), v]); // [1,5,3]
    g.output(g.linear(o, 3, 6));
    const m = g.model();
    const a = analyze(m);
    // q and k are one group: their features meet in Q·Kᵀ.
    const qk = groupOf(a.groups, "w0");
    assert.ok(qk.members.some((mm) => mm.tensor === "w2" && mm.role === "out"));
    const vo = groupOf(a.groups, "w4");
    assert.equal(member(vo, "w6", 0).role, "in");
    const c = await pruneAndCompare(m, a.groups, planOf(a.groups, [[qk, [1]], [vo, [2]]]));
    assert.ok(c.diff < 1e-5, `diff ${c.diff}`);
    assert.equal(onnxChecker(c.pruned), undefined);
  });

  it("Einsum couples letters across operands", async () => {
    const g = new TestGraph();
    const x = g.input([2, 6]);
    const h = g.op("Relu", [g.op("Einsum", [x, g.weight([6, 8])], { equation: "bi,io->bo" })]);
    g.output(g.op("Einsum", [h, g.weight([8, 3])], { equation: "bi,io->bo" }));
    const m = g.model();
    const a = analyze(m);
    const grp = groupOf(a.groups, "w0");
    assert.deepEqual(unitIndices(grp, "w1", 0), Array.from({ length: 8 }, (_, i) => [i]));
    const c = await pruneAndCompare(m, a.groups, planOf(a.groups, [[grp, [3, 4]]]));
    assert.ok(c.diff < 1e-5, `diff ${c.diff}`);
    assert.equal(onnxChecker(c.pruned), undefined);
  });
});
