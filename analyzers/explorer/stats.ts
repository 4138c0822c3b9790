/**
 * Statistics of a stored tensor for the details pane: min/max/mean/std/sparsity and a histogram,
 * computed on the host from the weights (the webview never receives weights).
 */
import type { Graph } from "../graph/graph.ts";
import { weightSource } from "../graph/metrics.ts";
import { dataTypeName } from "../onnx/dtypes.ts";
import { ScalpelError } from "../onnx/errors.ts";
import { readTensor, toFloat64 } from "../onnx/tensor.ts";
import type { TensorStats } from "./types.ts";

/** Statistics of numbers (NaN/±Inf counted apart and left out of the rest). */
export function computeStats(name: string, dataType: string, dims: number[], values: ArrayLike<number>, bins = 40): TensorStats {
  let n = 0, min = Infinity, max = -Infinity, sum = 0, zeros = 0, nonFinite = 0;
  for (let i = 0; i < values.length; i++) {
    const v = values[i]!;
    if (!Number.isFinite(v)) {
      nonFinite++;
      continue;
    }
    n++;
    if (v < min) min = v;
    if (v > max) max = v;
    sum += v;
    if (v === 0) zeros++;
  }
  const mean = n ? sum / n : NaN;
  let sq = 0;
  for (let i = 0; i < values.length; i++) {
    const v = values[i]!;
    if (Number.isFinite(v)) sq += (v - mean) * (v - mean);
  }
  const counts = new Array<number>(bins).fill(0);
  if (n) {
    const span = max - min || 1;
    for (let i = 0; i < values.length; i++) {
      const v = values[i]!;
      if (!Number.isFinite(v)) continue;
      counts[Math.min(bins - 1, Math.floor(((v - min) / span) * bins))]!++;
    }
  }
  return {
    name,
    dataType,
    dims,
    count: values.length,
    min: n ? min : NaN,
    max: n ? max : NaN,
    mean,
    std: n ? Math.sqrt(sq / n) : NaN,
    zeros,
    sparsity: values.length ? zeros / values.length : 0,
    nonFinite,
    histogram: { min: n ? min : 0, max: n ? max : 0, counts },
  };
}

/** Statistics of a weight (an initializer or Constant, possibly behind Identity nodes). */
export function weightStats(graph: Graph, name: string, bins = 40): TensorStats {
  const src = weightSource(graph, name);
  const tp = src ? graph.weight(src) : undefined;
  if (!tp) throw new ScalpelError(graph.name, `'${name}' is not a stored weight: only initializers and constants have statistics`);
  const td = readTensor(graph.model, tp);
  if (Array.isArray(td.data)) throw new ScalpelError(graph.name, `'${name}' holds strings, which have no statistics`);
  return computeStats(name, dataTypeName(td.dataType), [...td.dims], toFloat64(td), bins);
}
