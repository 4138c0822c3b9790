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
  const { dataType, dims, values } = weightValues(graph, name);
  return computeStats(name, dataType, dims, values, bins);
}

/** Tensors up to this many elements are done in one go; larger ones yield between chunks and check for cancellation. */
const CHUNK = 1 << 22;

/**
 * `weightStats` for a host that must stay responsive and honour the webview's cancel: a big tensor is
 * read in chunks, yielding to the event loop between them, and abandoned (AbortError) once `signal` fires.
 */
export async function weightStatsCancellable(graph: Graph, name: string, bins = 40, signal?: AbortSignal, chunk = CHUNK): Promise<TensorStats> {
  const CHUNK = Math.max(1, chunk);
  signal?.throwIfAborted();
  const { dataType, dims, values } = weightValues(graph, name);
  if (values.length <= CHUNK) return computeStats(name, dataType, dims, values, bins);
  const step = async () => {
    await new Promise((r) => setImmediate(r));
    signal?.throwIfAborted();
  };
  // Three passes as in computeStats (range, spread, histogram), each in chunks.
  let n = 0, min = Infinity, max = -Infinity, sum = 0, zeros = 0, nonFinite = 0;
  for (let a = 0; a < values.length; a += CHUNK) {
    await step();
    for (let i = a, e = Math.min(values.length, a + CHUNK); i < e; i++) {
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
  }
  const mean = n ? sum / n : NaN;
  let sq = 0;
  const counts = new Array<number>(bins).fill(0);
  const span = max - min || 1;
  for (let a = 0; a < values.length; a += CHUNK) {
    await step();
    for (let i = a, e = Math.min(values.length, a + CHUNK); i < e; i++) {
      const v = values[i]!;
      if (!Number.isFinite(v)) continue;
      sq += (v - mean) * (v - mean);
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

function weightValues(graph: Graph, name: string): { dataType: string; dims: number[]; values: ArrayLike<number> } {
  const src = weightSource(graph, name);
  const tp = src ? graph.weight(src) : undefined;
  if (!tp) throw new ScalpelError(graph.name, `'${name}' is not a stored weight: only initializers and constants have statistics`);
  const td = readTensor(graph.model, tp);
  if (Array.isArray(td.data)) throw new ScalpelError(graph.name, `'${name}' holds strings, which have no statistics`);
  return { dataType: dataTypeName(td.dataType), dims: [...td.dims], values: toFloat64(td) };
}
