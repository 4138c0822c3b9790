/**
 * applyPlan's contract: the input is never modified, a plan that removes nothing changes nothing, a plan
 * round-trips through JSON to the same bytes, bad plans are refused with the reason, the cost model
 * predicts the pruned model's params and MACs exactly, and real models prune to their zeroed twin.
 */
import assert from "node:assert/strict";
import { ModelProtoSchema } from "onnx-buf";
import { encodeBytes } from "../../../analyzers/onnx/encode.ts";
import { isScalpelError } from "../../../analyzers/onnx/errors.ts";
import { loadModel } from "../../../analyzers/onnx/model.ts";
import { analyzeModelStatic } from "../../../analyzers/analysis.ts";
import { applyPlan, applyPlanDetailed, resolvePlan } from "../../../analyzers/pruning/apply/index.ts";
import { measure } from "../../../analyzers/pruning/measure.ts";
import { costAfter } from "../../../analyzers/pruning/criteria/index.ts";
import { sliceAxes } from "../../../analyzers/pruning/apply/weights.ts";
import { sliceAxis, type TensorData } from "../../../analyzers/onnx/tensor.ts";
import { verifyPruned } from "../../../analyzers/pruning/verify.ts";
import type { Plan } from "../../../analyzers/pruning/types.ts";
import { torchvisionModel } from "../../fixtures/paths.ts";
import { TestGraph } from "../../helpers/pruneGraph.ts";
import { analyze, groupOf, maxAbsDiff, planOf, pruneAndCompare, randomPlan, run } from "../../helpers/pruneCheck.ts";

function smallNet() {
  const g = new TestGraph();
  const x = g.input([1, 3, 8, 8]);
  const a = g.op("Relu", [g.bn(g.conv(x, 3, 8), 8)]);
  const b = g.op("Relu", [g.bn(g.conv(a, 8, 8), 8)]);
  const s = g.op("Add", [a, b]);
  const p = g.op("Flatten", [g.op("GlobalAveragePool", [s])]);
  g.output(g.op("Gemm", [p, g.weight([5, 8]), g.weight([5])], { transB: 1 }));
  return g.model();
}

describe("pruning apply", () => {
  it("never modifies the input model, and a plan that removes nothing gives the same bytes and bit-equal outputs", async () => {
    const m = smallNet();
    const before = encodeBytes(ModelProtoSchema, m.proto);
    const a = analyze(m);
    const plan = randomPlan(a.groups, 0.5);
    assert.ok(plan.groups.length > 0);
    const pruned = applyPlan(m, a.groups, plan);
    assert.deepEqual(encodeBytes(ModelProtoSchema, m.proto), before, "input unchanged");
    assert.notDeepEqual(encodeBytes(ModelProtoSchema, pruned.proto), before);
    for (const empty of [{ ...plan, groups: [] }, { ...plan, groups: plan.groups.map((g) => ({ ...g, prune: [] })) }]) {
      const same = applyPlan(m, a.groups, empty);
      assert.deepEqual(encodeBytes(ModelProtoSchema, same.proto), before);
      const [o0, o1] = [await run(m), await run(same)];
      assert.equal(maxAbsDiff(o0, o1), 0);
    }
  });

  it("a plan saved as JSON and applied again gives the same model, byte for byte", () => {
    const m = smallNet();
    const a = analyze(m);
    const plan = randomPlan(a.groups, 0.5, 11);
    const again = JSON.parse(JSON.stringify(plan)) as Plan;
    const b1 = encodeBytes(ModelProtoSchema, applyPlan(m, a.groups, plan).proto);
    const b2 = encodeBytes(ModelProtoSchema, applyPlan(loadModel(encodeBytes(ModelProtoSchema, m.proto)), analyze(m).groups, again).proto);
    assert.deepEqual(b1, b2);
  });

  it("refuses bad plans with the reason", () => {
    const m = smallNet();
    const a = analyze(m);
    const g = groupOf(a.groups, "w0");
    const frozen = a.groups.groups.find((x) => x.frozen)!;
    const cases: [Plan, RegExp][] = [
      [{ ...planOf(a.groups, []), groups: [{ key: "nope", prune: [0] }] }, /does not have/],
      [planOf(a.groups, [[g, [99]]]), /unit 99 does not exist/],
      [planOf(a.groups, [[frozen, [0]]]), /frozen/],
      [planOf(a.groups, [[g, Array.from({ length: g.units }, (_, i) => i)]]), /every index/],
      [{ ...planOf(a.groups, [[g, [0]]]), model: { ...a.groups.model, structure: "0000000000000000" } }, /another model/],
    ];
    for (const [plan, re] of cases) {
      assert.throws(() => resolvePlan(a.groups, plan, "plan.json"), (e: unknown) => isScalpelError(e) && re.test((e as Error).message) && /plan\.json/.test((e as Error).message));
    }
  });

  it("predicts the pruned model's params and MACs exactly (cost model = re-analysis)", () => {
    const m = smallNet();
    const a = analyze(m);
    const r = applyPlanDetailed(m, a.groups, randomPlan(a.groups, 0.5));
    const after = analyzeModelStatic(r.model).metrics;
    const p = measure(a.groups, r.removal.removed);
    assert.equal(p.params, after.params);
    assert.equal(p.macs, after.macs);
    assert.deepEqual(measure(a.groups, new Map()), { params: a.metrics.params, macs: a.metrics.macs });
  });

  it("the cost model counts the shape-derived float constants apply writes (Swin's window-mask values)", async () => {
    // y = (h·w2) * float(h.shape[1:3]): apply keeps the [2, 8] factor as a 2-element float constant.
    const g = new TestGraph();
    const x = g.input([1, 2, 6]);
    const h = g.op("Relu", [g.op("MatMul", [x, g.weight([6, 8])])]);
    const dims = g.op("Cast", [g.op("Slice", [g.op("Shape", [h]), g.ints([1]), g.ints([3])])], { to: 1 });
    g.output(g.op("Mul", [g.op("MatMul", [h, g.weight([8, 2])]), dims]));
    // Shape of that value reads no data: no constant is written for it.
    g.output(g.op("Shape", [dims]), 7);
    const m = g.model();
    const a = analyze(m);
    assert.deepEqual(a.groups.rewrites.filter((r) => r.kind === "fold-value").map((r) => r.op), ["Mul"]);
    assert.equal(a.groups.cost.foldedParams, 2);
    const plan = planOf(a.groups, [[a.groups.groups.find((gr) => !gr.frozen)!, [0, 3, 5]]]);
    const r = applyPlanDetailed(m, a.groups, plan);
    const after = analyzeModelStatic(r.model).metrics;
    assert.deepEqual(measure(a.groups, r.removal.removed), { params: after.params, macs: after.macs });
    assert.equal(costAfter(a.groups, new Map(plan.groups.map((p) => [p.id!, p.prune]))).params, after.params);
    assert.deepEqual(measure(a.groups, new Map()), { params: a.metrics.params, macs: a.metrics.macs });
    const c = await pruneAndCompare(m, a.groups, plan);
    assert.ok(c.shapesOk && c.diff < 1e-5, `diff ${c.diff}`);
  });

  it("verify: output shapes, params, MACs and latency before/after", async () => {
    const m = smallNet();
    const a = analyze(m);
    const pruned = applyPlan(m, a.groups, randomPlan(a.groups, 0.5));
    const v = await verifyPruned(m, pruned, { latency: true, repeats: 5 });
    assert.ok(v.ok, v.problems.join("; "));
    assert.deepEqual(v.outputs.map((o) => [...o.after!]), [[1, 5]]);
    assert.ok(v.params.after < v.params.before && v.macs.after < v.macs.before);
    assert.ok(v.latencyMs && v.latencyMs.before > 0 && v.latencyMs.after > 0);
  });

  it("slices several axes in one pass exactly like slicing them one by one", () => {
    const dims = [6, 5, 3, 2];
    const td = { dataType: 1, dims, data: Float32Array.from({ length: 180 }, (_, i) => i) };
    const cases: (number[] | undefined)[][] = [[[0, 2, 3, 5], [1, 2, 4], undefined, undefined], [undefined, [0, 1, 3], [0, 2], undefined], [[5], undefined, [1], [0]], [[0, 1, 2, 3, 4, 5], [4], undefined, [1]]];
    for (const keep of cases) {
      let ref: TensorData = td;
      keep.forEach((k, d) => {
        if (k) ref = sliceAxis(ref, d, k);
      });
      const got = sliceAxes(td, keep);
      assert.deepEqual(got.dims, ref.dims);
      assert.deepEqual(Array.from(got.data as Float32Array), Array.from(ref.data as Float32Array));
    }
  });

  describe("real models: pruned = zeroed twin (channels whose weights are zero change outputs < 1e-5)", function () {
    this.timeout(600_000);
    for (const arch of ["resnet18", "mobilenet_v3_small", "shufflenet_v2_x0_5", "googlenet", "efficientnet_b0", "regnet_y_400mf"]) {
      it(arch, async function () {
        const file = torchvisionModel(arch, "op13-bn");
        if (!file) this.skip();
        const m = loadModel(file!);
        const a = analyze(m);
        const plan = randomPlan(a.groups, 0.4, 5);
        // Channels normalised together (LayerNorm, ReduceMean) change the statistics when they go, even at zero.
        const noted = new Set(a.groups.groups.filter((g) => g.notes?.length).map((g) => g.key));
        plan.groups = plan.groups.filter((g) => !noted.has(g.key));
        assert.ok(plan.groups.length >= 5);
        const r = await pruneAndCompare(m, a.groups, plan);
        assert.ok(r.shapesOk);
        assert.ok(r.diff < 1e-5, `max |pruned − zeroed| = ${r.diff}`);
      });
    }
  });
});
