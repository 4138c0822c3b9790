/**
 * Tree view "ONNX Model" in the Explorer side bar: the active model's inputs, outputs, module tree (with
 * params and MACs per module) and operators. Dependency groups and initializers join as the engine
 * provides them (issue 3). Selecting a module or layer will reveal it in the graph explorer (issue 7).
 */
import path from "node:path";
import * as vscode from "vscode";
import type { InspectReport, ModuleRow } from "../analyzers/report/inspect.ts";
import { formatCount, formatShape } from "./format.ts";
import type { ModelEditorProvider } from "./modelEditor.ts";

export type TreeNode =
  | { readonly kind: "model"; readonly report: InspectReport }
  | { readonly kind: "section"; readonly id: "inputs" | "outputs" | "modules" | "ops"; readonly report: InspectReport }
  | { readonly kind: "module"; readonly row: ModuleRow; readonly file: string }
  | { readonly kind: "leaf"; readonly id: string; readonly label: string; readonly description: string; readonly icon: string };

export class ModelTreeProvider implements vscode.TreeDataProvider<TreeNode>, vscode.Disposable {
  private readonly changed = new vscode.EventEmitter<void>();
  readonly onDidChangeTreeData = this.changed.event;
  private readonly sub: vscode.Disposable;
  private report: InspectReport | undefined;
  /** Canonical nodes of the current report (reveal needs stable objects and parents). */
  private sections = new Map<string, TreeNode>();
  private modules = new Map<string, { node: TreeNode; parent: TreeNode }>();

  constructor(private readonly editors: ModelEditorProvider) {
    this.sub = editors.onDidChangeActive(() => this.refresh());
    this.refresh();
  }

  private refresh(): void {
    const state = this.editors.active?.document.state;
    const report = state?.kind === "ready" ? state.report : undefined;
    // Keep the last model while no viewer has focus (e.g. the tree itself), unless every viewer closed.
    const next = report ?? (this.editors.openViews.length ? this.report : undefined);
    if (next === this.report) return;
    this.report = next;
    this.index(next);
    void vscode.commands.executeCommand("setContext", "onnxScalpel.hasModel", next !== undefined);
    this.changed.fire();
  }

  get model(): InspectReport | undefined {
    return this.report;
  }

  private index(r: InspectReport | undefined): void {
    this.sections = new Map();
    this.modules = new Map();
    if (!r) return;
    for (const id of ["inputs", "outputs", "modules", "ops"] as const) this.sections.set(id, { kind: "section", id, report: r });
    const walk = (row: ModuleRow, parent: TreeNode) => {
      const node: TreeNode = { kind: "module", row, file: r.file };
      this.modules.set(row.module, { node, parent });
      for (const c of row.children) walk(c, node);
    };
    for (const c of r.modules.children) walk(c, this.sections.get("modules")!);
  }

  /** The tree node of a dotted module path of the shown model. */
  findModule(module: string): TreeNode | undefined {
    return this.modules.get(module)?.node;
  }

  getParent(n: TreeNode): TreeNode | undefined {
    if (n.kind === "module") return this.modules.get(n.row.module)?.parent;
    if (n.kind === "leaf") {
      const section = n.id.slice(n.id.lastIndexOf("#") + 1).split(":")[0]!;
      return this.sections.get(section === "op" ? "ops" : section);
    }
    return undefined;
  }

  getTreeItem(n: TreeNode): vscode.TreeItem {
    switch (n.kind) {
      case "model": {
        const t = new vscode.TreeItem(path.basename(n.report.file), vscode.TreeItemCollapsibleState.None);
        t.description = `${formatCount(n.report.params)} params · ${formatCount(n.report.macs)} MACs`;
        t.tooltip = n.report.file;
        t.iconPath = new vscode.ThemeIcon("file-binary");
        return t;
      }
      case "section": {
        const r = n.report;
        const [label, count, icon, open] = {
          inputs: ["Inputs", r.inputs.length, "arrow-right", !r.modules.children.length],
          outputs: ["Outputs", r.outputs.length, "arrow-left", !r.modules.children.length],
          modules: ["Modules", r.modules.children.length, "symbol-class", true],
          ops: ["Operators", r.nodes, "symbol-operator", false],
        }[n.id] as [string, number, string, boolean];
        const t = new vscode.TreeItem(label, open ? vscode.TreeItemCollapsibleState.Expanded : vscode.TreeItemCollapsibleState.Collapsed);
        t.id = `${r.file}#${n.id}`;
        t.description = String(count);
        t.iconPath = new vscode.ThemeIcon(icon);
        return t;
      }
      case "module": {
        const m = n.row;
        const t = new vscode.TreeItem(m.name, m.children.length ? vscode.TreeItemCollapsibleState.Collapsed : vscode.TreeItemCollapsibleState.None);
        t.id = `${n.file}#module:${m.module}`;
        t.description = `${formatCount(m.params)} params · ${formatCount(m.macs)} MACs`;
        t.tooltip = `${m.module}: ${m.nodes} nodes, ${m.params.toLocaleString("en-US")} params, ${m.macs.toLocaleString("en-US")} MACs`;
        t.iconPath = new vscode.ThemeIcon(m.children.length ? "symbol-namespace" : "symbol-field");
        t.contextValue = "module";
        return t;
      }
      case "leaf": {
        const t = new vscode.TreeItem(n.label, vscode.TreeItemCollapsibleState.None);
        t.id = n.id;
        t.description = n.description;
        t.iconPath = new vscode.ThemeIcon(n.icon);
        return t;
      }
    }
  }

  getChildren(n?: TreeNode): TreeNode[] {
    const r = this.report;
    if (!r) return [];
    if (!n) {
      // The module tree first (expanded) when the model has scopes; inputs and outputs then start collapsed.
      const sections: TreeNode[] = [{ kind: "model", report: r }];
      if (r.modules.children.length) sections.push(this.sections.get("modules")!);
      sections.push(this.sections.get("inputs")!, this.sections.get("outputs")!, this.sections.get("ops")!);
      return sections;
    }
    if (n.kind === "module") return n.row.children.map((row) => this.modules.get(row.module)!.node);
    if (n.kind !== "section") return [];
    switch (n.id) {
      case "modules":
        return r.modules.children.map((row) => this.modules.get(row.module)!.node);
      case "ops":
        return Object.entries(r.opCounts).map(([op, count]) => ({ kind: "leaf", id: `${r.file}#op:${op}`, label: op, description: `×${count}`, icon: "symbol-method" }));
      case "inputs":
      case "outputs":
        return (n.id === "inputs" ? r.inputs : r.outputs).map((t) => ({
          kind: "leaf",
          id: `${r.file}#${n.id}:${t.name}`,
          label: t.name,
          description: `${t.dtype} ${formatShape(t.shape ?? undefined)}`,
          icon: "symbol-variable",
        }));
    }
  }

  dispose(): void {
    this.sub.dispose();
    this.changed.dispose();
  }
}
