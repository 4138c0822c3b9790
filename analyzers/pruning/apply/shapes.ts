/**
 * After pruning, the declared shapes (value_info, graph outputs) are stale: they are recomputed by
 * shape inference on the pruned graph. A value_info entry whose shape cannot be fully inferred is
 * dropped rather than left wrong.
 */
import { create } from "@bufbuild/protobuf";
import {
  GraphProtoSchema,
  ModelProtoSchema,
  TensorShapeProto_DimensionSchema,
  TensorShapeProtoSchema,
  TypeProto_TensorSchema,
  TypeProtoSchema,
  ValueInfoProtoSchema,
  type ValueInfoProto,
} from "onnx-buf";
import { buildGraph, type TensorType } from "../../graph/graph.ts";
import { inferShapes } from "../../graph/shapes/index.ts";
import type { Model } from "../../onnx/model.ts";

function withShape(vi: ValueInfoProto, t: TensorType): ValueInfoProto {
  const shape = create(TensorShapeProtoSchema, {
    dim: t.shape!.map((d) => create(TensorShapeProto_DimensionSchema, typeof d === "number" ? { value: { case: "dimValue", value: BigInt(d) } } : { value: { case: "dimParam", value: String(d) } })),
  });
  const elemType = vi.type?.value.case === "tensorType" ? vi.type.value.value.elemType : t.dataType;
  return create(ValueInfoProtoSchema, { ...vi, type: create(TypeProtoSchema, { denotation: vi.type?.denotation ?? "", value: { case: "tensorType", value: create(TypeProto_TensorSchema, { elemType, shape }) } }) });
}

/** Re-infers shapes of the edited model and rewrites its value_info and output shapes in place. */
export function refreshDeclaredShapes(model: Model): void {
  const g = model.proto.graph!;
  // Infer without the stale declarations (they would otherwise fill in what inference leaves open).
  const bare = create(ModelProtoSchema, { ...model.proto, graph: create(GraphProtoSchema, { ...g, valueInfo: [], output: g.output.map((o) => create(ValueInfoProtoSchema, { name: o.name })) }) });
  const graph = buildGraph({ ...model, proto: bare });
  const shapes = inferShapes(graph);
  const defined = new Set<string>(graph.values.keys());
  const full = (t: TensorType | undefined) => !!t?.shape && t.shape.every((d) => d !== undefined);
  g.valueInfo = g.valueInfo.flatMap((vi) => {
    if (!defined.has(vi.name)) return [];
    const t = shapes.types.get(vi.name);
    if (!full(t)) return [];
    return [withShape(vi, t!)];
  });
  g.output = g.output.map((o) => {
    const t = shapes.types.get(o.name);
    return full(t) ? withShape(o, t!) : o;
  });
}
