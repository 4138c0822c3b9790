import assert from "node:assert/strict";
import { create } from "@bufbuild/protobuf";
import { AttributeProtoSchema, AttributeProto_AttributeType, GraphProtoSchema, StringStringEntryProtoSchema } from "onnx-buf";
import { buildGraph } from "../../../analyzers/graph/graph.ts";
import { modulePathOf, scopeOf } from "../../../analyzers/graph/scopes.ts";
import { loadModel } from "../../../analyzers/onnx/model.ts";
import { floatTensor, model, modelBytes, node, tinyCnn, valueInfo } from "../../helpers/build.ts";
import { encodeBytes } from "../../../analyzers/onnx/encode.ts";
import { ModelProtoSchema } from "onnx-buf";

const load = (spec: Parameters<typeof modelBytes>[0]) => loadModel(modelBytes(spec), { name: "t.onnx" });

describe("graph IR", () => {
  it("sorts a model whose node list is not topological, keeping sorted parts in file order", () => {
    const spec = tinyCnn();
    spec.nodes.reverse();
    const g = buildGraph(load(spec));
    assert.deepEqual(g.nodes.map((n) => n.opType), ["Conv", "Relu", "GlobalAveragePool", "Flatten", "Gemm"]);
    assert.equal(g.producer("r1")?.opType, "Relu");
    assert.deepEqual(g.consumers("r1").map((u) => [u.node.opType, u.slot]), [["GlobalAveragePool", 0]]);
    assert.deepEqual(g.inputs, ["x"]);
    assert.equal(g.values.get("w1")?.kind, "initializer");
  });

  it("reports a cycle naming the nodes in it", () => {
    const spec = tinyCnn();
    spec.nodes[1] = node("Add", ["c1", "f1"], ["r1"], {}, "loop_add");
    assert.throws(() => buildGraph(load(spec)), /t\.onnx: the graph has a cycle: .*loop_add.* → /);
  });

  it("reports a dangling input naming the node and the value", () => {
    const spec = tinyCnn();
    spec.nodes[1] = node("Relu", ["ghost"], ["r1"], {}, "relu1");
    assert.throws(() => buildGraph(load(spec)), /node 'relu1' \(Relu\) reads 'ghost', which no node, graph input or initializer defines/);
  });

  it("treats Constant-node tensors as weights", () => {
    const spec = tinyCnn();
    spec.initializers = spec.initializers!.filter((t) => t.name !== "w1");
    spec.nodes.unshift(node("Constant", [], ["w1"], { value: floatTensor("w1", [4, 3, 3, 3]) }));
    const g = buildGraph(load(spec));
    assert.equal(g.values.get("w1")?.kind, "constant");
    assert.deepEqual(g.weight("w1")?.dims, [4n, 3n, 3n, 3n]);
  });

  it("sees outer values used inside If/Loop subgraphs as dependencies", () => {
    const thenG = create(GraphProtoSchema, { name: "then", node: [node("Relu", ["c1"], ["t_out"])], output: [valueInfo("t_out", undefined)] });
    const elseG = create(GraphProtoSchema, { name: "else", node: [node("Neg", ["c1"], ["e_out"])], output: [valueInfo("e_out", undefined)] });
    const ifNode = node("If", ["cond"], ["r1"], {}, "branch");
    ifNode.attribute.push(
      create(AttributeProtoSchema, { name: "then_branch", type: AttributeProto_AttributeType.GRAPH, g: thenG }),
      create(AttributeProtoSchema, { name: "else_branch", type: AttributeProto_AttributeType.GRAPH, g: elseG }),
    );
    const spec = tinyCnn();
    spec.inputs.push(valueInfo("cond", [], 9));
    spec.nodes[1] = ifNode;
    spec.nodes.reverse(); // the If comes before the Conv that feeds its branches
    const g = buildGraph(load(spec));
    const order = g.nodes.map((n) => n.opType);
    assert.ok(order.indexOf("Conv") < order.indexOf("If"));
    assert.deepEqual(g.nodes.find((n) => n.opType === "If")!.implicitInputs, ["c1"]);
    assert.ok(g.consumers("c1").some((u) => u.node.opType === "If" && u.slot === -1));
  });

  it("parses module scopes from names and from node metadata", () => {
    const n = node("Conv", [], ["y"], {}, "/layer1/layer1.0/conv1/Conv");
    assert.deepEqual(scopeOf(n).path, ["layer1", "layer1.0", "conv1"]);
    assert.equal(scopeOf(n).module, "layer1.0.conv1");
    const m = node("Conv", [], ["z"], {}, "conv2d_7");
    m.metadataProps.push(
      create(StringStringEntryProtoSchema, { key: "pkg.torch.onnx.name_scopes", value: "['', 'encoder', 'encoder.layers.0', 'self_attn']" }),
      create(StringStringEntryProtoSchema, { key: "pkg.torch.onnx.class_hierarchy", value: "['Model', 'Encoder', 'Layer', 'Attention']" }),
    );
    assert.deepEqual(scopeOf(m).path, ["encoder", "encoder.layers.0", "self_attn"]);
    assert.equal(scopeOf(m).module, "encoder.layers.0.self_attn");
    assert.deepEqual(scopeOf(m).classes, ["Encoder", "Layer", "Attention"]);
    assert.equal(modulePathOf(["features", "0", "block"]), "features.0.block");
  });

  it("refuses a graph output nothing produces", () => {
    const spec = tinyCnn();
    spec.outputs.push(valueInfo("nothing", [1]));
    assert.throws(() => buildGraph(loadModel(encodeBytes(ModelProtoSchema, model(spec)), { name: "t.onnx" })), /graph output 'nothing' is not produced/);
  });
});
