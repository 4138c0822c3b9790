import assert from "node:assert/strict";
import { TestGraph } from "../../../helpers/pruneGraph.ts";
import { analyze, groupOf, member, onnxChecker, planOf, pruneAndCompare, unitIndices } from "../../../helpers/pruneCheck.ts";

describe("pruning rules: elementwise", () => {
  it("a residual Add couples both branches and the output; a per-channel constant is sliced", async () => {
    const g = new TestGraph();
    const x = g.input([1, 3, 8, 8]);
    const stem = g.op("Relu", [g.conv(x, 3, 6, 1)]);
    const branch = g.conv(g.op("Relu", [g.conv(stem, 6, 4)]), 4, 6);
    const scaled = g.op("Mul", [branch, g.weight([6, 1, 1])]); // layer scale
    const sum = g.op("Add", [stem, scaled]);
    const act = g.op("Sigmoid", [g.op("Add", [sum, g.weight([1, 6, 1, 1])])]);
    g.output(g.conv(act, 6, 2, 1));
    const m = g.model();
    const a = analyze(m);
    const res = groupOf(a.groups, "w0");
    // Both producers (stem conv, branch's last conv) are in one group.
    assert.equal(member(res, "w4", 0).role, "out");
    assert.equal(member(res, "w6", 0).role, "const");
    assert.equal(member(res, "w7", 1).role, "const");
    assert.deepEqual(unitIndices(res, "w7", 1), Array.from({ length: 6 }, (_, i) => [i]));
    assert.equal(a.groups.groups.filter((x) => x.members.some((mm) => mm.tensor === "w4" && mm.role === "out")).length, 1);
    const c = await pruneAndCompare(m, a.groups, planOf(a.groups, [[res, [2, 5]], [groupOf(a.groups, "w2"), [0]]]));
    assert.ok(c.shapesOk);
    // Sigmoid(0) ≠ 0, so the twin is not exact here; the pruned model must still be valid.
    assert.equal(onnxChecker(c.pruned), undefined);
  });

  it("broadcasting: a size-1 axis does not couple, a full one does; Where and PRelu too", async () => {
    const g = new TestGraph();
    const x = g.input([1, 3, 4, 4]);
    const c = g.conv(x, 3, 5, 1);
    const pooled = g.op("GlobalAveragePool", [c]); // [1,5,1,1]
    const gate = g.op("Relu", [g.conv(pooled, 5, 5, 1)]); // SE-like
    const y = g.op("Mul", [c, gate]);
    const p = g.op("PRelu", [y, g.weight([5, 1, 1])]);
    const cond = g.op("Greater", [p, g.weight([1], 0)]);
    const w = g.op("Where", [cond, p, g.weight([1, 5, 1, 1], 0)]);
    g.output(g.conv(w, 5, 2, 1));
    const m = g.model();
    const a = analyze(m);
    const main = groupOf(a.groups, "w0");
    // The SE conv's output is coupled with the main channels through the broadcast Mul.
    assert.equal(member(main, "w2", 0).role, "out");
    assert.equal(member(main, "w4", 0).role, "const"); // PRelu slope
    assert.equal(member(main, "w6", 1).role, "const"); // Where's else-branch
    const r = await pruneAndCompare(m, a.groups, planOf(a.groups, [[main, [1, 3]]]));
    assert.ok(r.diff < 1e-5, `diff ${r.diff}`);
    assert.equal(onnxChecker(r.pruned), undefined);
  });
});
