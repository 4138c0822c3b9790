import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import * as vscode from "vscode";
import type { ScalpelApi } from "../../extension/extension.ts";
import type { AblationReport } from "../../extension/worker/ablationTypes.ts";
import { driver } from "./driver.ts";
import { resetWorkbench, scalpel, waitFor, workspaceDir } from "./helpers.ts";

interface RefConfig {
  label: string;
  accuracy: number;
  faithfulness: number;
  evaluated: number;
}
interface Reference {
  tau: number;
  prompts: { text: string; answer: string }[];
  sinks: Record<"bos" | "none", { baselineAccuracy: number; lWait: number; lTransfer: number | null; af1: RefConfig[] }>;
}

const POINTS = 0.5; // agreement with PyTorch, in percentage points (the engine's own tests use the same)

describe("ablations on the arithmetic transformer", function () {
  let api: ScalpelApi;
  let model: string;
  let ref: Reference;
  before(async function () {
    model = path.join(workspaceDir(), "arith", "arith-opset14.onnx");
    if (!fs.existsSync(model)) {
      console.log("  (skipped: the arithmetic transformer fixture is not built; see test/fixtures/arith)");
      this.skip();
    }
    api = await scalpel();
    ref = JSON.parse(fs.readFileSync(path.join(workspaceDir(), "arith", "reference.json"), "utf8"));
  });
  beforeEach(resetWorkbench);

  it("Find AF1 Subgraph reproduces the PyTorch reference, opens a report with curves and a heatmap, and overlays the model opened afterwards", async () => {
    assert.ok(!api.editors.openViews.some((v) => v.document.uri.fsPath === model), "the model is not open during the run");
    const opened = waitFor(api.reports.onDidOpen, () => true, 600_000, "the report");
    const report = await vscode.commands.executeCommand<AblationReport | undefined>("onnxScalpel.findAf1", vscode.Uri.file(model), {
      task: "add",
      samples: ref.prompts.length,
      prompts: ref.prompts,
      sink: "bos",
      tau: ref.tau,
    });
    assert.ok(report?.af1, "the command returned the AF1 report");
    const r = ref.sinks.bos;
    assert.ok(Math.abs(report.baselineAccuracy - r.baselineAccuracy) * 100 <= POINTS, `baseline ${report.baselineAccuracy} vs PyTorch ${r.baselineAccuracy}`);
    assert.match(report.sink, /BOS/);
    assert.equal(report.af1.lWait, r.lWait);
    assert.equal(report.af1.lTransfer, r.lTransfer);
    const byLabel = new Map(report.results.map((x) => [x.label, x]));
    for (const c of r.af1) {
      const got = byLabel.get(c.label);
      assert.ok(got, `the sweep has ${c.label}`);
      assert.ok(Math.abs(got.accuracy - c.accuracy) * 100 <= POINTS, `${c.label}: accuracy ${got.accuracy} vs PyTorch ${c.accuracy}`);
      assert.ok(Math.abs(got.faithfulness - c.faithfulness) * 100 <= POINTS, `${c.label}: faithfulness ${got.faithfulness} vs PyTorch ${c.faithfulness}`);
    }

    const panel = await opened;
    assert.equal(panel.content.json, report);
    if (driver.available) {
      const verdict = await driver.texts("#verdict", "webview", { contains: "L_wait", timeoutMs: 30_000 });
      assert.ok(verdict[0]!.includes(`L_wait = ${r.lWait}`), verdict[0]);
      const hm = report.heatmap!;
      const cells = await driver.texts("svg.heatmap rect.cell", "webview");
      assert.equal(cells.length, hm.faithfulness.length * hm.positions.length);
      await driver.screenshot("ablation-af1-report");
    }

    // Exports: JSON (the report), CSV (one row per configuration), PNG (the charts).
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "scalpel-export-"));
    try {
      await panel.exportTo("json", path.join(dir, "r.json"));
      assert.deepEqual(JSON.parse(fs.readFileSync(path.join(dir, "r.json"), "utf8")), JSON.parse(JSON.stringify(report)));
      await panel.exportTo("csv", path.join(dir, "r.csv"));
      const lines = fs.readFileSync(path.join(dir, "r.csv"), "utf8").trim().split("\r\n");
      assert.equal(lines.length, report.results.length + 1);
      assert.ok(lines.some((l) => l.startsWith(`${r.af1[0]!.label},`)));
      // The PNG is kept as a test artifact when the launcher gives a folder for them.
      const pngFile = process.env.SCALPEL_ARTIFACTS_DIR ? path.join(process.env.SCALPEL_ARTIFACTS_DIR, "ablation-af1-export.png") : path.join(dir, "r.png");
      await panel.exportTo("png", pngFile);
      const png = fs.readFileSync(pngFile);
      assert.equal(png.subarray(1, 4).toString("latin1"), "PNG");
      const width = png.readUInt32BE(16), height = png.readUInt32BE(20);
      assert.ok(width >= 400 && height >= 600, `PNG ${width}×${height} holds the curves and the heatmap`);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }

    // The model opened after the run ended: the host kept the result and overlays it (AF1's L_wait curve).
    const applied = waitFor(api.ablationOverlays.onDidApply, (e) => e.file === model, 120_000, "the ablation overlay on the model opened after the run");
    await vscode.commands.executeCommand("vscode.open", vscode.Uri.file(model));
    const ev = await applied;
    assert.equal(ev.show, "ablation-layers", "made the active overlay");
    const layers = ev.overlays.find((o) => o.id === "ablation-layers");
    assert.ok(layers, JSON.stringify(ev.overlays.map((o) => o.id)));
    assert.match(layers.title, /AF1 L_wait curve/);
    assert.equal(layers.unmatched, 0, "every layer L found in the graph");
    if (driver.available) await driver.texts(".legend:not([hidden]) .legend-title", "webview", { contains: "L_wait" });
  });

  it("Attention Knockout gives a layer × position heatmap, also as an overlay on the model open in the explorer", async () => {
    // The model open in the graph explorer: the knockout per block becomes an overlay there.
    const uri = vscode.Uri.file(model);
    const painted = waitFor(api.editors.onDidExplorerEvent, (e) => e.type === "painted" && e.view.document.uri.fsPath === model, 60_000, "the graph explorer's first paint");
    await vscode.commands.executeCommand("vscode.open", uri);
    const view = await api.editors.whenSettled(uri);
    assert.equal(view?.document.state.kind, "ready");
    await painted;
    const overlay = waitFor(view!.document.onHostEvent, (e) => e.type === "overlays" && e.show === "ablation-knockout", 600_000, "the ablation overlay");
    const report = await vscode.commands.executeCommand<AblationReport | undefined>("onnxScalpel.attentionKnockout", vscode.Uri.file(model), {
      task: "add",
      samples: 200,
      sink: "bos",
      window: 1,
    });
    assert.ok(report?.heatmap);
    assert.equal(report.results.length, report.blocks, "one whole-context knockout per block");
    assert.equal(report.heatmap.faithfulness.length, report.blocks);
    assert.equal(report.heatmap.positions.length, report.heatmap.length - 1, "every key position but the last");
    for (const row of report.heatmap.faithfulness) for (const v of row) assert.ok(v >= 0 && v <= 1);

    const ev = await overlay;
    assert.ok(ev.type === "overlays");
    const info = ev.overlays.find((o) => o.id === "ablation-knockout");
    assert.ok(info, JSON.stringify(ev.overlays.map((o) => o.id)));
    assert.equal(info.kind, "matrix");
    assert.equal(info.unmatched, 0, "every block's attention found in the graph");
    if (driver.available) {
      await driver.texts(".legend:not([hidden]) .legend-title", "webview", { contains: "Ablation: attention knockout" });
      const rows = await driver.texts(".legend .heat-rows a", "webview", { contains: "block 0" });
      assert.deepEqual(rows, Array.from({ length: report.blocks }, (_, l) => `block ${l}`), "one heatmap row per block, each a link into the graph");
      // The report beside the explorer has rendered too.
      await driver.texts("h1", "webview", { contains: "knockout", timeoutMs: 30_000 });
      await driver.screenshot("ablation-knockout-overlay");
    }
  });

  it("a CAMA sweep on the model open in the explorer shows the effect of each layer L as an overlay", async () => {
    const uri = vscode.Uri.file(model);
    await vscode.commands.executeCommand("vscode.open", uri);
    const view = await api.editors.whenSettled(uri);
    assert.equal(view?.document.state.kind, "ready");
    const overlay = waitFor(view!.document.onHostEvent, (e) => e.type === "overlays" && e.show === "ablation-layers", 600_000, "the per-layer overlay");
    const report = await vscode.commands.executeCommand<AblationReport | undefined>("onnxScalpel.runAblation", uri, { task: "add", samples: 60, sink: "bos", method: "cama" });
    assert.ok(report);
    assert.equal(report.results.length, report.blocks + 1, "one run per L = 0…N");
    const ev = await overlay;
    assert.ok(ev.type === "overlays");
    const info = ev.overlays.find((o) => o.id === "ablation-layers");
    assert.equal(info?.kind, "matrix");
    assert.equal(info.unmatched, 0, "every layer L found in the graph");
    assert.match(info.title, /cama at each L/);
    if (driver.available) {
      const rows = await driver.texts(".legend .heat-rows a", "webview", { contains: "L=0" });
      assert.deepEqual(rows, report.results.map((r) => `L=${r.layer}`), "one heatmap row per L, each a link into the graph");
    }
  });

  it("Cancel in the progress notification stops a sweep without a report", async function () {
    if (!driver.available) this.skip();
    const before = api.reports.open.length;
    const run = vscode.commands.executeCommand<AblationReport | undefined>("onnxScalpel.runAblation", vscode.Uri.file(model), {
      task: "add",
      samples: 2000,
      sink: "bos",
      method: "cama",
    });
    await driver.texts(".notifications-toasts .notification-list-item", "workbench", { contains: "%", timeoutMs: 60_000 });
    await driver.click(".notifications-toasts .monaco-button", "workbench", { contains: "Cancel" });
    assert.equal(await run, undefined);
    assert.equal(api.reports.open.length, before, "no report opened");
  });
});
