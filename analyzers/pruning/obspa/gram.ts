/**
 * X·Xᵀ in float64 through onnxruntime (a one-node Gemm model, transB = 1): its GEMM is several times faster
 * than JavaScript loops on large layers, and the numbers stay float64. Small products stay in JavaScript,
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
import { accumulateGram } from "./linalg.ts";

function gemmModel(): Uint8Array {
  const vi = (name: string) =>
    create(ValueInfoProtoSchema, {
      name,
      type: create(TypeProtoSchema, {
        value: {
          case: "tensorType",
          value: create(TypeProto_TensorSchema, {
            elemType: DataType.DOUBLE,
            shape: { dim: [{ value: { case: "dimParam", value: "d" } }, { value: { case: "dimParam", value: "n" } }] },
          }),
        },
      }),
    });
  const node = create(NodeProtoSchema, {
    name: "gram",
    opType: "Gemm",
    input: ["x", "x"],
    output: ["g"],
    attribute: [create(AttributeProtoSchema, { name: "transB", type: AT.INT, i: 1n })],
  });
  const graph = create(GraphProtoSchema, { name: "gram", node: [node], input: [vi("x")], output: [vi("g")] });
  return toBinary(ModelProtoSchema, create(ModelProtoSchema, { irVersion: 8n, opsetImport: [create(OperatorSetIdProtoSchema, { domain: "", version: 13n })], graph }));
}

let session: Promise<ortTypes.InferenceSession> | undefined;

/** Below this many multiply-adds the JavaScript kernel is used. */
const ORT_MIN_WORK = 2e7;

/** h (lower triangle) += xt·xtᵀ for xt of d × n. */
export async function accumulateGramFast(h: Float64Array, xt: Float64Array, d: number, n: number): Promise<void> {
  if (d * d * n < ORT_MIN_WORK) {
    accumulateGram(h, xt, d, n);
    return;
  }
  session ??= ort.InferenceSession.create(gemmModel(), { intraOpNumThreads: 0, graphOptimizationLevel: "disabled" });
  const s = await session;
  const out = await s.run({ x: new ort.Tensor("float64", xt, [d, n]) });
  const g = out.g!.data as Float64Array;
  for (let i = 0; i < d; i++) {
    const r = i * d;
    for (let j = 0; j <= i; j++) h[r + j] += g[r + j]!;
  }
  out.g!.dispose?.();
}
