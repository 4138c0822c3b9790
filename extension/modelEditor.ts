/**
 * The read-only custom editor for *.onnx: opening a model starts its analysis in the engine worker, the
 * panel shows a loading state, then the summary header (and, once issue 7 lands, the graph explorer).
 * A model that cannot be loaded shows the problem in the panel and one notification; it never throws.
 * The file is watched: a changed model is reloaded.
 */
import path from "node:path";
import * as vscode from "vscode";
import type { InspectReport } from "../analyzers/report/inspect.ts";
import { toErrorInfo, type ErrorInfo, type ErrorReporter } from "./errors.ts";
import type { Log } from "./log.ts";
import { errorHtml, loadingHtml, summaryHeaderHtml } from "./summaryHtml.ts";
import { makeNonce, renderPage, webviewOptions } from "./webview.ts";
import type { EngineWorker } from "./worker/client.ts";

export const MODEL_VIEW_TYPE = "onnxScalpel.modelViewer";

export type ModelState =
  | { readonly kind: "loading" }
  | { readonly kind: "ready"; readonly report: InspectReport }
  | { readonly kind: "error"; readonly error: ErrorInfo };

export class ModelDocument implements vscode.CustomDocument {
  private _state: ModelState = { kind: "loading" };
  private readonly changed = new vscode.EventEmitter<ModelState>();
  readonly onDidChangeState = this.changed.event;
  private readonly disposables: vscode.Disposable[] = [this.changed];
  private generation = 0;
  private cts: vscode.CancellationTokenSource | undefined;

  constructor(
    readonly uri: vscode.Uri,
    private readonly engine: EngineWorker,
    private readonly log: Log,
    private readonly errors: ErrorReporter,
  ) {
    const watcher = vscode.workspace.createFileSystemWatcher(
      new vscode.RelativePattern(vscode.Uri.file(path.dirname(uri.fsPath)), path.basename(uri.fsPath)),
      true,
      false,
      true,
    );
    watcher.onDidChange(() => void this.load(), undefined, this.disposables);
    this.disposables.push(watcher);
  }

  get state(): ModelState {
    return this._state;
  }

  /** Resolves when the current load has finished (either way). */
  async load(): Promise<ModelState> {
    const gen = ++this.generation;
    this.cts?.cancel();
    const cts = (this.cts = new vscode.CancellationTokenSource());
    this.setState({ kind: "loading" });
    const name = path.basename(this.uri.fsPath);
    try {
      const report = await this.log.operation(`Open ${name}`, () =>
        this.engine.run("inspect", { file: this.uri.fsPath }, { token: cts.token }),
      );
      if (gen === this.generation) this.setState({ kind: "ready", report });
    } catch (e) {
      if (gen !== this.generation) return this._state;
      this.setState({ kind: "error", error: toErrorInfo(e) });
      this.errors.report(`Open ${name}`, e);
    } finally {
      cts.dispose();
    }
    return this._state;
  }

  private setState(s: ModelState): void {
    this._state = s;
    this.changed.fire(s);
  }

  dispose(): void {
    this.cts?.cancel();
    for (const d of this.disposables) d.dispose();
  }
}

export interface ModelView {
  readonly document: ModelDocument;
  readonly panel: vscode.WebviewPanel;
}

export class ModelEditorProvider implements vscode.CustomReadonlyEditorProvider<ModelDocument>, vscode.Disposable {
  private readonly views = new Set<ModelView>();
  private _active: ModelView | undefined;
  private readonly activeChanged = new vscode.EventEmitter<ModelView | undefined>();
  /** The model viewer that has focus (or the last one that had, while it stays visible). */
  readonly onDidChangeActive = this.activeChanged.event;
  private readonly rendered = new vscode.EventEmitter<{ view: ModelView; state: ModelState }>();
  /** Fires after a panel's HTML was replaced (tests wait on it). */
  readonly onDidRender = this.rendered.event;

  constructor(
    private readonly extensionUri: vscode.Uri,
    private readonly engine: EngineWorker,
    private readonly log: Log,
    private readonly errors: ErrorReporter,
  ) {}

  get active(): ModelView | undefined {
    return this._active;
  }

  get openViews(): readonly ModelView[] {
    return [...this.views];
  }

  async openCustomDocument(uri: vscode.Uri): Promise<ModelDocument> {
    const doc = new ModelDocument(uri, this.engine, this.log, this.errors);
    void doc.load();
    return doc;
  }

  async resolveCustomEditor(document: ModelDocument, panel: vscode.WebviewPanel): Promise<void> {
    const view: ModelView = { document, panel };
    this.views.add(view);
    panel.webview.options = webviewOptions(this.extensionUri, vscode.Uri.file(path.dirname(document.uri.fsPath)));
    const render = (state: ModelState) => {
      panel.webview.html = this.html(panel.webview, document, state);
      this.rendered.fire({ view, state });
      if (this._active === view) this.activeChanged.fire(view);
    };
    const subs = [
      document.onDidChangeState(render),
      panel.onDidChangeViewState(() => {
        if (panel.active) this.setActive(view);
        else if (this._active === view && !panel.visible) this.setActive(undefined);
      }),
    ];
    panel.onDidDispose(() => {
      for (const s of subs) s.dispose();
      this.views.delete(view);
      if (this._active === view) this.setActive(undefined);
    });
    render(document.state);
    if (panel.active) this.setActive(view);
  }

  /** The viewer of `uri` once it shows a final state (ready or error), waiting up to `ms`. */
  async whenSettled(uri: vscode.Uri, ms = 60_000): Promise<ModelView | undefined> {
    const find = () => this.openViews.find((v) => v.document.uri.fsPath === uri.fsPath && v.document.state.kind !== "loading");
    const now = find();
    if (now) return now;
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        sub.dispose();
        resolve(undefined);
      }, ms);
      const sub = this.rendered.event(() => {
        const v = find();
        if (!v) return;
        clearTimeout(timer);
        sub.dispose();
        resolve(v);
      });
    });
  }

  /** Makes `view` the model the status bar and tree show (e.g. opened beside a source file, without focus). */
  showAsActive(view: ModelView): void {
    this.setActive(view);
  }

  private setActive(view: ModelView | undefined): void {
    if (this._active === view) return;
    this._active = view;
    this.activeChanged.fire(view);
  }

  private html(webview: vscode.Webview, doc: ModelDocument, state: ModelState): string {
    const file = doc.uri.fsPath;
    let body: string;
    if (state.kind === "loading") body = loadingHtml(file);
    else if (state.kind === "error") body = errorHtml(file, state.error);
    else
      body = `${summaryHeaderHtml(state.report)}
<main id="explorer" class="explorer-placeholder" aria-label="Graph explorer"><p>The graph explorer is not part of this build yet.</p></main>`;
    return renderPage({
      webview,
      nonce: makeNonce(),
      title: path.basename(file),
      styles: [vscode.Uri.joinPath(this.extensionUri, "media", "modelViewer.css")],
      body,
    });
  }

  dispose(): void {
    this.activeChanged.dispose();
    this.rendered.dispose();
  }
}
