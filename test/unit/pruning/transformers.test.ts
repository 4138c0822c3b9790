/**
 * Small transformers (test/fixtures/transformers/export_transformers.py): a LLaMA-style decoder with
 * grouped-query attention, RoPE and SwiGLU, and a tiny torchvision ViT. Pruned by whole heads and MLP
 * channels: valid, right output shapes, and exactly the zeroed-twin's function.
 */
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { loadModel } from "../../../analyzers/onnx/model.ts";
import type { Group } from "../../../analyzers/pruning/types.ts";
import { cacheDir } from "../../fixtures/paths.ts";
import { analyze, analyzeFull, onnxChecker, planOf, pruneAndCompare, randomPlan } from "../../helpers/pruneCheck.ts";
import { torchvisionModel } from "../../fixtures/paths.ts";

function fixture(name: string): string | undefined {
  const p = path.join(cacheDir(), "transformers", `${name}.onnx`);
  return fs.existsSync(p) ? p : undefined;
}

const half = (g: Group) => Array.from({ length: Math.floor(g.units / 2) }, (_, i) => 2 * i + 1);

describe("pruning transformers (heads and MLP channels)", function () {
  this.timeout(600_000);

  it("GQA decoder: kv heads, query heads per kv head, RoPE dims, V dims, SwiGLU channels", async function () {
    const file = fixture("gqa_decoder");
    if (!file) this.skip();
    const m = loadModel(file!);
    const a = analyze(m);
    const gs = a.groups.groups;
    const heads = gs.filter((g) => g.unitKind === "head");
    // Per layer: kv heads (2) and query heads per kv head (4).
    assert.deepEqual(heads.map((g) => g.units).sort(), [2, 2, 4, 4]);
    const kv = heads.filter((g) => g.units === 2);
    for (const g of kv) assert.ok(g.members.some((mm) => mm.node.includes("k_proj")) && g.members.some((mm) => mm.node.includes("o_proj")));
    const rep = heads.filter((g) => g.units === 4);
    for (const g of rep) assert.ok(!g.members.some((mm) => mm.node.includes("k_proj")), "query heads per kv head leave k_proj alone");
    // RoPE pairs dim d with d + head_dim/2: 4 units of 2 dims for head_dim 8.
    const rope = gs.filter((g) => g.unitKind === "head-dim" && g.members.some((mm) => mm.node.includes("q_proj")));
    assert.equal(rope.length, 2);
    for (const g of rope) assert.equal(g.units, 4);
    const mlp = gs.filter((g) => g.key.includes("MatMul") && g.units === 128);
    assert.equal(mlp.length, 2);
    for (const g of mlp) assert.ok(g.members.some((mm) => mm.node.includes("up_proj")), "gate and up projections are one group (multiplied)");
    assert.match(gs.find((g) => g.units === 96)!.frozen!.reason, /graph output/);
    const plans = [
      planOf(a.groups, [...kv.map((g) => [g, [1]] as [Group, number[]]), ...mlp.map((g) => [g, half(g)] as [Group, number[]])]),
      planOf(a.groups, [...rep.map((g) => [g, [0, 3]] as [Group, number[]]), ...rope.map((g) => [g, [2]] as [Group, number[]])]),
    ];
    for (const plan of plans) {
      const r = await pruneAndCompare(m, a.groups, plan);
      assert.ok(r.shapesOk, "logits [1, 12, 96]");
      assert.ok(r.diff < 1e-5, `diff ${r.diff}`);
      assert.equal(onnxChecker(r.pruned), undefined);
    }
  });

  it("ViT: whole heads, Q·K dims, V dims and MLP channels", async function () {
    const file = fixture("vit_tiny");
    if (!file) this.skip();
    const m = loadModel(file!);
    const a = analyze(m);
    const gs = a.groups.groups;
    const heads = gs.filter((g) => g.unitKind === "head");
    assert.equal(heads.length, 2);
    for (const g of heads) assert.equal(g.units, 4);
    const mlp = gs.filter((g) => g.units === 128);
    assert.equal(mlp.length, 2);
    const resid = gs.find((g) => g.key.startsWith("conv_proj"))!;
    assert.ok(resid.notes?.some((t) => /normalised|ReduceMean/.test(t)), "the residual stream is LayerNorm-normalised (decomposed at opset 13)");
    const plan = planOf(a.groups, [...heads.map((g) => [g, [1, 2]] as [Group, number[]]), ...mlp.map((g) => [g, half(g)] as [Group, number[]])]);
    const r = await pruneAndCompare(m, a.groups, plan);
    assert.ok(r.shapesOk, "logits [1, 10]");
    assert.ok(r.diff < 1e-5, `diff ${r.diff}`);
    assert.equal(onnxChecker(r.pruned), undefined);
  });

  it("Swin-T (torchvision): window attention heads and dims, MLP and patch-merging channels equal the zeroed twin", async function () {
    const file = torchvisionModel("swin_t", "op13-bn");
    if (!file) this.skip();
    const m = loadModel(file!);
    const a = await analyzeFull(m);
    const gs = a.groups.groups;
    assert.equal(gs.filter((g) => g.unitKind === "head" && !g.frozen).length, 12, "one head group per block");
    assert.ok(gs.filter((g) => g.unitKind === "head").every((g) => g.frozen || g.members.some((mm) => /relative_position|Add/.test(mm.tensor + mm.node))), "heads slice the relative-position bias");
    assert.deepEqual(a.groups.frozen.map((f) => f.tensor), ["head.weight"], "only the classifier's outputs are frozen");
    const plan = randomPlan(a.groups, 0.4, 9);
    const noted = new Set(gs.filter((g) => g.notes?.length).map((g) => g.key));
    plan.groups = plan.groups.filter((g) => !noted.has(g.key));
    const r = await pruneAndCompare(m, a.groups, plan);
    assert.ok(r.shapesOk);
    assert.ok(r.diff < 1e-4, `max |pruned − zeroed| = ${r.diff}`);
    assert.equal(onnxChecker(r.pruned), undefined);
  });
});
