import assert from "node:assert/strict";
import { TensorProto_DataType } from "onnx-buf";
import { TestGraph } from "../../../helpers/pruneGraph.ts";
import { analyze, groupOf, member, onnxChecker, planOf, pruneAndCompare, unitIndices } from "../../../helpers/pruneCheck.ts";

describe("pruning rules: reductions, softmax, quantisation, Expand/Tile, pooling/Resize/Pad, unknown ops", () => {
  it("Reduce over non-channel axes keeps channels; ArgMax over channels freezes them", async () => {
    const g = new TestGraph();
    const x = g.input([1, 3, 4, 4]);
    const c = g.op("Relu", [g.conv(x, 3, 6, 1)]);
    const r = g.op("ReduceMean", [c], { axes: [2, 3], keepdims: 0 }); // [1,6]
    g.output(g.op("Gemm", [r, g.weight([3, 6]), g.weight([3])], { transB: 1 }));
    const c2 = g.op("Relu", [g.conv(x, 3, 5, 1)]);
    g.output(g.op("ArgMax", [c2], { axis: 1 }), TensorProto_DataType.INT64);
    const m = g.model();
    const a = analyze(m);
    const grp = groupOf(a.groups, "w0");
    assert.deepEqual(unitIndices(grp, "w2", 1), Array.from({ length: 6 }, (_, i) => [i]));
    assert.equal(grp.frozen, undefined);
    assert.match(groupOf(a.groups, "w4").frozen!.reason, /ArgMax .* returns positions/);
    const res = await pruneAndCompare(m, a.groups, planOf(a.groups, [[grp, [0, 4]]]));
    assert.ok(res.diff < 1e-5, `diff ${res.diff}`);
    assert.equal(onnxChecker(res.pruned), undefined);
  });

  it("QuantizeLinear/DequantizeLinear with per-channel scales (QDQ weights)", async () => {
    const g = new TestGraph();
    const x = g.input([1, 3, 4, 4]);
    const wq = g.weight([6, 3, 1, 1]);
    const scale = g.positive([6]);
    const zp = g.op("Cast", [g.weight([6], 0)], { to: TensorProto_DataType.INT8 });
    void zp;
    const qw = g.op("QuantizeLinear", [wq, scale], { axis: 0 });
    const dq = g.op("DequantizeLinear", [qw, scale], { axis: 0 });
    const c = g.op("Relu", [g.op("Conv", [x, dq, g.weight([6])])]);
    g.output(g.conv(c, 6, 2, 1));
    const m = g.model();
    const a = analyze(m);
    const grp = a.groups.groups.find((gr) => gr.members.some((mm) => mm.tensor === wq))!;
    assert.equal(member(grp, scale).role, "quant");
    assert.equal(grp.members.find((mm) => mm.tensor === wq)!.role, "out");
    const res = await pruneAndCompare(m, a.groups, planOf(a.groups, [[grp, [1, 2]]]));
    assert.ok(res.shapesOk);
    assert.equal(onnxChecker(res.pruned), undefined);
  });

  it("Tile repeats channels: every copy is the same unit", async () => {
    const g = new TestGraph();
    const x = g.input([1, 3, 4, 4]);
    const c = g.op("Relu", [g.conv(x, 3, 3, 1)]);
    const t = g.op("Tile", [c, g.ints([1, 2, 1, 1])]); // [1,6,4,4]
    g.output(g.conv(t, 6, 2, 1));
    const m = g.model();
    const a = analyze(m);
    const grp = groupOf(a.groups, "w0");
    assert.deepEqual(unitIndices(grp, "w2", 1), [[0, 3], [1, 4], [2, 5]]);
    const res = await pruneAndCompare(m, a.groups, planOf(a.groups, [[grp, [1]]]));
    assert.ok(res.diff < 1e-5, `diff ${res.diff}`);
    assert.equal(onnxChecker(res.pruned), undefined);
  });

  it("pooling and Resize keep channels and freeze spatial axes; Pad on channels freezes the padding", async () => {
    const g = new TestGraph(13);
    const x = g.input([1, 3, 8, 8]);
    const c = g.op("Relu", [g.conv(x, 3, 4, 1)]);
    const p = g.op("AveragePool", [g.op("MaxPool", [c], { kernel_shape: [2, 2], strides: [2, 2] })], { kernel_shape: [2, 2], strides: [1, 1] });
    const up = g.op("Resize", [p, "", g.weight([4], (i) => (i < 2 ? 1 : 2))], { mode: "nearest" });
    const padded = g.op("Pad", [up, g.ints([0, 1, 0, 0, 0, 1, 0, 0])]); // one zero channel before and after
    g.output(g.conv(padded, 6, 2, 1));
    const m = g.model();
    const a = analyze(m);
    const grp = groupOf(a.groups, "w0");
    assert.deepEqual(unitIndices(grp, "w3", 1), [[1], [2], [3], [4]]);
    const res = await pruneAndCompare(m, a.groups, planOf(a.groups, [[grp, [0, 2]]]));
    assert.ok(res.diff < 1e-5, `diff ${res.diff}`);
    assert.equal(onnxChecker(res.pruned), undefined);
  });

  it("an operator with no rule freezes every channel that touches it, with the reason", () => {
    const g = new TestGraph();
    const x = g.input([1, 3, 4, 4]);
    const c = g.op("Relu", [g.conv(x, 3, 4, 1)]);
    const d = g.op("LpNormalization", [c], { axis: 1 });
    const e = g.op("Relu", [g.conv(x, 3, 4, 1)]);
    g.output(g.conv(g.op("Add", [d, e]), 4, 2, 1));
    const m = g.model();
    const a = analyze(m);
    const grp = groupOf(a.groups, "w0");
    assert.match(grp.frozen!.reason, /no rule for operator LpNormalization/);
    // The other side of the unknown op is frozen too (its coupling is unknown, so nothing is guessed).
    assert.match(groupOf(a.groups, "w2").frozen!.reason, /no rule for operator LpNormalization/);
    assert.deepEqual(a.groups.summary.unsupportedOps, ["LpNormalization"]);
    assert.ok(a.groups.frozen.some((f) => f.tensor === "w0" && f.channels === 4 && /LpNormalization/.test(f.reason)));
  });
});
