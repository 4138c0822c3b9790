import assert from "node:assert/strict";
import { TestGraph } from "../../../helpers/pruneGraph.ts";
import { analyze, groupOf, member, onnxChecker, planOf, pruneAndCompare } from "../../../helpers/pruneCheck.ts";

describe("pruning rules: normalisations", () => {
  it("LayerNormalization (opset 17) slices scale/bias and notes the normalised axis", async () => {
    const g = new TestGraph(17);
    const x = g.input([1, 4, 6]);
    const h = g.linear(x, 6, 8);
    const n = g.op("LayerNormalization", [h, g.weight([8]), g.weight([8])], { axis: -1 });
    g.output(g.linear(g.op("Relu", [n]), 8, 3));
    const m = g.model();
    const a = analyze(m);
    const grp = groupOf(a.groups, "w0");
    assert.equal(member(grp, "w2", 0).role, "norm-scale");
    assert.equal(member(grp, "w3", 0).role, "norm-bias");
    assert.ok(grp.notes?.some((t) => /normalised/.test(t)));
    const r = await pruneAndCompare(m, a.groups, planOf(a.groups, [[grp, [1, 2]]]));
    assert.ok(r.shapesOk);
    assert.equal(onnxChecker(r.pruned), undefined);
  });

  it("decomposed LayerNorm and RMSNorm (ReduceMean, Sub, Pow, Sqrt, Div, Mul, Add) need no rule of their own", async () => {
    const g = new TestGraph(13);
    const x = g.input([1, 4, 6]);
    const h = g.linear(x, 6, 8);
    const mean = g.op("ReduceMean", [h], { axes: [-1] });
    const d = g.op("Sub", [h, mean]);
    const v = g.op("ReduceMean", [g.op("Pow", [d, g.weight([], 2)])], { axes: [-1] });
    const ln = g.op("Add", [g.op("Mul", [g.op("Div", [d, g.op("Sqrt", [g.op("Add", [v, g.weight([], 1e-5)])])]), g.weight([8])]), g.weight([8])]);
    const h2 = g.linear(g.op("Relu", [ln]), 8, 8);
    const rms = g.op("Mul", [g.op("Div", [h2, g.op("Sqrt", [g.op("ReduceMean", [g.op("Mul", [h2, h2])], { axes: [-1] })])]), g.weight([8])]);
    g.output(g.linear(rms, 8, 3));
    const m = g.model();
    const a = analyze(m);
    const grp = groupOf(a.groups, "w0");
    assert.ok(grp.members.some((mm) => mm.role === "const" && mm.tensor === "w4"), "γ sliced");
    assert.ok(grp.notes?.some((t) => /ReduceMean/.test(t)));
    const g2 = groupOf(a.groups, "w6");
    assert.ok(g2.members.some((mm) => mm.tensor === "w8"), "RMSNorm γ sliced");
    for (const plan of [planOf(a.groups, [[grp, [0, 7]]]), planOf(a.groups, [[g2, [3]]])]) {
      const r = await pruneAndCompare(m, a.groups, plan);
      assert.ok(r.shapesOk);
      assert.equal(onnxChecker(r.pruned), undefined);
    }
  });

  it("InstanceNormalization, and GroupNormalization (opset 18) by whole groups or channel-in-group", async () => {
    const g = new TestGraph(18);
    const x = g.input([1, 3, 5, 5]);
    const c = g.conv(x, 3, 8, 1);
    const inorm = g.op("InstanceNormalization", [c, g.weight([8]), g.weight([8])]);
    const c2 = g.conv(g.op("Relu", [inorm]), 8, 6, 1);
    const gn = g.op("GroupNormalization", [c2, g.weight([3]), g.weight([3])], { num_groups: 3 });
    g.output(g.conv(g.op("Relu", [gn]), 6, 2, 1));
    const m = g.model();
    const a = analyze(m);
    const ig = groupOf(a.groups, "w0");
    assert.equal(member(ig, "w2", 0).role, "norm-scale");
    const whole = groupOf(a.groups, "w4", "conv-group");
    assert.equal(whole.units, 3);
    assert.equal(member(whole, "w6", 0).role, "norm-scale");
    const inGroup = groupOf(a.groups, "w4", "group-channel");
    assert.equal(inGroup.units, 2);
    const r = await pruneAndCompare(m, a.groups, planOf(a.groups, [[ig, [1, 6]], [whole, [2]]]));
    assert.ok(r.shapesOk);
    const gnNode = r.pruned.proto.graph!.node.find((n) => n.opType === "GroupNormalization")!;
    assert.equal(Number(gnNode.attribute.find((a) => a.name === "num_groups")!.i), 2);
    const r2 = await pruneAndCompare(m, a.groups, planOf(a.groups, [[inGroup, [0]]]));
    assert.ok(r2.shapesOk);
    // python3-onnx 1.12 knows opset 17 at most: the checker cannot read GroupNormalization-18.
  });
});
