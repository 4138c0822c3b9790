import assert from "node:assert/strict";
import { applyPlan } from "../../../../analyzers/pruning/apply/index.ts";
import { TestGraph } from "../../../helpers/pruneGraph.ts";
import { analyze, groupOf, onnxChecker, planOf, pruneAndCompare, unitIndices } from "../../../helpers/pruneCheck.ts";

const exact = async (m: ReturnType<TestGraph["model"]>, a: ReturnType<typeof analyze>, picks: Parameters<typeof planOf>[1]) => {
  const r = await pruneAndCompare(m, a.groups, planOf(a.groups, picks));
  assert.ok(r.shapesOk, "output shapes");
  assert.ok(r.diff < 1e-5, `diff ${r.diff}`);
  assert.equal(onnxChecker(r.pruned), undefined);
  return r;
};

describe("pruning rules: Concat, Split, Slice, Gather", () => {
  it("Concat keeps producers apart and offsets the consumer's input channels", async () => {
    const g = new TestGraph();
    const x = g.input([1, 3, 6, 6]);
    const a1 = g.op("Relu", [g.conv(x, 3, 4, 1)]), b1 = g.op("Relu", [g.conv(x, 3, 5, 3)]);
    const cat = g.op("Concat", [a1, b1], { axis: 1 });
    g.output(g.conv(cat, 9, 2, 1));
    const m = g.model();
    const a = analyze(m);
    const ga = groupOf(a.groups, "w0"), gb = groupOf(a.groups, "w2");
    assert.notEqual(ga.id, gb.id);
    assert.deepEqual(unitIndices(ga, "w4", 1), [[0], [1], [2], [3]]);
    assert.deepEqual(unitIndices(gb, "w4", 1), [[4], [5], [6], [7], [8]]);
    await exact(m, a, [[ga, [0, 3]], [gb, [1]]]);
  });

  it("Split sizes are rewritten (explicit sizes and equal split)", async () => {
    for (const sizes of [[3, 5], undefined]) {
      const g = new TestGraph();
      const x = g.input([1, 3, 6, 6]);
      const c = g.op("Relu", [g.conv(x, 3, 8, 1)]);
      const [p, q] = g.opN("Split", sizes ? [c, g.ints(sizes)] : [c], { axis: 1 }, 2) as [string, string];
      g.output(g.conv(p, sizes ? 3 : 4, 2, 1));
      g.output(g.conv(q, sizes ? 5 : 4, 2, 1));
      const m = g.model();
      const a = analyze(m);
      const grp = groupOf(a.groups, "w0");
      assert.ok(a.groups.rewrites.some((r) => r.kind === "split-sizes"));
      await exact(m, a, [[grp, sizes ? [0, 6] : [1, 2, 7]]]);
    }
  });

  it("Slice on the channel axis (step 1 and −1), and a strided Slice is frozen", async () => {
    const g = new TestGraph();
    const x = g.input([1, 3, 6, 6]);
    const c = g.op("Relu", [g.conv(x, 3, 8, 1)]);
    const s1 = g.op("Slice", [c, g.ints([2]), g.ints([7]), g.ints([1])]); // channels 2..6
    const s2 = g.op("Slice", [c, g.ints([6]), g.ints([-9]), g.ints([1]), g.ints([-1])]); // 6..0 reversed
    g.output(g.op("Add", [g.conv(s1, 5, 2, 1), g.conv(s2, 7, 2, 1)]));
    const c2 = g.op("Relu", [g.conv(x, 3, 6, 1)]);
    const strided = g.op("Slice", [c2, g.ints([0]), g.ints([6]), g.ints([1]), g.ints([2])]);
    g.output(g.conv(strided, 3, 2, 1));
    const m = g.model();
    const a = analyze(m);
    const grp = groupOf(a.groups, "w0");
    assert.deepEqual(unitIndices(grp, "w2", 1), [[], [], [0], [1], [2], [3], [4], []]);
    assert.deepEqual(unitIndices(grp, "w4", 1), [[6], [5], [4], [3], [2], [1], [0], []]);
    await exact(m, a, [[grp, [0, 3, 6, 7]]]);
    const st = groupOf(a.groups, "w6");
    assert.match(st.frozen!.reason, /every 2/);
  });

  it("Gather with constant indices renumbers them; a scalar index pins its channel", async () => {
    const g = new TestGraph();
    const x = g.input([1, 3, 6, 6]);
    const c = g.op("Relu", [g.conv(x, 3, 6, 1)]);
    const picked = g.op("Gather", [c, g.ints([5, 0, 2, 2])], { axis: 1 });
    const one = g.op("Unsqueeze", [g.op("Gather", [c, g.ints([4], [])], { axis: 1 }), g.ints([1])]);
    g.output(g.op("Add", [g.conv(picked, 4, 2, 1), g.conv(one, 1, 2, 1)]));
    const m = g.model();
    const a = analyze(m);
    const grp = groupOf(a.groups, "w0");
    assert.deepEqual(unitIndices(grp, "w2", 1), [[1], [], [2, 3], [], [], [0]]);
    assert.deepEqual(grp.frozen?.units, [4]);
    await exact(m, a, [[grp, [2, 3]]]);
  });
});

describe("pruning rules: ScatterND", () => {
  it("constant indices into axis 0 (Swin V2 zeroing part of its qkv bias): updates follow the data, indices renumbered", async () => {
    const g = new TestGraph();
    const x = g.input([1, 4, 4]);
    const w = g.weight([4, 6]);
    // bias[2:4] = 0, with the zeros made by Expand as torch exports them.
    const zeros = g.op("Expand", [g.constantNode([], [0]), g.ints([2])]);
    const bias = g.op("ScatterND", [g.weight([6]), g.ints([2, 3], [2, 1]), zeros]);
    const h = g.op("Relu", [g.op("Add", [g.op("MatMul", [x, w]), bias])]);
    g.output(g.op("MatMul", [h, g.weight([6, 3])]));
    const m = g.model();
    const a = analyze(m);
    const gw = groupOf(a.groups, w);
    assert.ok(!gw.frozen, JSON.stringify(gw.frozen));
    assert.equal(gw.units, 6);
    for (const picks of [[1, 2, 5], [0, 4], [3]]) await exact(m, a, [[gw, picks]]);
    // Both scattered positions at once would leave an empty update: refused, not guessed.
    assert.throws(() => applyPlan(m, a.groups, planOf(a.groups, [[gw, [2, 3]]])), /removes every index/);
  });

  it("run-time or multi-axis indices freeze the channels, saying why", () => {
    const g = new TestGraph();
    const x = g.input([1, 4, 4]);
    const w = g.weight([4, 6]);
    const y = g.op("MatMul", [x, w]);
    g.output(g.op("ScatterND", [y, g.ints([0, 1, 2], [1, 3]), g.op("Slice", [y, g.ints([0]), g.ints([1]), g.ints([1])])]));
    const a = analyze(g.model());
    assert.match(groupOf(a.groups, w).frozen?.reason ?? "", /scatters with run-time or multi-axis indices/);
  });
});

describe("pruning rules: Reshape, Flatten, Transpose, Squeeze/Unsqueeze, channel shuffle", () => {
  it("a shape computed from another tensor's dims becomes a constant even when the reshaped axes stay whole", async () => {
    // z keeps its channels (it is a graph output); its Reshape reads the width from r, whose channels go.
    const g = new TestGraph();
    const x = g.input([1, 4, 12]);
    const r = g.op("Relu", [g.op("MatMul", [x, g.weight([12, 12])])]);
    const z = g.op("MatMul", [r, g.weight([12, 12])]);
    g.output(z);
    const shape = g.op("Shape", [r]);
    const t = g.op("Reshape", [z, shape]);
    g.output(g.op("MatMul", [t, g.weight([12, 3])]));
    const m = g.model();
    const a = analyze(m);
    const gr = groupOf(a.groups, "w0");
    assert.ok(!gr.frozen);
    await exact(m, a, [[gr, [1, 4, 7]]]);
  });

  it("Flatten to features: channel c covers features c·S…(c+1)·S−1", async () => {
    const g = new TestGraph();
    const x = g.input([1, 3, 4, 4]);
    const c = g.op("MaxPool", [g.op("Relu", [g.conv(x, 3, 5, 3)])], { kernel_shape: [2, 2], strides: [2, 2] }); // [1,5,2,2]
    const f = g.op("Flatten", [c], { axis: 1 });
    const r = g.op("Reshape", [g.op("Relu", [g.op("Gemm", [f, g.weight([6, 20]), g.weight([6])], { transB: 1 })]), g.ints([1, 6, 1, 1])]);
    g.output(g.op("Squeeze", [g.conv(r, 6, 2, 1), g.ints([2, 3])]));
    const m = g.model();
    const a = analyze(m);
    const grp = groupOf(a.groups, "w0");
    assert.deepEqual(unitIndices(grp, "w2", 1), [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9, 10, 11], [12, 13, 14, 15], [16, 17, 18, 19]]);
    await exact(m, a, [[grp, [1, 4]], [groupOf(a.groups, "w2"), [0, 5]]]);
  });

  it("Transpose / Unsqueeze / Squeeze move axes, not indices (NHWC blocks like ConvNeXt)", async () => {
    const g = new TestGraph();
    const x = g.input([1, 3, 4, 4]);
    const c = g.conv(x, 3, 6, 1);
    const nhwc = g.op("Transpose", [c], { perm: [0, 2, 3, 1] });
    const h = g.op("Relu", [g.linear(nhwc, 6, 6)]);
    const back = g.op("Transpose", [g.op("Mul", [h, g.weight([6])])], { perm: [0, 3, 1, 2] });
    const u = g.op("Squeeze", [g.op("Unsqueeze", [g.op("Add", [c, back]), g.ints([0])]), g.ints([0])]);
    g.output(g.conv(u, 6, 2, 1));
    const m = g.model();
    const a = analyze(m);
    const grp = groupOf(a.groups, "w0");
    assert.ok(grp.members.some((mm) => mm.tensor === "w2" && mm.role === "out" && mm.dim === 1), "the Linear's output joins the residual");
    assert.ok(grp.members.some((mm) => mm.tensor === "w4" && mm.role === "const"));
    await exact(m, a, [[grp, [0, 5]]]);
  });

  it("channel shuffle (Reshape → Transpose → Reshape) is an exact permutation; any channels can go", async () => {
    const g = new TestGraph();
    const x = g.input([1, 3, 4, 4]);
    const a1 = g.op("Relu", [g.conv(x, 3, 4, 1)]), b1 = g.op("Relu", [g.conv(x, 3, 4, 1)]);
    const cat = g.op("Concat", [a1, b1], { axis: 1 });
    const sh = g.op("Reshape", [g.op("Transpose", [g.op("Reshape", [cat, g.ints([1, 2, 4, 4, 4])])], { perm: [0, 2, 1, 3, 4] }), g.ints([1, 8, 4, 4])]);
    const [p, q] = g.opN("Split", [sh, g.ints([4, 4])], { axis: 1 }, 2) as [string, string];
    g.output(g.op("Add", [g.conv(p, 4, 2, 1), g.conv(q, 4, 2, 1)]));
    const m = g.model();
    const a = analyze(m);
    const ga = groupOf(a.groups, "w0"), gb = groupOf(a.groups, "w2");
    // a's channel i lands at 2i, b's at 2i+1; channels 0..3 of the shuffle feed the first split.
    assert.deepEqual(unitIndices(ga, "w4", 1), [[0], [2], [], []]);
    assert.deepEqual(unitIndices(gb, "w4", 1), [[1], [3], [], []]);
    assert.deepEqual(unitIndices(ga, "w6", 1), [[], [], [0], [2]]);
    assert.ok(a.groups.rewrites.some((r) => r.kind === "shuffle"));
    const r = await exact(m, a, [[ga, [0, 3]], [gb, [2]]]);
    assert.ok(r.pruned.proto.graph!.node.some((n) => n.opType === "Gather"), "shuffle replaced by a Gather");
  });
});
