/**
 * One row of the pruning coverage table: analyse a model, prune `ratio` of the channels of every
 * prunable group (L1, local), write it, run it in onnxruntime, check the output shape and Debian's
 * onnx.checker (full check), and measure params/MACs before and after.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { analyzeModel } from "../../analyzers/analysis.ts";
import { saveModel } from "../../analyzers/onnx/save.ts";
import { applyPlanDetailed } from "../../analyzers/pruning/apply/index.ts";
import { modelWeights, scoreGroups, selectPlan, type Weights } from "../../analyzers/pruning/criteria/index.ts";
import type { Graph } from "../../analyzers/graph/graph.ts";
import type { Model } from "../../analyzers/onnx/model.ts";
import { readTensor, toFloat64 } from "../../analyzers/onnx/tensor.ts";
import { findGroups } from "../../analyzers/pruning/groups/index.ts";
import { measure } from "../../analyzers/pruning/measure.ts";
import { createSession, dummyFeeds } from "../../analyzers/runtime/ort.ts";
import { onnxChecker } from "./pruneCheck.ts";

export interface CoverageRow {
  model: string;
  nodes: number;
  groups: number;
  prunableGroups: number;
  /** Producer channels that no unit can remove (classifier outputs, unsupported ops…). */
  frozenChannels: number;
  unsupported: string[];
  params: [number, number];
  macs: [number, number];
  /** Predicted (cost model) = measured after re-analysis. */
  predictedOk: boolean;
  outputShape: string;
  valid: boolean;
  problem?: string;
  seconds: number;
  analysisMs: number;
}

export async function coverModel(name: string, file: string, expectedOutput: readonly (number | string)[] | undefined, ratio = 0.5): Promise<CoverageRow> {
  const t0 = performance.now();
  const row: CoverageRow = { model: name, nodes: 0, groups: 0, prunableGroups: 0, frozenChannels: 0, unsupported: [], params: [0, 0], macs: [0, 0], predictedOk: false, outputShape: "", valid: false, seconds: 0, analysisMs: 0 };
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "scalpel-cover-"));
  try {
    const a = await analyzeModel(file);
    const ga = findGroups(a.graph, a.shapes, { metrics: a.metrics });
    row.nodes = a.graph.nodes.length;
    row.groups = ga.summary.groups;
    row.prunableGroups = ga.summary.prunableGroups;
    row.analysisMs = ga.summary.millis;
    row.frozenChannels = ga.frozen.reduce((n, f) => n + f.channels, 0);
    row.unsupported = ga.summary.unsupportedOps;
    row.params[0] = a.metrics.params;
    row.macs[0] = a.metrics.macs;
    // Huge models (ViT-H, RegNet-Y-128GF: 600M+ params) would hold every weight as float64 in the
    // criterion's cache: read them afresh per call there instead.
    const weights = a.metrics.params > 2e8 ? uncachedWeights(a.model, a.graph) : modelWeights(a.model, a.graph);
    const scores = scoreGroups(ga, weights, { criterion: "l1" });
    const plan = selectPlan(ga, scores, { ratio });
    const r = applyPlanDetailed(a.model, ga, plan);
    const predicted = measure(ga, r.removal.removed);
    const out = path.join(tmp, "pruned.onnx");
    const big = a.model.byteLength > 1.5e9 || a.model.proto.graph!.initializer.some((t) => t.externalData.length > 0);
    saveModel(r.model, out, { externalData: big ? { kind: "external", location: "pruned.onnx.data", threshold: 1024 } : { kind: "internal" } });
    a.model.external.close();
    const b = await analyzeModel(out);
    row.params[1] = b.metrics.params;
    row.macs[1] = b.metrics.macs;
    row.predictedOk = predicted.params === b.metrics.params && Math.abs(predicted.macs - b.metrics.macs) <= 1e-6 * b.metrics.macs + 1;
    const s = await createSession(b.model, { threads: 1 });
    const res = await s.run(dummyFeeds(b.graph));
    const first = Object.values(res)[0]!;
    row.outputShape = `[${first.dims.join(",")}]`;
    await s.release();
    b.model.external.close();
    const problems: string[] = [];
    if (expectedOutput && row.outputShape !== `[${expectedOutput.join(",")}]`) problems.push(`output ${row.outputShape}, expected [${expectedOutput.join(",")}]`);
    const chk = onnxChecker(out);
    if (chk) problems.push(`onnx.checker: ${chk}`);
    if (!row.predictedOk) problems.push(`predicted params/MACs ${predicted.params}/${predicted.macs} ≠ measured ${b.metrics.params}/${b.metrics.macs}`);
    row.valid = problems.length === 0;
    if (problems.length) row.problem = problems.join("; ");
  } catch (e) {
    row.problem = (e as Error).message.split("\n")[0];
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
    row.seconds = (performance.now() - t0) / 1000;
  }
  return row;
}

const h = (n: number) => (n >= 1e9 ? `${(n / 1e9).toFixed(2)}G` : n >= 1e6 ? `${(n / 1e6).toFixed(2)}M` : n >= 1e3 ? `${(n / 1e3).toFixed(1)}K` : String(n));

export function coverageTable(rows: CoverageRow[]): string {
  const head = ["model", "nodes", "groups", "prunable", "frozen ch", "params before→after", "MACs before→after", "valid", "s"];
  const body = rows.map((r) => [
    r.model,
    String(r.nodes),
    String(r.groups),
    String(r.prunableGroups),
    String(r.frozenChannels),
    `${h(r.params[0])}→${h(r.params[1])}`,
    `${h(r.macs[0])}→${h(r.macs[1])}`,
    r.valid ? "yes" : `NO: ${r.problem ?? ""}`,
    r.seconds.toFixed(1),
  ]);
  const all = [head, ...body];
  const w = head.map((_, i) => Math.max(...all.map((r) => (i === 7 ? Math.min(r[i]!.length, 3) : r[i]!.length))));
  const lines = all.map((r) => r.map((c, i) => (i === 0 || i === 7 ? c.padEnd(w[i]!) : c.padStart(w[i]!))).join("  "));
  const exportFailed = rows.filter((r) => r.problem?.startsWith("export failed in torch"));
  const covered = rows.filter((r) => !exportFailed.includes(r));
  const ok = covered.filter((r) => r.valid).length;
  lines.push("", `${ok} of ${covered.length} exported models pruned to a valid model with the right output shape`);
  if (exportFailed.length) lines.push(`${exportFailed.length} not exported by torch (not counted): ${exportFailed.map((r) => r.model).join(", ")}`);
  return lines.join("\n");
}

/** The same table in Markdown (docs/pruning.md), one line per model, the verdict's reason in full. */
export function coverageMarkdown(rows: CoverageRow[]): string {
  const lines = [
    "| model | nodes | groups | prunable | frozen ch | params before → after | MACs before → after | valid | s |",
    "|---|--:|--:|--:|--:|--:|--:|---|--:|",
  ];
  for (const r of rows)
    lines.push(
      `| ${r.model} | ${r.nodes} | ${r.groups} | ${r.prunableGroups} | ${r.frozenChannels} | ${h(r.params[0])} → ${h(r.params[1])} | ` +
        `${h(r.macs[0])} → ${h(r.macs[1])} | ${r.valid ? "yes" : `**NO**: ${(r.problem ?? "").replace(/\|/g, "\\|")}`} | ${r.seconds.toFixed(1)} |`,
    );
  const exportFailed = rows.filter((r) => r.problem?.startsWith("export failed in torch"));
  const covered = rows.filter((r) => !exportFailed.includes(r));
  lines.push("", `${covered.filter((r) => r.valid).length} of ${covered.length} exported models pruned to a valid model with the right output shape.`);
  if (exportFailed.length) lines.push(`${exportFailed.length} not exported by torch (not counted): ${exportFailed.map((r) => r.model).join(", ")}.`);
  return lines.join("\n");
}

function uncachedWeights(model: Model, graph: Graph): Weights {
  return (name) => {
    const t = graph.weight(name);
    if (!t) return undefined;
    const td = readTensor(model, t);
    return Array.isArray(td.data) ? undefined : { dims: td.dims, values: toFloat64(td) };
  };
}
