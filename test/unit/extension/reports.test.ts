import assert from "node:assert/strict";
import { ablationCli } from "../../../extension/ablationCli.ts";
import { heatColor, heatmapSvg, lineChartSvg, toCsv } from "../../../extension/reports/charts.ts";
import { ablationCsv, ablationReportHtml } from "../../../extension/reports/ablationReport.ts";
import type { AblationReport } from "../../../extension/worker/ablationTypes.ts";

const report: AblationReport = {
  kind: "af1",
  model: "/m/<arith>.onnx",
  convention: "L = blocks run before the replacement",
  task: { name: "add", template: "{A}+{B}=" },
  tokenizer: { file: "/m/vocab.json", kind: "char" },
  sink: "attention sink: BOS token '<bos>' (id 0) at position 0",
  prompts: 10,
  blocks: 2,
  baselineAccuracy: 0.9,
  correct: 9,
  results: [
    { label: "CAMA at L=0", accuracy: 0.1, faithfulness: 0.1, evaluated: 10, layer: 0 },
    { label: 'a "quoted", label', accuracy: 0.5, faithfulness: 0.55, evaluated: 10 },
  ],
  af1: {
    tau: 0.9,
    lWait: 1,
    lTransfer: null,
    lWaitCurve: [
      { L: 0, accuracy: 0.1, faithfulness: 0.1 },
      { L: 1, accuracy: 0.9, faithfulness: 1 },
      { L: 2, accuracy: 0.9, faithfulness: 1 },
    ],
    lTransferCurve: [{ L: 1, accuracy: 0.2, faithfulness: 0.2 }],
  },
  heatmap: { length: 4, window: 1, positions: ["0:<bos>", "1:1*", "2:+"], faithfulness: [[0, 0.5, 1], [1, 1, 1]], accuracy: [[0, 0, 0], [0, 0, 0]] },
};

describe("report rendering (charts, tables, exports)", () => {
  it("escapes every value and draws one point per curve entry and one cell per heatmap value", () => {
    const html = ablationReportHtml(report);
    assert.ok(!html.includes("<arith>"), "model name escaped");
    assert.ok(html.includes("&lt;arith&gt;"));
    assert.match(html, /L_wait = 1; no L_transfer reaches τ = 0\.9/);
    assert.equal((html.match(/<circle class="dot series-0"/g) ?? []).length, report.af1!.lWaitCurve.length + report.af1!.lTransferCurve.length);
    assert.equal((html.match(/<rect class="cell"/g) ?? []).length, 6);
    assert.equal((html.match(/<tr>/g) ?? []).length, 1 + report.results.length);
  });

  it("maps heatmap values onto a colour ramp, clamping outside [0, 1]", () => {
    assert.equal(heatColor(0), "rgb(68,1,84)");
    assert.equal(heatColor(1), "rgb(253,231,37)");
    assert.equal(heatColor(-3), heatColor(0));
    assert.equal(heatColor(Number.NaN), heatColor(0));
    assert.notEqual(heatColor(0.5), heatColor(0.51));
    const svg = heatmapSvg([[0.25]], { title: "t", rowLabel: "r", colLabel: "c", rows: ["0"], cols: ["x"], valueName: "v" });
    assert.ok(svg.includes(`fill="${heatColor(0.25)}" data-row="0" data-col="0"`));
  });

  it("scales a line chart into its box", () => {
    const svg = lineChartSvg([{ name: "s", cls: "series-0", points: [{ x: 0, y: 0 }, { x: 10, y: 1 }] }], { title: "t", xLabel: "x", yLabel: "y", width: 200, height: 100 });
    const d = /<path class="line series-0" d="M([\d.]+),([\d.]+)L([\d.]+),([\d.]+)"/.exec(svg)!;
    const [x0, y0, x1, y1] = d.slice(1).map(Number);
    assert.ok(x0! < x1! && y0! > y1!, "left-bottom to right-top");
    assert.ok(x1! <= 200 && y1! >= 0 && y0! <= 100);
  });

  it("writes CSV with RFC 4180 quoting, one row per configuration", () => {
    assert.equal(toCsv(["a", "b"], [["x,y", 'q"q'], [1, null]]), 'a,b\r\n"x,y","q""q"\r\n1,\r\n');
    const csv = ablationCsv(report).trim().split("\r\n");
    assert.equal(csv.length, 3);
    assert.equal(csv[2], '"a ""quoted"", label",,0.5,0.55,10');
  });

  it("spells each request as the CLI command that repeats it", () => {
    const base = { model: "/m/a b.onnx", task: "add", samples: 100, sink: "bos" as const };
    assert.equal(ablationCli({ ...base, kind: "af1", tau: 0.8 }), "scalpel af1 '/m/a b.onnx' --tau 0.8 --task add --n 100 --sink bos");
    assert.equal(ablationCli({ ...base, kind: "ablate", method: "abp", abp: "transfer" }), "scalpel ablate '/m/a b.onnx' --method abp --abp transfer --task add --n 100 --sink bos");
    assert.equal(ablationCli({ ...base, kind: "knockout", window: 2, tokenizer: "/t.json" }), "scalpel ablate '/m/a b.onnx' --method knockout --window 2 --heatmap --task add --n 100 --sink bos --tokenizer /t.json");
  });
});
