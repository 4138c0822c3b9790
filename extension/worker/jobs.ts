/**
 * Job handlers: thin calls into the engine (analyzers/). Runs inside the worker thread only.
 */
import { buildGraph } from "../../analyzers/graph/graph.ts";
import { summarizeGraph } from "../../analyzers/graph/summary.ts";
import { loadModel } from "../../analyzers/onnx/index.ts";
import type { JobContext } from "./context.ts";
import type { JobName, JobParams, JobResult } from "./protocol.ts";

type Handlers = { [K in JobName]: (params: JobParams<K>, ctx: JobContext) => Promise<JobResult<K>> };

export const handlers: Handlers = {
  async summarize({ file }, ctx) {
    ctx.progress({ fraction: 0, message: "Reading the model" });
    const model = loadModel(file);
    ctx.throwIfCancelled();
    ctx.progress({ fraction: 0.6, message: "Building the graph" });
    const graph = buildGraph(model);
    ctx.progress({ fraction: 1 });
    return summarizeGraph(graph);
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
