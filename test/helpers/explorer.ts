/**
 * Test data for the explorer's dependency-group overlay, until the engine's own groups (issue 3) land:
 * channel groups coupled by residual Adds, found by a union of tensors through channel-preserving ops.
 * Only for tests: the real analysis lives in analyzers/pruning.
 */
import { create } from "@bufbuild/protobuf";
import { AttributeProto_AttributeType as AT, AttributeProtoSchema, FunctionProtoSchema, GraphProtoSchema, OperatorSetIdProtoSchema, type ModelProto } from "onnx-buf";
import type { Graph } from "../../analyzers/graph/graph.ts";
import type { DependencyGroupInput } from "../../analyzers/explorer/types.ts";
import { model, node, valueInfo } from "./build.ts";

const PRESERVING = new Set(["BatchNormalization", "Relu", "MaxPool", "Identity", "Add"]);

export function residualGroups(graph: Graph): DependencyGroupInput[] {
  const parent = new Map<string, string>();
  const find = (x: string): string => {
    let r = x;
    while (parent.has(r) && parent.get(r) !== r) r = parent.get(r)!;
    parent.set(x, r);
    return r;
  };
  const union = (a: string, b: string) => {
    const ra = find(a), rb = find(b);
    if (ra !== rb) parent.set(ra, rb);
  };
  const activation = (name: string) => !!name && !graph.weight(name);
  for (const n of graph.nodes) {
    if (!PRESERVING.has(n.opType)) continue;
    const ins = n.inputs.filter(activation);
    for (const i of ins) union(i, n.outputs[0]!);
  }
  const classes = new Map<string, { members: DependencyGroupInput["members"]; hasAdd: boolean; label: string }>();
  const cls = (t: string) => {
    const r = find(t);
    let c = classes.get(r);
    if (!c) classes.set(r, (c = { members: [], hasAdd: false, label: "" }));
    return c;
  };
  for (const n of graph.nodes) {
    const out = n.outputs[0];
    if (out) {
      const c = cls(out);
      c.members.push({ node: n.name, tensor: out, axis: 1, role: "out" });
      if (n.opType === "Add") {
        c.hasAdd = true;
        c.label ||= n.scope.module || n.name;
      }
    }
    if (n.opType === "Conv" || n.opType === "Gemm") {
      const x = n.inputs[0]!;
      if (activation(x)) cls(x).members.push({ node: n.name, tensor: x, axis: 1, role: "in" });
    }
  }
  return [...classes.values()]
    .filter((c) => c.hasAdd)
    .map((c, i) => ({ id: `res${i}`, label: `residual ${c.label}`, members: c.members, frozen: i === 0 ? [] : undefined }));
}

/** A model calling a local function ("Block": Relu → Neg) and branching with If (two bodies). */
export function functionAndIfModel(): ModelProto {
  const fn = create(FunctionProtoSchema, {
    name: "Block",
    domain: "local",
    input: ["i"],
    output: ["o"],
    node: [node("Relu", ["i"], ["t"], {}, "relu"), node("Neg", ["t"], ["o"], {}, "neg")],
    opsetImport: [create(OperatorSetIdProtoSchema, { domain: "", version: 17n })],
  });
  const thenG = create(GraphProtoSchema, { name: "then", node: [node("Identity", ["a"], ["ta"], {}, "then_id")], output: [valueInfo("ta", [1, 4])] });
  const elseG = create(GraphProtoSchema, { name: "else", node: [node("Neg", ["a"], ["ea"], {}, "else_neg")], output: [valueInfo("ea", [1, 4])] });
  const ifNode = node("If", ["cond"], ["y"], {}, "branch");
  ifNode.attribute = [
    create(AttributeProtoSchema, { name: "then_branch", type: AT.GRAPH, g: thenG }),
    create(AttributeProtoSchema, { name: "else_branch", type: AT.GRAPH, g: elseG }),
  ];
  const call = node("Block", ["x"], ["a"], {}, "call_block");
  call.domain = "local";
  const m = model({ inputs: [valueInfo("x", [1, 4]), valueInfo("cond", [], 9)], outputs: [valueInfo("y", [1, 4])], nodes: [call, ifNode] });
  m.functions = [fn];
  m.opsetImport.push(create(OperatorSetIdProtoSchema, { domain: "local", version: 1n }));
  return m;
}
