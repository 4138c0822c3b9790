/**
 * findGroups: the dependency-group analysis of a graph. Rules record how every node couples the axes
 * of its tensors (rules/), channel shuffles are recognised first as exact permutations, graph inputs and
 * outputs and unknown operators freeze what they touch, and solve.ts turns it all into groups.
 */
import type { Graph } from "../../graph/graph.ts";
import { computeMetrics, type Metrics } from "../../graph/metrics.ts";
import type { ShapeMap } from "../../graph/shapes/infer.ts";
import { fingerprint } from "../fingerprint.ts";
import type { GroupAnalysis } from "../types.ts";
import { freezeNodeAxes, RuleContext, RuleError, valueSpace } from "./context.ts";
import { groupRuleFor } from "./registry.ts";
import { Relations } from "./relations.ts";
import { recordShuffles } from "./rules/shuffle.ts";
import { solve } from "./solve.ts";
import { foldValue, readsShape } from "./fold.ts";
import { dataTypeInfo } from "../../onnx/dtypes.ts";
import { weightSource } from "../../graph/metrics.ts";

export interface FindGroupsOptions {
  metrics?: Metrics;
}

export function findGroups(graph: Graph, shapes: ShapeMap, opts: FindGroupsOptions = {}): GroupAnalysis {
  const started = performance.now();
  const metrics = opts.metrics ?? computeMetrics(graph, shapes);
  const rel = recordRelations(graph, shapes, metrics);
  return solve({ rel, graph, metrics, fingerprint: fingerprint(graph, metrics), started });
}

export function recordRelations(graph: Graph, shapes: ShapeMap, metrics: Metrics): Relations {
  const rel = new Relations();
  const handled = recordShuffles(graph, shapes, rel);
  for (const node of graph.nodes) {
    if (handled.has(node.index)) continue;
    const key = node.domain ? `${node.domain}::${node.opType}` : node.opType;
    if (node.implicitInputs.length || node.proto.attribute.some((a) => a.g || a.graphs.length)) {
      freezeNodeAxes(graph, shapes, rel, node, { kind: "subgraph", text: `${node.opType} '${node.name}' has subgraphs` });
      continue;
    }
    const rule = groupRuleFor(node.domain, node.opType);
    if (!rule) {
      const list = rel.unsupported.get(key);
      if (list) list.push(node.name);
      else rel.unsupported.set(key, [node.name]);
      freezeNodeAxes(graph, shapes, rel, node, { kind: "unsupported", text: `no rule for operator ${key} ('${node.name}')` });
      continue;
    }
    const ctx = new RuleContext(graph, shapes, rel, node, metrics.perNode[node.index]?.macs ?? 0);
    try {
      rule(ctx);
    } catch (e) {
      const reason = e instanceof RuleError ? e.reason : { kind: "rule error", text: `${node.opType} '${node.name}': ${(e as Error).message}` };
      freezeNodeAxes(graph, shapes, rel, node, reason);
    }
  }
  recordShapeDerivedValues(graph, shapes, rel);
  // Sparse initializers hold (values, indices): slicing them is not supported, so their channels stay.
  const sparse = new Set(graph.proto.sparseInitializer.map((t) => t.values?.name).filter((n): n is string => !!n));
  if (sparse.size)
    rel.spaces.forEach((sp, id) => {
      if (sp.kind === "weight" && sparse.has(sp.tensor)) rel.freeze(id, { kind: "sparse", text: `'${sp.tensor}' is a sparse initializer` });
    });
  for (const name of graph.inputs) {
    const r = shapes.types.get(name)?.shape?.length ?? 0;
    for (let a = 0; a < r; a++) rel.freeze(valueSpace(graph, shapes, rel, name, a), { kind: "graph input", text: `reaches graph input '${name}'` });
  }
  for (const name of graph.outputs) {
    const r = shapes.types.get(name)?.shape?.length ?? 0;
    for (let a = 0; a < r; a++) rel.freeze(valueSpace(graph, shapes, rel, name, a), { kind: "graph output", text: `reaches graph output '${name}'` });
  }
  return rel;
}

/**
 * Float values computed from tensor shapes and consumed by arithmetic on data (a 1/√d scale read from
 * x.shape) would silently change when channels go: they are recorded as "fold-value" rewrites, and apply
 * writes their original value as a constant.
 */
function recordShapeDerivedValues(graph: Graph, shapes: ShapeMap, rel: Relations): void {
  const done = new Set<string>();
  for (const node of graph.nodes) {
    // Shape and Size read only the (static) shape: a constant there is dead weight, and a dead one when
    // apply folds the Shape's own readers.
    if (node.opType === "Shape" || node.opType === "Size") continue;
    node.inputs.forEach((name, slot) => {
      if (!name || done.has(`${node.index}:${slot}`) || weightSource(graph, name)) return;
      const t = shapes.types.get(name);
      if (!t || !dataTypeInfo(t.dataType)?.isFloat) return;
      const p = graph.producer(name);
      if (!p || p.opType === "Constant") return;
      if (!readsShape(graph, name)) return;
      const v = foldValue(graph, shapes, name);
      if (!v || v.values.length > 64) return;
      // Only where the chain ends: the consumer's own result is data, not another folded scalar.
      const out = node.outputs[0];
      if (out && shapes.types.get(out) && dataTypeInfo(shapes.types.get(out)!.dataType)?.isFloat && foldValue(graph, shapes, out)) return;
      done.add(`${node.index}:${slot}`);
      rel.rewrites.push({ kind: "fold-value", node: node.index, slot, spaces: [], current: `${name} = ${JSON.stringify(v.values)}`, extra: { values: v.values, dims: v.dims, dataType: t.dataType } });
    });
  }
}
