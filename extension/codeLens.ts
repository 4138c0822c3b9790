/**
 * CodeLens in PyTorch sources: above `class Block(nn.Module)` and above `self.conv1 = nn.Conv2d(...)`, the
 * params and MACs of the matching modules of the associated ONNX model (a class used N times aggregates
 * its instances). Clicking a lens reveals the module. The matching itself is in analyzers/source.
 */
import * as vscode from "vscode";
import { sourceLenses, type Aggregate } from "../analyzers/source/lenses.ts";
import { moduleClasses, parsePythonClasses } from "../analyzers/source/python.ts";
import type { AssociatedModels } from "./associatedModel.ts";
import { formatCount } from "./format.ts";

export const REVEAL_MODULE_COMMAND = "onnxScalpel.revealModule";

export class PythonModuleLensProvider implements vscode.CodeLensProvider, vscode.Disposable {
  private readonly changed = new vscode.EventEmitter<void>();
  readonly onDidChangeCodeLenses = this.changed.event;
  private readonly sub: vscode.Disposable;

  constructor(private readonly models: AssociatedModels) {
    this.sub = models.onDidChange(() => this.changed.fire());
  }

  async provideCodeLenses(doc: vscode.TextDocument, token: vscode.CancellationToken): Promise<vscode.CodeLens[]> {
    const classes = moduleClasses(parsePythonClasses(doc.getText()));
    if (!classes.length) return [];
    const assoc = await this.models.forDocument(doc.uri);
    if (!assoc || token.isCancellationRequested) return [];
    const { classes: classLenses, attributes } = sourceLenses(assoc.report.modules, classes);
    const lens = (line: number, title: string, tooltip: string, modules: readonly string[]) =>
      new vscode.CodeLens(doc.lineAt(line).range, { title, tooltip, command: REVEAL_MODULE_COMMAND, arguments: [assoc.file, modules[0] ?? ""] });
    const out: vscode.CodeLens[] = [];
    for (const c of classLenses) {
      const who = c.modules.length > 1 ? `${c.className} ×${c.modules.length}` : c.modules[0] === "" ? `${c.className} (whole model)` : `${c.className} · ${c.modules[0]}`;
      out.push(lens(c.line, `${who} · ${metrics(c)}`, tooltip(c, assoc.file), c.modules));
    }
    for (const a of attributes) {
      const who = a.modules.length > 1 ? `${a.attribute} ×${a.modules.length}` : a.modules[0]!;
      out.push(lens(a.line, `${who} · ${metrics(a)}`, tooltip(a, assoc.file), a.modules));
    }
    return out;
  }

  dispose(): void {
    this.sub.dispose();
    this.changed.dispose();
  }
}

function metrics(a: Aggregate): string {
  return `${formatCount(a.params)} params · ${formatCount(a.macs)} MACs`;
}

function tooltip(a: Aggregate, model: string): string {
  const list = a.modules.length > 6 ? [...a.modules.slice(0, 6), `… ${a.modules.length - 6} more`] : a.modules;
  return `${model}\n${list.map((m) => m || "(root)").join("\n")}\n${a.params.toLocaleString("en-US")} params, ${a.macs.toLocaleString("en-US")} MACs per sample\nClick to reveal in the model`;
}
