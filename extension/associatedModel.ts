/**
 * Which ONNX model a source file is associated with: `scalpel.associatedModel` of the file's workspace
 * folder (relative to it), else the model in the active model viewer, else the last active one still open.
 * Reports for models that are not open come from the engine worker, cached by path and modification time.
 * For the group lenses it also provides the model's dependency-group facts (worker job `lensFacts`) and
 * its plan NAME.prune.json; both files are watched, so lenses follow a new plan or a rewritten model.
 */
import fs from "node:fs";
import path from "node:path";
import * as vscode from "vscode";
import type { InspectReport } from "../analyzers/report/inspect.ts";
import { lensCriterion, matchPlan, type GroupFacts, type PlanMatch } from "../analyzers/source/groupLenses.ts";
import type { ErrorReporter } from "./errors.ts";
import type { Log } from "./log.ts";
import type { ModelEditorProvider } from "./modelEditor.ts";
import type { EngineWorker } from "./worker/client.ts";

export interface Association {
  readonly file: string;
  readonly report: InspectReport;
  readonly source: "setting" | "viewer";
  /** The engine session of the open viewer (source "viewer"). */
  readonly session?: number;
}

/** The plan file of a model: NAME.prune.json beside NAME.onnx. */
export function planFileOf(model: string): string {
  return model.replace(/\.onnx$/i, "") + ".prune.json";
}

/** Group facts and plan of an associated model, once computed. */
export type GroupInfo =
  | { readonly kind: "ready"; readonly facts: GroupFacts; readonly plan?: PlanMatch; readonly planFile?: string }
  | { readonly kind: "pending" }
  | { readonly kind: "failed"; readonly message: string };

export class AssociatedModels implements vscode.Disposable {
  private readonly changed = new vscode.EventEmitter<void>();
  /** Fires when the answer may have changed (setting, active viewer, model reloaded). */
  readonly onDidChange = this.changed.event;
  private lastViewer: vscode.Uri | undefined;
  private readonly cache = new Map<string, { mtimeMs: number; report: Promise<InspectReport | undefined> }>();
  private readonly facts = new Map<string, { stamp: string; value: GroupFacts | Error | undefined; promise: Promise<unknown> }>();
  private readonly watchers = new Map<string, vscode.Disposable>();
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
      editors.onDidChangeViews(() => this.changed.fire()),
      vscode.workspace.onDidChangeConfiguration((e) => {
        if (e.affectsConfiguration("scalpel.associatedModel") || e.affectsConfiguration("scalpel.prune.criterion")) this.changed.fire();
      }),
    );
  }

  /**
   * Whether `doc` may have an associated model, without touching the engine or the file system: the
   * setting is set for it, or a model viewer is open. Python files without one cost nothing more.
   */
  mayHave(doc: vscode.Uri): boolean {
    return this.editors.openViews.length > 0 || vscode.workspace.getConfiguration("scalpel", doc).get<string>("associatedModel", "").trim() !== "";
  }

  /** Whether any file of the workspace may have an associated model (the setting anywhere, or an open viewer). */
  anyPossible(): boolean {
    if (this.editors.openViews.length > 0) return true;
    const set = (scope?: vscode.ConfigurationScope) => {
      const v = vscode.workspace.getConfiguration("scalpel", scope).inspect<string>("associatedModel");
      return [v?.globalValue, v?.workspaceValue, v?.workspaceFolderValue].some((x) => typeof x === "string" && x.trim() !== "");
    };
    return set() || (vscode.workspace.workspaceFolders ?? []).some((f) => set(f.uri));
  }

  /**
   * Dependency-group facts (importance under the plan's criterion, else scalpel.prune.criterion) and the plan
   * of an associated model, without waiting: "pending" starts the work and fires onDidChange when it is done.
   */
  groupInfo(a: Association, doc: vscode.Uri): GroupInfo {
    this.watch(a.file);
    const planFile = planFileOf(a.file);
    let plan: unknown;
    let planError: string | undefined;
    const planExists = fs.existsSync(planFile);
    if (planExists) {
      try {
        plan = JSON.parse(fs.readFileSync(planFile, "utf8"));
      } catch (e) {
        planError = `not readable JSON (${e instanceof Error ? e.message : String(e)})`;
      }
    }
    const planCriterion = typeof (plan as { criterion?: unknown } | undefined)?.criterion === "string" ? (plan as { criterion: string }).criterion : undefined;
    const criterion = lensCriterion(planCriterion, vscode.workspace.getConfiguration("scalpel", doc).get<string>("prune.criterion"));
    let mtimeMs = 0;
    try {
      mtimeMs = fs.statSync(a.file).mtimeMs;
    } catch {
      return { kind: "failed", message: `${a.file} cannot be read` };
    }
    const key = `${a.file}|${criterion}`;
    const stamp = `${mtimeMs}|${a.session ?? ""}`;
    let hit = this.facts.get(key);
    if (!hit || hit.stamp !== stamp) {
      const entry: { stamp: string; value: GroupFacts | Error | undefined; promise: Promise<unknown> } = { stamp, value: undefined, promise: Promise.resolve() };
      entry.promise = this.log
        .operation(`Dependency groups and ${criterion} importance of ${path.basename(a.file)} for CodeLens`, () =>
          // A model the viewer has open is read from its session in the shared worker; any other is loaded in a
          // worker of its own, so that the explorer's requests do not wait behind it.
          this.engine.run("lensFacts", { file: a.file, session: a.session, criterion }, { dedicated: a.session === undefined }),
        )
        .then(
          (f) => (entry.value = f),
          (e: unknown) => {
            entry.value = e instanceof Error ? e : new Error(String((e as { message?: unknown })?.message ?? e));
            this.log.warn(`CodeLens: no dependency groups for ${path.basename(a.file)}: ${entry.value.message}`);
          },
        )
        .finally(() => this.facts.get(key) === entry && this.changed.fire());
      this.facts.set(key, (hit = entry));
    }
    if (hit.value === undefined) return { kind: "pending" };
    if (hit.value instanceof Error) return { kind: "failed", message: hit.value.message };
    const match: PlanMatch | undefined = planError ? { kind: "mismatch", problem: planError } : planExists ? matchPlan(plan, hit.value) : undefined;
    return { kind: "ready", facts: hit.value, ...(match ? { plan: match, planFile: path.basename(planFile) } : {}) };
  }

  /** Watches a model and its plan: any change (a new plan, a rewritten model) refreshes the lenses. */
  private watch(file: string): void {
    if (this.watchers.has(file)) return;
    const base = path.basename(file).replace(/\.onnx$/i, "");
    const w = vscode.workspace.createFileSystemWatcher(new vscode.RelativePattern(vscode.Uri.file(path.dirname(file)), `{${base}.onnx,${base}.prune.json}`));
    const fire = (uri: vscode.Uri) => {
      this.log.info(`CodeLens: ${path.basename(uri.fsPath)} changed`);
      this.changed.fire();
    };
    this.watchers.set(file, vscode.Disposable.from(w, w.onDidChange(fire), w.onDidCreate(fire), w.onDidDelete(fire)));
  }

  async forDocument(doc: vscode.Uri): Promise<Association | undefined> {
    const configured = this.configuredPath(doc);
    if (configured) {
      const report = await this.reportFor(configured);
      const open = this.editors.openViews.find((v) => v.document.uri.fsPath === configured)?.document.state;
      return report ? { file: configured, report, source: "setting", ...(open?.kind === "ready" ? { session: open.session } : {}) } : undefined;
    }
    const views = this.editors.openViews;
    const view =
      this.editors.active ?? views.find((v) => this.lastViewer && v.document.uri.toString() === this.lastViewer.toString()) ?? views[views.length - 1];
    const state = view?.document.state;
    if (!view || state?.kind !== "ready") return undefined;
    return { file: view.document.uri.fsPath, report: state.report, source: "viewer", session: state.session };
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
    for (const d of this.watchers.values()) d.dispose();
    for (const d of this.disposables) d.dispose();
  }
}
