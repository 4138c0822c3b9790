import { TensorProto_DataType as DT } from "onnx-buf";

export { DT as DataType };

export type TypedArray =
  | Float32Array
  | Float64Array
  | Int8Array
  | Uint8Array
  | Int16Array
  | Uint16Array
  | Int32Array
  | Uint32Array
  | BigInt64Array
  | BigUint64Array;

/** Which repeated field of TensorProto holds the values when raw_data is not used. */
export type StorageField = "floatData" | "int32Data" | "int64Data" | "doubleData" | "uint64Data" | "stringData";

export interface DataTypeInfo {
  readonly name: string;
  /** Bits per element in raw_data (4 for int4/uint4/float4, 2 for int2/uint2). 0 for strings. */
  readonly bits: number;
  readonly storage: StorageField;
  /** Typed array used for the element storage in memory (bit patterns for float16/bfloat16/float8). */
  readonly array: "f32" | "f64" | "i8" | "u8" | "i16" | "u16" | "i32" | "u32" | "i64" | "u64" | "packed" | "string";
  readonly isFloat: boolean;
}

const t = (
  name: string,
  bits: number,
  storage: StorageField,
  array: DataTypeInfo["array"],
  isFloat = false,
): DataTypeInfo => ({ name, bits, storage, array, isFloat });

const INFO: Record<number, DataTypeInfo> = {
  [DT.FLOAT]: t("float32", 32, "floatData", "f32", true),
  [DT.UINT8]: t("uint8", 8, "int32Data", "u8"),
  [DT.INT8]: t("int8", 8, "int32Data", "i8"),
  [DT.UINT16]: t("uint16", 16, "int32Data", "u16"),
  [DT.INT16]: t("int16", 16, "int32Data", "i16"),
  [DT.INT32]: t("int32", 32, "int32Data", "i32"),
  [DT.INT64]: t("int64", 64, "int64Data", "i64"),
  [DT.STRING]: t("string", 0, "stringData", "string"),
  [DT.BOOL]: t("bool", 8, "int32Data", "u8"),
  [DT.FLOAT16]: t("float16", 16, "int32Data", "u16", true),
  [DT.DOUBLE]: t("float64", 64, "doubleData", "f64", true),
  [DT.UINT32]: t("uint32", 32, "uint64Data", "u32"),
  [DT.UINT64]: t("uint64", 64, "uint64Data", "u64"),
  [DT.COMPLEX64]: t("complex64", 64, "floatData", "f32", true),
  [DT.COMPLEX128]: t("complex128", 128, "doubleData", "f64", true),
  [DT.BFLOAT16]: t("bfloat16", 16, "int32Data", "u16", true),
  [DT.FLOAT8E4M3FN]: t("float8e4m3fn", 8, "int32Data", "u8", true),
  [DT.FLOAT8E4M3FNUZ]: t("float8e4m3fnuz", 8, "int32Data", "u8", true),
  [DT.FLOAT8E5M2]: t("float8e5m2", 8, "int32Data", "u8", true),
  [DT.FLOAT8E5M2FNUZ]: t("float8e5m2fnuz", 8, "int32Data", "u8", true),
  [DT.UINT4]: t("uint4", 4, "int32Data", "packed"),
  [DT.INT4]: t("int4", 4, "int32Data", "packed"),
  [DT.FLOAT4E2M1]: t("float4e2m1", 4, "int32Data", "packed", true),
  [DT.FLOAT8E8M0]: t("float8e8m0", 8, "int32Data", "u8", true),
  [DT.UINT2]: t("uint2", 2, "int32Data", "packed"),
  [DT.INT2]: t("int2", 2, "int32Data", "packed"),
};

export function dataTypeInfo(dt: number): DataTypeInfo | undefined {
  return INFO[dt];
}

export function dataTypeName(dt: number): string {
  return INFO[dt]?.name ?? `unknown(${dt})`;
}

/** Bytes that `count` elements take in raw_data (sub-byte types are packed, rounded up). */
export function rawByteLength(dt: number, count: number): number {
  const info = INFO[dt];
  if (!info || info.bits === 0) return 0;
  return Math.ceil((count * info.bits) / 8);
}

/** Complex types hold two scalars per element. */
export function scalarsPerElement(dt: number): number {
  return dt === DT.COMPLEX64 || dt === DT.COMPLEX128 ? 2 : 1;
}
