import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import * as vscode from "vscode";
import type { ScalpelApi } from "../../extension/extension.ts";
import { formatCount } from "../../extension/format.ts";
import type { ModelState } from "../../extension/modelEditor.ts";
import { driver } from "./driver.ts";
import { activeCustomTab, resetWorkbench, fixture, scalpel, waitFor, workspaceDir } from "./helpers.ts";

/** Opens `file` the way a user does (default editor) and waits until its viewer shows a final state. */
async function openModel(api: ScalpelApi, file: string): Promise<ModelState> {
  const uri = vscode.Uri.file(file);
  const settled = waitFor(
    api.onDidRender,
    (e) => e.view.document.uri.fsPath === uri.fsPath && e.state.kind !== "loading",
    30_000,
    `the model viewer of ${path.basename(file)}`,
  );
  await vscode.commands.executeCommand("vscode.open", uri);
  const existing = api.editors.openViews.find((v) => v.document.uri.fsPath === uri.fsPath && v.document.state.kind !== "loading");
  return existing ? existing.document.state : (await settled).state;
}

describe("model viewer (custom editor for *.onnx)", function () {
  let api: ScalpelApi;
  before(async () => {
    api = await scalpel();
  });
  // Closed before (not after) each test, so a failure screenshot shows what the test saw.
  beforeEach(resetWorkbench);

  it("opens a .onnx file in the model viewer with a summary header", async () => {
    const file = fixture("tiny_cnn.onnx");
    const facts = JSON.parse(fs.readFileSync(fixture("tiny_cnn.json"), "utf8"));
    const painted = waitFor(api.editors.onDidExplorerEvent, (e) => e.type === "painted" && e.view.document.uri.fsPath === file, 60_000, "the graph explorer's first paint");
    const state = await openModel(api, file);

    const tab = activeCustomTab();
    assert.ok(tab, "the active tab is a custom editor");
    assert.equal(tab.viewType, "onnxScalpel.modelViewer");
    assert.equal(tab.uri.fsPath, file);

    assert.equal(state.kind, "ready", state.kind === "error" ? state.error.message : "");
    const s = state.report;
    assert.equal(s.params, facts.stateElements);
    assert.equal(s.macs, facts.macs);
    assert.deepEqual(s.inputs.map((t) => [t.name, t.dtype, t.shape]), [["image", "float32", ["batch", ...facts.input.slice(1)]]]);
    assert.deepEqual(s.outputs.map((t) => [t.name, t.shape]), [["logits", ["batch", ...facts.output.slice(1)]]]);

    // The active model drives the status bar and the tree view.
    assert.equal(api.editors.active?.document.uri.fsPath, file);
    assert.ok(api.statusBar.text.includes(`${formatCount(facts.stateElements)} params`), api.statusBar.text);
    assert.ok(api.statusBar.text.includes(`${formatCount(facts.macs)}* MACs`), api.statusBar.text);
    const roots = api.tree.getChildren();
    const section = (id: string) => roots.find((r) => r.kind === "section" && r.id === id);
    assert.deepEqual(api.tree.getChildren(section("inputs")).map((i) => (i.kind === "leaf" ? i.label : "")), ["image"]);
    // Module tree: the top-level modules of the torch model, with params summed like torch does.
    const mods = api.tree.getChildren(section("modules"));
    const top = Object.keys(facts.modules).filter((m) => !m.includes("."));
    assert.deepEqual(mods.map((m) => (m.kind === "module" ? m.row.module : "")).sort(), top.sort());
    for (const m of mods) if (m.kind === "module") assert.equal(m.row.params, facts.modules[m.row.module].state, `params of ${m.row.module}`);

    // The graph explorer in the same panel asked the engine worker for the model and drew it.
    await painted;

    // Dependency groups follow in the tree: the residual stream (stem and every block's second conv) and
    // one group inside each block are prunable; the classifier's outputs (graph outputs) are not.
    const doc = api.editors.active!.document;
    if (!doc.groups) await waitFor(doc.onDidChangeGroups, (g) => g !== undefined, 60_000, "the dependency groups");
    const blocks = Object.values(facts.modules as Record<string, { class: string }>).filter((m) => m.class === "Block").length;
    const groupSection = api.tree.getChildren().find((r) => r.kind === "section" && r.id === "groups");
    assert.ok(groupSection, "the tree lists dependency groups");
    const rows = api.tree.getChildren(groupSection).flatMap((g) => (g.kind === "group" ? [g.row] : []));
    assert.equal(rows.filter((g) => !g.frozen).length, blocks + 1, JSON.stringify(rows.map((g) => [g.key, g.frozen])));
    const residual = rows.find((g) => !g.frozen && g.key.startsWith("stem.conv"));
    assert.ok(residual, "the residual-stream group starts at the stem conv");

    if (driver.available) {
      // What the user sees: the graph's top level (the torch modules) and the header, in the webview.
      const items = await driver.texts('svg.canvas g[data-kind]', "webview", { contains: "blocks" });
      const top = Object.keys(facts.modules).filter((m) => !m.includes("."));
      for (const m of top) assert.ok(items.some((t) => t.includes(m)), `the graph shows ${m}: ${JSON.stringify(items)}`);
      const titles = await driver.texts("#summary h1", "webview", { contains: "tiny_cnn.onnx" });
      assert.deepEqual(titles, ["tiny_cnn.onnx"]);
      const params = await driver.texts('[data-metric="params"] .value', "webview");
      assert.deepEqual(params, [formatCount(facts.stateElements)]);
      const macs = await driver.texts('[data-metric="macs"] .value', "webview");
      assert.deepEqual(macs, [`${formatCount(facts.macs)}*`]);
      const ops = await driver.texts("li.op .op-name", "webview");
      for (const op of ["Conv", "BatchNormalization", "Relu", "Add", "Gemm"]) assert.ok(ops.includes(op), `${op} listed in ${ops}`);
      const status = await driver.texts('.statusbar-item[id$="onnxScalpel.model"]', "workbench", { contains: "params" });
      assert.equal(status.length, 1);
      // The "ONNX Model" tree in the Explorer side bar shows the module tree with params and MACs.
      await vscode.commands.executeCommand("onnxScalpel.modelTree.focus");
      const rows = await driver.texts(".sidebar .monaco-list-row", "workbench", { contains: "stem" });
      assert.ok(rows.some((t) => t.startsWith("stem") && t.includes("params")), `tree rows: ${rows}`);
      await driver.screenshot("model-viewer");
      // Selecting a group in the tree shows the groups overlay in the explorer.
      const node = api.tree.getChildren(groupSection).find((g) => g.kind === "group" && g.row.key === residual.key)!;
      await api.treeView.reveal(node, { select: true, focus: true });
      await driver.texts(".legend:not([hidden])", "webview", { contains: "Dependency groups" });
      await driver.screenshot("model-viewer-groups-overlay");
    }
  });

  it("keeps the ONNX Model tree and the graph explorer's selection in sync", async () => {
    const file = fixture("tiny_cnn.onnx");
    const painted = waitFor(api.editors.onDidExplorerEvent, (e) => e.type === "painted" && e.view.document.uri.fsPath === file, 60_000, "the graph explorer's first paint");
    assert.equal((await openModel(api, file)).kind, "ready");
    await painted;
    await vscode.commands.executeCommand("onnxScalpel.modelTree.focus");
    for (let i = 0; i < 50 && !api.treeView.visible; i++) await new Promise((r) => setTimeout(r, 100));
    assert.ok(api.treeView.visible, "the tree view is shown");

    // Tree → graph: selecting a nested module in the tree selects it in the explorer (which opens its parents).
    const conv = api.tree.findModule("blocks.0.conv2");
    assert.ok(conv, "the tree has blocks.0.conv2");
    const shown = waitFor(api.editors.onDidExplorerEvent, (e) => e.type === "selected" && e.detail.module === "blocks.0.conv2", 20_000, "the graph to select blocks.0.conv2");
    await api.treeView.reveal(conv, { select: true, focus: true, expand: true });
    const sel = await shown;
    assert.equal(sel.fromHost, true, "the explorer's selection came from the tree's reveal");
    assert.equal(api.treeView.selection[0], conv, "the tree keeps its selection");

    // Graph → tree: a click on a node in the graph selects its module in the tree.
    if (driver.available) {
      // blocks.0 is open in the graph now (the reveal expanded it): click its first conv.
      const clicked = waitFor(api.editors.onDidExplorerEvent, (e) => e.type === "selected" && e.detail.module === "blocks.0.conv1", 20_000, "the graph to report the click on conv1");
      await driver.click('svg.canvas g[data-kind="node"]', "webview", { contains: "conv1" });
      assert.equal((await clicked).fromHost, false, "a user's click");
      const target = api.tree.findModule("blocks.0.conv1");
      for (let i = 0; i < 40 && api.treeView.selection[0] !== target; i++) await new Promise((r) => setTimeout(r, 100));
      const now = api.treeView.selection[0];
      assert.ok(now?.kind === "module" && now.row.module === "blocks.0.conv1", `the tree selected blocks.0.conv1: ${now?.kind === "module" ? now.row.module : now?.kind}`);
      await driver.texts(".sidebar .monaco-list-row.selected", "workbench", { contains: "conv1" });
      await driver.screenshot("tree-graph-sync");
    }
  });

  it("reports a corrupt .onnx with one clear notification and a Show details action", async () => {
    const good = fs.readFileSync(fixture("tiny_cnn.onnx"));
    const file = path.join(workspaceDir(), "corrupt.onnx");
    fs.writeFileSync(file, good.subarray(0, Math.floor(good.byteLength / 2)));

    const reports: string[] = [];
    const sub = api.onDidReportError((r) => reports.push(r.text));
    try {
      const state = await openModel(api, file);
      assert.equal(state.kind, "error");
      // The viewer shows the problem itself instead of VS Code's generic editor error.
      assert.equal(activeCustomTab()?.viewType, "onnxScalpel.modelViewer");
      await new Promise((r) => setTimeout(r, 500));
      assert.equal(reports.length, 1, `one notification, got ${JSON.stringify(reports)}`);
      assert.match(reports[0]!, /^corrupt\.onnx: is truncated or corrupt/);

      if (driver.available) {
        const toast = await driver.texts(".notifications-toasts .notification-list-item-message", "workbench", { contains: "corrupt.onnx" });
        assert.equal(toast.filter((t) => t.includes("corrupt.onnx")).length, 1);
        const problem = await driver.texts("#load-error .problem", "webview", { contains: "truncated" });
        assert.equal(problem.length, 1);
        await driver.screenshot("corrupt-model-notification");
        await driver.click(".notifications-toasts .monaco-button", "workbench", { contains: "Show details" });
        // The Output channel opens on the extension's log, scrolled to its end: the error's details.
        const channel = await driver.texts(".part.panel select", "workbench", { contains: "ONNX Scalpel" });
        assert.ok(channel.includes("ONNX Scalpel"), `selected output channel: ${channel}`);
        await driver.texts(".part.panel .view-lines", "workbench", { contains: "[error]" });
        await driver.screenshot("corrupt-model-details");
      }
    } finally {
      sub.dispose();
      fs.rmSync(file, { force: true });
      await vscode.commands.executeCommand("workbench.action.closePanel");
    }
  });
});
