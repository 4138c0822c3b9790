import assert from "node:assert/strict";
import path from "node:path";
import { analyzeModel } from "../../../analyzers/analysis.ts";
import { createExplorerSession } from "../../../analyzers/explorer/index.ts";
import { GROUPS_OVERLAY_ID, groupsOverlay, pruneDiffOverlay } from "../../../analyzers/explorer/pruningOverlays.ts";
import { modelWeights, scoreGroups, selectPlan } from "../../../analyzers/pruning/criteria/index.ts";
import { findGroups } from "../../../analyzers/pruning/groups/index.ts";
// @ts-expect-error plain .mjs helper without types
import { ensureExtensionFixtures } from "../../fixtures/extension/ensure.mjs";

describe("explorer overlays from the pruning analysis", () => {
  it("puts every member of every dependency group on the graph, frozen channels with their reason", async function () {
    this.timeout(300_000);
    const a = await analyzeModel(path.join(ensureExtensionFixtures(), "tiny_cnn.onnx"));
    const analysis = findGroups(a.graph, a.shapes, { metrics: a.metrics });
    const overlay = groupsOverlay(analysis);
    assert.equal(overlay.groups.length, analysis.groups.length);
    const nodeNames = new Set(a.graph.nodes.map((n) => n.name));
    for (const g of overlay.groups) for (const m of g.members) assert.ok(nodeNames.has(m.node), `${m.node} is a node`);
    // The residual stream couples the stem and both blocks: one group holds all three blocks' outputs.
    const residual = overlay.groups.find((g) => ["stem.conv", "blocks.0.conv2", "blocks.1.conv2"].every((s) => g.members.some((m) => m.node.includes(s.replaceAll(".", "/").replace(/^blocks\/(\d)/, "blocks/blocks.$1")))));
    assert.ok(residual, JSON.stringify(overlay.groups.map((g) => g.label)));
    // The explorer accepts it: every member resolves to a node (nothing unmatched).
    const session = createExplorerSession(a.graph, { shapes: a.shapes, metrics: a.metrics });
    const [info] = session.setOverlays([overlay]);
    assert.equal(info!.id, GROUPS_OVERLAY_ID);
    assert.equal(info!.unmatched, 0);

    // A plan's diff: the layers it narrows, with channel counts before and after.
    const plan = selectPlan(analysis, scoreGroups(analysis, modelWeights(a.model, a.graph), { criterion: "l1" }), { ratio: 0.5 });
    const diff = pruneDiffOverlay(analysis, plan);
    const pruned = plan.groups.filter((g) => g.prune.length);
    assert.ok(pruned.length > 0);
    const conv = Object.entries(diff.nodes).find(([n]) => n.endsWith("stem/conv/Conv"));
    assert.ok(conv, Object.keys(diff.nodes).join(", "));
    assert.equal(conv[1].before!.channels, 16);
    assert.ok(conv[1].after!.channels! < 16);
    const [dinfo] = session.setOverlays([overlay, diff]).slice(1);
    assert.equal(dinfo!.unmatched, 0);
  });
});
