/**
 * Open models kept in the worker: the analysis (graph, shapes, metrics) and the graph explorer's session,
 * so the webview's requests are answered off the extension host's thread without reloading the model.
 */
import { analyzeModel, type Analysis } from "../../analyzers/analysis.ts";
import { answerRequest, createExplorerSession, type ExplorerSession, type HostRequest, type HostResponse } from "../../analyzers/explorer/index.ts";
import { loadModel } from "../../analyzers/onnx/index.ts";
import { inspectReport, type InspectReport } from "../../analyzers/report/inspect.ts";
import type { JobContext } from "./context.ts";

interface Open {
  readonly analysis: Analysis;
  readonly explorer: ExplorerSession;
}

const sessions = new Map<number, Open>();
let next = 1;

export async function openModel({ file }: { file: string }, ctx: JobContext): Promise<{ session: number; report: InspectReport }> {
  ctx.progress({ fraction: 0, message: "Reading the model" });
  const model = loadModel(file);
  ctx.throwIfCancelled();
  ctx.progress({ fraction: 0.3, message: "Inferring shapes and metrics" });
  const analysis = await analyzeModel(model);
  ctx.throwIfCancelled();
  ctx.progress({ fraction: 0.8, message: "Building the explorer index" });
  const explorer = createExplorerSession(analysis.graph, { shapes: analysis.shapes, metrics: analysis.metrics });
  const session = next++;
  sessions.set(session, { analysis, explorer });
  ctx.progress({ fraction: 1 });
  return { session, report: inspectReport(analysis) };
}

export async function explorerRequest({ session, request }: { session: number; request: HostRequest }): Promise<HostResponse> {
  const open = sessions.get(session);
  if (!open) return { kind: "response", id: request.id, ok: false, error: "the model is no longer open in the engine; reopen it" };
  return answerRequest(open.explorer, request);
}

export async function closeModel({ session }: { session: number }): Promise<void> {
  const open = sessions.get(session);
  sessions.delete(session);
  open?.analysis.model.external.close();
}
