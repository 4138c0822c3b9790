import assert from "node:assert/strict";
import path from "node:path";
import { analyzeModel, type Analysis } from "../../../analyzers/analysis.ts";
import { modelWeights, scoreGroups, selectPlan, type Scores } from "../../../analyzers/pruning/criteria/index.ts";
import { findGroups } from "../../../analyzers/pruning/groups/index.ts";
import type { GroupAnalysis, Plan } from "../../../analyzers/pruning/types.ts";
import { readTensor } from "../../../analyzers/onnx/index.ts";
import { obspaPlan } from "../../../analyzers/pruning/obspa/index.ts";
import { groupFacts, groupsOfModules, lensCriterion, matchPlan, moduleGroups, withinModule, type GroupFacts } from "../../../analyzers/source/groupLenses.ts";
import { groupLensTitle, groupLensTooltip } from "../../../extension/groupLensText.ts";
// @ts-expect-error plain .mjs helper without types
import { ensureExtensionFixtures } from "../../fixtures/extension/ensure.mjs";

describe("dependency groups of source modules (CodeLens)", function () {
  this.timeout(600_000); // the first run exports the fixture with torch
  let a: Analysis;
  let analysis: GroupAnalysis;
  let scores: Scores;
  let facts: GroupFacts;
  let plan: Plan;
  const nodeOf = (module: string, op: string) => a.graph.nodes.find((n) => n.scope.module === module && n.opType === op)!;

  before(async () => {
    const dir: string = ensureExtensionFixtures({ log: () => {} });
    a = await analyzeModel(path.join(dir, "tiny_cnn.onnx"), { runtimeFallback: false });
    analysis = findGroups(a.graph, a.shapes, { metrics: a.metrics });
    scores = scoreGroups(analysis, modelWeights(a.model, a.graph), { criterion: "l1" });
    const moduleOf = new Map(a.graph.nodes.map((n) => [n.name, n.scope.module]));
    facts = groupFacts(analysis, (n) => moduleOf.get(n) ?? "", scores);
    plan = selectPlan(analysis, scores, { ratio: 0.25 });
  });
  after(() => a.model.external.close());

  it("gives a conv layer the group of its output channels, shared with its BatchNorm", () => {
    const conv = nodeOf("blocks.0.conv1", "Conv");
    const [g, ...rest] = groupsOfModules(["blocks.0.conv1"], facts);
    assert.ok(g, "blocks.0.conv1 owns a group");
    assert.deepEqual(rest, [], "and only one");
    const group = analysis.groups.find((x) => x.key === g.key)!;
    assert.ok(group.members.some((m) => m.node === conv.name && m.role === "out"), "the conv produces the group's channels");
    const weight = readTensor(a.model, a.graph.weight(conv.inputs[1]!)!);
    assert.equal(g.units, weight.dims[0], "one unit per output channel");
    assert.deepEqual(groupsOfModules(["blocks.0.bn1"], facts).map((x) => x.key), [g.key], "bn1 normalises the same channels");
    // conv2 consumes those channels but does not own them: its own group is the residual stream.
    const conv2 = groupsOfModules(["blocks.0.conv2"], facts);
    assert.equal(conv2.length, 1);
    assert.notEqual(conv2[0]!.key, g.key);
  });

  it("couples the residual stream: the stem and every block's second conv own one group", () => {
    const [stem] = groupsOfModules(["stem.conv"], facts);
    for (const m of ["blocks.0.conv2", "blocks.1.conv2", "blocks.0.bn2", "stem.bn"]) assert.deepEqual(groupsOfModules([m], facts).map((x) => x.key), [stem!.key], m);
    // A class used twice owns both inner groups and the shared residual group once.
    const block = groupsOfModules(["blocks.0", "blocks.1"], facts).map((x) => x.key);
    assert.equal(block.length, 3);
    assert.ok(block.includes(stem!.key));
    assert.deepEqual(groupsOfModules([""], facts).map((x) => x.key), analysis.groups.map((x) => x.key), "the whole model owns every group");
    assert.ok(withinModule("blocks.0.conv1", "blocks.0") && !withinModule("blocks.10.conv1", "blocks.1"));
  });

  it("marks the classifier's outputs frozen (they are the model's output)", () => {
    const [fc] = groupsOfModules(["fc"], facts);
    assert.ok(fc, "fc owns its output group");
    assert.equal(fc.frozenUnits, fc.units);
    assert.ok(fc.frozenReason);
    const m = moduleGroups(["fc"], facts, matchPlan(plan, facts))!;
    assert.equal(m.plan?.removed, 0, "a plan never removes frozen units");
    assert.match(groupLensTitle(m), /frozen: /);
  });

  it("reports importance per unit under the criterion, and the plan removes the least important units", () => {
    const match = matchPlan(JSON.parse(JSON.stringify(plan)), facts);
    assert.equal(match.kind, "ok");
    const m = moduleGroups(["blocks.0.conv1"], facts, match)!;
    const g = m.groups[0]!;
    const pg = plan.groups.find((x) => x.key === g.key)!;
    assert.equal(m.plan?.removed, pg.prune.length);
    assert.equal(m.plan?.units, g.units);
    assert.equal(m.plan?.ratio, pg.prune.length / g.units);
    assert.equal(pg.prune.length, Math.round(0.25 * g.units));
    // The importance is the raw L1 score of each unit; the removed units are the lowest.
    const raw = g.scores!.map((v) => v!);
    const removed = new Set(pg.prune);
    const maxRemoved = Math.max(...raw.filter((_, u) => removed.has(u)));
    const minKept = Math.min(...raw.filter((_, u) => !removed.has(u)));
    assert.ok(maxRemoved <= minKept, `removed units score ${maxRemoved} > kept ${minKept}`);
    const mean = raw.reduce((x, y) => x + y, 0) / raw.length;
    assert.equal(m.importance?.criterion, "l1");
    assert.ok(Math.abs(m.importance!.mean - mean) < 1e-9 * mean);
    assert.ok(m.importance!.removedRelative! < 1, "removed units are below the group's mean");
    const title = groupLensTitle(m);
    assert.match(title, new RegExp(`^group blocks\\.0\\.conv1 · ${g.units} channels · importance [0-9.e+-]+ \\(l1\\) · plan −25% \\(${pg.prune.length} of ${g.units}\\)$`));
    assert.match(groupLensTooltip(m, "tiny_cnn.onnx", "tiny_cnn.prune.json"), /removes 4 of 16 units/);
  });

  it("aggregates a class's instances and the whole model", () => {
    const match = matchPlan(plan, facts);
    const m = moduleGroups(["blocks.0", "blocks.1"], facts, match)!;
    const keys = new Set(m.groups.map((g) => g.key));
    const units = analysis.groups.filter((g) => keys.has(g.key)).reduce((s, g) => s + g.units, 0);
    const removed = plan.groups.filter((g) => keys.has(g.key)).reduce((s, g) => s + g.prune.length, 0);
    assert.deepEqual(m.kinds, [{ unitKind: "channel", units, frozen: 0, removed }]);
    assert.match(groupLensTitle(m), new RegExp(`^3 groups · ${units} channels · importance .* · plan −`));
    const all = moduleGroups([""], facts, match)!;
    assert.equal(all.plan!.removed, plan.groups.reduce((s, g) => s + g.prune.length, 0));
  });

  it("refuses plans that do not fit the model, saying why", () => {
    const other = matchPlan({ ...plan, model: { ...plan.model, structure: "0123456789abcdef", name: "other.onnx" } }, facts);
    assert.deepEqual(other, { kind: "mismatch", problem: "made for another model (other.onnx)" });
    const unknown = matchPlan({ ...plan, groups: [{ key: "nope:0", prune: [0] }] }, facts);
    assert.equal(unknown.kind, "mismatch");
    const range = matchPlan({ ...plan, groups: [{ key: plan.groups[0]!.key, prune: [999] }] }, facts);
    assert.equal(range.kind, "mismatch");
    assert.equal(matchPlan({ hello: 1 }, facts).kind, "mismatch");
    const m = moduleGroups(["blocks.0.conv1"], facts, other)!;
    assert.equal(m.plan, undefined);
    assert.match(groupLensTitle(m), /plan not used: made for another model \(other\.onnx\)$/);
    // Without a plan the lens shows the group and its importance only.
    assert.doesNotMatch(groupLensTitle(moduleGroups(["blocks.0.conv1"], facts)!), /plan/);
    assert.equal(moduleGroups(["pool"], facts), undefined, "a pooling layer owns no group");
  });

  it("scores with the plan's criterion when it is a magnitude criterion, else the preferred one, else L1", () => {
    assert.equal(lensCriterion("l2", "bn"), "l2");
    assert.equal(lensCriterion("obspa", "bn"), "bn");
    assert.equal(lensCriterion("random", undefined), "l1");
    assert.equal(lensCriterion(undefined, "obspa"), "l1");
  });

  it("lists units per kind when a module owns heads and channels (attention)", () => {
    const f: GroupFacts = {
      structure: "s",
      criterion: "l2",
      groups: [
        { id: 0, key: "q:1:head", scope: "attn", units: 4, unitKind: "head", frozenUnits: 0, owners: ["attn.q", "attn.k"], scores: [1, 2, 3, 4] },
        { id: 1, key: "q:1:head-dim", scope: "attn", units: 8, unitKind: "head-dim", frozenUnits: 0, owners: ["attn.q"], scores: [1, 1, 1, 1, 1, 1, 1, 1] },
        { id: 2, key: "mlp:0", scope: "mlp", units: 16, unitKind: "channel", frozenUnits: 0, owners: ["mlp.fc1"] },
      ],
    };
    const plan = matchPlan({ version: 1, model: { structure: "s" }, criterion: "l2", groups: [{ key: "q:1:head", prune: [0] }, { key: "q:1:head-dim", prune: [2, 3] }] }, f);
    const m = moduleGroups(["attn"], f, plan)!;
    assert.deepEqual(m.groups.map((g) => g.key), ["q:1:head", "q:1:head-dim"]);
    assert.equal(m.importance?.mean, 18 / 12);
    assert.equal(m.importance?.removedRelative, (1 + 1 + 1) / 3 / (18 / 12));
    assert.equal(groupLensTitle(m), "2 groups · 4 heads + 8 head-dims · importance 1.5 (l2) · plan removes 1/4 heads, 2/8 head-dims");
    assert.equal(moduleGroups(["mlp.fc1"], f, plan)!.importance, undefined, "an unscored group has no importance");
    assert.equal(groupLensTitle(moduleGroups(["mlp"], f, plan)!), "group mlp · 16 channels · plan keeps all");
  });

  it("shows what an OBSPA plan decided (removed and kept units per group, its Hessian record), naming it beside the L1 importance", async () => {
    const { plan: obspa } = await obspaPlan(a.model, a.graph, analysis, { ratio: 0.25 }, { hessian: "bn" });
    const match = matchPlan(JSON.parse(JSON.stringify(obspa)), facts);
    assert.equal(match.kind, "ok");
    assert.deepEqual(match.kind === "ok" && match.record, { hessian: "bn", varianceCorrection: obspa.compensation!.variance });
    const off = matchPlan({ ...obspa, compensation: { ...obspa.compensation!, variance: false } }, facts);
    assert.match(groupLensTooltip(moduleGroups(["blocks.0.conv1"], facts, off)!, "tiny_cnn.onnx"), /Hessians: bn, variance correction off\)/);
    const m = moduleGroups(["blocks.0.conv1"], facts, match)!;
    const g = m.groups[0]!;
    const pg = obspa.groups.find((x) => x.key === g.key)!;
    assert.ok(pg.prune.length > 0, "OBSPA removes units of blocks.0.conv1 at 25%");
    assert.equal(m.plan?.criterion, "obspa");
    assert.equal(m.plan?.scoredByPlanCriterion, false, "the lens scores with L1, not OBSPA");
    assert.deepEqual(m.plan?.decisions, [{ key: g.key, units: g.units, removed: [...pg.prune].sort((x, y) => x - y) }]);
    assert.equal(m.importance?.criterion, "l1");
    const title = groupLensTitle(m);
    assert.match(title, new RegExp(`^group blocks\\.0\\.conv1 · ${g.units} channels · importance [0-9.e+-]+ \\(l1\\) · obspa plan −[0-9.]+% \\(${pg.prune.length} of ${g.units}\\)$`));
    const tip = groupLensTooltip(m, "tiny_cnn.onnx", "tiny_cnn.prune.json");
    const units = [...pg.prune].sort((x, y) => x - y).join(", ");
    assert.ok(tip.includes(`plan removes ${pg.prune.length} (channels ${units}), keeps ${g.units - pg.prune.length}`), tip);
    assert.match(tip, /lenses do not run OBSPA \(too slow for a lens\); the importance shown is l1/);
    assert.match(tip, new RegExp(`Plan \\(obspa, Hessians: bn, variance correction (on|off|auto), tiny_cnn\\.prune\\.json\\): removes ${pg.prune.length} of ${g.units} units`));
    assert.match(tip, /the units the obspa plan removes score [0-9.e+-]+× the mean under l1/);
  });

  it("shows a random plan's decisions and seed, with no score claimed for them", () => {
    const random = selectPlan(analysis, scoreGroups(analysis, modelWeights(a.model, a.graph), { criterion: "random", seed: 7 }), { ratio: 0.25 });
    assert.equal(random.criterion, "random");
    const match = matchPlan(random, facts);
    const m = moduleGroups(["blocks.0", "blocks.1"], facts, match)!;
    const keys = new Set(m.groups.map((g) => g.key));
    const removed = random.groups.filter((g) => keys.has(g.key)).reduce((n, g) => n + g.prune.length, 0);
    assert.equal(m.plan?.removed, removed);
    assert.deepEqual(m.plan?.decisions.map((d) => d.removed.length), m.groups.map((g) => random.groups.find((x) => x.key === g.key)?.prune.length ?? 0));
    assert.match(groupLensTitle(m), new RegExp(`^3 groups · ${m.plan!.units} channels · importance [0-9.e+-]+ \\(l1\\) · random plan −[0-9.]+% \\(${removed} of ${m.plan!.units}\\)$`));
    const tip = groupLensTooltip(m, "tiny_cnn.onnx");
    assert.match(tip, /The plan picked its units at random \(seed 7\): there is no score to show; the importance shown is l1/);
    assert.match(tip, /Plan \(random, seed 7\): removes/);
    // A magnitude plan scored by its own criterion keeps the short form.
    const l1 = moduleGroups(["blocks.0", "blocks.1"], facts, matchPlan(plan, facts))!;
    assert.equal(l1.plan?.scoredByPlanCriterion, true);
    assert.doesNotMatch(groupLensTitle(l1) + groupLensTooltip(l1, "tiny_cnn.onnx"), /l1 plan|at random|do not run/);
  });
});
