/**
 * Slicing the weights. A stored tensor may be read by several nodes (torch's deduplicated weights
 * fanned out through Identity, tied weights); each read is its own member. When every reader removes
 * the same indices the tensor is sliced in place; otherwise each distinct slicing becomes its own
 * initializer and the readers are rewired to it.
 */
import { weightSource } from "../../graph/metrics.ts";
import { sliceAxis, type TensorData } from "../../onnx/tensor.ts";
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
      let td = ed.read(src);
      u.cuts.forEach((c, d) => {
        if (c && c.length) td = sliceAxis(td, d, keptIndices(td.dims[d]!, c));
      });
      return td;
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
