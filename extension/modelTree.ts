/**
 * Tree view "ONNX Model" in the Explorer side bar: the active model's inputs, outputs, module tree (with
 * params and MACs per module), operators and dependency groups (once the engine found them). Selecting a
 * module, tensor or group reveals it in the graph explorer, and selecting a node in the graph selects its
 * module here (wired in extension.ts).
 */
import path from "node:path";
import * as vscode from "vscode";
import type { InspectReport, ModuleRow } from "../analyzers/report/inspect.ts";
import { formatCount, formatShape } from "./format.ts";
import type { ModelEditorProvider, ModelGroups } from "./modelEditor.ts";
import type { GroupRow } from "./worker/modelSessions.ts";

export type TreeNode =
  | { readonly kind: "model"; readonly report: InspectReport }
  | { readonly kind: "section"; readonly id: "inputs" | "outputs" | "modules" | "ops" | "groups"; readonly report: InspectReport }
  | { readonly kind: "module"; readonly row: ModuleRow; readonly file: string }
  | { readonly kind: "group"; readonly row: GroupRow; readonly file: string }
  | { readonly kind: "leaf"; readonly id: string; readonly label: string; readonly description: string; readonly icon: string };

export class ModelTreeProvider implements vscode.TreeDataProvider<TreeNode>, vscode.Disposable {
  private readonly changed = new vscode.EventEmitter<void>();
  readonly onDidChangeTreeData = this.changed.event;
  private readonly sub: vscode.Disposable;
  private report: InspectReport | undefined;
  private groups: ModelGroups | undefined;
  /** Canonical nodes of the current report (reveal needs stable objects and parents). */
  private sections = new Map<string, TreeNode>();
  private modules = new Map<string, { node: TreeNode; parent: TreeNode }>();
  /** Canonical group nodes by group key, prunable and largest first. */
  private groupNodes = new Map<string, TreeNode>();

  constructor(private readonly editors: ModelEditorProvider) {
    this.sub = editors.onDidChangeActive(() => this.refresh());
    this.refresh();
  }

  private refresh(): void {
    const state = this.editors.active?.document.state;
    const report = state?.kind === "ready" ? state.report : undefined;
    // Keep the last model while no viewer has focus (e.g. the tree itself), unless every viewer closed.
    const next = report ?? (this.editors.openViews.length ? this.report : undefined);
    const groups = report ? this.editors.active?.document.groups : next ? this.groups : undefined;
    if (next === this.report && groups === this.groups) return;
    this.report = next;
    this.groups = groups;
    this.index(next);
    this.groupNodes = new Map(
      [...(groups?.rows ?? [])]
        .sort((a, b) => Number(!!a.frozen) - Number(!!b.frozen) || b.params - a.params)
        .map((row) => [row.key, { kind: "group", row, file: next!.file } as TreeNode]),
    );
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
    for (const id of ["inputs", "outputs", "modules", "ops", "groups"] as const) this.sections.set(id, { kind: "section", id, report: r });
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

  /** The tree node of a dependency group (by its key) of the shown model. */
  findGroup(key: string): TreeNode | undefined {
    return this.groupNodes.get(key);
  }

  getParent(n: TreeNode): TreeNode | undefined {
    if (n.kind === "module") return this.modules.get(n.row.module)?.parent;
    if (n.kind === "leaf") {
      const section = n.id.slice(n.id.lastIndexOf("#") + 1).split(":")[0]!;
      return this.sections.get(section === "op" ? "ops" : section);
    }
    if (n.kind === "group") return this.sections.get("groups");
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
          groups: ["Dependency groups", this.groups?.rows.length ?? 0, "group-by-ref-type", false],
        }[n.id] as [string, number, string, boolean];
        const t = new vscode.TreeItem(label, open ? vscode.TreeItemCollapsibleState.Expanded : vscode.TreeItemCollapsibleState.Collapsed);
        t.id = `${r.file}#${n.id}`;
        t.description = n.id === "groups" && this.groups ? `${this.groups.summary.prunableGroups} prunable · ${count}` : String(count);
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
      case "group": {
        const g = n.row;
        const t = new vscode.TreeItem(g.scope || g.key, vscode.TreeItemCollapsibleState.None);
        t.id = `${n.file}#group:${g.id}`;
        t.description = `${g.units} ${g.unitKind}${g.units === 1 ? "" : "s"} · ${formatCount(g.params)} params${g.frozen ? " · frozen" : ""}`;
        t.tooltip = `group ${g.id}: ${g.key}\n${g.units} ${g.unitKind}s, ${g.params.toLocaleString("en-US")} params, ${g.macs.toLocaleString("en-US")} MACs${g.frozen ? `\n${g.frozen}` : ""}`;
        t.iconPath = new vscode.ThemeIcon(g.frozen ? "lock" : "layers");
        t.contextValue = "group";
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
      if (this.groups) sections.push(this.sections.get("groups")!);
      return sections;
    }
    if (n.kind === "module") return n.row.children.map((row) => this.modules.get(row.module)!.node);
    if (n.kind !== "section") return [];
    switch (n.id) {
      case "groups":
        // Prunable groups first, largest first.
        return [...this.groupNodes.values()];
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
