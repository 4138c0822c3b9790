/**
 * Open models kept in the worker: the analysis (graph, shapes, metrics) and the graph explorer's session,
 * so the webview's requests are answered off the extension host's thread without reloading the model.
 */
import { analyzeModel, type Analysis } from "../../analyzers/analysis.ts";
import { answerRequest, createExplorerSession, type ExplorerSession, type HostRequest, type HostResponse } from "../../analyzers/explorer/index.ts";
import { groupsOverlay, pruneDiffOverlay, PRUNE_DIFF_OVERLAY_ID } from "../../analyzers/explorer/pruningOverlays.ts";
import type { OverlayInfo, OverlayInput } from "../../analyzers/explorer/types.ts";
import { loadModel } from "../../analyzers/onnx/index.ts";
import { findGroups } from "../../analyzers/pruning/groups/index.ts";
import type { GroupAnalysis, Plan } from "../../analyzers/pruning/types.ts";
import fs from "node:fs";
import { discoverStructure } from "../../analyzers/ablation/structure.ts";
import { knockoutOverlay, layerEffectOverlay, layerKeys } from "../../analyzers/explorer/ablationOverlays.ts";
import type { AblationReport } from "./ablationTypes.ts";
import { inspectReport, type InspectReport } from "../../analyzers/report/inspect.ts";
import type { JobContext } from "./context.ts";

interface Open {
  readonly analysis: Analysis;
  readonly explorer: ExplorerSession;
  groups?: GroupAnalysis;
  overlays: OverlayInput[];
}

/** A dependency group as the tree view lists it. */
export interface GroupRow {
  readonly id: number;
  readonly key: string;
  readonly scope: string;
  readonly units: number;
  readonly unitKind: string;
  readonly params: number;
  readonly macs: number;
  /** Why (some of) its units cannot be pruned. */
  readonly frozen?: string;
  /** The first member's node (to reveal it). */
  readonly node: string;
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
  sessions.set(session, { analysis, explorer, overlays: [] });
  ctx.progress({ fraction: 1 });
  return { session, report: inspectReport(analysis) };
}

/** The analysis and dependency groups of an open model (groups computed on first use), for other jobs. */
export function sessionAnalysis(session: number): { analysis: Analysis; groups: GroupAnalysis } | undefined {
  const open = sessions.get(session);
  if (!open) return undefined;
  const a = open.analysis;
  return { analysis: a, groups: (open.groups ??= findGroups(a.graph, a.shapes, { metrics: a.metrics })) };
}

export async function explorerRequest({ session, request }: { session: number; request: HostRequest }, ctx?: JobContext): Promise<HostResponse> {
  const open = sessions.get(session);
  if (!open) return { kind: "response", id: request.id, ok: false, error: "the model is no longer open in the engine; reopen it" };
  return answerRequest(open.explorer, request, ctx?.signal);
}

function setOverlay(open: Open, overlay: OverlayInput): OverlayInfo[] {
  open.overlays = [...open.overlays.filter((o) => o.id !== overlay.id), overlay];
  return open.explorer.setOverlays(open.overlays);
}

/** The dependency groups of an open model: rows for the tree, and the explorer's groups overlay. */
export async function modelGroups({ session }: { session: number }, ctx: JobContext): Promise<{ groups: GroupRow[]; summary: GroupAnalysis["summary"]; overlays: OverlayInfo[] }> {
  const open = sessions.get(session);
  if (!open) throw new Error("the model is no longer open in the engine; reopen it");
  ctx.progress({ message: "Finding dependency groups" });
  const a = open.analysis;
  const groups = (open.groups ??= findGroups(a.graph, a.shapes, { metrics: a.metrics }));
  const overlays = setOverlay(open, groupsOverlay(groups));
  const rows = groups.groups.map((g) => ({
    id: g.id,
    key: g.key,
    scope: g.scope,
    units: g.units,
    unitKind: g.unitKind,
    params: g.params,
    macs: g.macs,
    frozen: g.frozen ? (g.frozen.units ? `${g.frozen.units.length} of ${g.units} units frozen: ${g.frozen.reason}` : g.frozen.reason) : undefined,
    node: g.members[0]?.node ?? "",
  }));
  return { groups: rows, summary: groups.summary, overlays };
}

/** After a prune of an open model: the plan's diff (channels, and params/MACs per node of both files) as an explorer overlay. */
export async function pruneOverlay({ session, planFile, pruned }: { session: number; planFile: string; pruned: string }): Promise<{ overlays: OverlayInfo[]; show: string }> {
  const open = sessions.get(session);
  if (!open) throw new Error("the model is no longer open in the engine; reopen it");
  const a = open.analysis;
  const groups = (open.groups ??= findGroups(a.graph, a.shapes, { metrics: a.metrics }));
  const plan = JSON.parse(fs.readFileSync(planFile, "utf8")) as Plan;
  const perNode = (x: Analysis) => Object.fromEntries(x.graph.nodes.map((n) => [n.name, x.metrics.perNode[n.index]!]));
  const after = await analyzeModel(pruned, { runtimeFallback: false });
  try {
    return { overlays: setOverlay(open, pruneDiffOverlay(groups, plan, { before: perNode(a), after: perNode(after) })), show: PRUNE_DIFF_OVERLAY_ID };
  } finally {
    after.model.external.close();
  }
}

/**
 * An ablation report on the open model it ran on, as explorer overlays: the per-layer effect (replacement
 * sweeps, AF1's L_wait curve) and the knockout per block (with the position heatmap). Undefined when the
 * report has no per-layer figures (ABP) or no longer fits the model.
 */
export async function ablationOverlay({ session, report }: { session: number; report: AblationReport }): Promise<{ overlays: OverlayInfo[]; show: string } | undefined> {
  const open = sessions.get(session);
  if (!open) throw new Error("the model is no longer open in the engine; reopen it");
  const g = open.analysis.graph;
  const keys = layerKeys(discoverStructure(g), g);
  if (keys.attention.length !== report.blocks) return undefined;
  const method = report.method ?? "cama";
  const layers =
    report.kind === "af1"
      ? layerEffectOverlay(keys, report.af1?.lWaitCurve ?? [], `AF1 L_wait curve (${report.task.name})`)
      : report.kind === "ablate" && method !== "abp"
        ? layerEffectOverlay(keys, report.results.flatMap((r) => (r.layer === undefined ? [] : [{ L: r.layer, accuracy: r.accuracy, faithfulness: r.faithfulness }])), `${method} at each L (${report.task.name})`)
        : undefined;
  const knockout =
    report.kind === "knockout" || report.heatmap
      ? knockoutOverlay(
          keys,
          report.kind === "knockout" ? report.results.flatMap((r) => (r.layer === undefined ? [] : [{ block: r.layer, faithfulness: r.faithfulness }])) : [],
          report.heatmap && report.heatmap.window === 1 ? report.heatmap : undefined,
        )
      : undefined;
  let overlays: OverlayInfo[] | undefined;
  for (const o of [knockout, layers]) if (o) overlays = setOverlay(open, o);
  const show = (layers ?? knockout)?.id;
  return overlays && show ? { overlays, show } : undefined;
}

export async function closeModel({ session }: { session: number }): Promise<void> {
  const open = sessions.get(session);
  sessions.delete(session);
  open?.analysis.model.external.close();
}
