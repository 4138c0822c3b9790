/**
 * Entry point of the engine worker (bundled to dist/worker.cjs). Runs jobs from the host; each job has an
 * id, reports progress, honours `cancel` between steps, and ends with one result or error message.
 * The host terminates the whole worker when a job does not stop in time (e.g. inside an inference).
 */
import { parentPort } from "node:worker_threads";
import type { ErrorInfo } from "../errors.ts";
import { JobCancelled, type JobContext } from "./context.ts";
import { handlers } from "./jobs.ts";
import type { FromWorker, JobName, ToWorker } from "./protocol.ts";

// Stack traces in the Output channel point at the TypeScript sources (dev builds ship linked sourcemaps).
process.setSourceMapsEnabled(true);

const port = parentPort;
if (!port) throw new Error("worker.cjs must run in a worker thread");

const cancelled = new Set<number>();
const aborters = new Map<number, AbortController>();
const post = (m: FromWorker) => port.postMessage(m);

port.on("message", (m: ToWorker) => {
  if (m.type === "cancel") {
    cancelled.add(m.id);
    aborters.get(m.id)?.abort();
    return;
  }
  void run(m.id, m.job, m.params);
});

async function run(id: number, job: JobName, params: unknown): Promise<void> {
  const aborter = new AbortController();
  aborters.set(id, aborter);
  const ctx: JobContext = {
    signal: aborter.signal,
    progress: (progress) => post({ type: "progress", id, progress }),
    log: (message) => post({ type: "log", id, message }),
    get cancelled() {
      return cancelled.has(id);
    },
    throwIfCancelled() {
      if (cancelled.has(id)) throw new JobCancelled();
    },
  };
  try {
    const handler = handlers[job] as (p: unknown, c: JobContext) => Promise<unknown>;
    if (!handler) throw new Error(`unknown job ${job}`);
    const value = await handler(params, ctx);
    post({ type: "result", id, value });
  } catch (e) {
    // Engine cancellations (AbortSignal) count as the job's cancellation.
    post({ type: "error", id, error: cancelled.has(id) ? { name: "Cancelled", message: "cancelled" } : serialize(e) });
  } finally {
    cancelled.delete(id);
    aborters.delete(id);
  }
}

function serialize(e: unknown): ErrorInfo {
  if (e instanceof Error) {
    const o = e as Error & { file?: unknown; problem?: unknown };
    const cause = e.cause instanceof Error ? (e.cause.stack ?? e.cause.message) : e.cause === undefined ? undefined : String(e.cause);
    return {
      name: e.name,
      message: e.message,
      file: typeof o.file === "string" ? o.file : undefined,
      problem: typeof o.problem === "string" ? o.problem : undefined,
      stack: e.stack,
      cause,
    };
  }
  return { name: "Error", message: String(e) };
}
