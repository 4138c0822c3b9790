/**
 * Where criteria read weight values: a lookup from a stored tensor name (Member.tensor) to its dims and
 * values as float64. Criteria only ever need numbers, so tests can hand-build one from plain arrays and
 * the engine builds one from a loaded model.
 */
import type { Graph } from "../../graph/graph.ts";
import type { Model } from "../../onnx/model.ts";
import { DataType } from "../../onnx/dtypes.ts";
import { readTensor, toFloat32, toFloat64 } from "../../onnx/tensor.ts";

export interface WeightArray {
  readonly dims: readonly number[];
  /** float32 weights are a view of the model's bytes (no copy); other types are converted. */
  readonly values: Float32Array | Float64Array;
}

/** name → values, or undefined when the tensor is absent or has no numeric values (strings). */
export type Weights = (tensor: string) => WeightArray | undefined;

/**
 * Weights of a loaded model (initializers and Constant values, via Graph.weight). Not cached: float32 data
 * is viewed in place, so a large model is never held twice in memory (scoreGroups caches what it derives).
 */
export function modelWeights(model: Model, graph: Graph): Weights {
  return (name) => {
    const t = graph.weight(name);
    if (!t) return undefined;
    const td = readTensor(model, t);
    // String tensors have no magnitude; every other dtype converts (float16, int8, float8…).
    if (Array.isArray(td.data)) return undefined;
    return { dims: td.dims, values: td.dataType === DataType.FLOAT ? toFloat32(td) : toFloat64(td) };
  };
}

/** Weights from plain arrays (tests, hand-made analyses). */
export function weightsFrom(table: Record<string, { dims: readonly number[]; values: ArrayLike<number> }>): Weights {
  return (name) => {
    const e = table[name];
    return e ? { dims: e.dims, values: Float64Array.from(e.values) } : undefined;
  };
}
