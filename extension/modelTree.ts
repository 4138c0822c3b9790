/**
 * Tree view "ONNX Model" in the Explorer side bar: the active model's inputs, outputs and operators.
 * Module tree, dependency groups and initializers join as the engine provides them (issue 3 / metrics).
 */
import path from "node:path";
import * as vscode from "vscode";
import type { ModelSummary } from "../analyzers/graph/summary.ts";
import { formatCount, formatShape } from "./format.ts";
import type { ModelEditorProvider } from "./modelEditor.ts";

type Item =
  | { readonly kind: "section"; readonly id: "inputs" | "outputs" | "ops"; readonly summary: ModelSummary }
  | { readonly kind: "leaf"; readonly label: string; readonly description: string; readonly icon: string; readonly tooltip?: string };

export class ModelTreeProvider implements vscode.TreeDataProvider<Item>, vscode.Disposable {
  private readonly changed = new vscode.EventEmitter<void>();
  readonly onDidChangeTreeData = this.changed.event;
  private readonly sub: vscode.Disposable;
  private summary: ModelSummary | undefined;

  constructor(private readonly editors: ModelEditorProvider) {
    this.sub = editors.onDidChangeActive(() => this.refresh());
    this.refresh();
  }

  private refresh(): void {
    const state = this.editors.active?.document.state;
    const summary = state?.kind === "ready" ? state.summary : undefined;
    // Keep the last model while no viewer is focused, so the view does not flicker when the tree gets focus.
    if (summary || !this.editors.openViews.length) this.summary = summary;
    void vscode.commands.executeCommand("setContext", "onnxScalpel.hasModel", this.summary !== undefined);
    this.changed.fire();
  }

  get model(): ModelSummary | undefined {
    return this.summary;
  }

  getTreeItem(item: Item): vscode.TreeItem {
    if (item.kind === "leaf") {
      const t = new vscode.TreeItem(item.label, vscode.TreeItemCollapsibleState.None);
      t.description = item.description;
      t.iconPath = new vscode.ThemeIcon(item.icon);
      t.tooltip = item.tooltip;
      return t;
    }
    const s = item.summary;
    const [label, count, icon] =
      item.id === "inputs" ? ["Inputs", s.inputs.length, "arrow-right"] : item.id === "outputs" ? ["Outputs", s.outputs.length, "arrow-left"] : ["Operators", s.nodeCount, "symbol-operator"];
    const t = new vscode.TreeItem(label, vscode.TreeItemCollapsibleState.Expanded);
    t.id = `${s.file}#${item.id}`;
    t.description = String(count);
    t.iconPath = new vscode.ThemeIcon(icon);
    return t;
  }

  getChildren(item?: Item): Item[] {
    const s = this.summary;
    if (!s) return [];
    if (!item) {
      return [
        { kind: "leaf", label: path.basename(s.file), description: `${formatCount(s.parameters)} params`, icon: "file-binary", tooltip: s.file },
        { kind: "section", id: "inputs", summary: s },
        { kind: "section", id: "outputs", summary: s },
        { kind: "section", id: "ops", summary: s },
      ];
    }
    if (item.kind === "leaf") return [];
    if (item.id === "ops") return s.ops.map((o) => ({ kind: "leaf", label: o.domain ? `${o.domain}.${o.opType}` : o.opType, description: `×${o.count}`, icon: "symbol-method" }));
    const list = item.id === "inputs" ? s.inputs : s.outputs;
    return list.map((t) => ({ kind: "leaf", label: t.name, description: `${t.dataType ?? "?"} ${formatShape(t.shape)}`, icon: "symbol-variable" }));
  }

  dispose(): void {
    this.sub.dispose();
    this.changed.dispose();
  }
}
