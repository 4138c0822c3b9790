import assert from "node:assert/strict";
import fs from "node:fs";
import * as vscode from "vscode";
import type { ScalpelApi } from "../../extension/extension.ts";
import { formatCount } from "../../extension/format.ts";
import { driver } from "./driver.ts";
import { resetWorkbench, fixture, scalpel, sleep } from "./helpers.ts";

interface Facts {
  modules: Record<string, { class: string; state: number; macs: number }>;
}

const metrics = (params: number, macs: number) => `${formatCount(params)} params · ${formatCount(macs)} MACs`;

async function lensTitles(uri: vscode.Uri, expectAtLeast: number): Promise<{ line: number; title: string; args: unknown[] }[]> {
  // Lenses depend on the association, which settles asynchronously: poll briefly.
  for (let i = 0; ; i++) {
    const lenses = (await vscode.commands.executeCommand<vscode.CodeLens[]>("vscode.executeCodeLensProvider", uri)) ?? [];
    const ours = lenses.filter((l) => l.command?.command === "onnxScalpel.revealModule");
    if (ours.length >= expectAtLeast || i >= 60) return ours.map((l) => ({ line: l.range.start.line, title: l.command!.title, args: l.command!.arguments ?? [] }));
    await sleep(250);
  }
}

describe("CodeLens in PyTorch sources", () => {
  let api: ScalpelApi;
  let facts: Facts;
  let source: string[];
  before(async () => {
    api = await scalpel();
    facts = JSON.parse(fs.readFileSync(fixture("tiny_cnn.json"), "utf8"));
    source = fs.readFileSync(fixture("tiny_cnn.py"), "utf8").split("\n");
  });
  beforeEach(resetWorkbench);
  after(async () => {
    await vscode.workspace.getConfiguration("scalpel").update("associatedModel", undefined, vscode.ConfigurationTarget.Workspace);
  });

  const lineOf = (re: RegExp) => source.findIndex((l) => re.test(l));
  const sum = (mods: string[], key: "state" | "macs") => mods.reduce((a, m) => a + facts.modules[m]![key], 0);

  it("shows params and MACs of the model open in the viewer, aggregated per class, and reveals a module on click", async () => {
    await vscode.commands.executeCommand("vscode.open", vscode.Uri.file(fixture("tiny_cnn.onnx")));
    assert.ok(await api.editors.whenSettled(vscode.Uri.file(fixture("tiny_cnn.onnx"))));
    const py = vscode.Uri.file(fixture("tiny_cnn.py"));
    await vscode.window.showTextDocument(py, { viewColumn: vscode.ViewColumn.Beside });
    const lenses = await lensTitles(py, 10);

    const blocks = Object.keys(facts.modules).filter((m) => facts.modules[m]!.class === "Block");
    const expected = new Map<number, string>([
      [lineOf(/^class Block\(/), `Block ×${blocks.length} · ${metrics(sum(blocks, "state"), sum(blocks, "macs"))}`],
      [lineOf(/^class Stem\(/), `Stem · stem · ${metrics(facts.modules.stem!.state, facts.modules.stem!.macs)}`],
      [lineOf(/^class TinyCNN\(/), `TinyCNN (whole model) · ${metrics(sum(["stem", "blocks", "pool", "fc"], "state"), sum(["stem", "blocks", "fc"], "macs"))}`],
      [lineOf(/self\.conv1 = /), `conv1 ×${blocks.length} · ${metrics(sum(blocks.map((b) => `${b}.conv1`), "state"), sum(blocks.map((b) => `${b}.conv1`), "macs"))}`],
      [lineOf(/self\.conv = /), `stem.conv · ${metrics(facts.modules["stem.conv"]!.state, facts.modules["stem.conv"]!.macs)}`],
      [lineOf(/self\.fc = /), `fc · ${metrics(facts.modules.fc!.state, facts.modules.fc!.macs)}`],
    ]);
    for (const [line, title] of expected) {
      assert.ok(line >= 0);
      const got = lenses.filter((l) => l.line === line).map((l) => l.title);
      assert.deepEqual(got, [title], `line ${line + 1}: ${source[line]}`);
    }
    // Every nn.Module attribute of the file that exists in the model has its lens.
    const attrLines = source.map((l, i) => (/^\s+self\.\w+ = nn\./.test(l) ? i : -1)).filter((i) => i >= 0);
    for (const line of attrLines) assert.equal(lenses.filter((l) => l.line === line).length, 1, `lens on line ${line + 1}`);

    if (driver.available) {
      const shown = await driver.texts(".contentWidgets .codelens-decoration", "workbench", { contains: "Block ×" });
      assert.ok(shown.some((t) => t.includes(expected.get(lineOf(/^class Block\(/))!)), `rendered lenses: ${shown}`);
    }

    // Clicking the Block.conv1 lens reveals its first instance in the ONNX Model tree.
    const conv1 = lenses.find((l) => l.line === lineOf(/self\.conv1 = /))!;
    await vscode.commands.executeCommand("onnxScalpel.revealModule", ...conv1.args);
    const selected = api.treeView.selection[0];
    const viewers = vscode.window.tabGroups.all.flatMap((g) => g.tabs).filter((t) => t.input instanceof vscode.TabInputCustom);
    assert.equal(viewers.length, 1, "revealed in the viewer already open, not a second one");
    assert.ok(selected?.kind === "module", "a module is selected in the tree");
    assert.equal(selected.row.module, `${blocks[0]}.conv1`);
    if (driver.available) {
      await driver.texts(".sidebar .monaco-list-row.selected", "workbench", { contains: "conv1" });
      // …and in the graph explorer, which expands blocks and blocks.0 to show it selected.
      const sel = await driver.texts("svg.canvas g.selected", "webview", { contains: "conv1" });
      assert.equal(sel.length, 1, `selected in the graph: ${JSON.stringify(sel)}`);
      await driver.screenshot("codelens-python-source");
    }
  });

  it("uses scalpel.associatedModel when no model is open", async () => {
    await vscode.workspace.getConfiguration("scalpel").update("associatedModel", "tiny_cnn.onnx", vscode.ConfigurationTarget.Workspace);
    const py = vscode.Uri.file(fixture("tiny_cnn.py"));
    await vscode.window.showTextDocument(py);
    assert.equal(api.editors.openViews.length, 0, "no model viewer is open");
    const lenses = await lensTitles(py, 10);
    const block = lenses.find((l) => l.line === lineOf(/^class Block\(/));
    assert.ok(block?.title.startsWith("Block ×2 · "), JSON.stringify(lenses.map((l) => l.title)));
    assert.equal(block?.args[0], fixture("tiny_cnn.onnx"));
  });
});
