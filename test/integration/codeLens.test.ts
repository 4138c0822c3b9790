import assert from "node:assert/strict";
import fs from "node:fs";
import * as vscode from "vscode";
import { analyzeModel } from "../../analyzers/analysis.ts";
import { modelWeights, scoreGroups, selectPlan } from "../../analyzers/pruning/criteria/index.ts";
import { findGroups } from "../../analyzers/pruning/groups/index.ts";
import type { Plan } from "../../analyzers/pruning/types.ts";
import { groupFacts, matchPlan, moduleGroups, type GroupFacts } from "../../analyzers/source/groupLenses.ts";
import type { ScalpelApi } from "../../extension/extension.ts";
import { formatCount } from "../../extension/format.ts";
import { groupLensTitle } from "../../extension/groupLensText.ts";
import { driver } from "./driver.ts";
import { resetWorkbench, fixture, scalpel, sleep, waitFor } from "./helpers.ts";

interface Facts {
  modules: Record<string, { class: string; state: number; macs: number }>;
}

const metrics = (params: number, macs: number) => `${formatCount(params)} params · ${formatCount(macs)} MACs`;

type Lens = { line: number; title: string; args: unknown[] };

async function lensTitles(uri: vscode.Uri, expectAtLeast: number, command = "onnxScalpel.revealModule", until?: (lenses: Lens[]) => boolean): Promise<Lens[]> {
  // Lenses depend on the association (and the groups on the worker), which settle asynchronously: poll.
  for (let i = 0; ; i++) {
    const lenses = (await vscode.commands.executeCommand<vscode.CodeLens[]>("vscode.executeCodeLensProvider", uri)) ?? [];
    const ours = lenses.filter((l) => l.command?.command === command).map((l) => ({ line: l.range.start.line, title: l.command!.title, args: l.command!.arguments ?? [] }));
    if ((ours.length >= expectAtLeast && (!until || until(ours))) || i >= 120) return ours;
    await sleep(250);
  }
}

/** The model's group facts computed here with the engine (as the worker does), for the expected lens texts. */
async function factsOf(file: string, criterion: "l1" | "l2"): Promise<{ facts: GroupFacts; plan: (ratio: number) => Plan; out: Record<string, number> }> {
  const a = await analyzeModel(file, { runtimeFallback: false });
  try {
    const analysis = findGroups(a.graph, a.shapes, { metrics: a.metrics });
    const scores = scoreGroups(analysis, modelWeights(a.model, a.graph), { criterion });
    const moduleOf = new Map(a.graph.nodes.map((n) => [n.name, n.scope.module]));
    // Output channels of each conv layer, from its weight's shape.
    const out: Record<string, number> = {};
    for (const n of a.graph.nodes) if (n.opType === "Conv") out[n.scope.module] = Number(a.graph.weight(n.inputs[1]!)!.dims[0]);
    return { facts: groupFacts(analysis, (n) => moduleOf.get(n) ?? "", scores), plan: (ratio) => selectPlan(analysis, scores, { ratio }), out };
  } finally {
    a.model.external.close();
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
  /** Lens lines of the fixture and the module paths behind them (from the torch export's facts). */
  const lensModules = (): [number, string[]][] => {
    const blocks = Object.keys(facts.modules).filter((m) => facts.modules[m]!.class === "Block");
    return [
      [lineOf(/^class Block\(/), blocks],
      [lineOf(/^class Stem\(/), ["stem"]],
      [lineOf(/^class TinyCNN\(/), [""]],
      ...(["conv1", "bn1", "conv2", "bn2"] as const).map((a): [number, string[]] => [lineOf(new RegExp(`self\\.${a} = `)), blocks.map((b) => `${b}.${a}`)]),
      [lineOf(/self\.conv = /), ["stem.conv"]],
      [lineOf(/self\.bn = /), ["stem.bn"]],
      [lineOf(/self\.fc = /), ["fc"]],
    ];
  };
  const sum = (mods: string[], key: "state" | "macs") => mods.reduce((a, m) => a + facts.modules[m]![key], 0);

  it("registers no Python CodeLens provider and reads no Python file while no model is associated", async () => {
    // No viewer open (resetWorkbench closed them) and no scalpel.associatedModel.
    for (let i = 0; i < 40 && api.pythonLenses.registered; i++) await sleep(100);
    assert.equal(api.editors.openViews.length, 0);
    assert.equal(api.pythonLenses.registered, false, "the Python lens provider is not registered");
    const parsed = api.codeLens.parsed;
    const py = vscode.Uri.file(fixture("tiny_cnn.py"));
    await vscode.window.showTextDocument(py);
    const lenses = (await vscode.commands.executeCommand<vscode.CodeLens[]>("vscode.executeCodeLensProvider", py)) ?? [];
    assert.deepEqual(lenses.filter((l) => l.command?.command.startsWith("onnxScalpel.")), []);
    assert.equal(api.codeLens.parsed, parsed, "the Python file was not read by the extension");
    // The extension does not activate on Python files at all (only on models, plans, its views and commands).
    const events: string[] = vscode.extensions.getExtension("onnx-scalpel.onnx-scalpel")!.packageJSON.activationEvents;
    assert.ok(!events.some((e) => e === "*" || e.startsWith("onLanguage:")), JSON.stringify(events));
    // Associating a model registers the provider.
    await vscode.workspace.getConfiguration("scalpel").update("associatedModel", "tiny_cnn.onnx", vscode.ConfigurationTarget.Workspace);
    for (let i = 0; i < 40 && !api.pythonLenses.registered; i++) await sleep(100);
    assert.equal(api.pythonLenses.registered, true, "registered once a model is associated");
    await vscode.workspace.getConfiguration("scalpel").update("associatedModel", undefined, vscode.ConfigurationTarget.Workspace);
    for (let i = 0; i < 40 && api.pythonLenses.registered; i++) await sleep(100);
    assert.equal(api.pythonLenses.registered, false, "unregistered when the association is gone");
  });

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

    // Beside each, the dependency groups the modules own and their importance (L1, the default criterion);
    // no plan exists yet.
    const { facts: l1, out } = await factsOf(fixture("tiny_cnn.onnx"), "l1");
    const groupLenses = await lensTitles(py, 6, "onnxScalpel.revealGroup");
    for (const [line, mods] of lensModules()) {
      const want = moduleGroups(mods, l1);
      assert.deepEqual(groupLenses.filter((l) => l.line === line).map((l) => l.title), want ? [groupLensTitle(want)] : [], `group lens on line ${line + 1}: ${source[line]}`);
    }
    const conv1Groups = groupLenses.find((l) => l.line === lineOf(/self\.conv1 = /))!;
    assert.match(conv1Groups.title, new RegExp(`^${blocks.length} groups · ${blocks.reduce((n, b) => n + out[`${b}.conv1`]!, 0)} channels · importance [\\d.e+-]+ \\(l1\\)$`));
    assert.match(groupLenses.find((l) => l.line === lineOf(/self\.fc = /))!.title, /^group fc · \d+ channels · frozen: /);

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

  it("shows the planned prune ratio from NAME.prune.json and follows the plan file as it changes", async () => {
    const model = fixture("tiny_cnn.onnx");
    const planFile = model.replace(/\.onnx$/, ".prune.json");
    assert.ok(!fs.existsSync(planFile), "no plan at the start");
    await vscode.workspace.getConfiguration("scalpel").update("associatedModel", "tiny_cnn.onnx", vscode.ConfigurationTarget.Workspace);
    const py = vscode.Uri.file(fixture("tiny_cnn.py"));
    await vscode.window.showTextDocument(py);
    const conv1Line = lineOf(/self\.conv1 = /);
    const before = await lensTitles(py, 6, "onnxScalpel.revealGroup");
    assert.ok(before.every((l) => !l.title.includes("plan")), JSON.stringify(before));
    try {
      // A plan made with L2 at 25 %: the lenses switch to L2 importance and show each module's share.
      const { facts: l2, plan } = await factsOf(model, "l2");
      const p = plan(0.25);
      const changed = waitFor(api.codeLens.onDidChangeCodeLenses, () => true, 30_000, "the lenses to refresh after the plan was written");
      fs.writeFileSync(planFile, JSON.stringify(p, null, 1) + "\n");
      await changed;
      const lenses = await lensTitles(py, 6, "onnxScalpel.revealGroup", (ls) => ls.some((l) => l.title.includes("(l2) · plan")));
      const match = matchPlan(p, l2);
      assert.equal(match.kind, "ok");
      for (const [line, mods] of lensModules()) {
        const want = moduleGroups(mods, l2, match);
        assert.deepEqual(lenses.filter((l) => l.line === line).map((l) => l.title), want ? [groupLensTitle(want)] : [], `line ${line + 1}: ${source[line]}`);
      }
      // Independently of the lens code: conv1's groups lose what the plan removes from them.
      const conv1 = lenses.find((l) => l.line === conv1Line)!;
      const keys = new Set(moduleGroups(lensModules().find(([l]) => l === conv1Line)![1], l2)!.groups.map((g) => g.key));
      const removed = p.groups.filter((g) => keys.has(g.key)).reduce((n, g) => n + g.prune.length, 0);
      const units = l2.groups.filter((g) => keys.has(g.key)).reduce((n, g) => n + g.units, 0);
      assert.ok(removed > 0 && conv1.title.endsWith(`(l2) · plan −${Number(((100 * removed) / units).toPrecision(3))}% (${removed} of ${units})`), conv1.title);
      if (driver.available) {
        await driver.texts(".contentWidgets .codelens-decoration", "workbench", { contains: "· plan −" });
        await driver.screenshot("codelens-groups-plan");
      }

      // Clicking the group lens selects the group in the ONNX Model tree.
      await vscode.commands.executeCommand("onnxScalpel.revealGroup", ...conv1.args);
      const selected = api.treeView.selection[0];
      assert.ok(selected?.kind === "group", `a group is selected in the tree: ${JSON.stringify(selected?.kind)}`);
      assert.equal(selected.row.key, conv1.args[1]);

      // A plan for another model is shown as such, not applied to the numbers.
      const other = waitFor(api.codeLens.onDidChangeCodeLenses, () => true, 30_000, "the lenses to refresh after the plan changed");
      fs.writeFileSync(planFile, JSON.stringify({ ...p, model: { ...p.model, name: "other.onnx", structure: "0000000000000000" } }));
      await other;
      const mismatched = await lensTitles(py, 6, "onnxScalpel.revealGroup", (ls) => ls.some((l) => l.title.includes("plan not used")));
      assert.match(mismatched.find((l) => l.line === conv1Line)!.title, /· plan not used: made for another model \(other\.onnx\)$/);

      // Deleting the plan removes the plan from the lenses.
      const gone = waitFor(api.codeLens.onDidChangeCodeLenses, () => true, 30_000, "the lenses to refresh after the plan was deleted");
      fs.rmSync(planFile);
      await gone;
      const after = await lensTitles(py, 6, "onnxScalpel.revealGroup", (ls) => ls.every((l) => !l.title.includes("plan")));
      assert.ok(after.every((l) => !l.title.includes("plan")), JSON.stringify(after));
    } finally {
      fs.rmSync(planFile, { force: true });
      await vscode.workspace.getConfiguration("scalpel").update("associatedModel", undefined, vscode.ConfigurationTarget.Workspace);
    }
  });
});
