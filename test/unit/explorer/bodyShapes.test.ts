import assert from "node:assert/strict";
import { create } from "@bufbuild/protobuf";
import { AttributeProto_AttributeType as AT, AttributeProtoSchema, GraphProtoSchema, ModelProtoSchema } from "onnx-buf";
import { buildGraph } from "../../../analyzers/graph/graph.ts";
import { loadModel } from "../../../analyzers/onnx/index.ts";
import { encodeBytes } from "../../../analyzers/onnx/encode.ts";
import { createExplorerSession, type ExplorerSession } from "../../../analyzers/explorer/index.ts";
import { floatTensor, int64Tensor, model, node, valueInfo } from "../../helpers/build.ts";
import { functionAndIfModel } from "../../helpers/explorer.ts";

const graphAttr = (name: string, g: ReturnType<typeof create<typeof GraphProtoSchema>>) => create(AttributeProtoSchema, { name, type: AT.GRAPH, g });

/**
 * x: 1×4. An If whose branches read x from the outer scope (then: MatMul by a 4×8 weight, Relu; else:
 * MatMul by another, Abs), and a Loop carrying v (initially x) through v + v. No body declares the
 * types of its intermediates, as exporters usually leave them out.
 */
function bodiesModel(): ExplorerSession {
  const thenG = create(GraphProtoSchema, {
    name: "then",
    initializer: [floatTensor("wt", [4, 8])],
    node: [node("MatMul", ["x", "wt"], ["tm"], {}, "then_matmul"), node("Relu", ["tm"], ["tr"], {}, "then_relu")],
    output: [valueInfo("tr", undefined)],
  });
  const elseG = create(GraphProtoSchema, {
    name: "else",
    initializer: [floatTensor("we", [4, 8])],
    node: [node("MatMul", ["x", "we"], ["em"], {}, "else_matmul"), node("Abs", ["em"], ["ea"], {}, "else_abs")],
    output: [valueInfo("ea", undefined)],
  });
  const ifNode = node("If", ["cond"], ["y"], {}, "branch");
  ifNode.attribute = [graphAttr("then_branch", thenG), graphAttr("else_branch", elseG)];
  // Loop body inputs declare element types but no shapes: (iteration, condition, v).
  const body = create(GraphProtoSchema, {
    name: "body",
    input: [valueInfo("i", undefined, 7), valueInfo("c", undefined, 9), valueInfo("v", undefined)],
    node: [node("Add", ["v", "v"], ["v2"], {}, "loop_add"), node("Identity", ["c"], ["c2"], {}, "loop_cond")],
    output: [valueInfo("c2", undefined, 9), valueInfo("v2", undefined)],
  });
  const loop = node("Loop", ["trips", "cond", "x"], ["vout"], {}, "loop");
  loop.attribute = [graphAttr("body", body)];
  const m = model({
    inputs: [valueInfo("x", [1, 4]), valueInfo("cond", [], 9)],
    outputs: [valueInfo("y", undefined), valueInfo("vout", undefined)],
    initializers: [int64Tensor("trips", [3], [])],
    nodes: [ifNode, loop],
  });
  return createExplorerSession(buildGraph(loadModel(encodeBytes(ModelProtoSchema, m), { name: "bodies.onnx" })));
}

const outShape = (s: ExplorerSession, name: string) => s.node({ id: s.locate({ name }).id }).outputs[0]!.shape;

describe("explorer: shapes inside subgraph bodies", () => {
  it("infers the shapes in If branches from the outer values they read", () => {
    const s = bodiesModel();
    assert.deepEqual(outShape(s, "then_matmul"), [1, 8]);
    assert.deepEqual(outShape(s, "then_relu"), [1, 8]);
    assert.deepEqual(outShape(s, "else_abs"), [1, 8]);
    // The weight read inside the branch has its dims, the MatMul's input x its outer shape.
    const mm = s.node({ id: s.locate({ name: "then_matmul" }).id });
    assert.deepEqual(mm.inputs.map((t) => t.shape), [[1, 4], [4, 8]]);
  });

  it("shapes a Loop body's formal inputs from the Loop (iteration, condition, carried values)", () => {
    const s = bodiesModel();
    assert.deepEqual(outShape(s, "loop_add"), [1, 4]);
    const add = s.node({ id: s.locate({ name: "loop_add" }).id });
    assert.equal(add.inputs[0]!.dataType, "float32");
    const cond = s.node({ id: s.locate({ name: "loop_cond" }).id });
    assert.deepEqual(cond.outputs[0]!.shape, []);
    assert.equal(cond.outputs[0]!.dataType, "bool");
  });

  it("types a local function's body from the call's inputs", () => {
    const s = createExplorerSession(buildGraph(loadModel(encodeBytes(ModelProtoSchema, functionAndIfModel()), { name: "fn.onnx" })));
    assert.deepEqual(outShape(s, "relu"), [1, 4]);
    assert.deepEqual(outShape(s, "neg"), [1, 4]);
  });
});
