import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { analyzeModel } from "../../../analyzers/analysis.ts";
import { modelWeights, scoreGroups, selectPlan } from "../../../analyzers/pruning/criteria/index.ts";
import { findGroups } from "../../../analyzers/pruning/groups/index.ts";
import { planFigures } from "../../../extension/worker/planJob.ts";
// @ts-expect-error plain .mjs helper without types
import { ensureExtensionFixtures } from "../../fixtures/extension/ensure.mjs";

describe("worker job planFigures (CodeLens on plans)", function () {
  this.timeout(600_000);
  let model: string;
  let dir: string;
  before(() => {
    model = path.join(ensureExtensionFixtures({ log: () => {} }) as string, "tiny_cnn.onnx");
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "scalpel-planjob-"));
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  it("scores the removed units of each group against the group's mean under the plan's criterion", async () => {
    const a = await analyzeModel(model, { runtimeFallback: false });
    const analysis = findGroups(a.graph, a.shapes, { metrics: a.metrics });
    const scores = scoreGroups(analysis, modelWeights(a.model, a.graph), { criterion: "l2" });
    const plan = selectPlan(analysis, scores, { ratio: 0.25 });
    a.model.external.close();
    const planFile = path.join(dir, "tiny_cnn.prune.json");
    fs.writeFileSync(planFile, JSON.stringify(plan));
    const f = await planFigures({ model, planFile });
    assert.equal(f.scoredWith, "l2");
    assert.equal(f.groups.length, plan.groups.filter((g) => g.prune.length).length);
    for (const g of f.groups) {
      const raw = Array.from(scores.groups.find((s) => s.key === g.key)!.raw);
      const prune = plan.groups.find((p) => p.key === g.key)!.prune;
      const want = prune.reduce((s, u) => s + raw[u]!, 0) / prune.length / (raw.reduce((s, v) => s + v, 0) / raw.length);
      assert.ok(Math.abs(g.removedScore! - want) < 1e-12, `${g.key}: ${g.removedScore} vs ${want}`);
      assert.ok(g.removedScore! < 1, "the plan removed units below the group's mean");
    }
    // A plan whose criterion cannot be recomputed from the weights alone (OBSPA) gets no score.
    fs.writeFileSync(planFile, JSON.stringify({ ...plan, criterion: "obspa" }));
    const o = await planFigures({ model, planFile });
    assert.equal(o.scoredWith, undefined);
    assert.ok(o.groups.every((g) => g.removedScore === undefined));
  });
});
