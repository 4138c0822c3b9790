/**
 * Rewriting the constants and attributes that count channels: shape entries (Reshape, Expand,
 * Resize sizes, ConstantOfShape), Split sizes, Slice bounds, Gather indices, `group` / `num_groups` /
 * `num_heads`, and channel shuffles (replaced by one Gather). New constants are per-node copies, since
 * exporters share identical shape tensors between unrelated layers.
 */
import { create } from "@bufbuild/protobuf";
import { AttributeProtoSchema, AttributeProto_AttributeType, NodeProtoSchema } from "onnx-buf";
import { attrInt, attrInts } from "../../graph/attrs.ts";
import { sliceBounds } from "../../graph/shapes/ops/tensor.ts";
import { DataType } from "../../onnx/dtypes.ts";
import { fromNumbers, toInts, type TensorData } from "../../onnx/tensor.ts";
import type { GroupAnalysis, Rewrite } from "../types.ts";
import type { ModelEditor } from "./editor.ts";
import { countBelow, keptIndices } from "./resolve.ts";

const BIG = 2 ** 62;

function intData(dataType: number, dims: number[], values: number[]): TensorData {
  if (dataType === DataType.INT32) return { dataType, dims, data: Int32Array.from(values) };
  return { dataType: DataType.INT64, dims, data: BigInt64Array.from(values.map((v) => BigInt(Math.max(-BIG, Math.min(BIG, v))))) };
}

export function applyRewrites(ed: ModelEditor, analysis: GroupAnalysis, removed: Map<number, number[]>, candidates: Set<string>): number {
  const cut = (axis: number) => removed.get(axis) ?? [];
  // A shape computed at run time but static in this model is written as a constant even when none of its
  // own axes lose indices: it may read the dims of tensors that do (Swin V2's attention output reshaped
  // with the residual width C read from x, while its heads stay whole).
  const computedShape = (r: Rewrite) => r.kind === "shape-entry" && !!(r.extra as { values?: number[] } | undefined)?.values;
  const active = analysis.rewrites.filter((r) => r.kind === "fold-value" || computedShape(r) || r.axes.some((a) => cut(a).length > 0));
  // shape entries: grouped by the constant they live in.
  const entries = new Map<string, { node: string; slot: number; edits: [number, number][]; computed?: number[] }>();
  let count = 0;
  for (const r of active) {
    switch (r.kind) {
      case "shape-entry": {
        const t = r.target ?? { node: r.node, slot: r.slot!, index: r.entry! };
        const key = `${t.node}\u0000${t.slot}`;
        const computed = (r.extra as { values?: number[] } | undefined)?.values;
        const e = entries.get(key) ?? entries.set(key, { node: t.node, slot: t.slot, edits: [], computed }).get(key)!;
        e.edits.push([t.index, cut(r.axes[0]!).length]);
        break;
      }
      case "split-sizes":
        splitSizes(ed, r, analysis, cut, candidates);
        break;
      case "slice-bounds":
        sliceBoundsRewrite(ed, r, analysis, cut, candidates);
        break;
      case "gather-indices":
        gatherIndices(ed, r, cut, candidates);
        break;
      case "attribute": {
        const fixed = (r.extra as { float?: number } | undefined)?.float;
        if (fixed !== undefined) ed.setFloatAttr(r.node, r.attribute!, fixed);
        else ed.setIntAttr(r.node, r.attribute!, attrInt(ed.node(r.node), r.attribute!, 1) - cut(r.axes[0]!).length);
        break;
      }
      case "shuffle":
        shuffle(ed, r, analysis, cut, candidates);
        break;
      case "fold-value": {
        const x = r.extra as { values: number[]; dims: number[]; dataType: number };
        const old = ed.node(r.node).input[r.slot!]!;
        candidates.add(old);
        ed.setInput(r.node, r.slot!, ed.addInitializer(`${r.node}_${r.slot}_folded`, { dataType: x.dataType, dims: x.dims, data: fromNumbers(x.dataType, x.values) }));
        break;
      }
    }
    count++;
  }
  for (const e of entries.values()) {
    const name = ed.node(e.node).input[e.slot]!;
    // A computed (but static) shape becomes a constant; a constant one is copied for this node.
    const td = e.computed ? { dataType: DataType.INT64, dims: [e.computed.length], values: e.computed } : readInts(ed, name);
    const values = td.values.slice();
    for (const [i, minus] of e.edits) values[i] = values[i]! - minus;
    candidates.add(name);
    ed.setInput(e.node, e.slot, ed.addInitializer(`${e.node}_${e.slot}_pruned`, intData(td.dataType, td.dims, values)));
  }
  return count;
}

function readInts(ed: ModelEditor, name: string): { dataType: number; dims: number[]; values: number[] } {
  const src = weightName(ed, name);
  const td = ed.read(src);
  return { dataType: td.dataType, dims: [...td.dims], values: toInts(td) };
}

/** The stored tensor behind a name (through Identity nodes of the copy). */
function weightName(ed: ModelEditor, name: string): string {
  let cur = name;
  for (let i = 0; i < 64; i++) {
    if (ed.tensor(cur)) return cur;
    const p = ed.graph.node.find((n) => n.output.includes(cur));
    if (!p || p.opType !== "Identity") break;
    cur = p.input[0]!;
  }
  throw new Error(`apply: '${name}' is not a constant`);
}

function splitSizes(ed: ModelEditor, r: Rewrite, analysis: GroupAnalysis, cut: (a: number) => number[], candidates: Set<string>): void {
  const sizes = r.axes.map((a) => analysis.axes[a]!.size - cut(a).length);
  const opset = ed.source.opset("");
  if (opset < 13) {
    ed.setIntsAttr(r.node, "split", sizes);
    return;
  }
  const old = ed.node(r.node).input[1];
  if (old) candidates.add(old);
  ed.setInput(r.node, 1, ed.addInitializer(`${r.node}_split_pruned`, intData(DataType.INT64, [sizes.length], sizes)));
  ed.removeAttr(r.node, "num_outputs");
}

function sliceBoundsRewrite(ed: ModelEditor, r: Rewrite, analysis: GroupAnalysis, cut: (a: number) => number[], candidates: Set<string>): void {
  const x = analysis.axes[r.axes[0]!]!;
  const R = cut(r.axes[0]!);
  const i = r.entry!;
  const node = ed.node(r.node);
  const opset = ed.source.opset("");
  const extra = r.extra as { starts: number[]; ends: number[]; steps: number[] } | undefined;
  const get = (slot: number, attr: string) => (opset < 10 ? attrInts(node, attr)! : readInts(ed, node.input[slot]!).values);
  const starts = extra?.starts ?? get(1, "starts"), ends = extra?.ends ?? get(2, "ends");
  const steps = extra?.steps ?? (opset >= 10 && node.input[4] ? readInts(ed, node.input[4]!).values : starts.map(() => 1));
  const step = steps[i]!;
  const n = x.size;
  const b = sliceBounds(n, starts[i]!, ends[i]!, step);
  const ns = starts.slice(), ne = ends.slice();
  if (step > 0) {
    ns[i] = b.start - countBelow(R, b.start);
    ne[i] = ends[i]! >= n ? ends[i]! : b.end - countBelow(R, b.end);
  } else {
    ns[i] = b.start - countBelow(R, b.start + 1);
    ne[i] = b.end < 0 ? -BIG : b.end - countBelow(R, b.end + 1);
  }
  if (opset < 10) {
    ed.setIntsAttr(r.node, "starts", ns);
    ed.setIntsAttr(r.node, "ends", ne);
    return;
  }
  // Several entries of one Slice may be rewritten: read back what an earlier rewrite wrote.
  for (const [slot, vals, what] of [[1, ns, "starts"], [2, ne, "ends"]] as const) {
    const old = ed.node(r.node).input[slot]!;
    const prev = ed.tensor(old) ? readInts(ed, old).values : undefined;
    const merged = prev && prev.length === vals.length ? prev.map((v, k) => (k === i ? vals[k]! : v)) : vals;
    candidates.add(old);
    ed.setInput(r.node, slot, ed.addInitializer(`${r.node}_${what}_pruned`, intData(DataType.INT64, [merged.length], merged)));
  }
}

function gatherIndices(ed: ModelEditor, r: Rewrite, cut: (a: number) => number[], candidates: Set<string>): void {
  const Rx = cut(r.axes[0]!);
  const Ry = new Set(r.axes[1] !== undefined ? cut(r.axes[1]) : []);
  const name = ed.node(r.node).input[1]!;
  const td = readInts(ed, name);
  const out: number[] = [];
  td.values.forEach((v, j) => {
    if (Ry.has(j)) return;
    out.push(v - countBelow(Rx, v));
  });
  candidates.add(name);
  // Gather's 1-D indices, or ScatterND's [n, 1].
  const dims = td.dims.length === 0 ? [] : [out.length, ...td.dims.slice(1)];
  ed.setInput(r.node, 1, ed.addInitializer(`${r.node}_indices_pruned`, intData(td.dataType, dims, out)));
}

/** Replaces Reshape→Transpose→Reshape by Gather(x, kept channels in shuffled order). */
function shuffle(ed: ModelEditor, r: Rewrite, analysis: GroupAnalysis, cut: (a: number) => number[], candidates: Set<string>): void {
  const extra = r.extra as { nodes: [string, string, string]; axis: number; source: number[] };
  const [n1, n2, n3] = extra.nodes;
  const Rx = cut(r.axes[0]!), Ry = cut(r.axes[1]!);
  const y = analysis.axes[r.axes[1]!]!;
  const idx = keptIndices(y.size, Ry).map((j) => {
    const i = extra.source[j]!;
    return i - countBelow(Rx, i);
  });
  const first = ed.node(n1), last = ed.node(n3);
  candidates.add(first.input[1]!);
  candidates.add(last.input[1]!);
  const idxName = ed.addInitializer(`${n3}_shuffle`, intData(DataType.INT64, [idx.length], idx));
  const gather = create(NodeProtoSchema, {
    name: r.node,
    opType: "Gather",
    input: [first.input[0]!, idxName],
    output: [last.output[0]!],
    attribute: [create(AttributeProtoSchema, { name: "axis", type: AttributeProto_AttributeType.INT, i: BigInt(extra.axis) })],
  });
  ed.replaceNode(n3, gather);
  ed.dropNode(n1);
  ed.dropNode(n2);
}
