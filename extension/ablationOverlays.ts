/**
 * Ablation results as graph-explorer overlays. The latest result per model is kept here, in the extension
 * host (`LatestResults`; the webview keeps nothing), and overlaid on every viewer of that model: at once when
 * the run ends on a model that is open and loaded, else as soon as a viewer opens it (or it finishes loading,
 * or reloads after the engine worker restarted). The overlay is made active the first time a viewer's document
 * gets a result; a reload restores it without taking the user's choice of overlay away.
 */
import path from "node:path";
import * as vscode from "vscode";
import type { OverlayInfo } from "../analyzers/explorer/types.ts";
import { LatestResults } from "./latestResults.ts";
import type { Log } from "./log.ts";
import type { ModelDocument, ModelEditorProvider } from "./modelEditor.ts";
import type { AblationReport } from "./worker/ablationTypes.ts";
import type { EngineWorker } from "./worker/client.ts";

export interface AblationOverlayEvent {
  readonly file: string;
  readonly overlays: readonly OverlayInfo[];
  /** The overlay made active (absent when it was only restored). */
  readonly show?: string;
}

export class AblationOverlays implements vscode.Disposable {
  readonly latest = new LatestResults<AblationReport>();
  private readonly applied = new vscode.EventEmitter<AblationOverlayEvent>();
  /** An ablation result was overlaid on a viewer's model (tests wait on it). */
  readonly onDidApply = this.applied.event;
  private readonly sub: vscode.Disposable;

  constructor(
    private readonly editors: ModelEditorProvider,
    private readonly engine: EngineWorker,
    private readonly log: Log,
  ) {
    this.sub = editors.onDidLoadDocument((doc) => {
      const report = this.latest.get(doc.uri.fsPath);
      if (report) void this.apply(doc, report);
    });
  }

  /** A run on `model` has ended: keep its result and overlay it on the model's loaded viewers. True when one shows it now. */
  async record(model: string, report: AblationReport): Promise<boolean> {
    this.latest.set(model, report);
    const docs = new Set(this.editors.openViews.map((v) => v.document).filter((d) => d.uri.fsPath === model && d.state.kind === "ready"));
    let shown = false;
    for (const d of docs) shown = (await this.apply(d, report)) || shown;
    return shown;
  }

  private async apply(doc: ModelDocument, report: AblationReport): Promise<boolean> {
    const state = doc.state;
    if (state.kind !== "ready") return false;
    try {
      const r = await this.engine.run("ablationOverlay", { session: state.session, report });
      // Undefined: no per-layer figure (ABP) or the report does not fit this model. A reload meanwhile gets its own.
      if (!r || doc.state !== state) return false;
      const show = this.latest.markShown(doc, report) ? r.show : undefined;
      doc.post({ type: "overlays", overlays: r.overlays, ...(show ? { show } : {}) });
      this.applied.fire({ file: doc.uri.fsPath, overlays: r.overlays, ...(show ? { show } : {}) });
      return true;
    } catch (e) {
      if (doc.state === state) this.log.warn(`${path.basename(doc.uri.fsPath)}: no ablation overlay: ${e instanceof Error ? e.message : String(e)}`);
      return false;
    }
  }

  dispose(): void {
    this.sub.dispose();
    this.applied.dispose();
  }
}
