/**
 * Slicing the weights. A stored tensor may be read by several nodes (torch's deduplicated weights
 * fanned out through Identity, tied weights); each read is its own member. When every reader removes
 * the same indices the tensor is sliced in place; otherwise each distinct slicing becomes its own
 * initializer and the readers are rewired to it.
 */
import { weightSource } from "../../graph/metrics.ts";
import { sliceAxis, type TensorData } from "../../onnx/tensor.ts";
import { scalarsPerElement, type TypedArray } from "../../onnx/dtypes.ts";
import type { GroupAnalysis } from "../types.ts";
import type { ModelEditor } from "./editor.ts";
import { keptIndices } from "./resolve.ts";

export function sliceWeights(ed: ModelEditor, analysis: GroupAnalysis, removed: Map<number, number[]>, candidates: Set<string>): number {
  const graph = ed.source;
  // Which stored tensors lose indices, and the axis ids of each (node, slot, dim).
  const axisAt = new Map<string, number>();
  const touched = new Set<string>();
  for (const [id, list] of removed) {
    const a = analysis.axes[id]!;
    if (a.kind !== "weight" || !list.length) continue;
    axisAt.set(`${a.node}\u0000${a.slot}\u0000${a.axis}`, id);
    touched.add(a.tensor);
  }
  if (!touched.size) return 0;
  interface Use {
    node: string;
    slot: number;
    sig: string;
    cuts: (number[] | undefined)[];
  }
  const uses = new Map<string, Use[]>();
  for (const node of graph.nodes) {
    if (node.opType === "Identity") continue;
    node.inputs.forEach((name, slot) => {
      if (!name) return;
      const src = weightSource(graph, name);
      if (!src || !touched.has(src)) return;
      const rank = graph.weight(src)!.dims.length;
      const cuts: (number[] | undefined)[] = [];
      for (let d = 0; d < rank; d++) {
        const id = axisAt.get(`${node.name}\u0000${slot}\u0000${d}`);
        cuts.push(id === undefined ? undefined : removed.get(id));
      }
      const sig = cuts.map((c) => (c ? c.join(",") : "")).join("|");
      (uses.get(src) ?? uses.set(src, []).get(src)!).push({ node: node.name, slot, sig, cuts });
    });
  }
  let sliced = 0;
  for (const [src, list] of uses) {
    const sigs = new Map<string, Use[]>();
    for (const u of list) (sigs.get(u.sig) ?? sigs.set(u.sig, []).get(u.sig)!).push(u);
    const readsOutput = graph.outputs.some((o) => weightSource(graph, o) === src);
    const cut = (u: Use): TensorData => {
      const td = ed.read(src);
      const keep = u.cuts.map((c, d) => (c && c.length ? keptIndices(td.dims[d]!, c) : undefined));
      return sliceAxes(td, keep);
    };
    if (sigs.size === 1 && !readsOutput) {
      const u = list[0]!;
      if (u.cuts.some((c) => c && c.length)) {
        ed.write(src, cut(u));
        sliced++;
      }
      continue;
    }
    for (const group of sigs.values()) {
      const u = group[0]!;
      if (!u.cuts.some((c) => c && c.length)) continue;
      const name = ed.addInitializer(`${src}_pruned`, cut(u));
      sliced++;
      for (const v of group) {
        const old = ed.node(v.node).input[v.slot]!;
        candidates.add(old);
        candidates.add(src);
        ed.setInput(v.node, v.slot, name);
      }
    }
  }
  return sliced;
}

/**
 * Keeps the given indices on several axes at once (undefined: the whole axis), in one pass: every kept
 * run of the innermost cut axis is copied as one block. Falls back to sliceAxis for string and packed data.
 */
export function sliceAxes(td: TensorData, keep: (readonly number[] | undefined)[]): TensorData {
  const cutDims = keep.flatMap((k, d) => (k ? [d] : []));
  if (cutDims.length === 0) return td;
  if (Array.isArray(td.data) || cutDims.length === 1 || td.data.length !== td.dims.reduce((a, b) => a * b, 1) * scalarsPerElement(td.dataType)) {
    let out = td;
    keep.forEach((k, d) => {
      if (k) out = sliceAxis(out, d, k);
    });
    return out;
  }
  const dims = td.dims;
  const last = cutDims[cutDims.length - 1]!;
  // Elements below the last cut axis form contiguous blocks.
  let block = scalarsPerElement(td.dataType);
  for (let d = last + 1; d < dims.length; d++) block *= dims[d]!;
  const strides = new Array<number>(dims.length);
  let st = block;
  for (let d = last; d >= 0; d--) {
    strides[d] = st;
    st *= dims[d]!;
  }
  const lists = dims.slice(0, last + 1).map((n, d) => keep[d] ?? Array.from({ length: n }, (_, i) => i));
  const outDims = dims.map((n, d) => (keep[d] ? keep[d]!.length : n));
  const src = td.data as TypedArray;
  const out = new (src.constructor as new (n: number) => TypedArray)(outDims.reduce((a, b) => a * b, 1) * scalarsPerElement(td.dataType));
  let w = 0;
  const idx = new Array<number>(last + 1).fill(0);
  const lastList = lists[last]!;
  for (;;) {
    let base = 0;
    for (let d = 0; d < last; d++) base += lists[d]![idx[d]!]! * strides[d]!;
    // Copy runs of consecutive kept indices on the last cut axis as single blocks.
    for (let k = 0; k < lastList.length; ) {
      let e = k + 1;
      while (e < lastList.length && lastList[e] === lastList[e - 1]! + 1) e++;
      const from = base + lastList[k]! * block, len = (e - k) * block;
      // Short blocks (3×3 kernels) copy faster element by element than through a subarray view.
      if (len <= 64) for (let j = 0; j < len; j++) (out as Float32Array)[w + j] = (src as Float32Array)[from + j]!;
      else (out as Float32Array).set((src as Float32Array).subarray(from, from + len), w);
      w += len;
      k = e;
    }
    let d = last - 1;
    for (; d >= 0; d--) {
      if (++idx[d]! < lists[d]!.length) break;
      idx[d] = 0;
    }
    if (d < 0) break;
  }
  return { dataType: td.dataType, dims: outDims, data: out };
}
