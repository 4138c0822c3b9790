/**
 * The graph explorer's engine side: build the view model of a graph and answer the webview.
 *
 *   const session = createExplorerSession(graph)                 // shapes + metrics computed here
 *   webview.onDidReceiveMessage(m => isRequest(m) && answerRequest(session, m).then(r => webview.postMessage(r)))
 *
 * See webviews/protocol.ts for the messages, page.ts for the HTML, html.ts for the standalone report.
 */
import type { Graph } from "../graph/graph.ts";
import { computeMetrics, type Metrics } from "../graph/metrics.ts";
import { completeShapesWithRuntime, inferShapes, type ShapeMap } from "../graph/shapes/index.ts";
import { formatAttribute } from "./attributes.ts";
import { buildExplorerData, type BuildOptions } from "./build.ts";
import { ExplorerSession } from "./session.ts";
import { weightStatsCancellable } from "./stats.ts";
import type { OverlayInput } from "./types.ts";

export { buildExplorerData, buildExplorerIndex, type BuildOptions, type ExplorerData } from "./build.ts";
export { ExplorerSession, type SessionOptions, type StatsProvider } from "./session.ts";
export { answerRequest, ExplorerRequests, CANCELLED, type HostRequest, type HostResponse } from "./host.ts";
export { computeStats, weightStats, weightStatsCancellable } from "./stats.ts";
export { explorerWebviewHtml, explorerCsp, standalonePageHtml, type WebviewPageOptions } from "./page.ts";
export type * from "./types.ts";
export type { ExplorerIndex } from "./explorerIndex.ts";

export interface ExplorerOptions {
  /** Precomputed shapes (default: static inference). */
  shapes?: ShapeMap;
  /** Precomputed metrics (default: computed from the shapes). */
  metrics?: Metrics;
  overlays?: OverlayInput[];
  build?: BuildOptions;
}

/** A session over a graph: attributes formatted and weight statistics computed on demand from it. */
export function createExplorerSession(graph: Graph, opts: ExplorerOptions = {}): ExplorerSession {
  const shapes = opts.shapes ?? inferShapes(graph);
  const metrics = opts.metrics ?? computeMetrics(graph, shapes);
  const { index, protos } = buildExplorerData(graph, { shapes: shapes.types, metrics, ...opts.build });
  return new ExplorerSession(index, {
    overlays: opts.overlays,
    stats: (name, bins, signal) => weightStatsCancellable(graph, name, bins, signal),
    attributes: (n) => protos[n]?.attribute.map((a) => formatAttribute(a, graph.model)) ?? [],
  });
}

/**
 * Static shapes leave some values unknown (dynamic reshapes); one onnxruntime run fills them. Slow on
 * big models, so hosts call this after the first paint, then swap the session and send a "reload" event.
 * Returns undefined when static inference was already complete.
 */
export async function refineWithRuntimeShapes(graph: Graph, opts: ExplorerOptions = {}): Promise<ExplorerSession | undefined> {
  const shapes = opts.shapes ?? inferShapes(graph);
  if (shapes.incomplete.length === 0) return undefined;
  await completeShapesWithRuntime(graph, shapes);
  return createExplorerSession(graph, { ...opts, shapes, metrics: undefined });
}
