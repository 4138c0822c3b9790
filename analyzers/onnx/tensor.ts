/**
 * Tensor data as typed arrays: read from raw_data (zero-copy when aligned), typed fields or external
 * files; converted to numbers for statistics; sliced along an axis and written back for pruning.
 */
import { create } from "@bufbuild/protobuf";
import { TensorProtoSchema, type TensorProto } from "onnx-buf";
import { DataType, dataTypeInfo, dataTypeName, rawByteLength, scalarsPerElement, type TypedArray } from "./dtypes.ts";
import { ScalpelError } from "./errors.ts";
import { isExternal } from "./externalData.ts";
import type { Model } from "./model.ts";

export interface TensorData {
  readonly dataType: number;
  readonly dims: readonly number[];
  /**
   * Element storage in the dtype's own array (bit patterns for float16/bfloat16/float8), one byte per
   * element code for sub-byte types (int4, uint4, float4, int2, uint2: unpacked), or UTF-8 bytes per
   * string for STRING tensors.
   */
  readonly data: TypedArray | Uint8Array[];
}

export function elementCount(dims: readonly number[]): number {
  let n = 1;
  for (const d of dims) n *= d;
  return n;
}

export function tensorDims(t: TensorProto): number[] {
  return t.dims.map((d) => Number(d));
}

type Ctor = { new (n: number): TypedArray; new (b: ArrayBufferLike, off: number, len: number): TypedArray; BYTES_PER_ELEMENT: number };
const CTORS: Record<string, Ctor> = {
  f32: Float32Array as unknown as Ctor,
  f64: Float64Array as unknown as Ctor,
  i8: Int8Array as unknown as Ctor,
  u8: Uint8Array as unknown as Ctor,
  i16: Int16Array as unknown as Ctor,
  u16: Uint16Array as unknown as Ctor,
  i32: Int32Array as unknown as Ctor,
  u32: Uint32Array as unknown as Ctor,
  i64: BigInt64Array as unknown as Ctor,
  u64: BigUint64Array as unknown as Ctor,
  packed: Uint8Array as unknown as Ctor,
};

function ctorFor(dataType: number, where: string): Ctor {
  const info = dataTypeInfo(dataType);
  if (!info || info.array === "string") throw new ScalpelError(where, `tensor data type ${dataTypeName(dataType)} has no numeric storage`);
  return CTORS[info.array]!;
}

/** The serialised bytes of a tensor stored as raw_data or externally; undefined when it uses typed fields. */
export function rawBytes(model: Model, t: TensorProto): Uint8Array | undefined {
  if (isExternal(t)) return model.external.read(t);
  if (Object.prototype.hasOwnProperty.call(t, "rawData")) return t.rawData;
  return undefined;
}

/** Reads a tensor's values. Views the file's bytes when alignment allows, copies otherwise. */
export function readTensor(model: Model, t: TensorProto): TensorData {
  const dataType = t.dataType;
  const dims = tensorDims(t);
  const count = elementCount(dims);
  const info = dataTypeInfo(dataType);
  const where = `${model.name} (tensor '${t.name}')`;
  if (!info) throw new ScalpelError(model.name, `tensor '${t.name}' has unknown data type ${dataType}`);
  if (info.array === "string") {
    if (t.stringData.length !== count) throw new ScalpelError(model.name, `tensor '${t.name}' has ${t.stringData.length} strings for shape [${dims}]`);
    return { dataType, dims, data: t.stringData };
  }
  const raw = rawBytes(model, t);
  if (raw) {
    const want = rawByteLength(dataType, count * scalarsPerElement(dataType));
    if (raw.byteLength !== want)
      throw new ScalpelError(model.name, `tensor '${t.name}' has ${raw.byteLength} bytes of data but shape [${dims}] of ${info.name} needs ${want}`);
    if (info.array === "packed") return { dataType, dims, data: unpackSubByte(raw, info.bits, count) };
    return { dataType, dims, data: viewOrCopy(raw, ctorFor(dataType, where), count * scalarsPerElement(dataType)) };
  }
  return { dataType, dims, data: fromTypedFields(t, info.array, info.bits, count, model.name) };
}

function viewOrCopy(raw: Uint8Array, C: Ctor, n: number): TypedArray {
  if (raw.byteOffset % C.BYTES_PER_ELEMENT === 0) return new C(raw.buffer, raw.byteOffset, n);
  const out = new C(n);
  new Uint8Array(out.buffer).set(raw);
  return out;
}

function fromTypedFields(t: TensorProto, array: string, bits: number, count: number, name: string): TypedArray {
  const n = count * scalarsPerElement(t.dataType);
  const check = (len: number) => {
    if (len !== n) throw new ScalpelError(name, `tensor '${t.name}' holds ${len} values but its shape [${tensorDims(t)}] needs ${n}`);
  };
  switch (array) {
    case "f32":
      check(t.floatData.length);
      return Float32Array.from(t.floatData);
    case "f64":
      check(t.doubleData.length);
      return Float64Array.from(t.doubleData);
    case "i64":
      check(t.int64Data.length);
      return BigInt64Array.from(t.int64Data);
    case "u64":
      check(t.uint64Data.length);
      return BigUint64Array.from(t.uint64Data);
    case "u32":
      check(t.uint64Data.length);
      return Uint32Array.from(t.uint64Data, (v) => Number(v));
    case "packed": {
      const perWord = 8 / bits;
      if (t.int32Data.length !== Math.ceil(count / perWord))
        throw new ScalpelError(name, `tensor '${t.name}' holds ${t.int32Data.length} packed words for ${count} elements`);
      return unpackSubByte(Uint8Array.from(t.int32Data, (v) => v & 0xff), bits, count);
    }
    default: {
      check(t.int32Data.length);
      const C = CTORS[array]!;
      const out = new C(n);
      for (let i = 0; i < n; i++) (out as Int32Array)[i] = t.int32Data[i]!;
      return out;
    }
  }
}

/** Splits packed 4- or 2-bit elements into one byte per element (the raw code, not sign-extended). */
export function unpackSubByte(bytes: Uint8Array, bits: number, count: number): Uint8Array {
  const out = new Uint8Array(count);
  const per = 8 / bits;
  const mask = (1 << bits) - 1;
  for (let i = 0; i < count; i++) out[i] = (bytes[Math.floor(i / per)]! >> ((i % per) * bits)) & mask;
  return out;
}

export function packSubByte(codes: Uint8Array, bits: number): Uint8Array {
  const per = 8 / bits;
  const out = new Uint8Array(Math.ceil(codes.length / per));
  const mask = (1 << bits) - 1;
  for (let i = 0; i < codes.length; i++) out[Math.floor(i / per)]! |= (codes[i]! & mask) << ((i % per) * bits);
  return out;
}

// ---- numeric conversion -------------------------------------------------------------------------

const f32buf = new Float32Array(1);
const u32buf = new Uint32Array(f32buf.buffer);

export function float16ToNumber(h: number): number {
  const s = h & 0x8000 ? -1 : 1;
  const e = (h >> 10) & 0x1f;
  const f = h & 0x3ff;
  if (e === 0) return s * f * 2 ** -24;
  if (e === 31) return f ? NaN : s * Infinity;
  return s * (1 + f / 1024) * 2 ** (e - 15);
}

export function numberToFloat16(v: number): number {
  f32buf[0] = v;
  const x = u32buf[0]!;
  const sign = (x >>> 16) & 0x8000;
  const exp = (x >>> 23) & 0xff;
  let mant = x & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 : 0);
  let e = exp - 127 + 15;
  if (e >= 31) return sign | 0x7c00;
  if (e <= 0) {
    if (e < -10) return sign;
    mant |= 0x800000;
    const shift = 14 - e;
    let half = mant >> shift;
    const rem = mant & ((1 << shift) - 1);
    const mid = 1 << (shift - 1);
    if (rem > mid || (rem === mid && half & 1)) half++;
    return sign | half;
  }
  let half = (e << 10) | (mant >> 13);
  const rem = mant & 0x1fff;
  if (rem > 0x1000 || (rem === 0x1000 && half & 1)) half++;
  return sign | half;
}

export function bfloat16ToNumber(b: number): number {
  u32buf[0] = b << 16;
  return f32buf[0]!;
}

export function numberToBfloat16(v: number): number {
  f32buf[0] = v;
  const x = u32buf[0]!;
  if (Number.isNaN(v)) return 0x7fc0;
  return ((x + 0x7fff + ((x >> 16) & 1)) >>> 16) & 0xffff;
}

function float8ToNumber(code: number, dataType: number): number {
  const s = code & 0x80 ? -1 : 1;
  switch (dataType) {
    case DataType.FLOAT8E4M3FN: {
      const e = (code >> 3) & 0xf, m = code & 7;
      if (e === 15 && m === 7) return NaN;
      return e === 0 ? s * m * 2 ** -9 : s * (1 + m / 8) * 2 ** (e - 7);
    }
    case DataType.FLOAT8E4M3FNUZ: {
      if (code === 0x80) return NaN;
      const e = (code >> 3) & 0xf, m = code & 7;
      return e === 0 ? s * m * 2 ** -10 : s * (1 + m / 8) * 2 ** (e - 8);
    }
    case DataType.FLOAT8E5M2: {
      const e = (code >> 2) & 0x1f, m = code & 3;
      if (e === 31) return m ? NaN : s * Infinity;
      return e === 0 ? s * m * 2 ** -16 : s * (1 + m / 4) * 2 ** (e - 15);
    }
    case DataType.FLOAT8E5M2FNUZ: {
      if (code === 0x80) return NaN;
      const e = (code >> 2) & 0x1f, m = code & 3;
      return e === 0 ? s * m * 2 ** -17 : s * (1 + m / 4) * 2 ** (e - 16);
    }
    case DataType.FLOAT8E8M0:
      return code === 0xff ? NaN : 2 ** (code - 127);
  }
  return NaN;
}

const FLOAT4E2M1 = [0, 0.5, 1, 1.5, 2, 3, 4, 6];

/** Element values as float64 (for statistics, criteria, comparisons). Complex types give interleaved re/im. */
export function toFloat64(td: TensorData): Float64Array {
  const { dataType, data } = td;
  if (Array.isArray(data)) throw new Error(`string tensors have no numeric values`);
  const src = data as TypedArray;
  const n = src.length;
  const out = new Float64Array(n);
  switch (dataType) {
    case DataType.FLOAT16:
      for (let i = 0; i < n; i++) out[i] = float16ToNumber(src[i] as number);
      return out;
    case DataType.BFLOAT16:
      for (let i = 0; i < n; i++) out[i] = bfloat16ToNumber(src[i] as number);
      return out;
    case DataType.FLOAT8E4M3FN:
    case DataType.FLOAT8E4M3FNUZ:
    case DataType.FLOAT8E5M2:
    case DataType.FLOAT8E5M2FNUZ:
    case DataType.FLOAT8E8M0:
      for (let i = 0; i < n; i++) out[i] = float8ToNumber(src[i] as number, dataType);
      return out;
    case DataType.INT4:
      for (let i = 0; i < n; i++) out[i] = ((src[i] as number) << 28) >> 28;
      return out;
    case DataType.INT2:
      for (let i = 0; i < n; i++) out[i] = ((src[i] as number) << 30) >> 30;
      return out;
    case DataType.FLOAT4E2M1:
      for (let i = 0; i < n; i++) {
        const c = src[i] as number;
        out[i] = (c & 8 ? -1 : 1) * FLOAT4E2M1[c & 7]!;
      }
      return out;
  }
  for (let i = 0; i < n; i++) out[i] = Number(src[i]);
  return out;
}

/** Float32 values of a float tensor (view when already float32). */
export function toFloat32(td: TensorData): Float32Array {
  if (td.dataType === DataType.FLOAT && td.data instanceof Float32Array) return td.data;
  return Float32Array.from(toFloat64(td));
}

/** Converts numbers into the storage of a float dtype (float32/64/16/bfloat16), for writing compensated weights. */
export function fromNumbers(dataType: number, values: ArrayLike<number>): TypedArray {
  const n = values.length;
  switch (dataType) {
    case DataType.FLOAT:
      return Float32Array.from(values);
    case DataType.DOUBLE:
      return Float64Array.from(values);
    case DataType.FLOAT16: {
      const out = new Uint16Array(n);
      for (let i = 0; i < n; i++) out[i] = numberToFloat16(values[i]!);
      return out;
    }
    case DataType.BFLOAT16: {
      const out = new Uint16Array(n);
      for (let i = 0; i < n; i++) out[i] = numberToBfloat16(values[i]!);
      return out;
    }
  }
  throw new Error(`cannot write numbers into ${dataTypeName(dataType)} storage`);
}

// ---- slicing and writing back -------------------------------------------------------------------

/** Keeps the given indices along one axis (in the given order). Works for every dtype, strings included. */
export function sliceAxis(td: TensorData, axis: number, keep: readonly number[]): TensorData {
  const dims = td.dims;
  const rank = dims.length;
  const ax = axis < 0 ? axis + rank : axis;
  if (ax < 0 || ax >= rank) throw new RangeError(`axis ${axis} out of range for rank ${rank}`);
  const size = dims[ax]!;
  for (const k of keep) if (!(k >= 0 && k < size)) throw new RangeError(`index ${k} out of range for axis ${ax} of size ${size}`);
  let outer = 1;
  for (let i = 0; i < ax; i++) outer *= dims[i]!;
  let inner = scalarsPerElement(td.dataType);
  for (let i = ax + 1; i < rank; i++) inner *= dims[i]!;
  const newDims = dims.slice();
  newDims[ax] = keep.length;
  const src = td.data;
  if (Array.isArray(src)) {
    const out: Uint8Array[] = [];
    for (let o = 0; o < outer; o++)
      for (const k of keep) for (let j = 0; j < inner; j++) out.push(src[(o * size + k) * inner + j]!);
    return { dataType: td.dataType, dims: newDims, data: out };
  }
  const a = src as TypedArray;
  const C = a.constructor as Ctor;
  const out = new C(outer * keep.length * inner);
  let w = 0;
  for (let o = 0; o < outer; o++) {
    const base = o * size * inner;
    for (const k of keep) {
      const from = base + k * inner;
      if (inner === 1) (out as Float32Array)[w] = (a as Float32Array)[from]!;
      else (out as Float32Array).set((a as Float32Array).subarray(from, from + inner), w);
      w += inner;
    }
  }
  return { dataType: td.dataType, dims: newDims, data: out };
}

/** The bytes that go into raw_data for this data. */
export function encodeRaw(td: TensorData): Uint8Array {
  const info = dataTypeInfo(td.dataType);
  if (!info || Array.isArray(td.data)) throw new Error(`tensor of type ${dataTypeName(td.dataType)} has no raw encoding`);
  const a = td.data as TypedArray;
  if (info.array === "packed") return packSubByte(a as Uint8Array, info.bits);
  return new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
}

/**
 * Replaces a tensor's data and dims in place. The tensor keeps its name and type; its data becomes
 * raw_data inside the model (typed fields and external-data entries are cleared; saving may move it
 * out again).
 */
export function setTensorData(t: TensorProto, td: TensorData): void {
  if (td.dataType !== t.dataType) throw new Error(`setTensorData: type ${dataTypeName(td.dataType)} given for ${dataTypeName(t.dataType)} tensor '${t.name}'`);
  t.dims = td.dims.map((d) => BigInt(d));
  t.floatData = [];
  t.int32Data = [];
  t.int64Data = [];
  t.doubleData = [];
  t.uint64Data = [];
  t.externalData = [];
  delete (t as { dataLocation?: unknown }).dataLocation;
  if (Array.isArray(td.data)) {
    t.stringData = td.data as Uint8Array<ArrayBuffer>[];
    delete (t as { rawData?: unknown }).rawData;
  } else {
    t.stringData = [];
    t.rawData = encodeRaw(td) as Uint8Array<ArrayBuffer>;
  }
}

/** A new initializer-style tensor holding `td` as raw_data. */
export function makeTensor(name: string, td: TensorData): TensorProto {
  const t = create(TensorProtoSchema, { name, dataType: td.dataType });
  setTensorData(t, td);
  return t;
}

/** int64 values of a small tensor (shapes, axes, indices): the usual way constants are read. */
export function toInts(td: TensorData): number[] {
  if (Array.isArray(td.data)) throw new Error("string tensor has no integers");
  return Array.from(td.data as ArrayLike<number | bigint>, (v) => Number(v));
}
