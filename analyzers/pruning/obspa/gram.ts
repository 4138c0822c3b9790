/**
 * Large float64 matrix products through onnxruntime (one-node Gemm / MatMul models): its GEMM is several
 * times faster than JavaScript loops, and the numbers stay float64. Small products stay in JavaScript,
 * where the call overhead would dominate.
 */
import { create, toBinary } from "@bufbuild/protobuf";
import {
  AttributeProtoSchema,
  AttributeProto_AttributeType as AT,
  GraphProtoSchema,
  ModelProtoSchema,
  NodeProtoSchema,
  OperatorSetIdProtoSchema,
  TypeProto_TensorSchema,
  TypeProtoSchema,
  ValueInfoProtoSchema,
} from "onnx-buf";
import type * as ortTypes from "onnxruntime-node";
import { DataType } from "../../onnx/dtypes.ts";
import { ort } from "../../runtime/ort.ts";
import { accumulateGram, matmul } from "./linalg.ts";

function gemmModel(op: "gram" | "matmul"): Uint8Array {
  const vi = (name: string, dims: [string, string]) =>
    create(ValueInfoProtoSchema, {
      name,
      type: create(TypeProtoSchema, {
        value: {
          case: "tensorType",
          value: create(TypeProto_TensorSchema, {
            elemType: DataType.DOUBLE,
            shape: { dim: dims.map((d) => ({ value: { case: "dimParam" as const, value: d } })) },
          }),
        },
      }),
    });
  const node =
    op === "gram"
      ? create(NodeProtoSchema, {
          name: "gram",
          opType: "Gemm",
          input: ["x", "x"],
          output: ["g"],
          attribute: [create(AttributeProtoSchema, { name: "transB", type: AT.INT, i: 1n })],
        })
      : create(NodeProtoSchema, { name: "matmul", opType: "MatMul", input: ["a", "b"], output: ["g"] });
  const inputs = op === "gram" ? [vi("x", ["d", "n"])] : [vi("a", ["m", "k"]), vi("b", ["k", "n"])];
  const graph = create(GraphProtoSchema, { name: op, node: [node], input: inputs, output: [vi("g", op === "gram" ? ["d", "d"] : ["m", "n"])] });
  return toBinary(ModelProtoSchema, create(ModelProtoSchema, { irVersion: 8n, opsetImport: [create(OperatorSetIdProtoSchema, { domain: "", version: 13n })], graph }));
}

const sessions = new Map<string, Promise<ortTypes.InferenceSession>>();

function session(op: "gram" | "matmul"): Promise<ortTypes.InferenceSession> {
  let s = sessions.get(op);
  if (!s) {
    s = ort.InferenceSession.create(gemmModel(op), { intraOpNumThreads: 0, graphOptimizationLevel: "disabled" });
    sessions.set(op, s);
  }
  return s;
}

/** Below this many multiply-adds the JavaScript kernel is used. */
const ORT_MIN_WORK = 2e7;

/** h (lower triangle) += xt·xtᵀ for xt of d × n. */
export async function accumulateGramFast(h: Float64Array, xt: Float64Array, d: number, n: number): Promise<void> {
  if (d * d * n < ORT_MIN_WORK) {
    accumulateGram(h, xt, d, n);
    return;
  }
  const s = await session("gram");
  const out = await s.run({ x: new ort.Tensor("float64", xt, [d, n]) });
  const g = out.g!.data as Float64Array;
  for (let i = 0; i < d; i++) {
    const r = i * d;
    for (let j = 0; j <= i; j++) h[r + j] += g[r + j]!;
  }
  out.g!.dispose?.();
}

/** C (m × n) = A (m × k) · B (k × n), row-major float64. */
export async function matmulFast(a: Float64Array, b: Float64Array, m: number, k: number, n: number): Promise<Float64Array> {
  if (m * k * n < ORT_MIN_WORK) return matmul(a, b, m, k, n);
  const s = await session("matmul");
  const out = await s.run({ a: new ort.Tensor("float64", a, [m, k]), b: new ort.Tensor("float64", b, [k, n]) });
  return out.g!.data as Float64Array;
}
