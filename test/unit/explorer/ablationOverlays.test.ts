import assert from "node:assert/strict";
import { discoverStructure } from "../../../analyzers/ablation/structure.ts";
import { ABLATION_KNOCKOUT_OVERLAY_ID, ABLATION_LAYERS_OVERLAY_ID, knockoutOverlay, layerEffectOverlay, layerKeys } from "../../../analyzers/explorer/ablationOverlays.ts";
import { createExplorerSession } from "../../../analyzers/explorer/index.ts";
import { buildGraph } from "../../../analyzers/graph/graph.ts";
import { loadModel } from "../../../analyzers/onnx/index.ts";
import { arithDir, arithFile } from "../../fixtures/arith/fixtures.ts";

describe("explorer: ablation overlays", function () {
  this.timeout(3 * 3600 * 1000); // the first run builds the fixtures (trains the model)
  before(() => arithDir());

  for (const variant of ["arith-opset14.onnx", "arith-skipln.onnx", "arith-mha.onnx"]) {
    it(`ties each layer L and each block's attention to the graph (${variant})`, () => {
      const g = buildGraph(loadModel(arithFile(variant)));
      const s = discoverStructure(g);
      const keys = layerKeys(s, g);
      assert.equal(keys.stream.length, s.blocks.length + 1);
      assert.equal(keys.attention.length, s.blocks.length);
      assert.equal(new Set(keys.stream).size, keys.stream.length, "one item per layer");
      // L = 0 is the embedding output: the node producing stream[0]; L ≥ 1 is block L−1.
      const s0 = s.stream[0]!;
      assert.equal(keys.stream[0], s0.fusedIn?.name ?? g.producer(s0.tensor!)!.name);
      for (let L = 1; L <= s.blocks.length; L++) {
        const key = keys.stream[L]!;
        const block = s.blocks[L - 1]!;
        if (key.startsWith("scope:")) {
          const scope = key.slice("scope:".length);
          assert.ok([...block.residualOps, block.attention.node].every((n) => n.scope.module === scope || n.scope.module.startsWith(scope + ".")), `${key} holds block ${L - 1}`);
        } else assert.ok(block.residualOps.some((n) => n.name === key), `${key} is a residual op of block ${L - 1}`);
      }
      // Every key resolves to an item of the explorer: nothing is dropped silently.
      const session = createExplorerSession(g);
      const points = keys.stream.map((_, L) => ({ L, accuracy: 1 - L / 10, faithfulness: L / keys.stream.length }));
      const layers = layerEffectOverlay(keys, points, "cama at each L")!;
      const knock = knockoutOverlay(keys, keys.attention.map((_, block) => ({ block, faithfulness: 1 - block / 10 })))!;
      const infos = session.setOverlays([layers, knock]);
      for (const info of infos) assert.equal(info.unmatched, 0, `${info.id}: unmatched keys`);
      const m = session.overlayMatrix({ overlay: ABLATION_LAYERS_OVERLAY_ID });
      assert.deepEqual(m.rows.map((r) => r.label), points.map((p) => `L=${p.L}`));
      assert.ok(m.rows.every((r) => r.id), "every row links to an item of the graph");
      assert.deepEqual(m.values, points.map((p) => [p.faithfulness, p.accuracy]));
      assert.ok(session.overlayMatrix({ overlay: ABLATION_KNOCKOUT_OVERLAY_ID }).rows.every((r) => r.id));
    });
  }

  it("draws a knockout heatmap per block and position, each block by its most harmful position, and drops rows beyond the model", () => {
    const g = buildGraph(loadModel(arithFile("arith-opset14.onnx")));
    const keys = layerKeys(discoverStructure(g), g);
    const N = keys.attention.length;
    const heat = { positions: ["0:<bos>", "1:3", "2:+", "3:4", "4:="], faithfulness: Array.from({ length: N }, (_, l) => [0.9, 0.5 - l / 10, 1, 0.8]) };
    const o = knockoutOverlay(keys, [], heat)!;
    assert.deepEqual(o.cols, heat.positions.slice(0, 4));
    assert.deepEqual(o.rowValues, heat.faithfulness.map((r) => Math.min(...r)));
    assert.deepEqual(o.rows.map((r) => r.key), keys.attention);
    const beyond = layerEffectOverlay(keys, [{ L: N + 3, accuracy: 1, faithfulness: 1 }, { L: 0, accuracy: 0.5, faithfulness: 0.25 }], "x")!;
    assert.deepEqual(beyond.rows, [{ label: "L=0", key: keys.stream[0] }]);
    assert.equal(layerEffectOverlay(keys, [], "none"), undefined);
  });
});
