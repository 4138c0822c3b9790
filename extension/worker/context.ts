/**
 * What a job running in the worker sees: progress reporting and cooperative cancellation. Engine functions
 * take the same shape (`onProgress`, `isCancelled`) so they stay free of worker and VS Code types.
 */
import type { Progress } from "./protocol.ts";

export interface JobContext {
  progress(p: Progress): void;
  log(message: string): void;
  /** True once the host asked to cancel; long jobs check it between steps. */
  readonly cancelled: boolean;
  /** Throws a Cancelled error when the host asked to cancel. */
  throwIfCancelled(): void;
  /** Aborted when the host asks to cancel (for engine functions that take an AbortSignal). */
  readonly signal: AbortSignal;
}

export class JobCancelled extends Error {
  override readonly name = "Cancelled";
  constructor() {
    super("cancelled");
  }
}
