/**
 * Values of small integer tensors that shape inference leaves unfolded (n-d Slice, Transpose, Concat of
 * matrices…): exporters compute Pad pads and Slice bounds with such chains (torchvision's Swin pads its
 * windows with pads built by ConstantOfShape → Concat → Reshape → Slice(step −1) → Transpose). Folding
 * them lets the rules read constants instead of freezing the channels behind them.
 */
import type { Graph } from "../../graph/graph.ts";
import { attr, attrInt, attrInts } from "../../graph/attrs.ts";
import type { ShapeMap } from "../../graph/shapes/infer.ts";
import { binaryFold, gatherFold, intsOf, isIntType, MAX_FOLD_ELEMENTS, type KnownValue } from "../../graph/shapes/values.ts";
import { readTensor, toFloat64, toInts } from "../../onnx/tensor.ts";
import { weightSource } from "../../graph/metrics.ts";
import { DataType } from "../../onnx/dtypes.ts";

const caches = new WeakMap<ShapeMap, Map<string, KnownValue | undefined>>();

const ARITH: Record<string, (x: number, y: number) => number> = {
  Add: (x, y) => x + y,
  Sub: (x, y) => x - y,
  Mul: (x, y) => x * y,
  Div: (x, y) => (y === 0 ? NaN : x / y),
  Mod: (x, y) => (y === 0 ? NaN : ((x % y) + y) % y),
  Pow: (x, y) => x ** y,
  Max: Math.max,
  Min: Math.min,
};
const UNARY: Record<string, (x: number) => number> = {
  Sqrt: Math.sqrt,
  Reciprocal: (x) => 1 / x,
  Neg: (x) => -x,
  Abs: Math.abs,
  Floor: Math.floor,
  Ceil: Math.ceil,
};

const count = (dims: readonly number[]) => dims.reduce((a, b) => a * b, 1);

function strides(dims: readonly number[]): number[] {
  const s = new Array<number>(dims.length).fill(1);
  for (let i = dims.length - 2; i >= 0; i--) s[i] = s[i + 1]! * dims[i + 1]!;
  return s;
}

export function foldValue(graph: Graph, shapes: ShapeMap, name: string): KnownValue | undefined {
  let cache = caches.get(shapes);
  if (!cache) caches.set(shapes, (cache = new Map()));
  return fold(graph, shapes, name, cache, 0);
}

function fold(graph: Graph, shapes: ShapeMap, name: string, cache: Map<string, KnownValue | undefined>, depth: number): KnownValue | undefined {
  if (!name) return undefined;
  // Shape inference folds what it can while it runs; values it left partly unknown (dims it learned
  // later, from the onnxruntime fallback) are recomputed here from the final shapes.
  const known = shapes.values.get(name);
  if (known && known.values.every((x) => typeof x === "number")) return known;
  if (cache.has(name)) return cache.get(name);
  cache.set(name, undefined);
  let v: KnownValue | undefined;
  try {
    v = compute(graph, shapes, name, cache, depth);
  } catch {
    v = undefined;
  }
  if (v && (v.values.length > MAX_FOLD_ELEMENTS || v.values.some((x) => typeof x !== "number" || !Number.isFinite(x)))) v = undefined;
  cache.set(name, v);
  return v;
}

function compute(graph: Graph, shapes: ShapeMap, name: string, cache: Map<string, KnownValue | undefined>, depth: number): KnownValue | undefined {
  if (depth > 64) return undefined;
  const src = weightSource(graph, name);
  if (src) {
    const t = graph.weight(src)!;
    const dims = t.dims.map(Number);
    if (count(dims) > MAX_FOLD_ELEMENTS || t.dataType === DataType.STRING) return undefined;
    const td = readTensor(graph.model, t);
    return { dataType: t.dataType, dims, values: isIntType(t.dataType) ? toInts(td) : Array.from(toFloat64(td)) };
  }
  const n = graph.producer(name);
  if (!n) return undefined;
  const get = (i: number) => fold(graph, shapes, n.inputs[i] ?? "", cache, depth + 1);
  const nums = (v: KnownValue) => v.values as number[];
  switch (n.opType) {
    case "Shape": {
      const shape = shapes.types.get(n.inputs[0]!)?.shape;
      if (!shape || shape.some((d) => typeof d !== "number")) return undefined;
      const r = shape.length;
      const norm = (v: number) => Math.min(Math.max(v < 0 ? v + r : v, 0), r);
      const start = norm(attrInt(n.proto, "start", 0)), end = norm(attrInt(n.proto, "end", r));
      const vals = (shape as number[]).slice(start, end);
      return { dataType: DataType.INT64, dims: [vals.length], values: vals };
    }
    case "Identity":
      return get(0);
    case "Cast": {
      const x = get(0);
      if (!x) return undefined;
      const to = attrInt(n.proto, "to", x.dataType);
      return { ...x, dataType: to, values: isIntType(to) ? nums(x).map(Math.trunc) : x.values };
    }
    case "Reshape": {
      const x = get(0), s = intsOf(get(1));
      if (!x || !s) return undefined;
      const out = s.map((d, i) => (d === 0 ? x.dims[i]! : d));
      const neg = out.indexOf(-1);
      if (neg >= 0) out[neg] = count(x.dims) / count(out.filter((_, i) => i !== neg));
      return { ...x, dims: out };
    }
    case "Unsqueeze":
    case "Squeeze": {
      const x = get(0);
      const shape = shapes.types.get(name)?.shape;
      if (!x || !shape || shape.some((d) => typeof d !== "number")) return undefined;
      return { ...x, dims: shape as number[] };
    }
    case "Transpose": {
      const x = get(0);
      if (!x) return undefined;
      const r = x.dims.length;
      const perm = attrInts(n.proto, "perm") ?? Array.from({ length: r }, (_, i) => r - 1 - i);
      const dims = perm.map((p) => x.dims[p]!);
      const si = strides(x.dims), so = strides(dims);
      const out = new Array<number>(x.values.length);
      for (let k = 0; k < out.length; k++) {
        let rem = k, from = 0;
        for (let d = 0; d < r; d++) {
          const c = Math.floor(rem / so[d]!);
          rem -= c * so[d]!;
          from += c * si[perm[d]!]!;
        }
        out[k] = nums(x)[from]!;
      }
      return { dataType: x.dataType, dims, values: out };
    }
    case "Slice": {
      const x = get(0);
      const starts = intsOf(get(1)), ends = intsOf(get(2));
      if (!x || !starts || !ends) return undefined;
      const r = x.dims.length;
      const axes = (n.inputs[3] ? intsOf(get(3)) : starts.map((_, i) => i))?.map((a) => (a < 0 ? a + r : a));
      const steps = n.inputs[4] ? intsOf(get(4)) : starts.map(() => 1);
      if (!axes || !steps) return undefined;
      // Per axis: the list of source coordinates kept.
      const pick = x.dims.map((d) => Array.from({ length: d }, (_, i) => i));
      axes.forEach((a, i) => {
        const d = x.dims[a]!, st = steps[i]!;
        let s = starts[i]! < 0 ? starts[i]! + d : starts[i]!;
        let e = ends[i]! < 0 ? ends[i]! + d : ends[i]!;
        const list: number[] = [];
        if (st > 0) {
          s = Math.min(Math.max(s, 0), d);
          e = Math.min(Math.max(e, 0), d);
          for (let k = s; k < e; k += st) list.push(k);
        } else {
          s = Math.min(Math.max(s, 0), d - 1);
          e = Math.min(Math.max(e, -1), d - 1);
          for (let k = s; k > e; k += st) list.push(k);
        }
        pick[a] = list;
      });
      return gatherAll(x, pick);
    }
    case "Concat": {
      const parts = n.inputs.map((_, i) => get(i));
      if (parts.some((p) => !p)) return undefined;
      const r = parts[0]!.dims.length;
      const ax = (() => {
        const a = attrInt(n.proto, "axis", 0);
        return a < 0 ? a + r : a;
      })();
      const outer = count(parts[0]!.dims.slice(0, ax));
      const values: number[] = [];
      for (let o = 0; o < outer; o++)
        for (const p of parts) {
          const inner = count(p!.dims.slice(ax));
          values.push(...nums(p!).slice(o * inner, (o + 1) * inner));
        }
      const dims = parts[0]!.dims.slice();
      dims[ax] = parts.reduce((s, p) => s + p!.dims[ax]!, 0);
      return { dataType: parts[0]!.dataType, dims, values };
    }
    case "ConstantOfShape": {
      const s = intsOf(get(0));
      if (!s || count(s) > MAX_FOLD_ELEMENTS) return undefined;
      const t = attr(n.proto, "value")?.t;
      const fill = t ? (toInts(readTensor(graph.model, t))[0] ?? 0) : 0;
      return { dataType: t?.dataType ?? DataType.FLOAT, dims: s, values: new Array(count(s)).fill(fill) };
    }
    case "Gather": {
      const x = get(0), i = get(1);
      if (!x || !i) return undefined;
      return gatherFold(x, i, attrInt(n.proto, "axis", 0));
    }
  }
  const u = UNARY[n.opType];
  if (u) {
    const x = get(0);
    return x && { ...x, values: nums(x).map(u) };
  }
  const f = ARITH[n.opType];
  if (f) {
    const a = get(0), b = get(1);
    if (!a || !b) return undefined;
    // Integer division truncates (binaryFold truncates integer results).
    return binaryFold(a, b, f);
  }
  return undefined;
}

/** The sub-tensor at the Cartesian product of the given coordinates per axis. */
function gatherAll(x: KnownValue, pick: number[][]): KnownValue {
  const dims = pick.map((p) => p.length);
  const si = strides(x.dims);
  const out: number[] = [];
  const idx = new Array<number>(dims.length).fill(0);
  const total = count(dims);
  for (let k = 0; k < total; k++) {
    let from = 0;
    for (let d = 0; d < dims.length; d++) from += pick[d]![idx[d]!]! * si[d]!;
    out.push(x.values[from] as number);
    for (let d = dims.length - 1; d >= 0; d--) {
      if (++idx[d]! < dims[d]!) break;
      idx[d] = 0;
    }
  }
  return { dataType: x.dataType, dims, values: out };
}

const shapeReaders = new WeakMap<Graph, Map<string, boolean>>();

/** Whether a value is computed (somewhere up its producers) from a Shape or Size node. Memoised per graph. */
export function readsShape(graph: Graph, name: string): boolean {
  let memo = shapeReaders.get(graph);
  if (!memo) shapeReaders.set(graph, (memo = new Map()));
  const hit = memo.get(name);
  if (hit !== undefined) return hit;
  // Iterative post-order over producers (graphs can be deep).
  const stack: [string, number][] = [[name, 0]];
  memo.set(name, false);
  while (stack.length) {
    const top = stack[stack.length - 1]!;
    const p = graph.producer(top[0]);
    if (!p || p.opType === "Shape" || p.opType === "Size") {
      memo.set(top[0], !!p);
      stack.pop();
      continue;
    }
    const ins = p.inputs;
    let pushed = false;
    while (top[1] < ins.length) {
      const i = ins[top[1]++]!;
      if (i && !memo.has(i)) {
        memo.set(i, false);
        stack.push([i, 0]);
        pushed = true;
        break;
      }
    }
    if (pushed) continue;
    memo.set(top[0], ins.some((i) => !!i && memo!.get(i) === true));
    stack.pop();
  }
  return memo.get(name)!;
}
