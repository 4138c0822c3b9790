/**
 * Command handlers. Each resolves its target model (the clicked file, the active model viewer, or a file
 * picker), then calls the engine through the worker. Every handler is wrapped by ErrorReporter.guard.
 */
import fs from "node:fs";
import path from "node:path";
import * as vscode from "vscode";
import type { PruneJobReport } from "../analyzers/pruning/job.ts";
import type { Plan } from "../analyzers/pruning/types.ts";
import type { InspectReport } from "../analyzers/report/inspect.ts";
import type { ErrorReporter } from "./errors.ts";
import type { Log } from "./log.ts";
import { REVEAL_GROUP_COMMAND, REVEAL_MODULE_COMMAND } from "./codeLens.ts";
import { GROUPS_OVERLAY_ID } from "../analyzers/explorer/pruningOverlays.ts";
import { MODEL_VIEW_TYPE, type ModelEditorProvider } from "./modelEditor.ts";
import type { ModelTreeProvider, TreeNode } from "./modelTree.ts";
import { cliEquivalent, optionsFromSettings, outputPaths, type PruneOptions } from "./prune/options.ts";
import { askPruneOptions, confirmReplace } from "./prune/wizard.ts";
import { runWithProgress } from "./progress.ts";
import { pruneCsv, pruneReportHtml, pruneTitle } from "./reports/pruneReport.ts";
import { ReportPanel } from "./reports/reportPanel.ts";
import type { EngineWorker } from "./worker/client.ts";

export interface CommandDeps {
  readonly log: Log;
  readonly errors: ErrorReporter;
  readonly editors: ModelEditorProvider;
  readonly tree: ModelTreeProvider;
  readonly treeView: vscode.TreeView<TreeNode>;
  readonly engine: EngineWorker;
  readonly extensionUri: vscode.Uri;
}

/** What callers (tests, other extensions) may pass to Prune Model instead of answering the wizard. */
export interface PrunePreset extends Partial<PruneOptions> {
  /** Existing outputs: ask (default), always replace, or never (stop). */
  readonly replace?: "ask" | "always" | "never";
}

export interface PruneRequest {
  readonly model: string;
  readonly options: PruneOptions;
  readonly outputs: { readonly pruned: string; readonly plan: string };
  readonly cli: string;
  /** The engine's report (absent when the run did not finish). */
  readonly report?: PruneJobReport;
}

/** Outputs a cancelled or failed run wrote after `since` are removed: no half-finished results beside the model. */
function removeFresh(files: readonly string[], since: number, log: Log): void {
  for (const f of files) {
    try {
      if (fs.statSync(f).mtimeMs >= since) {
        fs.rmSync(f);
        log.info(`removed ${path.basename(f)} (the run did not finish)`);
      }
    } catch {
      // not written
    }
  }
}

/** The model a command acts on: an explicit Uri argument, the active model viewer, or one the user picks. */
export async function resolveModelUri(arg: unknown, editors: ModelEditorProvider, title: string): Promise<vscode.Uri | undefined> {
  if (arg instanceof vscode.Uri) return arg;
  const active = editors.active?.document.uri;
  if (active) return active;
  const picked = await vscode.window.showOpenDialog({
    title,
    canSelectMany: false,
    filters: { "ONNX models": ["onnx"] },
    openLabel: "Select model",
  });
  return picked?.[0];
}

export function registerCommands(ctx: vscode.ExtensionContext, deps: CommandDeps): void {
  const { log, errors, editors, tree, treeView, engine, extensionUri } = deps;
  // Command arguments are untyped at runtime; handlers declare what they accept and check it.
  const register = (id: string, title: string, fn: (...args: any[]) => unknown) =>
    ctx.subscriptions.push(vscode.commands.registerCommand(id, errors.guard(title, fn)));

  register("onnxScalpel.showOutput", "Show Output", () => log.show());

  register("onnxScalpel.openExplorer", "Open Graph Explorer", async (arg) => {
    const uri = await resolveModelUri(arg, editors, "Open Graph Explorer");
    if (!uri) return;
    await vscode.commands.executeCommand("vscode.openWith", uri, MODEL_VIEW_TYPE);
  });

  // From CodeLens: open the model beside the source (keeping focus there) and reveal the module.
  /** The viewer of `file`: the open one, else opened beside the source (keeping focus there); once ready. */
  const viewerBeside = async (file: string) => {
    const uri = vscode.Uri.file(file);
    // Reuse the group where the model is already open; otherwise open it beside the source.
    const group = vscode.window.tabGroups.all.find((g) =>
      g.tabs.some((t) => t.input instanceof vscode.TabInputCustom && t.input.viewType === MODEL_VIEW_TYPE && t.input.uri.fsPath === uri.fsPath),
    );
    const viewColumn = group?.viewColumn ?? vscode.ViewColumn.Beside;
    await vscode.commands.executeCommand("vscode.openWith", uri, MODEL_VIEW_TYPE, { viewColumn, preserveFocus: true });
    const view = await editors.whenSettled(uri);
    if (!view || view.document.state.kind !== "ready") return undefined;
    editors.showAsActive(view);
    return view;
  };

  register(REVEAL_MODULE_COMMAND, "Reveal module", async (file: unknown, module: unknown) => {
    if (typeof file !== "string" || typeof module !== "string") return;
    if (!(await viewerBeside(file))) return;
    const node = tree.findModule(module);
    if (node) await treeView.reveal(node, { select: true, focus: false, expand: true });
    editors.reveal(vscode.Uri.file(file), { module });
    log.info(`Reveal ${module || "(root)"} in ${path.basename(file)}`);
  });

  // From the group CodeLens: the group selected in the tree (whose selection shows it in the graph with the groups overlay).
  register(REVEAL_GROUP_COMMAND, "Reveal dependency group", async (file: unknown, key: unknown) => {
    if (typeof file !== "string" || typeof key !== "string") return;
    const view = await viewerBeside(file);
    if (!view) return;
    if (!view.document.groups) await new Promise<void>((resolve) => {
      const sub = view.document.onDidChangeGroups(() => (sub.dispose(), resolve()));
      setTimeout(() => (sub.dispose(), resolve()), 60_000);
    });
    const node = tree.findGroup(key);
    if (!node || node.kind !== "group") return void log.warn(`Reveal group: ${key} is not a dependency group of ${path.basename(file)}`);
    await treeView.reveal(node, { select: true, focus: false, expand: true });
    view.document.post({ type: "showOverlay", id: GROUPS_OVERLAY_ID });
    editors.reveal(view.document.uri, { name: node.row.node });
    log.info(`Reveal group ${key} in ${path.basename(file)}`);
  });

  /** The report of a model: from its open viewer, else analysed in the worker (for the wizard's module list). */
  const reportOf = async (uri: vscode.Uri): Promise<InspectReport | undefined> => {
    const open = editors.openViews.find((v) => v.document.uri.fsPath === uri.fsPath)?.document.state;
    if (open?.kind === "ready") return open.report;
    return engine.run("inspect", { file: uri.fsPath });
  };

  /** Runs the prune job behind a progress notification, then opens the before/after report. */
  const prune = async (model: string, options: PruneOptions, outputs: PruneRequest["outputs"], overwrite: boolean, cli: string, planFile?: string): Promise<PruneJobReport> => {
    const name = path.basename(model);
    const threads = vscode.workspace.getConfiguration("scalpel", vscode.Uri.file(model)).get<number>("runtime.threads", 0);
    const started = Date.now();
    let report: PruneJobReport;
    try {
      report = await runWithProgress(engine, log, `${planFile ? "Applying plan to" : "Pruning"} ${name}`, "prune", { model, options, outputs, overwrite, planFile, threads });
    } catch (e) {
      removeFresh(planFile ? [outputs.pruned] : [outputs.pruned, outputs.plan], started, log);
      throw e;
    }
    let plan: Plan | undefined;
    try {
      plan = JSON.parse(fs.readFileSync(planFile ?? outputs.plan, "utf8")) as Plan;
    } catch {
      // the report still shows everything but the group list
    }
    const input = { report, groups: (plan?.groups ?? []).filter((g) => g.prune.length > 0), cli };
    ReportPanel.show(extensionUri, log, {
      title: pruneTitle(report),
      body: pruneReportHtml(input),
      json: report,
      csv: pruneCsv(input),
      fileBase: `${path.basename(model, ".onnx")}.prune-report`,
      folder: path.dirname(model),
    }, editors.openViews.some((x) => x.document.uri.fsPath === model && x.panel.visible));
    // The original, when open, shows what the plan removed (the explorer's pruning-diff overlay).
    const open = editors.openViews.find((x) => x.document.uri.fsPath === model)?.document;
    if (open?.state.kind === "ready") {
      try {
        const { overlays, show } = await engine.run("pruneOverlay", { session: open.state.session, planFile: planFile ?? outputs.plan, pruned: outputs.pruned });
        open.post({ type: "overlays", overlays, show });
      } catch (e) {
        log.warn(`${name}: no pruning overlay: ${e instanceof Error ? e.message : String(e)}`);
      }
    }
    const v = report.verify;
    log.info(`${name}: params ${v.params.before} → ${v.params.after}, MACs ${v.macs.before} → ${v.macs.after}; ${v.ok ? "verified" : `problems: ${v.problems.join("; ")}`}`);
    if (!v.ok) void vscode.window.showWarningMessage(`${path.basename(outputs.pruned)} was written, but verification found problems: ${v.problems[0]}`, "Show details").then((c) => c && log.show());
    return report;
  };

  // Prune Model: the wizard (or a preset), the output files beside the model (asking before replacing),
  // the CLI equivalent in the log, the prune in a worker, then the report.
  register("onnxScalpel.pruneModel", "Prune Model", async (arg: unknown, preset?: PrunePreset): Promise<PruneRequest | undefined> => {
    const uri = await resolveModelUri(arg, editors, "Prune Model");
    if (!uri) return undefined;
    if (!vscode.workspace.isTrusted) {
      void vscode.window.showWarningMessage("Prune Model runs the model in onnxruntime and writes files: it needs a trusted workspace.");
      return undefined;
    }
    const name = path.basename(uri.fsPath);
    const config = vscode.workspace.getConfiguration("scalpel", uri);
    const defaults = optionsFromSettings((k) => config.get(k));
    const { replace, ...given } = preset ?? {};
    const options = preset ? { ...defaults, ...given } : await askPruneOptions(name, defaults, (await reportOf(uri))?.modules);
    if (!options) return undefined;
    const outputs = outputPaths(uri.fsPath);
    const existing = [outputs.pruned, outputs.plan].filter((f) => fs.existsSync(f));
    if (existing.length && (replace === "never" || (replace !== "always" && !(await confirmReplace(existing))))) {
      log.info(`Prune ${name}: stopped, ${existing.map((f) => path.basename(f)).join(" and ")} kept`);
      return undefined;
    }
    const request: PruneRequest = { model: uri.fsPath, options, outputs, cli: cliEquivalent(uri.fsPath, options) };
    log.info(`Prune ${name}: ${request.cli}`);
    const report = await prune(uri.fsPath, options, outputs, existing.length > 0, request.cli);
    return { ...request, report };
  });

  // Apply Plan: a NAME.prune.json applied to NAME.onnx beside it (or a model the user picks).
  register("onnxScalpel.applyPlan", "Apply Plan", async (arg: unknown, preset?: { model?: string; replace?: "ask" | "always" | "never" }): Promise<PruneRequest | undefined> => {
    const planUri = arg instanceof vscode.Uri ? arg : vscode.window.activeTextEditor?.document.uri;
    if (!planUri || !/\.prune\.json$/i.test(planUri.fsPath)) {
      void vscode.window.showInformationMessage("Apply Plan works on a NAME.prune.json file: open one or right-click it.");
      return undefined;
    }
    if (!vscode.workspace.isTrusted) {
      void vscode.window.showWarningMessage("Apply Plan runs the model in onnxruntime and writes files: it needs a trusted workspace.");
      return undefined;
    }
    let model = preset?.model ?? planUri.fsPath.replace(/\.prune\.json$/i, ".onnx");
    if (!fs.existsSync(model)) {
      const picked = await vscode.window.showOpenDialog({ title: `Model for ${path.basename(planUri.fsPath)}`, filters: { "ONNX models": ["onnx"] }, canSelectMany: false });
      if (!picked?.[0]) return undefined;
      model = picked[0].fsPath;
    }
    const outputs = { pruned: outputPaths(model).pruned, plan: planUri.fsPath };
    const exists = fs.existsSync(outputs.pruned);
    if (exists && (preset?.replace === "never" || (preset?.replace !== "always" && !(await confirmReplace([outputs.pruned]))))) return undefined;
    const config = vscode.workspace.getConfiguration("scalpel", vscode.Uri.file(model));
    const options = optionsFromSettings((k) => config.get(k));
    const cli = `scalpel prune ${model} --plan ${planUri.fsPath} --out ${outputs.pruned}`;
    log.info(`Apply ${path.basename(planUri.fsPath)}: ${cli}`);
    const report = await prune(model, options, outputs, exists, cli, planUri.fsPath);
    return { model, options, outputs, cli, report };
  });
}
