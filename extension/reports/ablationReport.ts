/**
 * The ablation report as HTML (host-rendered, values escaped) and CSV: what was run (model, task, sink,
 * layer convention), the results table, the curves and the knockout heatmap. Pure: no `vscode` import.
 */
import path from "node:path";
import type { AblationReport } from "../worker/ablationTypes.ts";
import { escapeHtml as h } from "../format.ts";
import { heatmapSvg, lineChartSvg, toCsv, type Series } from "./charts.ts";

const pct = (v: number) => `${(v * 100).toFixed(1)}%`;

export function ablationTitle(r: AblationReport): string {
  const what = r.kind === "af1" ? "AF1 search" : r.kind === "knockout" ? "Attention knockout" : `${(r.method ?? "cama").toUpperCase()} ablation`;
  return `${what}: ${path.basename(r.model)}`;
}

function curves(points: readonly { L: number; accuracy: number; faithfulness: number }[]): Series[] {
  // Accuracy first and dashed, so faithfulness stays visible where the two coincide (baseline 100%).
  return [
    { name: "accuracy", cls: "series-1", points: points.map((p) => ({ x: p.L, y: p.accuracy })) },
    { name: "faithfulness", cls: "series-0", points: points.map((p) => ({ x: p.L, y: p.faithfulness })) },
  ];
}

export function ablationReportHtml(r: AblationReport): string {
  const facts: [string, string][] = [
    ["Model", r.model],
    ["Task", `${r.task.name} — "${r.task.template}"`],
    ["Prompts", `${r.prompts} (${r.correct} answered right by the unablated model: baseline accuracy ${pct(r.baselineAccuracy)})`],
    ["Blocks", String(r.blocks)],
    ["Sink", r.sink],
    ["Tokenizer", `${r.tokenizer.kind} (${r.tokenizer.file})`],
    ["Layers", r.convention],
  ];
  const parts: string[] = [
    `<header class="report-header"><h1>${h(ablationTitle(r))}</h1>
<dl class="facts">${facts.map(([k, v]) => `<dt>${h(k)}</dt><dd data-fact="${h(k.toLowerCase())}">${h(v)}</dd>`).join("")}</dl></header>`,
  ];
  if (r.af1) {
    const a = r.af1;
    parts.push(
      `<p class="verdict" id="verdict">${
        a.lTransfer === null
          ? h(`L_wait = ${a.lWait}; no L_transfer reaches τ = ${a.tau}`)
          : h(`AF1: L_wait = ${a.lWait}, L_transfer = ${a.lTransfer} of ${r.blocks} blocks (τ = ${a.tau})`)
      }</p>`,
    );
    parts.push(
      lineChartSvg(curves(a.lWaitCurve), {
        title: "L_wait sweep (CAMA only)",
        xLabel: "L (blocks run before the replacement)",
        yLabel: "share of prompts",
        hLine: { y: a.tau, label: `τ = ${a.tau}` },
        vLines: [{ x: a.lWait, label: `L_wait = ${a.lWait}` }],
      }),
    );
    if (a.lTransferCurve.length)
      parts.push(
        lineChartSvg(curves(a.lTransferCurve), {
          title: `L_transfer sweep (CAMA at L_wait = ${a.lWait})`,
          xLabel: "L_transfer (transfer blocks)",
          yLabel: "share of prompts",
          hLine: { y: a.tau, label: `τ = ${a.tau}` },
          vLines: a.lTransfer === null ? [] : [{ x: a.lTransfer, label: `L_transfer = ${a.lTransfer}` }],
        }),
      );
  } else {
    const pts = r.results.filter((x) => x.layer !== undefined).map((x) => ({ L: x.layer!, accuracy: x.accuracy, faithfulness: x.faithfulness }));
    if (pts.length > 1)
      parts.push(
        lineChartSvg(curves(pts), {
          title: r.kind === "knockout" ? "Last token blocked from every other token, per block" : `${(r.method ?? "cama").toUpperCase()} at layer L`,
          xLabel: r.kind === "knockout" ? "block" : "L (blocks run before the replacement)",
          yLabel: "share of prompts",
        }),
      );
  }
  if (r.heatmap) {
    const hm = r.heatmap;
    parts.push(
      heatmapSvg(hm.faithfulness, {
        title: `Knockout: last token blocked from one key (prompts of ${hm.length} tokens, window ${hm.window})`,
        rowLabel: "block",
        colLabel: "key position",
        rows: hm.faithfulness.map((_, l) => (hm.window > 1 ? `${l}…${l + hm.window - 1}` : String(l))),
        cols: hm.positions,
        valueName: "faithfulness",
      }),
    );
  }
  parts.push(
    `<table class="results" id="results"><thead><tr><th>configuration</th><th>accuracy</th><th>faithfulness</th><th>prompts</th></tr></thead><tbody>${r.results
      .map((x) => `<tr><td>${h(x.label)}</td><td class="num">${pct(x.accuracy)}</td><td class="num">${pct(x.faithfulness)}</td><td class="num">${x.evaluated}</td></tr>`)
      .join("")}</tbody></table>`,
  );
  return parts.join("\n");
}

export function ablationCsv(r: AblationReport): string {
  return toCsv(
    ["configuration", "layer", "accuracy", "faithfulness", "prompts"],
    r.results.map((x) => [x.label, x.layer ?? "", x.accuracy, x.faithfulness, x.evaluated]),
  );
}
