/**
 * Where a number in a shape tensor comes from: a constant we can rewrite (directly the node's input,
 * or one element of a constant fed through Concat/Unsqueeze/Cast), or a dimension read at run time
 * with Shape (which follows pruning by itself).
 */
import type { Graph, Node } from "../../graph/graph.ts";
import { attrInt } from "../../graph/attrs.ts";
import { weightSource } from "../../graph/metrics.ts";
import type { ShapeMap } from "../../graph/shapes/infer.ts";

export type EntrySource =
  | { kind: "const"; node: number; slot: number; index: number; tensor: string }
  | { kind: "dim"; value: string; axis: number };

const PASS = new Set(["Unsqueeze", "Squeeze", "Identity", "Cast", "Reshape", "Flatten"]);

export function traceEntry(graph: Graph, shapes: ShapeMap, consumer: Node, slot: number, k: number): EntrySource | undefined {
  return trace(graph, shapes, consumer, slot, k, 0);
}

function trace(graph: Graph, shapes: ShapeMap, consumer: Node, slot: number, k: number, depth: number, shared = false): EntrySource | undefined {
  const name = consumer.inputs[slot];
  if (!name || depth > 16) return undefined;
  const src = weightSource(graph, name);
  // A constant behind a computed shape value that other nodes also read cannot be rewritten for one of them.
  if (src) return shared ? undefined : { kind: "const", node: consumer.index, slot, index: k, tensor: src };
  const p = graph.producer(name);
  if (!p) return undefined;
  if (graph.consumers(name).length > 1) shared = true;
  if (PASS.has(p.opType)) return trace(graph, shapes, p, 0, k, depth + 1, shared);
  if (p.opType === "Concat") {
    let off = 0;
    for (let i = 0; i < p.inputs.length; i++) {
      const len = lengthOf(graph, shapes, p.inputs[i]!);
      if (len === undefined) return undefined;
      if (k < off + len) return trace(graph, shapes, p, i, k - off, depth + 1, shared);
      off += len;
    }
    return undefined;
  }
  if (p.opType === "Shape") {
    const start = attrInt(p.proto, "start", 0);
    const rank = shapes.types.get(p.inputs[0]!)?.shape?.length;
    if (rank === undefined) return undefined;
    const s = start < 0 ? start + rank : start;
    return { kind: "dim", value: p.inputs[0]!, axis: s + k };
  }
  if (p.opType === "Gather") {
    const data = graph.producer(p.inputs[0]!);
    const idx = shapes.values.get(p.inputs[1]!);
    if (!data || data.opType !== "Shape" || !idx) return undefined;
    const j = idx.values[idx.dims.length === 0 ? 0 : k];
    if (typeof j !== "number") return undefined;
    const rank = shapes.types.get(data.inputs[0]!)?.shape?.length;
    if (rank === undefined) return undefined;
    const start = attrInt(data.proto, "start", 0);
    return { kind: "dim", value: data.inputs[0]!, axis: (start < 0 ? start + rank : start) + (j < 0 ? j + rank : j) };
  }
  return undefined;
}

function lengthOf(graph: Graph, shapes: ShapeMap, name: string): number | undefined {
  const v = shapes.values.get(name);
  if (v) return v.values.length;
  const src = weightSource(graph, name);
  const s = src ? graph.weight(src)!.dims.map(Number) : shapes.types.get(name)?.shape;
  if (!s) return undefined;
  if (s.length === 0) return 1;
  return typeof s[0] === "number" && s.length === 1 ? s[0] : undefined;
}
