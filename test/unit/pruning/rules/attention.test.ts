import assert from "node:assert/strict";
import { TestGraph } from "../../../helpers/pruneGraph.ts";
import { analyze, groupOf, onnxChecker, planOf, pruneAndCompare, unitIndices } from "../../../helpers/pruneCheck.ts";

/** Multi-head attention written out the way exporters do: Linear, Reshape to heads, Transpose, MatMul, Softmax. */
function mha(g: TestGraph, x: string, S: number, D: number, H: number, shared: string) {
  const dh = D / H;
  const wq = g.weight([D, D]), wk = g.weight([D, D]), wv = g.weight([D, D]), wo = g.weight([D, D]);
  const heads = (t: string) => g.op("Transpose", [g.op("Reshape", [t, shared])], { perm: [0, 2, 1, 3] });
  const q = heads(g.op("Add", [g.op("MatMul", [x, wq]), g.weight([D])]));
  const k = g.op("Transpose", [g.op("Reshape", [g.op("MatMul", [x, wk]), shared])], { perm: [0, 2, 3, 1] });
  const v = heads(g.op("MatMul", [x, wv]));
  const s = g.op("Softmax", [g.op("Mul", [g.op("MatMul", [q, k]), g.weight([1], 1 / Math.sqrt(dh))])], { axis: -1 });
  const o = g.op("Transpose", [g.op("MatMul", [s, v])], { perm: [0, 2, 1, 3] });
  const merged = g.op("Reshape", [o, g.ints([1, S, D])]);
  return { y: g.op("MatMul", [merged, wo]), wq, wk, wv, wo };
}

describe("pruning rules: attention (Reshape to heads, MatMul, Softmax, Expand for GQA)", () => {
  it("whole heads, the same in-head dims of Q and K, V dims with the output projection", async () => {
    const g = new TestGraph();
    const S = 4, D = 8, H = 2;
    const x = g.input([1, S, D]);
    const shared = g.ints([1, S, H, D / H]); // one shape constant read by three Reshapes, as torch exports it
    const { y, wq, wk, wv, wo } = mha(g, x, S, D, H, shared);
    g.output(g.op("Add", [x, y]));
    const m = g.model();
    const a = analyze(m);
    const heads = groupOf(a.groups, wq, "head");
    assert.equal(heads.units, 2);
    assert.deepEqual(unitIndices(heads, wq, 1), [[0, 1, 2, 3], [4, 5, 6, 7]]);
    assert.deepEqual(unitIndices(heads, wk, 1), [[0, 1, 2, 3], [4, 5, 6, 7]]);
    assert.deepEqual(unitIndices(heads, wv, 1), [[0, 1, 2, 3], [4, 5, 6, 7]]);
    assert.deepEqual(unitIndices(heads, wo, 0), [[0, 1, 2, 3], [4, 5, 6, 7]]);
    const qk = groupOf(a.groups, wq, "head-dim");
    assert.equal(qk.units, 4);
    assert.deepEqual(unitIndices(qk, wk, 1), [[0, 4], [1, 5], [2, 6], [3, 7]]);
    assert.ok(!qk.members.some((mm) => mm.tensor === wv), "Q·K dims are not V dims");
    const vd = groupOf(a.groups, wv, "head-dim");
    assert.deepEqual(unitIndices(vd, wo, 0), [[0, 4], [1, 5], [2, 6], [3, 7]]);
    // The residual stream (x + y) reaches the graph input and output: frozen.
    for (const c of [
      planOf(a.groups, [[heads, [1]]]),
      planOf(a.groups, [[qk, [0, 3]], [vd, [2]]]),
      planOf(a.groups, [[heads, [0]], [qk, [1]], [vd, [1, 2]]]),
    ]) {
      const r = await pruneAndCompare(m, a.groups, c);
      assert.ok(r.shapesOk);
      assert.ok(r.diff < 1e-5, `diff ${r.diff}`);
      assert.equal(onnxChecker(r.pruned), undefined);
    }
  });

  it("grouped-query attention: kv heads, query heads per kv head (Expand rewritten) and dims", async () => {
    const g = new TestGraph();
    const S = 3, D = 8, Hq = 4, Hkv = 2, dh = 2;
    const x = g.input([1, S, D]);
    const wq = g.weight([D, Hq * dh]), wk = g.weight([D, Hkv * dh]), wv = g.weight([D, Hkv * dh]), wo = g.weight([Hq * dh, D]);
    const q = g.op("Transpose", [g.op("Reshape", [g.op("MatMul", [x, wq]), g.ints([1, S, Hq, dh])])], { perm: [0, 2, 1, 3] });
    const kv = (w: string) => {
      const t = g.op("Transpose", [g.op("Reshape", [g.op("MatMul", [x, w]), g.ints([1, S, Hkv, dh])])], { perm: [0, 2, 1, 3] });
      const e = g.op("Expand", [g.op("Unsqueeze", [t, g.ints([2])]), g.ints([1, Hkv, Hq / Hkv, S, dh])]);
      return g.op("Reshape", [e, g.ints([1, Hq, S, dh])]);
    };
    const k = kv(wk), v = kv(wv);
    const s = g.op("Softmax", [g.op("MatMul", [q, g.op("Transpose", [k], { perm: [0, 1, 3, 2] })])], { axis: -1 });
    const o = g.op("Reshape", [g.op("Transpose", [g.op("MatMul", [s, v])], { perm: [0, 2, 1, 3] }), g.ints([1, S, Hq * dh])]);
    g.output(g.op("MatMul", [o, wo]));
    const m = g.model();
    const a = analyze(m);
    const kvHeads = a.groups.groups.find((gr) => gr.unitKind === "head" && gr.units === Hkv && gr.members.some((mm) => mm.tensor === wk))!;
    assert.ok(kvHeads, "kv-head group");
    assert.deepEqual(unitIndices(kvHeads, wk, 1), [[0, 1], [2, 3]]);
    assert.deepEqual(unitIndices(kvHeads, wq, 1), [[0, 1, 2, 3], [4, 5, 6, 7]]);
    const rep = a.groups.groups.find((gr) => gr.unitKind === "head" && gr !== kvHeads && gr.members.some((mm) => mm.tensor === wq))!;
    assert.ok(rep, "query-heads-per-kv-head group");
    assert.deepEqual(unitIndices(rep, wq, 1), [[0, 1, 4, 5], [2, 3, 6, 7]]);
    assert.ok(!rep.members.some((mm) => mm.tensor === wk), "dropping a query head keeps every kv head");
    assert.ok(a.groups.rewrites.some((r) => r.op === "Expand"));
    for (const c of [planOf(a.groups, [[kvHeads, [1]]]), planOf(a.groups, [[rep, [0]]]), planOf(a.groups, [[rep, [1]], [kvHeads, [0]]])]) {
      const r = await pruneAndCompare(m, a.groups, c);
      assert.ok(r.shapesOk);
      assert.ok(r.diff < 1e-5, `diff ${r.diff} for ${JSON.stringify(c.groups)}`);
      assert.equal(onnxChecker(r.pruned), undefined);
    }
  });

  it("packed QKV (one projection, Reshape to [3, heads, dim], Gather 0/1/2) and split QKV (Split)", async () => {
    for (const packed of [true, false]) {
      const g = new TestGraph();
      const S = 3, D = 8, H = 2, dh = 4;
      const x = g.input([1, S, D]);
      const w = g.weight([D, 3 * D]);
      const qkv = g.op("MatMul", [x, w]);
      let q: string, k: string, v: string;
      if (packed) {
        const t = g.op("Transpose", [g.op("Reshape", [qkv, g.ints([1, S, 3, H, dh])])], { perm: [2, 0, 3, 1, 4] }); // [3,1,H,S,dh]
        [q, k, v] = [0, 1, 2].map((i) => g.op("Gather", [t, g.ints([i], [])], { axis: 0 })) as [string, string, string];
      } else {
        const [a1, b1, c1] = g.opN("Split", [qkv, g.ints([D, D, D])], { axis: 2 }, 3) as [string, string, string];
        const heads = (t: string) => g.op("Transpose", [g.op("Reshape", [t, g.ints([1, S, H, dh])])], { perm: [0, 2, 1, 3] });
        [q, k, v] = [heads(a1), heads(b1), heads(c1)];
      }
      const s = g.op("Softmax", [g.op("MatMul", [q, g.op("Transpose", [k], { perm: [0, 1, 3, 2] })])], { axis: -1 });
      const o = g.op("Reshape", [g.op("Transpose", [g.op("MatMul", [s, v])], { perm: [0, 2, 1, 3] }), g.ints([1, S, D])]);
      const wo = g.weight([D, D]);
      g.output(g.op("MatMul", [o, wo]));
      const m = g.model();
      const a = analyze(m);
      const heads = a.groups.groups.find((gr) => gr.unitKind === "head" && gr.units === H && gr.members.some((mm) => mm.tensor === w))!;
      assert.deepEqual(unitIndices(heads, w, 1)[1], [4, 5, 6, 7, 12, 13, 14, 15, 20, 21, 22, 23]);
      const dims = a.groups.groups.filter((gr) => gr.unitKind === "head-dim" && gr.members.some((mm) => mm.tensor === w));
      // Packed through one [3, H, dh] reshape: Q, K and V must keep the same dims; split: Q·K dims and V dims apart.
      assert.equal(dims.length, packed ? 1 : 2);
      const r = await pruneAndCompare(m, a.groups, planOf(a.groups, [[heads, [0]], [dims[0]!, [1, 2]]]));
      assert.ok(r.shapesOk);
      assert.ok(r.diff < 1e-5, `packed=${packed} diff ${r.diff}`);
      assert.equal(onnxChecker(r.pruned), undefined);
    }
  });
});

describe("pruning rules: fused attention (com.microsoft)", () => {
  it("MultiHeadAttention: heads and dims through the op, num_heads rewritten", async () => {
    const g = new TestGraph();
    const S = 4, D = 8, H = 2;
    const x = g.input([1, S, D]);
    const wq = g.weight([D, D]), wk = g.weight([D, D]), wv = g.weight([D, D]), wo = g.weight([D, D]);
    const bias = g.weight([3 * D]);
    const y = g.op("MultiHeadAttention", [g.op("MatMul", [x, wq]), g.op("MatMul", [x, wk]), g.op("MatMul", [x, wv]), bias], { num_heads: H }, "com.microsoft");
    g.output(g.op("MatMul", [y, wo]));
    const m = g.model();
    const a = analyze(m);
    const heads = groupOf(a.groups, wq, "head");
    assert.equal(heads.units, 2);
    assert.deepEqual(unitIndices(heads, bias, 0), [[0, 1, 2, 3, 8, 9, 10, 11, 16, 17, 18, 19], [4, 5, 6, 7, 12, 13, 14, 15, 20, 21, 22, 23]]);
    const qk = groupOf(a.groups, wq, "head-dim");
    const vd = groupOf(a.groups, wv, "head-dim");
    for (const plan of [planOf(a.groups, [[heads, [0]]]), planOf(a.groups, [[qk, [1, 2]], [vd, [0]]])]) {
      const r = await pruneAndCompare(m, a.groups, plan);
      assert.ok(r.shapesOk);
      assert.ok(r.diff < 1e-5, `diff ${r.diff}`);
    }
    const r = await pruneAndCompare(m, a.groups, planOf(a.groups, [[heads, [1]]]));
    const node = r.pruned.proto.graph!.node.find((n) => n.opType === "MultiHeadAttention")!;
    assert.equal(Number(node.attribute.find((t) => t.name === "num_heads")!.i), 1);
  });

  it("Attention with its packed QKV weights", async () => {
    const g = new TestGraph();
    const S = 4, D = 8, H = 2;
    const x = g.input([1, S, D]);
    const w = g.weight([D, 3 * D]), b = g.weight([3 * D]), wo = g.weight([D, D]);
    const y = g.op("Attention", [x, w, b], { num_heads: H }, "com.microsoft");
    g.output(g.op("MatMul", [y, wo]));
    const m = g.model();
    const a = analyze(m);
    const heads = groupOf(a.groups, w, "head");
    assert.deepEqual(unitIndices(heads, w, 1)[1], [4, 5, 6, 7, 12, 13, 14, 15, 20, 21, 22, 23]);
    assert.deepEqual(unitIndices(heads, wo, 0), [[0, 1, 2, 3], [4, 5, 6, 7]]);
    const r = await pruneAndCompare(m, a.groups, planOf(a.groups, [[heads, [0]], [groupOf(a.groups, w, "head-dim"), [3]]]));
    assert.ok(r.shapesOk);
    assert.ok(r.diff < 1e-5, `diff ${r.diff}`);
  });
});

describe("pruning rules: shapes and scales computed at run time", () => {
  it("symbolic batch, shapes read from Shape(x), and a 1/√d scale from q's shape: pruned heads and dims stay exact", async () => {
    const g = new TestGraph();
    const S = 4, D = 8, H = 2, dh = 4;
    const x = g.input(["batch", S, D]);
    const wq = g.weight([D, D]), wk = g.weight([D, D]), wv = g.weight([D, D]), wo = g.weight([D, D]);
    // [B, S, H, dh] with B and S read from x at run time, H and dh constants (torch's view(B, S, H, -1) style).
    const dim = (t: string, i: number) => g.op("Unsqueeze", [g.op("Gather", [g.op("Shape", [t]), g.ints([i], [])], { axis: 0 }), g.ints([0])]);
    const split = (t: string) => g.op("Transpose", [g.op("Reshape", [t, g.op("Concat", [dim(x, 0), dim(x, 1), g.ints([H]), g.ints([dh])], { axis: 0 })])], { perm: [0, 2, 1, 3] });
    const q = split(g.op("MatMul", [x, wq])), k = split(g.op("MatMul", [x, wk])), v = split(g.op("MatMul", [x, wv]));
    // scale = 1 / sqrt(q.shape[-1]), computed from the graph.
    const d = g.op("Cast", [g.op("Gather", [g.op("Shape", [q]), g.ints([3], [])], { axis: 0 })], { to: 1 });
    const scale = g.op("Reciprocal", [g.op("Sqrt", [d])]);
    const att = g.op("Softmax", [g.op("Mul", [g.op("MatMul", [q, g.op("Transpose", [k], { perm: [0, 1, 3, 2] })]), scale])], { axis: -1 });
    const o = g.op("Transpose", [g.op("MatMul", [att, v])], { perm: [0, 2, 1, 3] });
    // Merge back with the residual width read from x at run time (couples nothing once written as a constant).
    const merged = g.op("Reshape", [o, g.op("Concat", [dim(x, 0), dim(x, 1), dim(x, 2)], { axis: 0 })]);
    g.output(g.op("MatMul", [merged, wo]));
    const m = g.model();
    const a = analyze(m);
    const heads = groupOf(a.groups, wq, "head");
    const qk = groupOf(a.groups, wq, "head-dim");
    assert.ok(a.groups.rewrites.some((r) => r.kind === "fold-value"), "the scale is kept");
    // The residual width read at run time must not tie the attention's heads to x's channels.
    assert.ok(!heads.members.some((mm) => mm.tensor === wq && mm.dim === 0), "heads do not reach the residual stream");
    for (const plan of [planOf(a.groups, [[heads, [1]]]), planOf(a.groups, [[qk, [0, 3]]])]) {
      const r = await pruneAndCompare(m, a.groups, plan);
      assert.ok(r.shapesOk);
      assert.ok(r.diff < 1e-5, `diff ${r.diff}`);
      assert.equal(onnxChecker(r.pruned), undefined);
    }
  });
});
