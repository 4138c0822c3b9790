/**
 * Activation: everything is created here and pushed to `context.subscriptions`, so deactivation disposes
 * it all. Activation is lazy (custom editor, commands, the tree view) and cheap: the engine itself only
 * loads in the worker thread when a model is opened or a command runs.
 */
import * as vscode from "vscode";
import { registerAblationCommands } from "./ablationCommands.ts";
import { AblationOverlays } from "./ablationOverlays.ts";
import { GROUPS_OVERLAY_ID } from "../analyzers/explorer/pruningOverlays.ts";
import { AssociatedModels } from "./associatedModel.ts";
import { PythonLensRegistration, PythonModuleLensProvider } from "./codeLens.ts";
import { PlanLensProvider } from "./planLens.ts";
import { ErrorReporter, type ErrorReport } from "./errors.ts";
import { registerCommands } from "./commands.ts";
import { Log } from "./log.ts";
import { MODEL_VIEW_TYPE, ModelEditorProvider, type ModelState, type ModelView } from "./modelEditor.ts";
import { ModelTreeProvider, type TreeNode } from "./modelTree.ts";
import { ModelStatusBar } from "./statusBar.ts";
import { runWithProgress } from "./progress.ts";
import { ReportPanel } from "./reports/reportPanel.ts";
import { EngineWorker } from "./worker/client.ts";
import type { JobName, JobParams, JobResult } from "./worker/protocol.ts";

/** What `activate` returns: used by the integration tests (and other extensions) to observe the extension. */
export interface ScalpelApi {
  readonly onDidReportError: vscode.Event<ErrorReport>;
  readonly onDidRender: vscode.Event<{ view: ModelView; state: ModelState }>;
  readonly editors: ModelEditorProvider;
  readonly engine: EngineWorker;
  readonly statusBar: vscode.StatusBarItem;
  readonly tree: ModelTreeProvider;
  readonly treeView: vscode.TreeView<TreeNode>;
  readonly codeLens: PythonModuleLensProvider;
  /** The latest ablation result per model, overlaid on its graph explorer (also when opened after the run). */
  readonly ablationOverlays: AblationOverlays;
  /** Whether the Python lens provider is registered (only while a model may be associated). */
  readonly pythonLenses: PythonLensRegistration;
  /** Report webviews (ablations, prunes). */
  readonly reports: typeof ReportPanel;
  /** Runs an engine job behind a cancellable progress notification (as the commands do). */
  runWithProgress<K extends JobName>(title: string, job: K, params: JobParams<K>): Thenable<JobResult<K>>;
}

export function activate(context: vscode.ExtensionContext): ScalpelApi {
  const log = new Log();
  const errors = new ErrorReporter(log);
  const engine = new EngineWorker(vscode.Uri.joinPath(context.extensionUri, "dist", "worker.cjs").fsPath, log);
  const editors = new ModelEditorProvider(context.extensionUri, engine, log, errors);
  const statusBar = new ModelStatusBar(editors);
  const tree = new ModelTreeProvider(editors);
  const models = new AssociatedModels(editors, engine, log, errors);
  const codeLens = new PythonModuleLensProvider(models);
  const pythonLenses = new PythonLensRegistration(models, codeLens);
  const ablationOverlays = new AblationOverlays(editors, engine, log);
  const treeView = vscode.window.createTreeView("onnxScalpel.modelTree", { treeDataProvider: tree, showCollapseAll: true });
  context.subscriptions.push(log, errors, engine, editors, statusBar, tree, treeView, models, codeLens, pythonLenses, ablationOverlays);
  /** A tree item selected because the graph selected it: its selection event must not reveal it back. */
  let fromGraph: TreeNode | undefined;

  context.subscriptions.push(
    vscode.window.registerCustomEditorProvider(MODEL_VIEW_TYPE, editors, {
      supportsMultipleEditorsPerDocument: true,
      webviewOptions: { retainContextWhenHidden: false },
    }),
    vscode.languages.registerCodeLensProvider({ scheme: "file", pattern: "**/*.prune.json" }, new PlanLensProvider(engine, log)),
    // Selecting a module or a tensor in the tree reveals it in the graph explorer.
    treeView.onDidChangeSelection((e) => {
      const n = e.selection[0];
      if (n && n === fromGraph) return void (fromGraph = undefined);
      const view = editors.active ?? editors.openViews.find((v) => v.document.uri.fsPath === tree.model?.file);
      if (!n || !view) return;
      if (n.kind === "module") editors.reveal(view.document.uri, { module: n.row.module });
      else if (n.kind === "group") {
        view.document.post({ type: "showOverlay", id: GROUPS_OVERLAY_ID });
        editors.reveal(view.document.uri, { name: n.row.node });
      }
      else if (n.kind === "leaf" && /#(inputs|outputs):/.test(n.id)) editors.reveal(view.document.uri, { tensor: n.label });
    }),
    // Selecting a node or module in the graph selects its module in the tree (when the tree is shown);
    // selections the host caused (reveals from the tree or CodeLens) are left alone.
    editors.onDidExplorerEvent((e) => {
      if (e.type !== "selected" || e.fromHost || !treeView.visible || tree.model?.file !== e.view.document.uri.fsPath) return;
      const node = typeof e.detail.module === "string" ? tree.findModule(e.detail.module) : undefined;
      if (!node || treeView.selection[0] === node) return;
      fromGraph = node;
      treeView.reveal(node, { select: true, focus: false, expand: false }).then(undefined, (err: unknown) => {
        fromGraph = undefined;
        log.warn(`tree: cannot reveal ${e.detail.module}: ${err instanceof Error ? err.message : String(err)}`);
      });
    }),
    editors.onDidRender(() => statusBar.update()),
  );
  registerCommands(context, { log, errors, editors, tree, treeView, engine, extensionUri: context.extensionUri });
  registerAblationCommands(context, { log, errors, editors, engine, overlays: ablationOverlays, extensionUri: context.extensionUri });

  log.info(`ONNX Scalpel ${context.extension.packageJSON.version} activated (VS Code ${vscode.version}, workspace ${vscode.workspace.isTrusted ? "trusted" : "restricted"})`);
  return { onDidReportError: errors.onDidReport, onDidRender: editors.onDidRender, editors, engine, statusBar: statusBar.item, tree, treeView, codeLens, pythonLenses,
    ablationOverlays,
    reports: ReportPanel,
    runWithProgress: (title, job, params) => runWithProgress(engine, log, title, job, params),
  };
}

export function deactivate(): void {
  // Everything is disposed through context.subscriptions.
}
