/**
 * Command handlers. Each resolves its target model (the clicked file, the active model viewer, or a file
 * picker), then calls the engine through the worker. Every handler is wrapped by ErrorReporter.guard.
 */
import path from "node:path";
import * as vscode from "vscode";
import type { ErrorReporter } from "./errors.ts";
import type { Log } from "./log.ts";
import { REVEAL_MODULE_COMMAND } from "./codeLens.ts";
import { MODEL_VIEW_TYPE, type ModelEditorProvider } from "./modelEditor.ts";
import type { ModelTreeProvider, TreeNode } from "./modelTree.ts";

export interface CommandDeps {
  readonly log: Log;
  readonly errors: ErrorReporter;
  readonly editors: ModelEditorProvider;
  readonly tree: ModelTreeProvider;
  readonly treeView: vscode.TreeView<TreeNode>;
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
  const { log, errors, editors, tree, treeView } = deps;
  const register = (id: string, title: string, fn: (...args: unknown[]) => unknown) =>
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
    log.info(`Reveal ${module || "(root)"} in ${path.basename(file)}`);
  });

  // Not wired yet: each waits for its engine API (see the extension's report). They say so plainly
  // instead of pretending to work.
  const pending: [string, string, string][] = [
    ["onnxScalpel.pruneModel", "Prune Model", "the pruning engine (dependency groups, criteria, apply)"],
    ["onnxScalpel.runAblation", "Run CAMA/ABP Ablation", "the ablation engine"],
    ["onnxScalpel.findAf1", "Find AF1 Subgraph", "the ablation engine"],
    ["onnxScalpel.attentionKnockout", "Attention Knockout", "the ablation engine"],
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
