/**
 * Small constant tensors known at analysis time: initializers and Constant outputs that are small, and
 * the results of folding shape computations (Shape → Gather → Unsqueeze → Concat → Reshape). Integer
 * elements may be symbolic dims ("batch"), so dynamic-batch models still get their shapes.
 */
import { DataType } from "../../onnx/dtypes.ts";
import type { Dim } from "../graph.ts";

export interface KnownValue {
  readonly dataType: number;
  readonly dims: readonly number[];
  /** Row-major elements; numbers (ints or floats), symbols for symbolic dims, undefined if unknown. */
  readonly values: readonly Dim[];
}

/** Values larger than this are not folded (folding is for shape arithmetic, not for weights). */
export const MAX_FOLD_ELEMENTS = 4096;

export function scalarOf(v: KnownValue | undefined): Dim {
  if (!v || v.values.length !== 1) return undefined;
  return v.values[0];
}

export function intsOf(v: KnownValue | undefined): number[] | undefined {
  if (!v) return undefined;
  const out: number[] = [];
  for (const x of v.values) {
    if (typeof x !== "number") return undefined;
    out.push(x);
  }
  return out;
}

export function known(dataType: number, dims: readonly number[], values: readonly Dim[]): KnownValue {
  return { dataType, dims, values };
}

export function isIntType(dt: number): boolean {
  return dt === DataType.INT64 || dt === DataType.INT32 || dt === DataType.INT8 || dt === DataType.INT16 || dt === DataType.UINT8 || dt === DataType.UINT16 || dt === DataType.UINT32 || dt === DataType.UINT64 || dt === DataType.BOOL;
}

/** Elementwise binary op on known values with numpy broadcasting (symbols propagate through + and ×). */
export function binaryFold(
  a: KnownValue,
  b: KnownValue,
  f: (x: number, y: number) => number,
  sym?: (x: Dim, y: Dim) => Dim,
  outType = a.dataType,
): KnownValue | undefined {
  const rank = Math.max(a.dims.length, b.dims.length);
  const pad = (d: readonly number[]) => [...new Array(rank - d.length).fill(1), ...d];
  const ad = pad(a.dims), bd = pad(b.dims);
  const dims: number[] = [];
  for (let i = 0; i < rank; i++) {
    if (ad[i] !== bd[i] && ad[i] !== 1 && bd[i] !== 1) return undefined;
    dims.push(Math.max(ad[i]!, bd[i]!) === 0 ? 0 : Math.max(ad[i]!, bd[i]!));
  }
  const n = dims.reduce((p, x) => p * x, 1);
  if (n > MAX_FOLD_ELEMENTS) return undefined;
  const values: Dim[] = new Array(n);
  const idx = (d: number[], flat: number) => {
    let off = 0, stride = 1, rem = flat;
    const coords: number[] = new Array(rank);
    for (let i = rank - 1; i >= 0; i--) {
      coords[i] = rem % dims[i]!;
      rem = Math.floor(rem / dims[i]!);
    }
    for (let i = rank - 1; i >= 0; i--) {
      off += (d[i] === 1 ? 0 : coords[i]!) * stride;
      stride *= d[i]!;
    }
    return off;
  };
  for (let k = 0; k < n; k++) {
    const x = a.values[idx(ad, k)], y = b.values[idx(bd, k)];
    if (typeof x === "number" && typeof y === "number") values[k] = f(x, y);
    else values[k] = sym ? sym(x, y) : undefined;
  }
  const isInt = isIntType(outType);
  return { dataType: outType, dims, values: isInt ? values.map((v) => (typeof v === "number" ? Math.trunc(v) : v)) : values };
}

/** Gathers along an axis with (possibly negative) integer indices. */
export function gatherFold(data: KnownValue, indices: KnownValue, axis: number): KnownValue | undefined {
  const idx = intsOf(indices);
  if (!idx) return undefined;
  const rank = data.dims.length;
  const ax = axis < 0 ? axis + rank : axis;
  const outer = data.dims.slice(0, ax).reduce((p, x) => p * x, 1);
  const size = data.dims[ax]!;
  const inner = data.dims.slice(ax + 1).reduce((p, x) => p * x, 1);
  const values: Dim[] = [];
  for (let o = 0; o < outer; o++)
    for (let i of idx) {
      if (i < 0) i += size;
      if (i < 0 || i >= size) return undefined;
      for (let j = 0; j < inner; j++) values.push(data.values[(o * size + i) * inner + j]);
    }
  return { dataType: data.dataType, dims: [...data.dims.slice(0, ax), ...indices.dims, ...data.dims.slice(ax + 1)], values };
}
