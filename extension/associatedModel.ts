/**
 * Which ONNX model a source file is associated with: `scalpel.associatedModel` of the file's workspace
 * folder (relative to it), else the model in the active model viewer, else the last active one still open.
 * Reports for models that are not open come from the engine worker, cached by path and modification time.
 */
import fs from "node:fs";
import path from "node:path";
import * as vscode from "vscode";
import type { InspectReport } from "../analyzers/report/inspect.ts";
import type { ErrorReporter } from "./errors.ts";
import type { Log } from "./log.ts";
import type { ModelEditorProvider } from "./modelEditor.ts";
import type { EngineWorker } from "./worker/client.ts";

export interface Association {
  readonly file: string;
  readonly report: InspectReport;
  readonly source: "setting" | "viewer";
}

export class AssociatedModels implements vscode.Disposable {
  private readonly changed = new vscode.EventEmitter<void>();
  /** Fires when the answer may have changed (setting, active viewer, model reloaded). */
  readonly onDidChange = this.changed.event;
  private lastViewer: vscode.Uri | undefined;
  private readonly cache = new Map<string, { mtimeMs: number; report: Promise<InspectReport | undefined> }>();
  private readonly disposables: vscode.Disposable[] = [];

  constructor(
    private readonly editors: ModelEditorProvider,
    private readonly engine: EngineWorker,
    private readonly log: Log,
    private readonly errors: ErrorReporter,
  ) {
    this.disposables.push(
      this.changed,
      editors.onDidChangeActive((v) => {
        if (v) this.lastViewer = v.document.uri;
        this.changed.fire();
      }),
      editors.onDidRender(() => this.changed.fire()),
      vscode.workspace.onDidChangeConfiguration((e) => {
        if (e.affectsConfiguration("scalpel.associatedModel")) this.changed.fire();
      }),
    );
  }

  async forDocument(doc: vscode.Uri): Promise<Association | undefined> {
    const configured = this.configuredPath(doc);
    if (configured) {
      const report = await this.reportFor(configured);
      return report ? { file: configured, report, source: "setting" } : undefined;
    }
    const views = this.editors.openViews;
    const view =
      this.editors.active ?? views.find((v) => this.lastViewer && v.document.uri.toString() === this.lastViewer.toString()) ?? views[views.length - 1];
    const state = view?.document.state;
    if (!view || state?.kind !== "ready") return undefined;
    return { file: view.document.uri.fsPath, report: state.report, source: "viewer" };
  }

  private configuredPath(doc: vscode.Uri): string | undefined {
    const value = vscode.workspace.getConfiguration("scalpel", doc).get<string>("associatedModel", "").trim();
    if (!value) return undefined;
    if (path.isAbsolute(value)) return value;
    const folder = vscode.workspace.getWorkspaceFolder(doc) ?? vscode.workspace.workspaceFolders?.[0];
    return folder ? path.join(folder.uri.fsPath, value) : undefined;
  }

  private reportFor(file: string): Promise<InspectReport | undefined> {
    const open = this.editors.openViews.find((v) => v.document.uri.fsPath === file)?.document.state;
    if (open?.kind === "ready") return Promise.resolve(open.report);
    let mtimeMs: number;
    try {
      mtimeMs = fs.statSync(file).mtimeMs;
    } catch (e) {
      this.errors.report("CodeLens: associated model", Object.assign(new Error(`${file}: the model set in scalpel.associatedModel cannot be read`), { cause: e }));
      return Promise.resolve(undefined);
    }
    const hit = this.cache.get(file);
    if (hit && hit.mtimeMs === mtimeMs) return hit.report;
    const report = this.log
      .operation(`Analyse ${path.basename(file)} for CodeLens`, () => this.engine.run("inspect", { file }))
      .catch((e) => {
        this.errors.report("CodeLens: associated model", e);
        return undefined;
      });
    this.cache.set(file, { mtimeMs, report });
    return report;
  }

  dispose(): void {
    for (const d of this.disposables) d.dispose();
  }
}
