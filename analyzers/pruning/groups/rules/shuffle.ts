/**
 * Channel shuffle: Reshape (split one axis into several) → Transpose (permute only those) → Reshape
 * (merge them back into one axis). The three nodes are one exact permutation of channels: output index
 * π(i) is input index i. Any subset of channels can then be pruned; apply replaces the three nodes with
 * a Gather of the surviving channels in shuffled order (rewrite "shuffle").
 */
import type { Graph, Node } from "../../../graph/graph.ts";
import type { ShapeMap } from "../../../graph/shapes/infer.ts";
import { permOf, RuleContext } from "../context.ts";
import type { Relations } from "../relations.ts";
import { alignShapes } from "./reshape.ts";

export interface Shuffle {
  nodes: [Node, Node, Node];
  /** Axis of the first Reshape's input that is split, and of the last Reshape's output it merges into. */
  axisIn: number;
  axisOut: number;
  /** Output index of input index i. */
  perm: number[];
  /** Other axes: input axis → output axis. */
  pass: [number, number][];
}

function only(graph: Graph, value: string, op: string): Node | undefined {
  const uses = graph.consumers(value);
  if (uses.length !== 1 || graph.value(value)?.isOutput) return undefined;
  const n = uses[0]!.node;
  return n.opType === op && uses[0]!.slot === 0 ? n : undefined;
}

export function matchShuffle(graph: Graph, shapes: ShapeMap, r1: Node): Shuffle | undefined {
  if (r1.opType !== "Reshape") return undefined;
  const t = only(graph, r1.outputs[0]!, "Transpose");
  if (!t) return undefined;
  const r2 = only(graph, t.outputs[0]!, "Reshape");
  if (!r2) return undefined;
  const x = shapes.types.get(r1.inputs[0]!)?.shape, y1 = shapes.types.get(r1.outputs[0]!)?.shape;
  const t1 = shapes.types.get(t.outputs[0]!)?.shape, y2 = shapes.types.get(r2.outputs[0]!)?.shape;
  if (!x || !y1 || !t1 || !y2) return undefined;
  const a1 = alignShapes(x, y1), a2 = alignShapes(t1, y2);
  if (a1.restA.length || a1.restB.length || a2.restA.length || a2.restB.length) return undefined;
  const splits = a1.chunks.filter((c) => c.b.length > 1);
  const merges = a2.chunks.filter((c) => c.a.length > 1);
  if (splits.length !== 1 || merges.length !== 1) return undefined;
  const split = splits[0]!, merge = merges[0]!;
  if (split.a.length !== 1 || merge.b.length !== 1) return undefined;
  if (a1.chunks.some((c) => c !== split && c.a.length !== c.b.length) || a2.chunks.some((c) => c !== merge && c.a.length !== c.b.length)) return undefined;
  const perm = permOf(t, y1.length);
  // The transposed split axes must be exactly the merged ones; all other axes stay put.
  const splitSet = new Set(split.b);
  const moved = merge.a.map((k) => perm[k]!);
  if (moved.length !== split.b.length || !moved.every((p) => splitSet.has(p))) return undefined;
  for (let k = 0; k < perm.length; k++) if (!splitSet.has(perm[k]!) && perm[k] !== k) return undefined;
  const radices = split.b.map((b) => y1[b]);
  if (radices.some((d) => typeof d !== "number")) return undefined;
  const r = radices as number[];
  const C = r.reduce((p, d) => p * d, 1);
  // Output index of input i: digits of i in the split order, re-read in the transposed order.
  const outRadices = moved.map((p) => r[split.b.indexOf(p)]!);
  const permOut: number[] = new Array(C);
  const digits = new Array<number>(r.length);
  for (let i = 0; i < C; i++) {
    let rem = i;
    for (let d = r.length - 1; d >= 0; d--) {
      digits[d] = rem % r[d]!;
      rem = Math.floor(rem / r[d]!);
    }
    let j = 0;
    for (let m = 0; m < moved.length; m++) j = j * outRadices[m]! + digits[split.b.indexOf(moved[m]!)]!;
    permOut[i] = j;
  }
  // Pass-through axes: x axis → y1 axis → transposed position → y2 axis.
  const pass: [number, number][] = [];
  for (const c of a1.chunks) {
    if (c === split) continue;
    for (let n = 0; n < c.a.length; n++) {
      const k = perm.indexOf(c.b[n]!);
      const ch = a2.chunks.find((c2) => c2 !== merge && c2.a.includes(k));
      if (!ch) return undefined;
      pass.push([c.a[n]!, ch.b[ch.a.indexOf(k)]!]);
    }
  }
  return { nodes: [r1, t, r2], axisIn: split.a[0]!, axisOut: merge.b[0]!, perm: permOut, pass };
}

/** Records the shuffles of the graph; returns the nodes they cover (their own rules are skipped). */
export function recordShuffles(graph: Graph, shapes: ShapeMap, rel: Relations): Set<number> {
  const handled = new Set<number>();
  for (const node of graph.nodes) {
    if (handled.has(node.index)) continue;
    const s = matchShuffle(graph, shapes, node);
    if (!s) continue;
    const [r1, t, r2] = s.nodes;
    const c1 = new RuleContext(graph, shapes, rel, r1), c2 = new RuleContext(graph, shapes, rel, r2);
    const x = c1.in(0, s.axisIn), y = c2.out(0, s.axisOut);
    c1.link(x, y, s.perm.map((_, i) => i), s.perm);
    for (const [a, b] of s.pass) c1.same(c1.in(0, a), c2.out(0, b));
    const inverse: number[] = new Array(s.perm.length);
    s.perm.forEach((j, i) => (inverse[j] = i));
    c2.rewrite("shuffle", [x, y], `channel shuffle of ${s.perm.length}`, {
      extra: { nodes: [r1.name, t.name, r2.name], axis: s.axisIn, source: inverse },
    });
    handled.add(r1.index).add(t.index).add(r2.index);
  }
  return handled;
}
