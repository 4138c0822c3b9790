/**
 * Test data for the explorer's dependency-group overlay, until the engine's own groups (issue 3) land:
 * channel groups coupled by residual Adds, found by a union of tensors through channel-preserving ops.
 * Only for tests: the real analysis lives in analyzers/pruning.
 */
import type { Graph } from "../../analyzers/graph/graph.ts";
import type { DependencyGroupInput } from "../../analyzers/explorer/types.ts";

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
