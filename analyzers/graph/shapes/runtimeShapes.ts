/**
 * The fallback for what static inference cannot decide: run the model once in onnxruntime with dummy
 * inputs, with the wanted intermediate tensors added as graph outputs in a temporary copy, and read
 * their shapes. The user's model is never modified.
 */
import { create } from "@bufbuild/protobuf";
import { GraphProtoSchema, ModelProtoSchema, TypeProto_TensorSchema, TypeProtoSchema, ValueInfoProtoSchema, type ModelProto } from "onnx-buf";
import { encodeBytes } from "../../onnx/encode.ts";
import type { Dim, Graph } from "../graph.ts";
import { createSessionFromBytes, dummyFeeds, type SessionOptions } from "../../runtime/ort.ts";
import type { ShapeMap } from "./infer.ts";

/** A copy of the model whose graph also outputs `names` (the original proto is untouched). */
export function withExtraOutputs(model: ModelProto, names: readonly string[], dtypes: ReadonlyMap<string, number> = new Map()): ModelProto {
  const g = model.graph!;
  const existing = new Set(g.output.map((o) => o.name));
  const extra = names
    .filter((n) => !existing.has(n))
    .map((name) => {
      const elemType = dtypes.get(name);
      // Without a known dtype the output is declared untyped; onnxruntime infers it.
      return create(ValueInfoProtoSchema, {
        name,
        type: elemType ? create(TypeProtoSchema, { value: { case: "tensorType", value: create(TypeProto_TensorSchema, { elemType }) } }) : undefined,
      });
    });
  const graph = create(GraphProtoSchema, { ...g, output: [...g.output, ...extra] });
  return create(ModelProtoSchema, { ...model, graph });
}

export interface RuntimeShapeOptions extends SessionOptions {
  /** Values for symbolic input dims (default 1). */
  symbolic?: Record<string, number>;
  /** Only these names (default: every incomplete value). */
  names?: readonly string[];
}

/** Fills incomplete shapes in place from one onnxruntime run. Returns the names it resolved. */
export async function completeShapesWithRuntime(graph: Graph, shapes: ShapeMap, opts: RuntimeShapeOptions = {}): Promise<string[]> {
  const wanted = (opts.names ?? shapes.incomplete).filter((n) => graph.values.get(n)?.kind === "intermediate");
  if (wanted.length === 0) return [];
  const dtypes = new Map<string, number>();
  for (const n of wanted) {
    const dt = shapes.types.get(n)?.dataType;
    if (dt) dtypes.set(n, dt);
  }
  const copy = withExtraOutputs(graph.model.proto, wanted, dtypes);
  const session = await createSessionFromBytes(encodeBytes(ModelProtoSchema, copy), graph.name, graph.model.baseDir, { ...opts, optimization: "disabled" });
  try {
    const results = await session.run(dummyFeeds(graph, opts.symbolic), wanted as string[]);
    const resolved: string[] = [];
    for (const name of wanted) {
      const r = results[name];
      if (!r) continue;
      const old = shapes.types.get(name);
      // Keep symbolic dims where static inference had them; fill the unknown ones.
      const dims: Dim[] = r.dims.map((d, i) => (old?.shape && old.shape.length === r.dims.length && old.shape[i] !== undefined ? old.shape[i] : d));
      shapes.types.set(name, { dataType: old?.dataType || dtypes.get(name) || 0, shape: dims });
      shapes.source.set(name, "runtime");
      resolved.push(name);
    }
    const done = new Set(resolved);
    shapes.incomplete.splice(0, shapes.incomplete.length, ...shapes.incomplete.filter((n) => !done.has(n)));
    return resolved;
  } finally {
    await session.release();
  }
}
