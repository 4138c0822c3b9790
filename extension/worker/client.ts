/**
 * Host side of the engine worker. Jobs run off the extension host's thread; progress arrives as messages;
 * cancellation first asks the job to stop between steps, then terminates the worker if it has not stopped
 * within `graceMs` (onnxruntime cannot abort a running inference). A terminated or crashed worker fails its
 * in-flight jobs and is restarted on the next job.
 */
import { Worker } from "node:worker_threads";
import * as vscode from "vscode";
import { Cancelled, type Log } from "../log.ts";
import type { FromWorker, JobName, JobParams, JobResult, Progress, ToWorker } from "./protocol.ts";

export interface RunOptions {
  token?: vscode.CancellationToken;
  onProgress?: (p: Progress) => void;
  /** Run in a worker of its own (heavy jobs), terminated when the job ends. */
  dedicated?: boolean;
  /** How long a cancelled job may take to stop before its worker is terminated. */
  graceMs?: number;
}

interface Pending {
  resolve(v: unknown): void;
  reject(e: unknown): void;
  onProgress?: (p: Progress) => void;
  job: JobName;
}

/** One worker thread and the jobs in flight on it. */
class WorkerHandle {
  readonly worker: Worker;
  readonly pending = new Map<number, Pending>();
  exited = false;

  constructor(script: string, log: Log, onExit: (h: WorkerHandle) => void) {
    // A large stack: graph passes recurse on deep models.
    this.worker = new Worker(script, { resourceLimits: { stackSizeMb: 64 } });
    this.worker.on("message", (m: FromWorker) => {
      const p = this.pending.get(m.id);
      if (!p) return;
      switch (m.type) {
        case "progress":
          p.onProgress?.(m.progress);
          break;
        case "log":
          log.info(`${p.job}: ${m.message}`);
          break;
        case "result":
          this.pending.delete(m.id);
          p.resolve(m.value);
          break;
        case "error":
          this.pending.delete(m.id);
          p.reject(m.error.name === "Cancelled" ? new Cancelled() : m.error);
          break;
      }
    });
    const fail = (e: unknown) => {
      for (const p of this.pending.values()) p.reject(e);
      this.pending.clear();
    };
    this.worker.on("error", (e) => {
      log.error(`engine worker crashed: ${e.stack ?? e.message}`);
      fail(e);
    });
    this.worker.on("exit", (code) => {
      this.exited = true;
      fail(new Error(`the engine worker stopped (exit code ${code})`));
      onExit(this);
    });
  }

  post(m: ToWorker): void {
    this.worker.postMessage(m);
  }
}

export class EngineWorker implements vscode.Disposable {
  private shared: WorkerHandle | undefined;
  private readonly restarted = new vscode.EventEmitter<void>();
  /** Fires when the shared worker stopped (terminated after a stuck job, or crashed): state kept there is gone. */
  readonly onDidLoseState = this.restarted.event;
  private readonly dedicated = new Set<WorkerHandle>();
  private nextId = 1;
  private disposed = false;

  constructor(
    private readonly script: string,
    private readonly log: Log,
  ) {}

  run<K extends JobName>(job: K, params: JobParams<K>, opts: RunOptions = {}): Promise<JobResult<K>> {
    if (this.disposed) return Promise.reject(new Error("the extension is shutting down"));
    if (opts.token?.isCancellationRequested) return Promise.reject(new Cancelled());
    const handle = opts.dedicated ? this.spawn(true) : (this.shared ??= this.spawn(false));
    const id = this.nextId++;
    const graceMs = opts.graceMs ?? 2000;
    return new Promise<JobResult<K>>((resolve, reject) => {
      let cancelTimer: NodeJS.Timeout | undefined;
      let sub: vscode.Disposable | undefined;
      const done = () => {
        if (cancelTimer) clearTimeout(cancelTimer);
        sub?.dispose();
        if (opts.dedicated) void handle.worker.terminate();
      };
      handle.pending.set(id, {
        job,
        onProgress: opts.onProgress,
        resolve: (v) => {
          done();
          resolve(v as JobResult<K>);
        },
        reject: (e) => {
          done();
          reject(opts.token?.isCancellationRequested ? new Cancelled() : e);
        },
      });
      sub = opts.token?.onCancellationRequested(() => {
        this.log.info(`${job}: cancel requested`);
        handle.post({ type: "cancel", id });
        cancelTimer = setTimeout(() => {
          if (!handle.pending.has(id)) return;
          this.log.warn(`${job}: did not stop within ${graceMs} ms; terminating its worker`);
          void handle.worker.terminate();
        }, graceMs);
      });
      handle.post({ type: "run", id, job, params });
    });
  }

  private spawn(dedicated: boolean): WorkerHandle {
    const h = new WorkerHandle(this.script, this.log, (gone) => {
      if (this.shared === gone) {
        this.shared = undefined;
        if (!this.disposed) this.restarted.fire();
      }
      this.dedicated.delete(gone);
    });
    if (dedicated) this.dedicated.add(h);
    return h;
  }

  dispose(): void {
    this.disposed = true;
    this.restarted.dispose();
    void this.shared?.worker.terminate();
    for (const h of this.dedicated) void h.worker.terminate();
    this.shared = undefined;
    this.dedicated.clear();
  }
}
