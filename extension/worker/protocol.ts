/**
 * Messages between the extension host and the engine worker (worker_threads). The host sends `run` and
 * `cancel`; the worker answers with `progress`, `log`, then exactly one `result` or `error` per job.
 * Jobs are named and typed in `Jobs`: add a job by adding an entry here and a handler in jobs.ts.
 */
import type { HostRequest, HostResponse } from "../../analyzers/explorer/host.ts";
import type { InspectReport } from "../../analyzers/report/inspect.ts";
import type { ErrorInfo } from "../errors.ts";
import type { AblationReport, AblationRequest } from "./ablationTypes.ts";
import type { PruneJobReport } from "../../analyzers/pruning/job.ts";
import type { PruneParams } from "./pruneJob.ts";
import type { PlanFigures } from "./planJob.ts";
import type { GroupRow } from "./modelSessions.ts";
import type { OverlayInfo } from "../../analyzers/explorer/types.ts";
import type { GroupAnalysis } from "../../analyzers/pruning/types.ts";
import type { GroupFacts } from "../../analyzers/source/groupLenses.ts";

export interface Jobs {
  /** Load and analyse a model (shapes, params, MACs, module tree): the same report as `scalpel inspect`. */
  inspect: { params: { file: string }; result: InspectReport };
  /** Open a model for a viewer: its report, and an explorer session kept in the worker until closeModel. */
  openModel: { params: { file: string }; result: { session: number; report: InspectReport } };
  /** One request of the graph explorer webview, answered by the model's explorer session. */
  explorerRequest: { params: { session: number; request: HostRequest }; result: HostResponse };
  closeModel: { params: { session: number }; result: void };
  /** Dependency groups of an open model (tree rows), installed as the explorer's groups overlay. */
  modelGroups: { params: { session: number }; result: { groups: GroupRow[]; summary: GroupAnalysis["summary"]; overlays: OverlayInfo[] } };
  /** A written plan as the explorer's pruning-diff overlay on the open original. */
  pruneOverlay: { params: { session: number; planFile: string; pruned: string }; result: { overlays: OverlayInfo[]; show: string } };
  /** Run the model in onnxruntime-node on seeded dummy inputs: median latency and output shapes. */
  latency: {
    params: { file: string; threads: number; repeats: number; warmup: number };
    result: { medianMs: number; runs: number; outputs: { name: string; dims: number[] }[] };
  };
  /** Prune a model (or apply a plan), write it and its plan, verify it; the engine's prune report. */
  prune: { params: PruneParams; result: PruneJobReport };
  /** Per-group figures of a plan file for its model (CodeLens on *.prune.json). */
  planFigures: { params: { model: string; planFile: string }; result: PlanFigures };
  /** Dependency groups (owning modules) and unit importance of a model, for CodeLens in PyTorch sources. */
  lensFacts: { params: { file: string; session?: number; criterion: string }; result: GroupFacts };
  /** An ablation report as explorer overlays on the open model it ran on (per-layer effect, knockout heatmap). */
  ablationOverlay: { params: { session: number; report: AblationReport }; result: { overlays: OverlayInfo[]; show: string } | undefined };
  /** The built-in ablation tasks (name and prompt template). */
  ablationTasks: { params: Record<string, never>; result: { name: string; template: string }[] };
  /** A CAMA/ABP ablation sweep, the AF1 search, or attention knockout on a transformer language model. */
  ablation: { params: AblationRequest; result: AblationReport };
  /** Test/diagnostic job: counts `steps` steps of `stepMs` each, checking for cancellation between steps. */
  count: { params: { steps: number; stepMs: number; blockMs?: number }; result: { completed: number } };
}

export type JobName = keyof Jobs;
export type JobParams<K extends JobName> = Jobs[K]["params"];
export type JobResult<K extends JobName> = Jobs[K]["result"];

export type ToWorker =
  | { readonly type: "run"; readonly id: number; readonly job: JobName; readonly params: unknown }
  | { readonly type: "cancel"; readonly id: number };

export interface Progress {
  /** Fraction done, 0..1, when known. */
  readonly fraction?: number;
  readonly message?: string;
}

export type FromWorker =
  | { readonly type: "progress"; readonly id: number; readonly progress: Progress }
  | { readonly type: "log"; readonly id: number; readonly message: string }
  | { readonly type: "result"; readonly id: number; readonly value: unknown }
  | { readonly type: "error"; readonly id: number; readonly error: ErrorInfo };
