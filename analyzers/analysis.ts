/**
 * The common first steps of every job: load → graph → shapes (static, then onnxruntime for what is left)
 * → metrics. The CLI, the extension and the explorer all start here.
 */
import { buildGraph, type Graph } from "./graph/graph.ts";
import { computeMetrics, type Metrics } from "./graph/metrics.ts";
import { completeShapesWithRuntime, inferShapes, type InferOptions, type ShapeMap } from "./graph/shapes/index.ts";
import { loadModel, type Model } from "./onnx/model.ts";

export interface Analysis {
  readonly model: Model;
  readonly graph: Graph;
  readonly shapes: ShapeMap;
  readonly metrics: Metrics;
  /** Values whose shapes came from the onnxruntime fallback. */
  readonly runtimeResolved: readonly string[];
}

export interface AnalyzeOptions extends InferOptions {
  /** Run the model once in onnxruntime to fill shapes static inference could not decide (default true). */
  runtimeFallback?: boolean;
}

export async function analyzeModel(source: string | Model, opts: AnalyzeOptions = {}): Promise<Analysis> {
  const model = typeof source === "string" ? loadModel(source) : source;
  const graph = buildGraph(model);
  const shapes = inferShapes(graph, opts);
  let runtimeResolved: string[] = [];
  if (opts.runtimeFallback !== false && shapes.incomplete.length > 0) {
    try {
      runtimeResolved = await completeShapesWithRuntime(graph, shapes);
    } catch {
      // The fallback is best effort: a model onnxruntime cannot run keeps its partial shapes.
    }
  }
  const metrics = computeMetrics(graph, shapes);
  return { model, graph, shapes, metrics, runtimeResolved };
}

/** Synchronous variant without the runtime fallback (for quick views of huge or non-runnable models). */
export function analyzeModelStatic(source: string | Model, opts: InferOptions = {}): Analysis {
  const model = typeof source === "string" ? loadModel(source) : source;
  const graph = buildGraph(model);
  const shapes = inferShapes(graph, opts);
  return { model, graph, shapes, metrics: computeMetrics(graph, shapes), runtimeResolved: [] };
}
