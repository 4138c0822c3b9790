/**
 * Criteria and selection on real torchvision exports (BatchNorm kept, opset 13), analysed by the group
 * analysis. Skipped, saying so, when the fixture cache does not have the model (`npm run fixtures`).
 */
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";
import { analyzeModelStatic } from "../../../../analyzers/analysis.ts";
import { readTensor, toFloat64 } from "../../../../analyzers/onnx/tensor.ts";
import { buildGraph } from "../../../../analyzers/graph/graph.ts";
import { applyPlan, resolvePlan } from "../../../../analyzers/pruning/apply/index.ts";
import { createSession, dummyFeeds } from "../../../../analyzers/runtime/ort.ts";
import {
  modelWeights,
  randomBaselinePlan,
  scoreGroup,
  scoreGroups,
  selectPlan,
  selectPlanDetailed,
} from "../../../../analyzers/pruning/criteria/index.ts";
import { findGroups } from "../../../../analyzers/pruning/groups/index.ts";
import { measure } from "../../../../analyzers/pruning/measure.ts";
import { indicesOf } from "../../../../analyzers/pruning/types.ts";

const cache = process.env.SCALPEL_CACHE ?? join(homedir(), ".cache", "onnx-scalpel");

for (const name of ["resnet18", "densenet121"]) {
  describe(`criteria on torchvision ${name} (op13, BatchNorm kept)`, function () {
    const file = join(cache, "torchvision", "op13-bn", `${name}.onnx`);
    let ctx: { a: ReturnType<typeof analyzeModelStatic>; ga: ReturnType<typeof findGroups>; w: ReturnType<typeof modelWeights> };

    before(function () {
      if (!existsSync(file)) {
        console.log(`      (skipped: ${file} is missing; run \`npm run fixtures\` to export it)`);
        this.skip();
      }
      const a = analyzeModelStatic(file);
      const ga = findGroups(a.graph, a.shapes, { metrics: a.metrics });
      ctx = { a, ga, w: modelWeights(a.model, a.graph) };
    });

    it("scores every prunable unit with each magnitude criterion", () => {
      for (const criterion of ["l1", "l2", "bn", "random"] as const) {
        const s = scoreGroups(ctx.ga, ctx.w, { criterion });
        ctx.ga.groups.forEach((g, i) => {
          const sc = s.groups[i]!;
          assert.equal(sc.scores.length, g.units);
          if (g.frozen && !g.frozen.units) return;
          for (const x of sc.scores) assert.ok(Number.isFinite(x) && x >= 0, `${criterion} ${g.key}: ${x}`);
          // Every conv group of these models has a BatchNormalization γ.
          if (criterion === "bn" && g.members.some((m) => m.op === "BatchNormalization")) assert.equal(sc.criterion, "bn");
        });
      }
    });

    it("BN scores are the mean |γ| of the group's BatchNormalization members, read from the model", () => {
      const s = scoreGroups(ctx.ga, ctx.w, { criterion: "bn", normalization: "none" });
      const i = ctx.ga.groups.findIndex((g) => !g.frozen && g.members.filter((m) => m.op === "BatchNormalization" && m.role === "norm-scale").length > 1);
      const g = ctx.ga.groups[i >= 0 ? i : 0]!;
      const bns = g.members.filter((m) => m.op === "BatchNormalization" && m.role === "norm-scale");
      const gammas = bns.map((m) => toFloat64(readTensor(ctx.a.model, ctx.a.graph.weight(m.tensor)!)));
      for (let u = 0; u < g.units; u++) {
        const v = bns.map((m, k) => indicesOf(m.indices, u).reduce((t, j) => t + Math.abs(gammas[k]![j]!), 0));
        const want = v.reduce((a, b) => a + b, 0) / v.length;
        assert.ok(Math.abs(s.groups[ctx.ga.groups.indexOf(g)]!.scores[u]! - want) < 1e-9, `${g.key} unit ${u}`);
      }
    });

    it("FPGM scores the smallest groups", () => {
      const small = ctx.ga.groups.filter((g) => !g.frozen).sort((x, y) => x.params - y.params).slice(0, 3);
      for (const g of small) {
        const sc = scoreGroup(g, ctx.w, { criterion: "fpgm" });
        assert.equal(sc.criterion, "fpgm");
        for (const x of sc.scores) assert.ok(Number.isFinite(x) && x > 0);
      }
    });

    it("local 50% plan resolves, and its exact cost is what the apply side measures", () => {
      const s = scoreGroups(ctx.ga, ctx.w, { criterion: "l1" });
      for (const roundTo of [1, 8]) {
        const sel = selectPlanDetailed(ctx.ga, s, { ratio: 0.5, roundTo });
        const removal = resolvePlan(ctx.ga, sel.plan);
        assert.deepEqual(measure(ctx.ga, removal.removed), sel.after);
        assert.ok(sel.after.params < sel.before.params);
        for (const pg of sel.plan.groups) {
          const g = ctx.ga.groups[pg.id!]!;
          assert.equal(g.key, pg.key);
          if (roundTo > 1 && g.unitKind === "channel") assert.equal((g.units - pg.prune.length) % roundTo, 0, g.key);
          else assert.ok(Math.abs(pg.prune.length - g.units / 2) <= 0.5, `${g.key}: ${pg.prune.length} of ${g.units}`);
        }
        // The random baseline: same counts, other units.
        const rb = randomBaselinePlan(ctx.ga, sel.plan, 1);
        assert.deepEqual(rb.groups.map((x) => x.prune.length), sel.plan.groups.map((x) => x.prune.length));
        assert.notDeepEqual(rb.groups.map((x) => x.prune), sel.plan.groups.map((x) => x.prune));
        resolvePlan(ctx.ga, rb);
      }
    });

    it("global params target is reached within one unit; protected classifier untouched", () => {
      const s = scoreGroups(ctx.ga, ctx.w, { criterion: "l2", normalization: "lamp" });
      const sel = selectPlanDetailed(ctx.ga, s, { ratio: 0.3, target: "params", scope: "global", protect: ["classifier*", "fc*"] });
      const goal = sel.before.params * 0.7;
      const biggest = Math.max(...ctx.ga.groups.flatMap((g) => g.unitParams));
      assert.ok(sel.reached && sel.after.params <= goal && sel.after.params > goal - biggest, `${sel.after.params} vs ${goal}`);
      assert.deepEqual(measure(ctx.ga, resolvePlan(ctx.ga, sel.plan).removed), sel.after);
      const head = ctx.ga.groups.filter((g) => g.members.some((m) => /^(fc|classifier)\./.test(m.tensor)));
      for (const g of head) assert.ok(!sel.plan.groups.some((p) => p.key === g.key), `${g.key} pruned`);
      // Same inputs, same plan.
      assert.deepEqual(selectPlan(ctx.ga, s, sel.plan.settings as never), sel.plan);
    });

    if (name === "resnet18") it("a global MACs plan (LAMP, roundTo 8) and its random baseline apply and run in onnxruntime", async function () {
      const s = scoreGroups(ctx.ga, ctx.w, { criterion: "l2", normalization: "lamp" });
      const sel = selectPlanDetailed(ctx.ga, s, { ratio: 0.4, target: "macs", scope: "global", roundTo: 8 });
      assert.ok(sel.reached && sel.after.macs <= 0.6 * sel.before.macs);
      const want = (await (await createSession(ctx.a.model)).run(dummyFeeds(ctx.a.graph)))[ctx.a.graph.outputs[0]!]!.dims;
      for (const plan of [sel.plan, randomBaselinePlan(ctx.ga, sel.plan, 1)]) {
        const pruned = applyPlan(ctx.a.model, ctx.ga, plan);
        const g = buildGraph(pruned);
        const out = (await (await createSession(pruned)).run(dummyFeeds(g)))[g.outputs[0]!]!;
        assert.deepEqual(out.dims, want, plan.criterion);
        assert.ok((out.data as Float32Array).every(Number.isFinite));
      }
    });
  });
}
