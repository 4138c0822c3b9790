/**
 * Where criteria read weight values: a lookup from a stored tensor name (Member.tensor) to its dims and
 * values as float64. Criteria only ever need numbers, so tests can hand-build one from plain arrays and
 * the engine builds one from a loaded model.
 */
import type { Graph } from "../../graph/graph.ts";
import type { Model } from "../../onnx/model.ts";
import { readTensor, toFloat64 } from "../../onnx/tensor.ts";

export interface WeightArray {
  readonly dims: readonly number[];
  readonly values: Float64Array;
}

/** name → values, or undefined when the tensor is absent or has no numeric values (strings). */
export type Weights = (tensor: string) => WeightArray | undefined;

/** Weights of a loaded model (initializers and Constant values, via Graph.weight), read once and cached. */
export function modelWeights(model: Model, graph: Graph): Weights {
  const cache = new Map<string, WeightArray | undefined>();
  return (name) => {
    if (cache.has(name)) return cache.get(name);
    const t = graph.weight(name);
    let w: WeightArray | undefined;
    if (t) {
      const td = readTensor(model, t);
      // String tensors have no magnitude; every other dtype converts (float16, int8, float8…).
      if (!Array.isArray(td.data)) w = { dims: td.dims, values: toFloat64(td) };
    }
    cache.set(name, w);
    return w;
  };
}

/** Weights from plain arrays (tests, hand-made analyses). */
export function weightsFrom(table: Record<string, { dims: readonly number[]; values: ArrayLike<number> }>): Weights {
  return (name) => {
    const e = table[name];
    return e ? { dims: e.dims, values: Float64Array.from(e.values) } : undefined;
  };
}
