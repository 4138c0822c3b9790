import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { create } from "@bufbuild/protobuf";
import { AttributeProto_AttributeType, AttributeProtoSchema, NodeProtoSchema } from "onnx-buf";
import { loadModel } from "../../analyzers/onnx/index.ts";
import { buildGraph } from "../../analyzers/graph/graph.ts";
import { summarizeGraph } from "../../analyzers/graph/summary.ts";
// @ts-expect-error plain .mjs helper without types
import { ensureExtensionFixtures } from "../fixtures/extension/ensure.mjs";

describe("summarizeGraph", () => {
  let dir: string;
  before(function () {
    this.timeout(300_000);
    dir = ensureExtensionFixtures();
  });

  it("agrees with torch on the tiny CNN export (params, inputs, outputs, ops)", () => {
    const file = path.join(dir, "tiny_cnn.onnx");
    const facts = JSON.parse(fs.readFileSync(path.join(dir, "tiny_cnn.json"), "utf8"));
    const model = loadModel(file);
    const s = summarizeGraph(buildGraph(model));
    // Every float weight torch exported (parameters and BatchNorm buffers) is a consumed initializer.
    assert.equal(s.parameters, facts.stateElements);
    assert.equal(s.fileBytes, fs.statSync(file).size);
    assert.deepEqual(s.inputs, [{ name: "image", dataType: "float32", shape: ["batch", ...facts.input.slice(1)] }]);
    assert.deepEqual(s.outputs, [{ name: "logits", dataType: "float32", shape: ["batch", ...facts.output.slice(1)] }]);
    assert.deepEqual(s.opsets, [{ domain: "", version: 13 }]);
    const modules = facts.modules as Record<string, { class: string }>;
    const count = (cls: string) => Object.values(modules).filter((m) => m.class === cls).length;
    const ops = Object.fromEntries(s.ops.map((o) => [o.opType, o.count]));
    assert.equal(ops.Conv, count("Conv2d"));
    assert.equal(ops.BatchNormalization, count("BatchNorm2d"));
    assert.equal(ops.Gemm, count("Linear"));
    assert.equal(s.nodeCount, s.ops.reduce((a, o) => a + o.count, 0));
    assert.ok(s.ops.every((o, i) => i === 0 || s.ops[i - 1]!.count >= o.count), "ops sorted by count");
    assert.deepEqual(s.customDomains, []);
    assert.equal(s.externalData, false);
    // Every node except the root-level Flatten carries a module scope in its name.
    assert.equal(s.scopedNodes, model.proto.graph!.node.filter((n) => n.name.split("/").length > 2).length);
    assert.ok(s.scopedNodes >= s.nodeCount - 1);
  });

  it("counts Constant-node weights and reports custom domains", () => {
    const file = path.join(dir, "tiny_cnn.onnx");
    const model = loadModel(file);
    const g = model.proto.graph!;
    // Move the fc weight from an initializer into a Constant node, and tag one node with a custom domain.
    const i = g.initializer.findIndex((t) => t.name === "fc.weight");
    assert.ok(i >= 0, "fixture has fc.weight");
    const [w] = g.initializer.splice(i, 1);
    const before = summarizeGraph(buildGraph(loadModel(file)));
    const value = create(AttributeProtoSchema, { name: "value", type: AttributeProto_AttributeType.TENSOR, t: w });
    g.node.unshift(create(NodeProtoSchema, { name: "w_const", opType: "Constant", output: ["fc.weight"], attribute: [value] }));
    g.node.find((n) => n.opType === "Relu")!.domain = "com.example";
    const s = summarizeGraph(buildGraph(model));
    assert.equal(s.parameters, before.parameters);
    assert.equal(s.initializerCount, before.initializerCount - 1);
    assert.deepEqual(s.customDomains, ["com.example"]);
  });
});
