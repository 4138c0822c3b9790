import assert from "node:assert/strict";
import { attrInt } from "../../../../analyzers/graph/attrs.ts";
import { TestGraph } from "../../../helpers/pruneGraph.ts";
import { analyze, groupOf, member, onnxChecker, planOf, pruneAndCompare, unitIndices } from "../../../helpers/pruneCheck.ts";

describe("pruning rules: Conv / ConvTranspose", () => {
  it("couples a conv's output channels with its bias, BatchNorm and the next conv's input channels", async () => {
    const g = new TestGraph();
    const x = g.input([1, 3, 8, 8]);
    const c1 = g.conv(x, 3, 6);
    const b1 = g.bn(c1, 6);
    const r = g.op("Relu", [b1]);
    g.output(g.conv(r, 6, 4));
    const m = g.model();
    const a = analyze(m);
    const grp = groupOf(a.groups, "w0");
    assert.equal(grp.units, 6);
    assert.equal(grp.unitKind, "channel");
    assert.deepEqual(grp.members.map((m) => `${m.tensor}[${m.dim}]:${m.role}`).sort(), ["w0[0]:out", "w1[0]:bias", "w2[0]:norm-scale", "w3[0]:norm-bias", "w4[0]:norm-mean", "w5[0]:norm-var", "w6[1]:in"].sort());
    assert.deepEqual(unitIndices(grp, "w6", 1), [[0], [1], [2], [3], [4], [5]]);
    // The last conv's output reaches the graph output: frozen, with the reason.
    const last = groupOf(a.groups, "w6");
    assert.match(last.frozen!.reason, /graph output/);
    assert.equal(last.frozen!.units, undefined);
    // The input's channels are frozen too (no group: they have no producer).
    assert.equal(a.groups.groups.length, 2);
    const c = await pruneAndCompare(m, a.groups, planOf(a.groups, [[grp, [1, 4]]]));
    assert.ok(c.shapesOk);
    assert.ok(c.diff < 1e-5, `diff ${c.diff}`);
    assert.equal(onnxChecker(c.pruned), undefined);
  });

  it("depthwise conv: input = output channel, group attribute rewritten", async () => {
    const g = new TestGraph();
    const x = g.input([1, 3, 8, 8]);
    const c1 = g.op("Relu", [g.conv(x, 3, 8, 1)]);
    const dw = g.op("Relu", [g.conv(c1, 8, 8, 3, {}, 8)]);
    g.output(g.conv(dw, 8, 5, 1));
    const m = g.model();
    const a = analyze(m);
    const grp = groupOf(a.groups, "w0");
    assert.equal(grp.units, 8);
    // conv1 out, its bias, the depthwise weight (out, one input channel per group), its bias, conv3 in.
    assert.deepEqual(unitIndices(grp, "w2", 0), Array.from({ length: 8 }, (_, i) => [i]));
    assert.deepEqual(unitIndices(grp, "w4", 1), Array.from({ length: 8 }, (_, i) => [i]));
    const rw = a.groups.rewrites.find((r) => r.kind === "attribute" && r.attribute === "group");
    assert.ok(rw, "group attribute rewrite");
    const c = await pruneAndCompare(m, a.groups, planOf(a.groups, [[grp, [0, 3, 7]]]));
    assert.ok(c.diff < 1e-5, `diff ${c.diff}`);
    const dwNode = c.pruned.proto.graph!.node.find((n) => n.opType === "Conv" && attrInt(n, "group", 1) > 1)!;
    assert.equal(attrInt(dwNode, "group", 1), 5);
    assert.equal(onnxChecker(c.pruned), undefined);
  });

  it("depthwise multiplier: (group × multiplier) output channels", async () => {
    const g = new TestGraph();
    const x = g.input([1, 3, 8, 8]);
    const c1 = g.op("Relu", [g.conv(x, 3, 4, 1)]);
    const dw = g.op("Relu", [g.conv(c1, 4, 8, 3, {}, 4)]); // multiplier 2
    g.output(g.conv(dw, 8, 5, 1));
    const m = g.model();
    const a = analyze(m);
    const grp = groupOf(a.groups, "w0");
    // Removing input channel c removes the group: output channels 2c and 2c+1.
    assert.deepEqual(unitIndices(grp, "w2", 0), [[0, 1], [2, 3], [4, 5], [6, 7]]);
    const mult = a.groups.groups.find((x) => x.unitKind === "group-channel")!;
    assert.ok(mult, "multiplier group");
    assert.deepEqual(unitIndices(mult, "w2", 0), [[0, 2, 4, 6], [1, 3, 5, 7]]);
    const c = await pruneAndCompare(m, a.groups, planOf(a.groups, [[grp, [2]], [mult, [1]]]));
    assert.ok(c.diff < 1e-5, `diff ${c.diff}`);
    assert.equal(onnxChecker(c.pruned), undefined);
  });

  it("grouped conv: whole groups, or the same relative channel in every group", async () => {
    const g = new TestGraph();
    const x = g.input([1, 3, 8, 8]);
    const c1 = g.op("Relu", [g.conv(x, 3, 8, 1)]);
    const gc = g.op("Relu", [g.conv(c1, 8, 12, 3, {}, 4)]); // 4 groups: 2 in, 3 out each
    g.output(g.conv(gc, 12, 5, 1));
    const m = g.model();
    const a = analyze(m);
    const groups = groupOf(a.groups, "w2", "conv-group");
    assert.equal(groups.units, 4);
    assert.deepEqual(unitIndices(groups, "w0", 0), [[0, 1], [2, 3], [4, 5], [6, 7]]);
    assert.deepEqual(unitIndices(groups, "w2", 0), [[0, 1, 2], [3, 4, 5], [6, 7, 8], [9, 10, 11]]);
    const rel = a.groups.groups.filter((x) => x.unitKind === "group-channel");
    const inRel = rel.find((x) => x.members.some((m) => m.tensor === "w0"))!;
    assert.deepEqual(unitIndices(inRel, "w0", 0), [[0, 2, 4, 6], [1, 3, 5, 7]]);
    assert.deepEqual(unitIndices(inRel, "w2", 1), [[0], [1]]);
    const outRel = rel.find((x) => x.members.some((m) => m.tensor === "w4"))!;
    assert.deepEqual(unitIndices(outRel, "w2", 0), [[0, 3, 6, 9], [1, 4, 7, 10], [2, 5, 8, 11]]);
    const c = await pruneAndCompare(m, a.groups, planOf(a.groups, [[groups, [1]], [inRel, [0]], [outRel, [2]]]));
    assert.ok(c.diff < 1e-5, `diff ${c.diff}`);
    const gcNode = c.pruned.proto.graph!.node.find((n) => n.opType === "Conv" && attrInt(n, "group", 1) > 1)!;
    assert.equal(attrInt(gcNode, "group", 1), 3);
    assert.equal(onnxChecker(c.pruned), undefined);
  });

  it("ConvTranspose: weight is [Cin, Cout/g, k…]", async () => {
    const g = new TestGraph();
    const x = g.input([1, 3, 6, 6]);
    const c1 = g.op("Relu", [g.conv(x, 3, 6, 1)]);
    const ct = g.op("ConvTranspose", [c1, g.weight([6, 4, 2, 2]), g.weight([4])], { strides: [2, 2] });
    g.output(g.conv(g.op("Relu", [ct]), 4, 2, 1));
    const m = g.model();
    const a = analyze(m);
    const up = groupOf(a.groups, "w2");
    assert.equal(member(up, "w2", 1).role, "out");
    assert.equal(member(groupOf(a.groups, "w0"), "w2", 0).role, "in");
    const c = await pruneAndCompare(m, a.groups, planOf(a.groups, [[up, [0, 2]], [groupOf(a.groups, "w0"), [5]]]));
    assert.ok(c.diff < 1e-5, `diff ${c.diff}`);
    assert.equal(onnxChecker(c.pruned), undefined);
  });

  it("weights held by Constant nodes and weights shared through Identity are pruned per reader", async () => {
    const g = new TestGraph();
    const x = g.input([1, 3, 8, 8]);
    const w = g.constantNode([6, 3, 1, 1]);
    const c1 = g.op("Relu", [g.op("Conv", [x, w])]);
    // One stored BN scale read through two Identity nodes by two unrelated BatchNorms (torch's dedup).
    const shared = g.weight([6], 1);
    const id1 = g.op("Identity", [shared]), id2 = g.op("Identity", [shared]);
    const zero = g.weight([6], 0);
    const bn1 = g.op("BatchNormalization", [c1, id1, zero, zero, g.positive([6])]);
    const w2 = g.weight([6, 3, 1, 1]);
    const c2 = g.op("Relu", [g.op("Conv", [x, w2])]);
    const bn2 = g.op("BatchNormalization", [c2, id2, zero, zero, g.positive([6])]);
    g.output(g.conv(bn1, 6, 2, 1));
    g.output(g.conv(bn2, 6, 2, 1));
    const m = g.model();
    const a = analyze(m);
    const g1 = groupOf(a.groups, w), g2 = groupOf(a.groups, w2);
    assert.notEqual(g1.id, g2.id, "a deduplicated weight must not couple unrelated layers");
    assert.ok(g1.members.some((mm) => mm.tensor === shared));
    const c = await pruneAndCompare(m, a.groups, planOf(a.groups, [[g1, [0, 1]], [g2, [5]]]));
    assert.ok(c.diff < 1e-5, `diff ${c.diff}`);
    assert.equal(onnxChecker(c.pruned), undefined);
  });
});
