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

/** Running sums of the two passes (range, then spread and histogram), shared by the sync and chunked forms. */
interface Sums {
  n: number;
  min: number;
  max: number;
  sum: number;
  zeros: number;
  nonFinite: number;
  sq: number;
  counts: number[];
}

function rangePass(values: ArrayLike<number>, from: number, to: number, s: Sums): void {
  for (let i = from; i < to; i++) {
    const v = values[i]!;
    if (!Number.isFinite(v)) {
      s.nonFinite++;
      continue;
    }
    s.n++;
    if (v < s.min) s.min = v;
    if (v > s.max) s.max = v;
    s.sum += v;
    if (v === 0) s.zeros++;
  }
}

function spreadPass(values: ArrayLike<number>, from: number, to: number, s: Sums): void {
  const mean = s.sum / s.n, span = s.max - s.min || 1, bins = s.counts.length;
  for (let i = from; i < to; i++) {
    const v = values[i]!;
    if (!Number.isFinite(v)) continue;
    s.sq += (v - mean) * (v - mean);
    s.counts[Math.min(bins - 1, Math.floor(((v - s.min) / span) * bins))]!++;
  }
}

const newSums = (bins: number): Sums => ({ n: 0, min: Infinity, max: -Infinity, sum: 0, zeros: 0, nonFinite: 0, sq: 0, counts: new Array<number>(bins).fill(0) });

function statsOf(name: string, dataType: string, dims: number[], count: number, s: Sums): TensorStats {
  const n = s.n;
  return {
    name,
    dataType,
    dims,
    count,
    min: n ? s.min : NaN,
    max: n ? s.max : NaN,
    mean: n ? s.sum / n : NaN,
    std: n ? Math.sqrt(s.sq / n) : NaN,
    zeros: s.zeros,
    sparsity: count ? s.zeros / count : 0,
    nonFinite: s.nonFinite,
    histogram: { min: n ? s.min : 0, max: n ? s.max : 0, counts: s.counts },
  };
}

/** Statistics of numbers (NaN/±Inf counted apart and left out of the rest). */
export function computeStats(name: string, dataType: string, dims: number[], values: ArrayLike<number>, bins = 40): TensorStats {
  const s = newSums(bins);
  rangePass(values, 0, values.length, s);
  if (s.n) spreadPass(values, 0, values.length, s);
  return statsOf(name, dataType, dims, values.length, s);
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
  // The same two passes as computeStats, each in chunks.
  const s = newSums(bins);
  for (let a = 0; a < values.length; a += CHUNK) {
    await step();
    rangePass(values, a, Math.min(values.length, a + CHUNK), s);
  }
  if (s.n)
    for (let a = 0; a < values.length; a += CHUNK) {
      await step();
      spreadPass(values, a, Math.min(values.length, a + CHUNK), s);
    }
  return statsOf(name, dataType, dims, values.length, s);
}

function weightValues(graph: Graph, name: string): { dataType: string; dims: number[]; values: ArrayLike<number> } {
  const src = weightSource(graph, name);
  const tp = src ? graph.weight(src) : undefined;
  if (!tp) throw new ScalpelError(graph.name, `'${name}' is not a stored weight: only initializers and constants have statistics`);
  const td = readTensor(graph.model, tp);
  if (Array.isArray(td.data)) throw new ScalpelError(graph.name, `'${name}' holds strings, which have no statistics`);
  return { dataType: dataTypeName(td.dataType), dims: [...td.dims], values: toFloat64(td) };
}
