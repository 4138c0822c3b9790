/**
 * A minimal selection, here until criteria/ lands (it will replace this module): per group, score each
 * unit by the L1 norm of its producer weights ("out" members; all members when a group has none) or at
 * random, and remove the lowest `ratio` of the prunable units, keeping at least one index on every axis
 * and, with roundTo, a kept count that is a multiple of it. Scopes matching a protect pattern are left alone.
 */
import type { Model } from "../../onnx/model.ts";
import { readTensor, toFloat32 } from "../../onnx/tensor.ts";
import { seededRandom } from "../../runtime/ort.ts";
import { indicesOf, type Group, type GroupAnalysis, type Plan } from "../types.ts";

export interface SimpleSelectOptions {
  ratio: number;
  criterion?: "l1" | "random";
  roundTo?: number;
  /** Regular expressions matched against a group's scope, key and member tensors. */
  protect?: string[];
  seed?: number;
}

/** L1 of every index along `dim` of a tensor. */
export function axisL1(model: Model, tensor: import("onnx-buf").TensorProto, dim: number): Float64Array {
  const td = readTensor(model, tensor);
  const v = toFloat32(td);
  const dims = td.dims;
  let inner = 1;
  for (let i = dim + 1; i < dims.length; i++) inner *= dims[i]!;
  const size = dims[dim]!;
  const outer = size && inner ? v.length / (size * inner) : 0;
  const out = new Float64Array(size);
  let k = 0;
  for (let o = 0; o < outer; o++)
    for (let i = 0; i < size; i++) {
      let s = 0;
      for (let j = 0; j < inner; j++) s += Math.abs(v[k++]!);
      out[i] += s;
    }
  return out;
}

export function unitScores(model: Model, tensors: (name: string) => import("onnx-buf").TensorProto | undefined, g: Group): Float64Array {
  const scores = new Float64Array(g.units);
  const members = g.members.filter((m) => m.role === "out");
  for (const m of members.length ? members : g.members) {
    const t = tensors(m.tensor);
    if (!t) continue;
    let l1: Float64Array;
    try {
      l1 = axisL1(model, t, m.dim);
    } catch {
      continue;
    }
    for (let u = 0; u < g.units; u++) {
      const idx = indicesOf(m.indices, u);
      if (!idx.length) continue;
      let s = 0;
      for (const i of idx) s += l1[i]!;
      scores[u] += s / idx.length;
    }
  }
  return scores;
}

export function isProtected(g: Group, patterns: RegExp[]): boolean {
  return patterns.some((p) => p.test(g.scope) || p.test(g.key) || g.members.some((m) => p.test(m.tensor) || p.test(m.node)));
}

/** How many units of the group may go without emptying any member or rewrite axis, trying them in `order`. */
function feasible(g: Group, order: number[], want: number): number[] {
  const axes = [...g.members.map((m) => ({ map: m.indices, axis: m.axis })), ...g.rewrites.map((r) => ({ map: r.indices, axis: r.axis }))];
  const covered = axes.map(() => new Set<number>());
  const sizes = axes.map((a) => {
    const all = new Set<number>();
    for (let u = 0; u < g.units; u++) for (const i of indicesOf(a.map, u)) all.add(i);
    return all.size;
  });
  const chosen: number[] = [];
  for (const u of order) {
    if (chosen.length >= want) break;
    const adds = axes.map((a) => indicesOf(a.map, u));
    // Every axis the group touches must keep at least one index it maps (other groups' indices aside).
    if (adds.some((idx, k) => idx.length && new Set([...covered[k]!, ...idx]).size >= sizes[k]!)) continue;
    adds.forEach((idx, k) => idx.forEach((i) => covered[k]!.add(i)));
    chosen.push(u);
  }
  return chosen.sort((a, b) => a - b);
}

export function simpleSelect(model: Model, analysis: GroupAnalysis, opts: SimpleSelectOptions): Plan {
  const patterns = (opts.protect ?? []).map((p) => new RegExp(p));
  const rnd = seededRandom(opts.seed ?? 1);
  const init = new Map(model.proto.graph!.initializer.map((t) => [t.name, t]));
  const constants = new Map<string, import("onnx-buf").TensorProto>();
  for (const n of model.proto.graph!.node)
    if (n.opType === "Constant") {
      const t = n.attribute.find((a) => a.name === "value")?.t;
      if (t) constants.set(n.output[0]!, t);
    }
  const tensors = (name: string) => init.get(name) ?? constants.get(name);
  const groups: Plan["groups"] = [];
  for (const g of analysis.groups) {
    if (isProtected(g, patterns)) continue;
    const frozen = new Set(g.frozen ? (g.frozen.units ?? Array.from({ length: g.units }, (_, u) => u)) : []);
    const free = Array.from({ length: g.units }, (_, u) => u).filter((u) => !frozen.has(u));
    if (!free.length) continue;
    let want = Math.floor(opts.ratio * g.units);
    if (opts.roundTo && opts.roundTo > 1) {
      const keep = Math.max(opts.roundTo, Math.ceil((g.units - want) / opts.roundTo) * opts.roundTo);
      want = Math.max(0, g.units - keep);
    }
    want = Math.min(want, free.length, g.units - 1);
    if (want <= 0) continue;
    let order: number[];
    if (opts.criterion === "random") {
      order = free.slice();
      for (let i = order.length - 1; i > 0; i--) {
        const j = Math.floor(rnd() * (i + 1));
        [order[i], order[j]] = [order[j]!, order[i]!];
      }
    } else {
      const s = unitScores(model, tensors, g);
      order = free.slice().sort((a, b) => s[a]! - s[b]! || a - b);
    }
    const prune = feasible(g, order, want);
    if (prune.length) groups.push({ key: g.key, id: g.id, prune });
  }
  return {
    version: 1,
    model: analysis.model,
    criterion: opts.criterion ?? "l1",
    settings: { ratio: opts.ratio, target: "channels", scope: "local", roundTo: opts.roundTo, protect: opts.protect },
    seed: opts.seed,
    groups,
    note: "selected by select/simpleL1.ts (placeholder until criteria/)",
  };
}
