/**
 * Engine jobs behind a progress notification: real percentages from the worker's progress messages, and
 * a Cancel button wired to the job's cancellation (between steps, then terminating the worker).
 */
import * as vscode from "vscode";
import type { Log } from "./log.ts";
import type { EngineWorker } from "./worker/client.ts";
import type { JobName, JobParams, JobResult } from "./worker/protocol.ts";

export function runWithProgress<K extends JobName>(
  engine: EngineWorker,
  log: Log,
  title: string,
  job: K,
  params: JobParams<K>,
  opts: { dedicated?: boolean; graceMs?: number } = {},
): Thenable<JobResult<K>> {
  return vscode.window.withProgress({ location: vscode.ProgressLocation.Notification, title, cancellable: true }, (progress, token) =>
    log.operation(title, () => {
      let shown = 0;
      return engine.run(job, params, {
        token,
        dedicated: opts.dedicated ?? true,
        graceMs: opts.graceMs,
        onProgress: (p) => {
          if (p.fraction === undefined) {
            if (p.message) progress.report({ message: p.message });
            return;
          }
          const pct = Math.max(shown, Math.min(100, Math.round(p.fraction * 100)));
          progress.report({ increment: pct - shown, message: `${pct}%${p.message ? ` · ${p.message}` : ""}` });
          shown = pct;
        },
      });
    }),
  );
}
