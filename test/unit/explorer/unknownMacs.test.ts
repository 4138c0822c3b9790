import assert from "node:assert/strict";
import { buildGraph } from "../../../analyzers/graph/graph.ts";
import { computeMetrics } from "../../../analyzers/graph/metrics.ts";
import { inferShapes } from "../../../analyzers/graph/shapes/index.ts";
import { loadModel } from "../../../analyzers/onnx/index.ts";
import { createExplorerSession } from "../../../analyzers/explorer/index.ts";
import { formatMacs } from "../../../analyzers/explorer/format.ts";
import { floatTensor, modelBytes, node, valueInfo } from "../../helpers/build.ts";

/**
 * Two module scopes: /a/MatMul has known shapes (1×4 · 4×8 = 32 MACs); /b/MatMul reads a graph input of
 * unknown rank, so its MACs cannot be computed. The groups must say so, never show a partial sum as complete.
 */
function twoScopes() {
  const bytes = modelBytes({
    inputs: [valueInfo("x", [1, 4]), valueInfo("z", undefined)],
    outputs: [valueInfo("ra", [1, 8]), valueInfo("rb", undefined)],
    initializers: [floatTensor("wa", [4, 8]), floatTensor("wb", [4, 8])],
    nodes: [
      node("MatMul", ["x", "wa"], ["ya"], {}, "/a/MatMul"),
      node("Relu", ["ya"], ["ra"], {}, "/a/Relu"),
      node("MatMul", ["z", "wb"], ["yb"], {}, "/b/MatMul"),
      node("Relu", ["yb"], ["rb"], {}, "/b/Relu"),
    ],
  });
  return buildGraph(loadModel(bytes, { name: "two-scopes.onnx" }));
}

describe("explorer: MACs that cannot be computed are marked, not summed silently", () => {
  it("counts them in the metrics, per node, per group and for the model", () => {
    const graph = twoScopes();
    const shapes = inferShapes(graph);
    const metrics = computeMetrics(graph, shapes);
    assert.equal(metrics.macsUnknown, 1);
    assert.deepEqual(metrics.perNode.map((m) => !!m.macsUnknown), [false, false, true, false]);
    assert.equal(metrics.macs, 32);

    const s = createExplorerSession(graph, { shapes, metrics });
    const model = s.model({});
    assert.equal(model.macs, 32);
    assert.equal(model.macsUnknown, 1);
    const root = s.group({ id: model.root });
    assert.equal(root.summary.macsUnknown, 1);
    const byLabel = (l: string) => root.items.find((i) => i.label === l)!;
    const a = byLabel("a"), b = byLabel("b");
    assert.equal(a.kind, "group");
    assert.equal(b.kind, "group");
    assert.equal(a.summary!.macs, 32);
    assert.equal(a.summary!.macsUnknown, undefined);
    assert.equal(b.summary!.macs, 0);
    assert.equal(b.summary!.macsUnknown, 1);
    assert.equal(formatMacs(b.summary!.macs, b.summary!.macsUnknown), "?", "b shows unknown MACs, not 0");
    assert.equal(formatMacs(root.summary.macs, root.summary.macsUnknown), "≥32", "the model's sum is a lower bound");
    const bMatMul = s.group({ id: b.id }).items.find((i) => i.op === "MatMul")!;
    assert.equal(bMatMul.macsUnknown, true);
    const bNode = s.locate({ name: "/b/MatMul" });
    assert.equal(s.node({ id: bNode.id }).macsUnknown, true);
    assert.equal(s.node({ id: s.locate({ name: "/a/MatMul" }).id }).macsUnknown, undefined);
  });

  it("formats a partial sum as a lower bound and an unknown one as '?'", () => {
    assert.equal(formatMacs(32, 0), "32");
    assert.equal(formatMacs(1.8e9, 3), "≥1.8G");
    assert.equal(formatMacs(0, 1), "?");
    assert.equal(formatMacs(undefined, 1), "—");
  });
});
