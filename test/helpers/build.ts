/** Tiny ONNX models built in code, for tests that need a precise graph (cycles, dangling inputs, external data). */
import { create } from "@bufbuild/protobuf";
import {
  AttributeProtoSchema,
  AttributeProto_AttributeType,
  GraphProtoSchema,
  ModelProtoSchema,
  NodeProtoSchema,
  OperatorSetIdProtoSchema,
  TensorProtoSchema,
  TensorProto_DataType,
  TensorShapeProto_DimensionSchema,
  TensorShapeProtoSchema,
  TypeProto_TensorSchema,
  TypeProtoSchema,
  ValueInfoProtoSchema,
  type AttributeProto,
  type ModelProto,
  type NodeProto,
  type TensorProto,
  type ValueInfoProto,
} from "onnx-buf";
import { encodeBytes } from "../../analyzers/onnx/encode.ts";

export function valueInfo(name: string, dims: (number | string)[] | undefined, elemType: number = TensorProto_DataType.FLOAT): ValueInfoProto {
  const shape = dims
    ? create(TensorShapeProtoSchema, {
        dim: dims.map((d) => create(TensorShapeProto_DimensionSchema, { value: typeof d === "number" ? { case: "dimValue", value: BigInt(d) } : { case: "dimParam", value: d } })),
      })
    : undefined;
  return create(ValueInfoProtoSchema, { name, type: create(TypeProtoSchema, { value: { case: "tensorType", value: create(TypeProto_TensorSchema, { elemType, shape }) } }) });
}

export function floatTensor(name: string, dims: number[], values?: ArrayLike<number>): TensorProto {
  const n = dims.reduce((a, b) => a * b, 1);
  const data = new Float32Array(n);
  for (let i = 0; i < n; i++) data[i] = values ? values[i]! : Math.sin(i + 1) * 0.5;
  return create(TensorProtoSchema, { name, dims: dims.map(BigInt), dataType: TensorProto_DataType.FLOAT, rawData: new Uint8Array(data.buffer) });
}

export function int64Tensor(name: string, values: number[], dims: number[] = [values.length]): TensorProto {
  return create(TensorProtoSchema, { name, dims: dims.map(BigInt), dataType: TensorProto_DataType.INT64, int64Data: values.map(BigInt) });
}

type AttrValue = number | number[] | string | TensorProto | { float: number } | { floats: number[] };

export function attribute(name: string, v: AttrValue): AttributeProto {
  const A = AttributeProto_AttributeType;
  if (typeof v === "number") return create(AttributeProtoSchema, { name, type: A.INT, i: BigInt(v) });
  if (typeof v === "string") return create(AttributeProtoSchema, { name, type: A.STRING, s: new TextEncoder().encode(v) });
  if (Array.isArray(v)) return create(AttributeProtoSchema, { name, type: A.INTS, ints: v.map(BigInt) });
  if ("float" in v) return create(AttributeProtoSchema, { name, type: A.FLOAT, f: v.float });
  if ("floats" in v) return create(AttributeProtoSchema, { name, type: A.FLOATS, floats: v.floats });
  return create(AttributeProtoSchema, { name, type: A.TENSOR, t: v });
}

export function node(opType: string, inputs: string[], outputs: string[], attrs: Record<string, AttrValue> = {}, name?: string): NodeProto {
  return create(NodeProtoSchema, {
    opType,
    input: inputs,
    output: outputs,
    name: name ?? `${opType}_${outputs[0]}`,
    attribute: Object.entries(attrs).map(([k, v]) => attribute(k, v)),
  });
}

export interface ModelSpec {
  nodes: NodeProto[];
  inputs: ValueInfoProto[];
  outputs: ValueInfoProto[];
  initializers?: TensorProto[];
  opset?: number;
  irVersion?: number;
}

export function model(spec: ModelSpec): ModelProto {
  return create(ModelProtoSchema, {
    irVersion: BigInt(spec.irVersion ?? 8),
    producerName: "onnx-scalpel-tests",
    opsetImport: [create(OperatorSetIdProtoSchema, { domain: "", version: BigInt(spec.opset ?? 17) })],
    graph: create(GraphProtoSchema, {
      name: "g",
      node: spec.nodes,
      input: spec.inputs,
      output: spec.outputs,
      initializer: spec.initializers ?? [],
    }),
  });
}

export function modelBytes(spec: ModelSpec): Uint8Array {
  return encodeBytes(ModelProtoSchema, model(spec));
}

/** A small Conv → Relu → GlobalAveragePool → Flatten → Gemm classifier, valid for onnxruntime. */
export function tinyCnn(): ModelSpec {
  return {
    inputs: [valueInfo("x", [1, 3, 8, 8])],
    outputs: [valueInfo("y", [1, 5])],
    initializers: [floatTensor("w1", [4, 3, 3, 3]), floatTensor("b1", [4]), floatTensor("w2", [5, 4]), floatTensor("b2", [5])],
    nodes: [
      node("Conv", ["x", "w1", "b1"], ["c1"], { pads: [1, 1, 1, 1] }),
      node("Relu", ["c1"], ["r1"]),
      node("GlobalAveragePool", ["r1"], ["p1"]),
      node("Flatten", ["p1"], ["f1"]),
      node("Gemm", ["f1", "w2", "b2"], ["y"], { transB: 1 }),
    ],
  };
}
