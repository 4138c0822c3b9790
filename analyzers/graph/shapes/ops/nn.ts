/** Convolutions, pooling, Gemm/MatMul, normalisations, attention-like ops. */
import { DataType } from "../../../onnx/dtypes.ts";
import { attrInt, attrInts, attrString } from "../../attrs.ts";
import type { Dim } from "../../graph.ts";
import { broadcast, mulDims, normAxis } from "../dims.ts";
import { t, type OpContext, type ShapeRule } from "../rule.ts";

/** Spatial output size of a sliding window (Conv, pooling). */
function windowOut(c: OpContext, x: readonly Dim[], kernel: number[], ceil: boolean): Dim[] {
  const k = kernel.length;
  const strides = attrInts(c.proto, "strides") ?? new Array(k).fill(1);
  const dil = attrInts(c.proto, "dilations") ?? new Array(k).fill(1);
  const pads = attrInts(c.proto, "pads") ?? new Array(2 * k).fill(0);
  const autoPad = attrString(c.proto, "auto_pad", "NOTSET");
  const out: Dim[] = [];
  for (let i = 0; i < k; i++) {
    const d = x[2 + i];
    if (typeof d !== "number") {
      out.push(undefined);
      continue;
    }
    const s = strides[i]!;
    const eff = dil[i]! * (kernel[i]! - 1) + 1;
    if (autoPad === "SAME_UPPER" || autoPad === "SAME_LOWER") out.push(Math.ceil(d / s));
    else if (autoPad === "VALID") out.push(Math.floor((d - eff) / s) + 1);
    else {
      const span = d + pads[i]! + pads[i + k]! - eff;
      let o = (ceil ? Math.ceil(span / s) : Math.floor(span / s)) + 1;
      // With ceil_mode the last window must start inside the (left-padded) input.
      if (ceil && (o - 1) * s >= d + pads[i]!) o--;
      out.push(o);
    }
  }
  return out;
}

const conv: ShapeRule = (c) => {
  const x = c.shape(0), w = c.shape(1);
  if (!x || !w) return { types: [t(c.dtype(0), undefined)] };
  const kernel = attrInts(c.proto, "kernel_shape") ?? (w.slice(2) as number[]);
  if (kernel.some((k) => typeof k !== "number")) return { types: [t(c.dtype(0), undefined)] };
  return { types: [t(c.dtype(0), [x[0], w[0], ...windowOut(c, x, kernel, false)])] };
};

const convTranspose: ShapeRule = (c) => {
  const x = c.shape(0), w = c.shape(1);
  if (!x || !w) return { types: [t(c.dtype(0), undefined)] };
  const group = attrInt(c.proto, "group", 1);
  const kernel = attrInts(c.proto, "kernel_shape") ?? (w.slice(2) as number[]);
  const k = kernel.length;
  const cout = mulDims(w[1], group);
  const outputShape = attrInts(c.proto, "output_shape");
  if (outputShape) return { types: [t(c.dtype(0), [x[0], cout, ...outputShape.slice(-k)])] };
  const strides = attrInts(c.proto, "strides") ?? new Array(k).fill(1);
  const dil = attrInts(c.proto, "dilations") ?? new Array(k).fill(1);
  const pads = attrInts(c.proto, "pads") ?? new Array(2 * k).fill(0);
  const outPad = attrInts(c.proto, "output_padding") ?? new Array(k).fill(0);
  const autoPad = attrString(c.proto, "auto_pad", "NOTSET");
  const sp: Dim[] = [];
  for (let i = 0; i < k; i++) {
    const d = x[2 + i];
    if (typeof d !== "number") sp.push(undefined);
    else if (autoPad === "SAME_UPPER" || autoPad === "SAME_LOWER") sp.push(d * strides[i]!);
    else sp.push(strides[i]! * (d - 1) + outPad[i]! + (kernel[i]! - 1) * dil[i]! + 1 - pads[i]! - pads[i + k]!);
  }
  return { types: [t(c.dtype(0), [x[0], cout, ...sp])] };
};

const pool: ShapeRule = (c) => {
  const x = c.shape(0);
  const kernel = attrInts(c.proto, "kernel_shape");
  if (!x || !kernel) return { types: [t(c.dtype(0), undefined), t(DataType.INT64, undefined)] };
  const shape = [x[0], x[1], ...windowOut(c, x, kernel, attrInt(c.proto, "ceil_mode", 0) === 1)];
  return { types: [t(c.dtype(0), shape), t(DataType.INT64, shape)] };
};

const globalPool: ShapeRule = (c) => {
  const x = c.shape(0);
  return { types: [t(c.dtype(0), x ? [x[0], x[1], ...x.slice(2).map(() => 1)] : undefined)] };
};

const gemm: ShapeRule = (c) => {
  const a = c.shape(0), b = c.shape(1);
  if (!a || !b || a.length !== 2 || b.length !== 2) return { types: [t(c.dtype(0), a && b ? [undefined, undefined] : undefined)] };
  const m = attrInt(c.proto, "transA", 0) ? a[1] : a[0];
  const n = attrInt(c.proto, "transB", 0) ? b[0] : b[1];
  return { types: [t(c.dtype(0), [m, n])] };
};

export function matmulShape(a: readonly Dim[] | undefined, b: readonly Dim[] | undefined): Dim[] | undefined {
  if (!a || !b || a.length === 0 || b.length === 0) return undefined;
  const a2 = a.length === 1 ? [1, a[0]] : a;
  const b2 = b.length === 1 ? [b[0], 1] : b;
  const batch = broadcast([a2.slice(0, -2), b2.slice(0, -2)]);
  if (!batch) return undefined;
  const out: Dim[] = [...batch];
  if (a.length !== 1) out.push(a2[a2.length - 2]);
  if (b.length !== 1) out.push(b2[b2.length - 1]);
  return out;
}

const matmul: ShapeRule = (c) => ({ types: [t(c.dtype(0), matmulShape(c.shape(0), c.shape(1)))] });
const matmulInteger: ShapeRule = (c) => ({ types: [t(DataType.INT32, matmulShape(c.shape(0), c.shape(1)))] });

const layerNorm: ShapeRule = (c) => {
  const x = c.shape(0);
  const axis = attrInt(c.proto, "axis", -1);
  const stat = x ? x.map((d, i) => (i >= normAxis(axis, x.length) ? 1 : d)) : undefined;
  const statType = attrInt(c.proto, "stash_type", DataType.FLOAT);
  return { types: [c.type(0), t(statType, stat), t(statType, stat)] };
};

/** com.microsoft fused ops that appear in optimised transformer graphs. */
const msAttention: ShapeRule = (c) => {
  const x = c.shape(0);
  const w = c.shape(1);
  const qkvHidden = attrInts(c.proto, "qkv_hidden_sizes");
  const vHidden = qkvHidden ? qkvHidden[2] : w && typeof w[1] === "number" ? w[1] / 3 : undefined;
  return { types: [t(c.dtype(0), x ? [x[0], x[1], vHidden] : undefined)] };
};
const msMha: ShapeRule = (c) => {
  const q = c.shape(0);
  const v = c.shape(2);
  const vHidden = v && v.length === 3 ? v[2] : q?.[2];
  return { types: [t(c.dtype(0), q && q.length === 3 ? [q[0], q[1], vHidden] : undefined)] };
};

/** ONNX opset-23 Attention: Q [B, Hq, S, D] (4-D) or [B, S, Hq·D] (3-D). */
const onnxAttention: ShapeRule = (c) => {
  const q = c.shape(0), v = c.shape(2);
  if (!q || !v) return { types: [t(c.dtype(0), undefined)] };
  if (q.length === 4) return { types: [t(c.dtype(0), [q[0], q[1], q[2], v[3]])] };
  const qHeads = attrInt(c.proto, "q_num_heads");
  const kvHeads = attrInt(c.proto, "kv_num_heads");
  const vHead = typeof v[2] === "number" && kvHeads ? v[2] / kvHeads : undefined;
  return { types: [t(c.dtype(0), [q[0], q[1], qHeads && vHead ? qHeads * vHead : undefined])] };
};

export const nnRules: Record<string, ShapeRule> = {
  Conv: conv,
  ConvInteger: (c) => ({ types: [t(DataType.INT32, conv(c).types[0]?.shape)] }),
  QLinearConv: (c) => {
    const x = c.shape(0), w = c.shape(3);
    const kernel = attrInts(c.proto, "kernel_shape") ?? (w?.slice(2) as number[] | undefined);
    return { types: [t(c.dtype(7), x && w && kernel ? [x[0], w[0], ...windowOut(c, x, kernel, false)] : undefined)] };
  },
  ConvTranspose: convTranspose,
  MaxPool: pool,
  AveragePool: pool,
  LpPool: pool,
  GlobalAveragePool: globalPool,
  GlobalMaxPool: globalPool,
  GlobalLpPool: globalPool,
  Gemm: gemm,
  MatMul: matmul,
  MatMulInteger: matmulInteger,
  QLinearMatMul: (c) => ({ types: [t(c.dtype(7), matmulShape(c.shape(0), c.shape(3)))] }),
  LayerNormalization: layerNorm,
  SimplifiedLayerNormalization: layerNorm,
  RMSNormalization: (c) => ({ types: [c.type(0)] }),
  Attention: onnxAttention,
  "com.microsoft::Attention": msAttention,
  "com.microsoft::MultiHeadAttention": msMha,
  "com.microsoft::GroupQueryAttention": msMha,
  "com.microsoft::SkipLayerNormalization": (c) => ({ types: [c.type(0), undefined, undefined, c.type(0)] }),
  "com.microsoft::SkipSimplifiedLayerNormalization": (c) => ({ types: [c.type(0), undefined, undefined, c.type(0)] }),
  "com.microsoft::LayerNormalization": layerNorm,
  "com.microsoft::SimplifiedLayerNormalization": layerNorm,
  "com.microsoft::FusedMatMul": (c) => {
    const a = c.shape(0), b = c.shape(1);
    const swap = (s: readonly Dim[] | undefined, tr: boolean) => (s && tr && s.length >= 2 ? [...s.slice(0, -2), s[s.length - 1], s[s.length - 2]] : s);
    return { types: [t(c.dtype(0), matmulShape(swap(a, attrInt(c.proto, "transA", 0) === 1), swap(b, attrInt(c.proto, "transB", 0) === 1)))] };
  },
  "com.microsoft::Gelu": (c) => ({ types: [c.type(0)] }),
  "com.microsoft::FastGelu": (c) => ({ types: [c.type(0)] }),
  "com.microsoft::BiasGelu": (c) => ({ types: [c.type(0)] }),
  "com.microsoft::QuickGelu": (c) => ({ types: [c.type(0)] }),
  "com.microsoft::BiasAdd": (c) => ({ types: [c.type(0)] }),
  "com.microsoft::FusedConv": conv,
  "com.microsoft::EmbedLayerNormalization": (c) => {
    const ids = c.shape(0), emb = c.shape(2);
    return { types: [t(DataType.FLOAT, ids && emb ? [ids[0], ids[1], emb[1]] : undefined), t(DataType.INT32, ids ? [ids[0]] : undefined)] };
  },
};
