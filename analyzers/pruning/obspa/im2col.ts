/**
 * The rows of a layer's input as its weight sees them (im2col): for a Conv, one row per output position
 * holding input channel c's kernel window at columns c·taps … (c+1)·taps − 1, zeros where the window
 * reaches into padding; strides, dilations, explicit pads, auto_pad and groups honoured. For Gemm and
 * MatMul one row per feature vector (every leading axis is a batch axis).
 */
import type { WeightLayer } from "./layers.ts";
import { groupColumns } from "./layers.ts";

export interface Activation {
  readonly dims: readonly number[];
  readonly data: Float32Array;
}

/** Pads (begin…, end…) and output spatial size of a Conv for a given input spatial size. */
export function convOutput(layer: WeightLayer, inSpatial: readonly number[]): { pads: number[]; out: number[] } {
  const g = layer.conv!;
  const r = inSpatial.length;
  const pads = new Array<number>(2 * r).fill(0);
  const out: number[] = [];
  for (let i = 0; i < r; i++) {
    const k = (g.kernel[i]! - 1) * g.dilations[i]! + 1;
    const s = g.strides[i]!;
    if (g.autoPad === "SAME_UPPER" || g.autoPad === "SAME_LOWER") {
      const o = Math.ceil(inSpatial[i]! / s);
      const total = Math.max(0, (o - 1) * s + k - inSpatial[i]!);
      const small = Math.floor(total / 2);
      pads[i] = g.autoPad === "SAME_UPPER" ? small : total - small;
      pads[i + r] = total - pads[i]!;
    } else if (g.autoPad === "NOTSET") {
      pads[i] = g.pads[i] ?? 0;
      pads[i + r] = g.pads[i + r] ?? 0;
    }
    out.push(Math.floor((inSpatial[i]! + pads[i]! + pads[i + r]! - k) / s) + 1);
  }
  return { pads, out };
}

/** Number of rows the activation yields (output positions × batch, or feature vectors). */
export function rowCount(layer: WeightLayer, act: Activation): number {
  if (layer.kind === "conv") {
    const { out } = convOutput(layer, act.dims.slice(2));
    return act.dims[0]! * out.reduce((a, b) => a * b, 1);
  }
  const f = layer.inChannels;
  return act.data.length / f;
}

/**
 * Writes the rows `rows` (indices < rowCount) of convolution group `group` into `dst`, float64: with
 * layout "rows" as a rows.length × columns row-major matrix, with "columns" as its transpose (one
 * contiguous run per column, the form the Gram accumulation wants). `rows` undefined: every row in order.
 */
export function im2colRows(
  layer: WeightLayer,
  act: Activation,
  group: number,
  rows: ArrayLike<number> | undefined,
  dst: Float64Array,
  layout: "rows" | "columns" = "rows",
): void {
  const cols = groupColumns(layer);
  const total = rowCount(layer, act);
  const n = rows ? rows.length : total;
  const rs = layout === "rows" ? cols : 1; // stride between rows in dst
  const cs = layout === "rows" ? 1 : n; // stride between columns in dst
  if (layer.kind !== "conv") {
    const f = layer.inChannels;
    for (let i = 0; i < n; i++) {
      const r = rows ? rows[i]! : i;
      const o = i * rs;
      // transA: the activation is [K, M] and row r is its column r.
      if (layer.transA) for (let k = 0; k < f; k++) dst[o + k * cs] = act.data[k * total + r]!;
      else for (let k = 0, src = r * f; k < f; k++) dst[o + k * cs] = act.data[src + k]!;
    }
    return;
  }
  const inSpatial = act.dims.slice(2);
  const r = inSpatial.length;
  const { pads, out } = convOutput(layer, inSpatial);
  const geo = layer.conv!;
  const cPerGroup = layer.inChannels / layer.groups;
  const channels = act.dims[1]!;
  const outCount = out.reduce((a, b) => a * b, 1);
  const inCount = inSpatial.reduce((a, b) => a * b, 1);
  const taps = layer.taps;
  // Tap offsets per axis, and input strides per axis (row-major spatial layout).
  const tapOff: Int32Array[] = [];
  for (let a = 0; a < r; a++) tapOff.push(new Int32Array(taps));
  for (let t = 0; t < taps; t++) {
    let rem = t;
    for (let a = r - 1; a >= 0; a--) {
      const k = geo.kernel[a]!;
      tapOff[a]![t] = (rem % k) * geo.dilations[a]!;
      rem = Math.floor(rem / k);
    }
  }
  const inStride = new Array<number>(r);
  let acc = 1;
  for (let a = r - 1; a >= 0; a--) {
    inStride[a] = acc;
    acc *= inSpatial[a]!;
  }
  const base = new Int32Array(r);
  const tapIndex = new Int32Array(taps); // input offset of each tap for this position, −1 in padding
  const data = act.data;
  for (let i = 0; i < n; i++) {
    const row = rows ? rows[i]! : i;
    const sample = Math.floor(row / outCount);
    let pos = row % outCount;
    for (let a = r - 1; a >= 0; a--) {
      const o = pos % out[a]!;
      pos = Math.floor(pos / out[a]!);
      base[a] = o * geo.strides[a]! - pads[a]!;
    }
    for (let t = 0; t < taps; t++) {
      let off = 0;
      for (let a = 0; a < r; a++) {
        const x = base[a]! + tapOff[a]![t]!;
        if (x < 0 || x >= inSpatial[a]!) {
          off = -1;
          break;
        }
        off += x * inStride[a]!;
      }
      tapIndex[t] = off;
    }
    const o = i * rs;
    const chanBase = (sample * channels + group * cPerGroup) * inCount;
    for (let c = 0; c < cPerGroup; c++) {
      const src = chanBase + c * inCount;
      const dc = o + c * taps * cs;
      for (let t = 0; t < taps; t++) {
        const off = tapIndex[t]!;
        dst[dc + t * cs] = off < 0 ? 0 : data[src + off]!;
      }
    }
  }
}
