/** Shape-manipulating ops: Concat, Split, Slice, Gather, Reshape, Transpose, Squeeze, Shape, Expand, Pad, Resize, reductions… */
import { DataType } from "../../../onnx/dtypes.ts";
import { attr, attrFloats, attrInt, attrInts, attrString } from "../../attrs.ts";
import type { Dim } from "../../graph.ts";
import { constantTensor } from "../../graph.ts";
import { addDims, broadcast, divideProducts, normAxis, productOf, productToDim } from "../dims.ts";
import { t, type OpContext, type RuleResult, type ShapeRule } from "../rule.ts";
import { gatherFold, intsOf, MAX_FOLD_ELEMENTS, scalarOf, type KnownValue } from "../values.ts";

const unknown = (c: OpContext, n = 1, dtype = c.dtype(0)): RuleResult => ({ types: new Array(n).fill(t(dtype, undefined)) });

/** Axes given as an attribute (older opsets) or as input `slot` (newer ones). */
function axesOf(c: OpContext, slot: number): number[] | undefined | "unknown" {
  const a = attrInts(c.proto, "axes");
  if (a) return a;
  if (c.has(slot)) return intsOf(c.value(slot)) ?? "unknown";
  return undefined;
}

const concat: ShapeRule = (c) => {
  const axis = attrInt(c.proto, "axis", 0);
  const shapes = Array.from({ length: c.inputCount }, (_, i) => c.shape(i));
  const first = shapes.find((s) => s !== undefined);
  if (!first || shapes.some((s) => !s)) return unknown(c);
  const ax = normAxis(axis, first.length);
  const out = first.slice();
  let sum: Dim = 0;
  for (const s of shapes) sum = addDims(sum, s![ax]);
  out[ax] = sum;
  for (let i = 0; i < out.length; i++) if (i !== ax && out[i] === undefined) out[i] = shapes.map((s) => s![i]).find((d) => d !== undefined);
  const res: RuleResult = { types: [t(c.dtype(0), out)] };
  const vals = Array.from({ length: c.inputCount }, (_, i) => c.value(i));
  if (vals.every((v) => v && v.dims.length === 1))
    res.values = [{ dataType: vals[0]!.dataType, dims: [vals.reduce((s, v) => s + v!.values.length, 0)], values: vals.flatMap((v) => v!.values) }];
  return res;
};

export function splitSizes(c: OpContext, dimSize: Dim, outputs: number): (Dim)[] {
  const fromAttr = attrInts(c.proto, "split");
  const fromInput = c.has(1) ? intsOf(c.value(1)) : undefined;
  const sizes = fromAttr ?? fromInput;
  if (sizes) return sizes;
  if (c.has(1)) return new Array(outputs).fill(undefined);
  const n = attrInt(c.proto, "num_outputs") ?? outputs;
  if (typeof dimSize !== "number") return new Array(outputs).fill(undefined);
  const chunk = Math.ceil(dimSize / n);
  return Array.from({ length: outputs }, (_, i) => Math.max(0, Math.min(chunk, dimSize - i * chunk)));
}

const split: ShapeRule = (c) => {
  const x = c.shape(0);
  const outputs = c.node.outputs.length;
  if (!x) return unknown(c, outputs);
  const ax = normAxis(attrInt(c.proto, "axis", 0), x.length);
  const sizes = splitSizes(c, x[ax], outputs);
  return { types: sizes.map((s) => t(c.dtype(0), x.map((d, i) => (i === ax ? s : d)))) };
};

/** Resolved (start, end, step) per axis for Slice, with ONNX's clamping rules. */
export function sliceBounds(dim: number, start: number, end: number, step: number): { start: number; end: number; step: number; count: number } {
  const clamp = (v: number, lo: number, hi: number) => Math.min(Math.max(v, lo), hi);
  let s = start < 0 ? start + dim : start;
  let e = end < 0 ? end + dim : end;
  if (step > 0) {
    s = clamp(s, 0, dim);
    e = clamp(e, 0, dim);
  } else {
    s = clamp(s, 0, dim - 1);
    e = clamp(e, -1, dim - 1);
  }
  const count = Math.max(0, Math.ceil((e - s) / step));
  return { start: s, end: e, step, count };
}

export interface SliceSpec {
  starts: number[];
  ends: number[];
  axes: number[];
  steps: number[];
}

export function sliceSpec(c: OpContext, rank: number): SliceSpec | undefined {
  let starts: number[] | undefined, ends: number[] | undefined, axes: number[] | undefined, steps: number[] | undefined;
  if (c.opset < 10) {
    starts = attrInts(c.proto, "starts");
    ends = attrInts(c.proto, "ends");
    axes = attrInts(c.proto, "axes");
  } else {
    starts = intsOf(c.value(1));
    ends = intsOf(c.value(2));
    axes = c.has(3) ? intsOf(c.value(3)) : undefined;
    steps = c.has(4) ? intsOf(c.value(4)) : undefined;
    if ((c.has(3) && !axes) || (c.has(4) && !steps)) return undefined;
  }
  if (!starts || !ends) return undefined;
  axes = (axes ?? starts.map((_, i) => i)).map((a) => normAxis(a, rank));
  steps = steps ?? starts.map(() => 1);
  return { starts, ends, axes, steps };
}

const slice: ShapeRule = (c) => {
  const x = c.shape(0);
  if (!x) return unknown(c);
  const spec = sliceSpec(c, x.length);
  if (!spec) return { types: [t(c.dtype(0), x.map(() => undefined))] };
  const out = x.slice();
  spec.axes.forEach((ax, i) => {
    const d = x[ax];
    if (typeof d !== "number") {
      // Slicing a symbolic dim to its full extent keeps it.
      const full = spec.starts[i] === 0 && spec.steps[i] === 1 && spec.ends[i]! >= 2 ** 31 - 1;
      out[ax] = full ? d : undefined;
      return;
    }
    out[ax] = sliceBounds(d, spec.starts[i]!, spec.ends[i]!, spec.steps[i]!).count;
  });
  const res: RuleResult = { types: [t(c.dtype(0), out)] };
  const v = c.value(0);
  if (v && v.dims.length === 1 && spec.axes.length === 1) {
    const b = sliceBounds(v.dims[0]!, spec.starts[0]!, spec.ends[0]!, spec.steps[0]!);
    const values: Dim[] = [];
    for (let k = 0, i = b.start; k < b.count; k++, i += b.step) values.push(v.values[i]);
    res.values = [{ dataType: v.dataType, dims: [values.length], values }];
  }
  return res;
};

const gather: ShapeRule = (c) => {
  const x = c.shape(0), idx = c.shape(1);
  if (!x || !idx) return unknown(c);
  const ax = normAxis(attrInt(c.proto, "axis", 0), x.length);
  const res: RuleResult = { types: [t(c.dtype(0), [...x.slice(0, ax), ...idx, ...x.slice(ax + 1)])] };
  const v = c.value(0), iv = c.value(1);
  if (v && iv) {
    const g = gatherFold(v, iv, ax);
    if (g) res.values = [g];
  }
  return res;
};

const reshape: ShapeRule = (c) => {
  const x = c.shape(0);
  const sv = c.value(1);
  const allowZero = attrInt(c.proto, "allowzero", 0) === 1;
  if (!sv) {
    const s = c.shape(1);
    return { types: [t(c.dtype(0), s && typeof s[0] === "number" ? new Array(s[0]).fill(undefined) : undefined)] };
  }
  const out: Dim[] = sv.values.map((d, i) => (d === 0 && !allowZero ? x?.[i] : d));
  const neg = out.findIndex((d) => d === -1);
  if (neg >= 0) {
    const total = x ? productOf(x) : undefined;
    const rest = productOf(out.filter((_, i) => i !== neg));
    const q = total && rest ? divideProducts(total, rest) : undefined;
    out[neg] = q ? productToDim(q) : undefined;
  }
  const res: RuleResult = { types: [t(c.dtype(0), out)] };
  const v = c.value(0);
  if (v && out.every((d) => typeof d === "number")) res.values = [{ ...v, dims: out as number[] }];
  return res;
};

const flatten: ShapeRule = (c) => {
  const x = c.shape(0);
  if (!x) return unknown(c);
  const ax = normAxis(attrInt(c.proto, "axis", 1), x.length);
  const a = productOf(x.slice(0, ax)), b = productOf(x.slice(ax));
  return { types: [t(c.dtype(0), [a ? productToDim(a) : undefined, b ? productToDim(b) : undefined])] };
};

const transpose: ShapeRule = (c) => {
  const x = c.shape(0);
  if (!x) return unknown(c);
  const perm = attrInts(c.proto, "perm") ?? x.map((_, i) => x.length - 1 - i);
  return { types: [t(c.dtype(0), perm.map((p) => x[p]))] };
};

const squeeze: ShapeRule = (c) => {
  const x = c.shape(0);
  const axes = axesOf(c, 1);
  if (!x || axes === "unknown") return unknown(c);
  const drop = new Set(axes ? axes.map((a) => normAxis(a, x.length)) : x.flatMap((d, i) => (d === 1 ? [i] : [])));
  const res: RuleResult = { types: [t(c.dtype(0), x.filter((_, i) => !drop.has(i)))] };
  const v = c.value(0);
  if (v) res.values = [{ ...v, dims: v.dims.filter((_, i) => !drop.has(i)) }];
  return res;
};

const unsqueeze: ShapeRule = (c) => {
  const x = c.shape(0);
  const axes = axesOf(c, 1);
  if (!x || axes === "unknown" || !axes) return unknown(c);
  const rank = x.length + axes.length;
  const ins = new Set(axes.map((a) => normAxis(a, rank)));
  const out: Dim[] = [];
  for (let i = 0, j = 0; i < rank; i++) out.push(ins.has(i) ? 1 : x[j++]);
  const res: RuleResult = { types: [t(c.dtype(0), out)] };
  const v = c.value(0);
  if (v) res.values = [{ ...v, dims: out as number[] }];
  return res;
};

const shape: ShapeRule = (c) => {
  const x = c.shape(0);
  if (!x) return { types: [t(DataType.INT64, [undefined])] };
  const rank = x.length;
  const clampAxis = (a: number) => Math.min(Math.max(a < 0 ? a + rank : a, 0), rank);
  const start = clampAxis(attrInt(c.proto, "start", 0));
  const end = clampAxis(attrInt(c.proto, "end", rank));
  const dims = x.slice(start, Math.max(start, end));
  return { types: [t(DataType.INT64, [dims.length])], values: [{ dataType: DataType.INT64, dims: [dims.length], values: dims }] };
};

const size: ShapeRule = (c) => {
  const x = c.shape(0);
  const p = x ? productOf(x) : undefined;
  return { types: [t(DataType.INT64, [])], values: p ? [{ dataType: DataType.INT64, dims: [], values: [productToDim(p)] }] : undefined };
};

const expand: ShapeRule = (c) => {
  const sv = c.value(1);
  const x = c.shape(0);
  if (!sv || !x) return unknown(c);
  const out = broadcast([x, sv.values]);
  const res: RuleResult = { types: [t(c.dtype(0), out)] };
  const v = c.value(0);
  if (v && out && out.every((d) => typeof d === "number")) {
    const n = (out as number[]).reduce((a, b) => a * b, 1);
    if (v.values.length === 1 && n <= MAX_FOLD_ELEMENTS) res.values = [{ dataType: v.dataType, dims: out as number[], values: new Array(n).fill(v.values[0]) }];
  }
  return res;
};

const tile: ShapeRule = (c) => {
  const x = c.shape(0), r = intsOf(c.value(1));
  if (!x || !r) return { types: [t(c.dtype(0), x?.map(() => undefined))] };
  return { types: [t(c.dtype(0), x.map((d, i) => (typeof d === "number" ? d * r[i]! : r[i] === 1 ? d : undefined)))] };
};

const pad: ShapeRule = (c) => {
  const x = c.shape(0);
  if (!x) return unknown(c);
  const pads = c.opset < 11 ? attrInts(c.proto, "pads") : intsOf(c.value(1));
  if (!pads) return { types: [t(c.dtype(0), x.map(() => undefined))] };
  const axesRaw = c.has(3) ? intsOf(c.value(3)) : undefined;
  if (c.has(3) && !axesRaw) return { types: [t(c.dtype(0), x.map(() => undefined))] };
  const axes = (axesRaw ?? x.map((_, i) => i)).map((a) => normAxis(a, x.length));
  const out = x.slice();
  axes.forEach((ax, i) => {
    const d = x[ax];
    out[ax] = typeof d === "number" ? d + pads[i]! + pads[i + axes.length]! : pads[i] === 0 && pads[i + axes.length] === 0 ? d : undefined;
  });
  return { types: [t(c.dtype(0), out)] };
};

const resize: ShapeRule = (c) => {
  const x = c.shape(0);
  if (!x) return unknown(c);
  // Resize-10 / Upsample: (X, scales). Resize-11+: (X, roi, scales, sizes).
  const scalesSlot = c.opset >= 11 && c.node.opType === "Resize" ? 2 : 1;
  const sizes = c.node.opType === "Resize" && c.opset >= 11 && c.has(3) ? intsOf(c.value(3)) : undefined;
  const axesAttr = attrInts(c.proto, "axes");
  const axes = (axesAttr ?? x.map((_, i) => i)).map((a) => normAxis(a, x.length));
  const out = x.slice();
  if (sizes) {
    axes.forEach((ax, i) => (out[ax] = sizes[i]));
    return { types: [t(c.dtype(0), out)] };
  }
  const scalesVal = c.has(scalesSlot) ? c.value(scalesSlot) : undefined;
  const scales = scalesVal?.values.every((v) => typeof v === "number") ? (scalesVal.values as number[]) : attrFloats(c.proto, "scales");
  if (!scales || scales.length === 0) return { types: [t(c.dtype(0), x.map(() => undefined))] };
  axes.forEach((ax, i) => {
    const d = x[ax];
    out[ax] = typeof d === "number" ? Math.floor(d * scales[i]!) : scales[i] === 1 ? d : undefined;
  });
  return { types: [t(c.dtype(0), out)] };
};

const constantOfShape: ShapeRule = (c) => {
  const sv = c.value(0);
  const valueT = attr(c.proto, "value")?.t;
  const dtype = valueT?.dataType ?? DataType.FLOAT;
  if (!sv) {
    const s = c.shape(0);
    return { types: [t(dtype, s && typeof s[0] === "number" ? new Array(s[0]).fill(undefined) : undefined)] };
  }
  const res: RuleResult = { types: [t(dtype, sv.values)] };
  if (sv.values.every((d) => typeof d === "number")) {
    const n = (sv.values as number[]).reduce((a, b) => a * b, 1);
    if (n <= MAX_FOLD_ELEMENTS) {
      const fill = valueT ? Number(valueT.int64Data[0] ?? valueT.floatData[0] ?? valueT.int32Data[0] ?? readScalarRaw(valueT.rawData, dtype)) : 0;
      res.values = [{ dataType: dtype, dims: sv.values as number[], values: new Array(n).fill(fill) }];
    }
  }
  return res;
};

function readScalarRaw(raw: Uint8Array, dtype: number): number {
  if (!raw || raw.byteLength === 0) return 0;
  const dv = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
  switch (dtype) {
    case DataType.INT64:
      return Number(dv.getBigInt64(0, true));
    case DataType.INT32:
      return dv.getInt32(0, true);
    case DataType.FLOAT:
      return dv.getFloat32(0, true);
    case DataType.DOUBLE:
      return dv.getFloat64(0, true);
    case DataType.BOOL:
    case DataType.UINT8:
      return raw[0]!;
  }
  return 0;
}

const range: ShapeRule = (c) => {
  const s = scalarOf(c.value(0)), l = scalarOf(c.value(1)), d = scalarOf(c.value(2));
  if (typeof s !== "number" || typeof l !== "number" || typeof d !== "number" || d === 0) return { types: [t(c.dtype(0), [undefined])] };
  const n = Math.max(Math.ceil((l - s) / d), 0);
  const res: RuleResult = { types: [t(c.dtype(0), [n])] };
  if (n <= MAX_FOLD_ELEMENTS) res.values = [{ dataType: c.dtype(0)!, dims: [n], values: Array.from({ length: n }, (_, i) => s + i * d) }];
  return res;
};

function reduceRule(axesSlotFromOpset: number): ShapeRule {
  return (c) => {
    const x = c.shape(0);
    if (!x) return unknown(c);
    const keep = attrInt(c.proto, "keepdims", 1) === 1;
    let axes: number[] | undefined | "unknown" = attrInts(c.proto, "axes");
    if (!axes && c.opset >= axesSlotFromOpset && c.has(1)) axes = intsOf(c.value(1)) ?? "unknown";
    if (axes === "unknown") return { types: [t(c.dtype(0), keep ? x.map(() => undefined) : undefined)] };
    const noop = attrInt(c.proto, "noop_with_empty_axes", 0) === 1;
    if (!axes || axes.length === 0) {
      if (noop) return { types: [c.type(0)] };
      axes = x.map((_, i) => i);
    }
    const set = new Set(axes.map((a) => normAxis(a, x.length)));
    const out = keep ? x.map((d, i) => (set.has(i) ? 1 : d)) : x.filter((_, i) => !set.has(i));
    const res: RuleResult = { types: [t(c.dtype(0), out)] };
    const v = c.value(0);
    if (v && v.dims.length === 1 && set.size === 1 && (c.node.opType === "ReduceProd" || c.node.opType === "ReduceSum")) {
      const p = productOf(v.values);
      const sum = v.values.every((d) => typeof d === "number") ? (v.values as number[]).reduce((a, b) => a + b, 0) : undefined;
      const r = c.node.opType === "ReduceProd" ? (p ? productToDim(p) : undefined) : sum;
      res.values = [{ dataType: v.dataType, dims: keep ? [1] : [], values: [r] }];
    }
    return res;
  };
}

const argReduce: ShapeRule = (c) => {
  const x = c.shape(0);
  if (!x) return unknown(c, 1, DataType.INT64);
  const ax = normAxis(attrInt(c.proto, "axis", 0), x.length);
  const keep = attrInt(c.proto, "keepdims", 1) === 1;
  return { types: [t(DataType.INT64, keep ? x.map((d, i) => (i === ax ? 1 : d)) : x.filter((_, i) => i !== ax))] };
};

const topk: ShapeRule = (c) => {
  const x = c.shape(0);
  const k = c.opset >= 10 ? scalarOf(c.value(1)) : attrInt(c.proto, "k");
  if (!x) return { types: [t(c.dtype(0), undefined), t(DataType.INT64, undefined)] };
  const ax = normAxis(attrInt(c.proto, "axis", -1), x.length);
  const out = x.map((d, i) => (i === ax ? k : d));
  return { types: [t(c.dtype(0), out), t(DataType.INT64, out)] };
};

/** numpy-style einsum with explicit output ("bhid,bhjd->bhij"); implicit outputs are sorted letters. */
const einsum: ShapeRule = (c) => {
  const eq = (attrString(c.proto, "equation") ?? "").replace(/\s/g, "");
  const [lhs, rhsRaw] = eq.split("->");
  const terms = (lhs ?? "").split(",");
  if (eq.includes("...")) return unknown(c);
  const sizes = new Map<string, Dim>();
  for (let i = 0; i < terms.length; i++) {
    const s = c.shape(i);
    if (!s) return unknown(c);
    [...terms[i]!].forEach((ch, k) => {
      const d = s[k];
      if (!sizes.has(ch) || sizes.get(ch) === 1 || sizes.get(ch) === undefined) sizes.set(ch, d);
    });
  }
  const counts = new Map<string, number>();
  for (const term of terms) for (const ch of term) counts.set(ch, (counts.get(ch) ?? 0) + 1);
  const rhs = rhsRaw ?? [...counts.keys()].filter((ch) => counts.get(ch) === 1).sort().join("");
  return { types: [t(c.dtype(0), [...rhs].map((ch) => sizes.get(ch)))] };
};

const depthToSpace: ShapeRule = (c) => {
  const x = c.shape(0), b = attrInt(c.proto, "blocksize", 1);
  if (!x || x.length !== 4) return unknown(c);
  const m = (d: Dim, f: number) => (typeof d === "number" ? d * f : undefined);
  return { types: [t(c.dtype(0), [x[0], typeof x[1] === "number" ? x[1] / (b * b) : undefined, m(x[2], b), m(x[3], b)])] };
};
const spaceToDepth: ShapeRule = (c) => {
  const x = c.shape(0), b = attrInt(c.proto, "blocksize", 1);
  if (!x || x.length !== 4) return unknown(c);
  const dv = (d: Dim) => (typeof d === "number" ? d / b : undefined);
  return { types: [t(c.dtype(0), [x[0], typeof x[1] === "number" ? x[1] * b * b : undefined, dv(x[2]), dv(x[3])])] };
};

const constant: ShapeRule = (c) => {
  const tp = constantTensor(c.proto);
  if (!tp) return unknown(c, 1, undefined);
  return { types: [t(tp.dataType, tp.dims.map(Number))] };
};

const gatherElements: ShapeRule = (c) => ({ types: [t(c.dtype(0), c.shape(1))] });

const gatherND: ShapeRule = (c) => {
  const x = c.shape(0), idx = c.shape(1);
  const b = attrInt(c.proto, "batch_dims", 0);
  if (!x || !idx || typeof idx[idx.length - 1] !== "number") return unknown(c);
  const last = idx[idx.length - 1] as number;
  return { types: [t(c.dtype(0), [...idx.slice(0, -1), ...x.slice(b + last)])] };
};

const oneHot: ShapeRule = (c) => {
  const idx = c.shape(0);
  const depth = scalarOf(c.value(1));
  if (!idx) return { types: [t(c.dtype(2), undefined)] };
  const rank = idx.length + 1;
  const ax = normAxis(attrInt(c.proto, "axis", -1), rank);
  const out = idx.slice();
  out.splice(ax, 0, typeof depth === "number" ? depth : undefined);
  return { types: [t(c.dtype(2), out)] };
};

export const tensorRules: Record<string, ShapeRule> = {
  Concat: concat,
  Split: split,
  Slice: slice,
  Gather: gather,
  GatherElements: gatherElements,
  GatherND: gatherND,
  Reshape: reshape,
  Flatten: flatten,
  Transpose: transpose,
  Squeeze: squeeze,
  Unsqueeze: unsqueeze,
  Shape: shape,
  Size: size,
  Expand: expand,
  Tile: tile,
  Pad: pad,
  Resize: resize,
  Upsample: resize,
  ConstantOfShape: constantOfShape,
  Range: range,
  Constant: constant,
  ArgMax: argReduce,
  ArgMin: argReduce,
  TopK: topk,
  Einsum: einsum,
  DepthToSpace: depthToSpace,
  SpaceToDepth: spaceToDepth,
  OneHot: oneHot,
  NonZero: (c) => ({ types: [t(DataType.INT64, [c.shape(0)?.length, undefined])] }),
  ReduceSum: reduceRule(13),
  ReduceMean: reduceRule(18),
  ReduceMax: reduceRule(18),
  ReduceMin: reduceRule(18),
  ReduceProd: reduceRule(18),
  ReduceL1: reduceRule(18),
  ReduceL2: reduceRule(18),
  ReduceLogSum: reduceRule(18),
  ReduceLogSumExp: reduceRule(18),
  ReduceSumSquare: reduceRule(18),
};

export type { KnownValue };
