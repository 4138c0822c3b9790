/**
 * Job handlers: thin calls into the engine (analyzers/). Runs inside the worker thread only.
 */
import { analyzeModel } from "../../analyzers/analysis.ts";
import { buildGraph } from "../../analyzers/graph/graph.ts";
import { loadModel } from "../../analyzers/onnx/index.ts";
import { inspectReport } from "../../analyzers/report/inspect.ts";
import { createSession, dummyFeeds } from "../../analyzers/runtime/ort.ts";
import { TASKS } from "../../analyzers/ablation/tasks.ts";
import { runAblation } from "./ablationJobs.ts";
import { ablationOverlay, closeModel, explorerRequest, modelGroups, openModel, pruneOverlay } from "./modelSessions.ts";
import { lensFacts } from "./lensJob.ts";
import { runPrune } from "./pruneJob.ts";
import { planFigures } from "./planJob.ts";
import type { JobContext } from "./context.ts";
import type { JobName, JobParams, JobResult } from "./protocol.ts";

type Handlers = { [K in JobName]: (params: JobParams<K>, ctx: JobContext) => Promise<JobResult<K>> };

export const handlers: Handlers = {
  async inspect({ file }, ctx) {
    ctx.progress({ fraction: 0, message: "Reading the model" });
    const model = loadModel(file);
    ctx.throwIfCancelled();
    ctx.progress({ fraction: 0.3, message: "Inferring shapes and metrics" });
    const analysis = await analyzeModel(model);
    ctx.progress({ fraction: 1 });
    return inspectReport(analysis);
  },

  async latency({ file, threads, repeats, warmup }, ctx) {
    ctx.progress({ fraction: 0, message: "Loading the model" });
    const model = loadModel(file);
    const graph = buildGraph(model);
    const session = await createSession(model, { threads });
    try {
      const feeds = dummyFeeds(graph);
      const total = warmup + repeats;
      const times: number[] = [];
      let last: Record<string, { dims: readonly number[] }> = {};
      // One inference at a time, checking for cancellation in between (a running inference cannot be aborted).
      for (let i = 0; i < total; i++) {
        ctx.throwIfCancelled();
        const t = performance.now();
        last = await session.run(feeds);
        if (i >= warmup) times.push(performance.now() - t);
        ctx.progress({ fraction: (i + 1) / total, message: `run ${i + 1} of ${total}` });
      }
      times.sort((a, b) => a - b);
      return {
        medianMs: times[Math.floor(times.length / 2)] ?? NaN,
        runs: times.length,
        outputs: Object.entries(last).map(([name, t]) => ({ name, dims: [...t.dims] })),
      };
    } finally {
      await session.release();
    }
  },

  ablation: runAblation,
  prune: runPrune,
  planFigures,
  openModel,
  explorerRequest,
  closeModel,
  modelGroups,
  pruneOverlay,
  lensFacts,
  ablationOverlay,

  async ablationTasks() {
    return Object.values(TASKS).map((t) => ({ name: t.name, template: t.template }));
  },

  async count({ steps, stepMs, blockMs }, ctx) {
    let completed = 0;
    for (let i = 0; i < steps; i++) {
      ctx.throwIfCancelled();
      if (blockMs) {
        // Simulates an uninterruptible native call (an onnxruntime inference): only termination stops it.
        const end = Date.now() + blockMs;
        while (Date.now() < end);
      } else {
        await new Promise((r) => setTimeout(r, stepMs));
      }
      completed++;
      ctx.progress({ fraction: completed / steps, message: `step ${completed} of ${steps}` });
    }
    return { completed };
  },
};
