/**
 * Command handlers. Each resolves its target model (the clicked file, the active model viewer, or a file
 * picker), then calls the engine through the worker. Every handler is wrapped by ErrorReporter.guard.
 */
import fs from "node:fs";
import path from "node:path";
import * as vscode from "vscode";
import type { InspectReport } from "../analyzers/report/inspect.ts";
import type { ErrorReporter } from "./errors.ts";
import type { Log } from "./log.ts";
import { REVEAL_MODULE_COMMAND } from "./codeLens.ts";
import { MODEL_VIEW_TYPE, type ModelEditorProvider } from "./modelEditor.ts";
import type { ModelTreeProvider, TreeNode } from "./modelTree.ts";
import { cliEquivalent, optionsFromSettings, outputPaths, type PruneOptions } from "./prune/options.ts";
import { askPruneOptions, confirmReplace } from "./prune/wizard.ts";
import type { EngineWorker } from "./worker/client.ts";

export interface CommandDeps {
  readonly log: Log;
  readonly errors: ErrorReporter;
  readonly editors: ModelEditorProvider;
  readonly tree: ModelTreeProvider;
  readonly treeView: vscode.TreeView<TreeNode>;
  readonly engine: EngineWorker;
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
  const { log, errors, editors, tree, treeView, engine } = deps;
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
  register(REVEAL_MODULE_COMMAND, "Reveal module", async (file: unknown, module: unknown) => {
    if (typeof file !== "string" || typeof module !== "string") return;
    const uri = vscode.Uri.file(file);
    // Reuse the group where the model is already open; otherwise open it beside the source.
    const group = vscode.window.tabGroups.all.find((g) =>
      g.tabs.some((t) => t.input instanceof vscode.TabInputCustom && t.input.viewType === MODEL_VIEW_TYPE && t.input.uri.fsPath === uri.fsPath),
    );
    const viewColumn = group?.viewColumn ?? vscode.ViewColumn.Beside;
    await vscode.commands.executeCommand("vscode.openWith", uri, MODEL_VIEW_TYPE, { viewColumn, preserveFocus: true });
    const view = await editors.whenSettled(uri);
    if (!view || view.document.state.kind !== "ready") return;
    editors.showAsActive(view);
    const node = tree.findModule(module);
    if (node) await treeView.reveal(node, { select: true, focus: false, expand: true });
    editors.reveal(uri, { module });
    log.info(`Reveal ${module || "(root)"} in ${path.basename(file)}`);
  });

  /** The report of a model: from its open viewer, else analysed in the worker (for the wizard's module list). */
  const reportOf = async (uri: vscode.Uri): Promise<InspectReport | undefined> => {
    const open = editors.openViews.find((v) => v.document.uri.fsPath === uri.fsPath)?.document.state;
    if (open?.kind === "ready") return open.report;
    return engine.run("inspect", { file: uri.fsPath });
  };

  // Prune Model: the wizard (or a preset), the output files beside the model (asking before replacing),
  // the CLI equivalent in the log. Running the prune waits for the pruning engine (issue 3).
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
    const report = await reportOf(uri);
    const { replace, ...given } = preset ?? {};
    const options = preset ? { ...defaults, ...given } : await askPruneOptions(name, defaults, report?.modules);
    if (!options) return undefined;
    const outputs = outputPaths(uri.fsPath);
    const existing = [outputs.pruned, outputs.plan].filter((f) => fs.existsSync(f));
    if (existing.length && (replace === "never" || (replace !== "always" && !(await confirmReplace(existing))))) {
      log.info(`Prune ${name}: stopped, ${existing.map((f) => path.basename(f)).join(" and ")} kept`);
      return undefined;
    }
    const request: PruneRequest = { model: uri.fsPath, options, outputs, cli: cliEquivalent(uri.fsPath, options) };
    log.info(`Prune ${name}: ${request.cli}`);
    void vscode.window.showInformationMessage(
      `Pruning itself is not available in this build yet: it needs the pruning engine. The equivalent CLI command is in the Output channel.`,
    );
    return request;
  });

  // Not wired yet: each waits for its engine API (see the extension's report). They say so plainly
  // instead of pretending to work.
  const pending: [string, string, string][] = [
    ["onnxScalpel.applyPlan", "Apply Plan", "the pruning engine's plan format"],
  ];
  for (const [id, title, needs] of pending) {
    register(id, title, async (arg) => {
      const target = arg instanceof vscode.Uri ? ` for ${path.basename(arg.fsPath)}` : "";
      log.info(`${title}${target}: not available in this build (needs ${needs})`);
      void vscode.window.showInformationMessage(`${title} is not available in this build yet: it needs ${needs}.`);
    });
  }
}
