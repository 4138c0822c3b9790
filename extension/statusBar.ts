/** Status-bar item: the active model's params and MACs; clicking it opens the Output channel. */
import path from "node:path";
import * as vscode from "vscode";
import { formatCount } from "./format.ts";
import type { ModelEditorProvider } from "./modelEditor.ts";

export class ModelStatusBar implements vscode.Disposable {
  readonly item = vscode.window.createStatusBarItem("onnxScalpel.model", vscode.StatusBarAlignment.Right, 100);
  private readonly sub: vscode.Disposable;

  constructor(private readonly editors: ModelEditorProvider) {
    this.item.name = "ONNX Scalpel: active model";
    this.item.command = "onnxScalpel.showOutput";
    this.sub = editors.onDidChangeActive(() => this.update());
    this.update();
  }

  update(): void {
    const view = this.editors.active;
    if (!view) {
      this.item.hide();
      return;
    }
    const state = view.document.state;
    const name = path.basename(view.document.uri.fsPath);
    if (state.kind === "ready") {
      const r = state.report;
      this.item.text = `$(circuit-board) ${formatCount(r.params)} params · ${formatCount(r.macs)}${r.macsApproximate ? "*" : ""} MACs`;
      this.item.tooltip = `${name}: ${r.params.toLocaleString("en-US")} parameters, ${r.macs.toLocaleString("en-US")} MACs per sample${r.macsApproximate ? " (approximate)" : ""}, ${r.nodes} nodes`;
    } else if (state.kind === "loading") {
      this.item.text = `$(loading~spin) ${name}`;
      this.item.tooltip = `Loading ${name}`;
    } else {
      this.item.text = `$(error) ${name}`;
      this.item.tooltip = `${name} cannot be opened: ${state.error.problem ?? state.error.message}`;
    }
    this.item.show();
  }

  dispose(): void {
    this.sub.dispose();
    this.item.dispose();
  }
}
