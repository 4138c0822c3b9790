/**
 * The read-only custom editor for *.onnx: opening a model opens it in the engine worker (analysis and the
 * graph explorer's session stay there), the panel shows a loading state, then the summary header and the
 * graph explorer (webviews/explorer), whose requests the host forwards to the worker. A model that cannot
 * be loaded shows the problem in the panel and one notification; it never throws. The file is watched: a
 * changed model is reloaded.
 */
import path from "node:path";
import * as vscode from "vscode";
import type { InspectReport } from "../analyzers/report/inspect.ts";
import type { HostEvent, ToHost } from "../webviews/protocol.ts";
import { toErrorInfo, type ErrorInfo, type ErrorReporter } from "./errors.ts";
import type { Log } from "./log.ts";
import { errorHtml, loadingHtml, summaryHeaderHtml } from "./summaryHtml.ts";
import { makeNonce, renderPage, webviewOptions } from "./webview.ts";
import type { EngineWorker } from "./worker/client.ts";
import type { GroupRow } from "./worker/modelSessions.ts";
import type { GroupAnalysis } from "../analyzers/pruning/types.ts";

export const MODEL_VIEW_TYPE = "onnxScalpel.modelViewer";
/** A selection the explorer reports this soon after a host reveal is taken as that reveal's. */
const HOST_REVEAL_MS = 3000;

export type ModelState =
  | { readonly kind: "loading" }
  | { readonly kind: "ready"; readonly report: InspectReport; readonly session: number }
  | { readonly kind: "error"; readonly error: ErrorInfo };

export interface ModelGroups {
  readonly rows: readonly GroupRow[];
  readonly summary: GroupAnalysis["summary"];
}

export class ModelDocument implements vscode.CustomDocument {
  private _state: ModelState = { kind: "loading" };
  private _groups: ModelGroups | undefined;
  private readonly groupsChanged = new vscode.EventEmitter<ModelGroups | undefined>();
  /** Dependency groups arrive after the model (they are computed in the background). */
  readonly onDidChangeGroups = this.groupsChanged.event;
  private readonly hostEvents = new vscode.EventEmitter<HostEvent>();
  /** Events for the explorer of every viewer of this document (overlays, reveals). */
  readonly onHostEvent = this.hostEvents.event;
  private readonly changed = new vscode.EventEmitter<ModelState>();
  readonly onDidChangeState = this.changed.event;
  private readonly disposables: vscode.Disposable[] = [this.changed, this.groupsChanged, this.hostEvents];
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
    // The worker holding the explorer session stopped: open the model again.
    engine.onDidLoseState(() => this._state.kind === "ready" && void this.load(), undefined, this.disposables);
    this.disposables.push(watcher);
  }

  get state(): ModelState {
    return this._state;
  }

  get groups(): ModelGroups | undefined {
    return this._groups;
  }

  /** Sends an event to the explorer of every viewer of this model. */
  post(event: HostEvent): void {
    this.hostEvents.fire(event);
  }

  /** Dependency groups: the tree's section and the explorer's groups overlay. */
  private async loadGroups(session: number, gen: number): Promise<void> {
    const name = path.basename(this.uri.fsPath);
    try {
      const r = await this.log.operation(`Dependency groups of ${name}`, () => this.engine.run("modelGroups", { session }));
      if (gen !== this.generation) return;
      this._groups = { rows: r.groups, summary: r.summary };
      this.log.info(`${name}: ${r.summary.groups} groups (${r.summary.prunableGroups} prunable, ${r.summary.frozenGroups} frozen) in ${r.summary.millis} ms`);
      this.groupsChanged.fire(this._groups);
      this.post({ type: "overlays", overlays: r.overlays });
    } catch (e) {
      if (gen === this.generation) this.log.warn(`${name}: dependency groups unavailable: ${toErrorInfo(e).message}`);
    }
  }

  /** Resolves when the current load has finished (either way). */
  async load(): Promise<ModelState> {
    const gen = ++this.generation;
    this.cts?.cancel();
    const cts = (this.cts = new vscode.CancellationTokenSource());
    this.release();
    this.setState({ kind: "loading" });
    const name = path.basename(this.uri.fsPath);
    try {
      const { report, session } = await this.log.operation(`Open ${name}`, () => this.engine.run("openModel", { file: this.uri.fsPath }, { token: cts.token }));
      if (gen === this.generation) {
        this._groups = undefined;
        this.setState({ kind: "ready", report, session });
        void this.loadGroups(session, gen);
      }
      else void this.engine.run("closeModel", { session }).catch(() => undefined);
    } catch (e) {
      if (gen !== this.generation) return this._state;
      this.setState({ kind: "error", error: toErrorInfo(e) });
      this.errors.report(`Open ${name}`, e);
    } finally {
      cts.dispose();
    }
    return this._state;
  }

  private release(): void {
    if (this._state.kind === "ready") void this.engine.run("closeModel", { session: this._state.session }).catch(() => undefined);
  }

  private setState(s: ModelState): void {
    this._state = s;
    this.changed.fire(s);
  }

  dispose(): void {
    this.cts?.cancel();
    this.release();
    for (const d of this.disposables) d.dispose();
  }
}

export interface ModelView {
  readonly document: ModelDocument;
  readonly panel: vscode.WebviewPanel;
  /** The explorer of the current page has painted (it handles host events from then on). */
  painted: boolean;
  /** Events (reveals, overlays) that arrived before the explorer painted; sent when it has. */
  pending: HostEvent[];
  /** The current page has sent a message (its script runs). */
  alive: boolean;
  /** When the host last sent a reveal (the selection it causes is not the user's). */
  revealedAt?: number;
}

/** What the graph explorer reported (tests wait on "painted"). */
export interface ExplorerEvent {
  readonly view: ModelView;
  readonly type: string;
  readonly detail: Record<string, unknown>;
  /** A "selected" that most likely follows a reveal sent by the host rather than the user's click. */
  readonly fromHost?: boolean;
}

export class ModelEditorProvider implements vscode.CustomReadonlyEditorProvider<ModelDocument>, vscode.Disposable {
  private readonly views = new Set<ModelView>();
  /** Explorer requests in flight per view, so that the webview's `cancel` message reaches the engine job. */
  private readonly inflight = new WeakMap<ModelView, Map<number, vscode.CancellationTokenSource>>();
  private _active: ModelView | undefined;
  private readonly activeChanged = new vscode.EventEmitter<ModelView | undefined>();
  /** The model viewer that has focus (or the last one that had, while it stays visible). */
  readonly onDidChangeActive = this.activeChanged.event;
  private readonly rendered = new vscode.EventEmitter<{ view: ModelView; state: ModelState }>();
  /** Fires after a panel's HTML was replaced (tests wait on it). */
  readonly onDidRender = this.rendered.event;
  private readonly explorerEvents = new vscode.EventEmitter<ExplorerEvent>();
  readonly onDidExplorerEvent = this.explorerEvents.event;
  private readonly viewsChanged = new vscode.EventEmitter<void>();
  /** A viewer opened or closed. */
  readonly onDidChangeViews = this.viewsChanged.event;
  private readonly loaded = new vscode.EventEmitter<ModelDocument>();
  /** A model document reached the ready state (opened, reloaded after a change on disk or a worker restart). */
  readonly onDidLoadDocument = this.loaded.event;

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
    // Disposed with the document's own emitter.
    doc.onDidChangeState((s) => s.kind === "ready" && this.loaded.fire(doc));
    void doc.load();
    return doc;
  }

  async resolveCustomEditor(document: ModelDocument, panel: vscode.WebviewPanel): Promise<void> {
    const view: ModelView = { document, panel, painted: false, pending: [], alive: false };
    this.views.add(view);
    panel.webview.options = webviewOptions(this.extensionUri, vscode.Uri.file(path.dirname(document.uri.fsPath)));
    // Watchdog: in VS Code for the Web a fresh webview sometimes loads before its resource service worker
    // and gets no script or styles (seen with code-server). A page that never speaks is rendered again.
    let watchdog: NodeJS.Timeout | undefined;
    let retries = 0;
    const render = (state: ModelState) => {
      view.painted = false;
      view.alive = false;
      panel.webview.html = this.html(panel.webview, document, state);
      this.rendered.fire({ view, state });
      if (this._active === view) this.activeChanged.fire(view);
      if (watchdog) clearTimeout(watchdog);
      if (state.kind === "ready")
        watchdog = setTimeout(() => {
          if (view.alive || !panel.visible || retries >= 3) return;
          retries++;
          this.log.warn(`graph explorer of ${path.basename(document.uri.fsPath)} did not start; loading the view again (${retries})`);
          render(document.state);
        }, 8000);
    };
    const subs = [
      document.onDidChangeState((state) => {
        // A new state is a new model: events meant for the old page are dropped.
        view.pending = [];
        render(state);
      }),
      panel.onDidChangeViewState(() => {
        // A hidden webview is discarded and reloads when shown: queue events until it paints again.
        if (!panel.visible) view.painted = false;
        if (panel.active) this.setActive(view);
        else if (this._active === view && !panel.visible) this.setActive(undefined);
      }),
      panel.webview.onDidReceiveMessage((m: ToHost) => void this.onMessage(view, m)),
      document.onHostEvent((e) => this.send(view, e)),
      document.onDidChangeGroups(() => this._active === view && this.activeChanged.fire(view)),
    ];
    panel.onDidDispose(() => {
      if (watchdog) clearTimeout(watchdog);
      for (const s of subs) s.dispose();
      this.views.delete(view);
      if (this._active === view) this.setActive(undefined);
      this.viewsChanged.fire();
    });
    render(document.state);
    this.viewsChanged.fire();
    if (panel.active) this.setActive(view);
  }

  /** Requests go to the model's explorer session in the worker; events are logged and re-emitted. */
  private async onMessage(view: ModelView, m: ToHost): Promise<void> {
    if (!m || typeof m !== "object") return;
    view.alive = true;
    if (m.kind === "request") {
      const state = view.document.state;
      if (state.kind !== "ready") {
        void view.panel.webview.postMessage({ kind: "response", id: m.id, ok: false, error: "the model is not loaded" });
        return;
      }
      let open = this.inflight.get(view);
      if (!open) this.inflight.set(view, (open = new Map()));
      const cts = new vscode.CancellationTokenSource();
      open.set(m.id, cts);
      try {
        // A cancelled request stops between steps; never terminate the shared worker over one (long grace).
        const response = await this.engine.run("explorerRequest", { session: state.session, request: m }, { token: cts.token, graceMs: 600_000 });
        void view.panel.webview.postMessage(response);
      } catch (e) {
        void view.panel.webview.postMessage({ kind: "response", id: m.id, ok: false, error: cts.token.isCancellationRequested ? "cancelled" : toErrorInfo(e).message });
      } finally {
        open.delete(m.id);
        cts.dispose();
      }
    } else if (m.kind === "cancel") {
      this.inflight.get(view)?.get(m.id)?.cancel();
    } else if (m.kind === "event") {
      const { type, ...detail } = m.event;
      if (type === "error") this.log.error(`graph explorer: ${(detail as { message?: string }).message}`);
      else if (type === "selected") this.log.info(`graph explorer: selected ${JSON.stringify(detail)}`);
      else if (type === "painted") {
        view.painted = true;
        for (const event of view.pending) {
          if (event.type === "reveal") view.revealedAt = Date.now();
          void view.panel.webview.postMessage({ kind: "event", event });
        }
        view.pending = [];
      }
      if (type === "painted") this.log.info(`graph explorer: first paint of ${path.basename(view.document.uri.fsPath)} at ${(detail as { ms?: number }).ms} ms`);
      const fromHost = type === "selected" && view.revealedAt !== undefined && Date.now() - view.revealedAt < HOST_REVEAL_MS;
      if (fromHost) view.revealedAt = undefined;
      this.explorerEvents.fire({ view, type, detail, fromHost });
    }
  }

  /** Sends an event to a viewer's explorer now, or once it has painted (a later reveal replaces an earlier one). */
  private send(v: ModelView, event: HostEvent): void {
    if (event.type === "reveal") v.revealedAt = Date.now();
    if (v.painted) void v.panel.webview.postMessage({ kind: "event", event });
    else v.pending = [...v.pending.filter((e) => e.type !== event.type || e.type !== "reveal"), event];
  }

  /** Reveals a module, node or tensor in every viewer of `uri` (once its explorer has painted). */
  reveal(uri: vscode.Uri, target: { module?: string; name?: string; tensor?: string }): void {
    const event: HostEvent = { type: "reveal", ...target };
    for (const v of this.views) if (v.document.uri.fsPath === uri.fsPath) this.send(v, event);
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
    const media = (f: string) => vscode.Uri.joinPath(this.extensionUri, "media", f);
    const bundle = (f: string) => vscode.Uri.joinPath(this.extensionUri, "dist", "webviews", f);
    if (state.kind !== "ready") {
      const body = state.kind === "loading" ? loadingHtml(file) : errorHtml(file, state.error);
      return renderPage({ webview, nonce: makeNonce(), title: path.basename(file), styles: [media("modelViewer.css")], body });
    }
    // The explorer looks for the codicon stylesheet by this id (@vscode-elements).
    return renderPage({
      webview,
      nonce: makeNonce(),
      title: path.basename(file),
      styles: [bundle("codicon.css"), bundle("explorer.css"), media("modelViewer.css")],
      styleIds: { 0: "vscode-codicon-stylesheet" },
      scripts: [bundle("explorer.js")],
      bodyClass: "model-viewer",
      body: `${summaryHeaderHtml(state.report)}\n<div id="app" aria-label="Graph explorer"></div>`,
    });
  }

  dispose(): void {
    this.activeChanged.dispose();
    this.rendered.dispose();
    this.explorerEvents.dispose();
    this.viewsChanged.dispose();
    this.loaded.dispose();
  }
}
