/**
 * CodeLens in PyTorch sources: above `class Block(nn.Module)` and above `self.conv1 = nn.Conv2d(...)`, the
 * params and MACs of the matching modules of the associated ONNX model (a class used N times aggregates
 * its instances), and a second lens with the dependency group(s) those modules own, the importance of
 * their units and the share the model's plan (NAME.prune.json) removes. Clicking the first reveals the
 * module, the second the group. The matching itself is in analyzers/source.
 *
 * Plain Python files cost nothing: the provider is only registered while a model may be associated (the
 * setting is set or a model viewer is open, see `PythonLensRegistration`), and it checks that again before
 * reading the document.
 */
import * as vscode from "vscode";
import { moduleGroups } from "../analyzers/source/groupLenses.ts";
import { sourceLenses, type Aggregate } from "../analyzers/source/lenses.ts";
import { moduleClasses, parsePythonClasses } from "../analyzers/source/python.ts";
import type { AssociatedModels } from "./associatedModel.ts";
import { formatCount } from "./format.ts";
import { groupLensTitle, groupLensTooltip } from "./groupLensText.ts";

export const REVEAL_MODULE_COMMAND = "onnxScalpel.revealModule";
export const REVEAL_GROUP_COMMAND = "onnxScalpel.revealGroup";

export class PythonModuleLensProvider implements vscode.CodeLensProvider, vscode.Disposable {
  private readonly changed = new vscode.EventEmitter<void>();
  readonly onDidChangeCodeLenses = this.changed.event;
  private readonly sub: vscode.Disposable;
  /** Documents this provider parsed (diagnostics and tests: plain Python files must not count). */
  parsed = 0;

  constructor(private readonly models: AssociatedModels) {
    this.sub = models.onDidChange(() => this.changed.fire());
  }

  async provideCodeLenses(doc: vscode.TextDocument, token: vscode.CancellationToken): Promise<vscode.CodeLens[]> {
    if (!this.models.mayHave(doc.uri)) return [];
    this.parsed++;
    const classes = moduleClasses(parsePythonClasses(doc.getText()));
    if (!classes.length) return [];
    const assoc = await this.models.forDocument(doc.uri);
    if (!assoc || token.isCancellationRequested) return [];
    const { classes: classLenses, attributes } = sourceLenses(assoc.report.modules, classes);
    const lens = (line: number, title: string, tooltip: string, modules: readonly string[]) =>
      new vscode.CodeLens(doc.lineAt(line).range, { title, tooltip, command: REVEAL_MODULE_COMMAND, arguments: [assoc.file, modules[0] ?? ""] });
    // Groups arrive later on a first visit (the worker scores the model); the lenses refresh then.
    const info = this.models.groupInfo(assoc, doc.uri);
    const groupLens = (line: number, modules: readonly string[]) => {
      if (info.kind !== "ready") return [];
      const m = moduleGroups(modules, info.facts, info.plan);
      if (!m) return [];
      return [
        new vscode.CodeLens(doc.lineAt(line).range, {
          title: groupLensTitle(m),
          tooltip: groupLensTooltip(m, assoc.file, info.planFile),
          command: REVEAL_GROUP_COMMAND,
          arguments: [assoc.file, m.groups[0]!.key],
        }),
      ];
    };
    const out: vscode.CodeLens[] = [];
    for (const c of classLenses) {
      const who = c.modules.length > 1 ? `${c.className} ×${c.modules.length}` : c.modules[0] === "" ? `${c.className} (whole model)` : `${c.className} · ${c.modules[0]}`;
      out.push(lens(c.line, `${who} · ${metrics(c)}`, tooltip(c, assoc.file), c.modules), ...groupLens(c.line, c.modules));
    }
    for (const a of attributes) {
      const who = a.modules.length > 1 ? `${a.attribute} ×${a.modules.length}` : a.modules[0]!;
      out.push(lens(a.line, `${who} · ${metrics(a)}`, tooltip(a, assoc.file), a.modules), ...groupLens(a.line, a.modules));
    }
    return out;
  }

  dispose(): void {
    this.sub.dispose();
    this.changed.dispose();
  }
}

/**
 * Registers the Python lens provider only while a model may be associated, so that VS Code never calls
 * into the extension for Python files of a workspace without one.
 */
export class PythonLensRegistration implements vscode.Disposable {
  private registration: vscode.Disposable | undefined;
  private readonly sub: vscode.Disposable;

  constructor(
    private readonly models: AssociatedModels,
    private readonly provider: PythonModuleLensProvider,
  ) {
    this.sub = models.onDidChange(() => this.update());
    this.update();
  }

  get registered(): boolean {
    return this.registration !== undefined;
  }

  private update(): void {
    const want = this.models.anyPossible();
    if (want && !this.registration) this.registration = vscode.languages.registerCodeLensProvider({ language: "python", scheme: "file" }, this.provider);
    else if (!want && this.registration) {
      this.registration.dispose();
      this.registration = undefined;
    }
  }

  dispose(): void {
    this.sub.dispose();
    this.registration?.dispose();
  }
}

function metrics(a: Aggregate): string {
  return `${formatCount(a.params)} params · ${formatCount(a.macs)} MACs`;
}

function tooltip(a: Aggregate, model: string): string {
  const list = a.modules.length > 6 ? [...a.modules.slice(0, 6), `… ${a.modules.length - 6} more`] : a.modules;
  return `${model}\n${list.map((m) => m || "(root)").join("\n")}\n${a.params.toLocaleString("en-US")} params, ${a.macs.toLocaleString("en-US")} MACs per sample\nClick to reveal in the model`;
}
