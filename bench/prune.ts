/**
 * bench:prune — the pruning engine's numbers, measured in one run:
 *   group analysis of swin_t (≈6.6k nodes)                      goal ≤ 1 s     (wall, median; CPU time too)
 *   prune of ResNet-50 at 50% (analysis + selection + apply)     goal ≤ 3 s     (+ write time, reported apart)
 *   ResNet-50 at 50% of channels: ORT CPU latency gain ÷ MACs gain, goal ≥ 0.8, plain and with round-to 8
 *     (original and pruned sessions timed interleaved, several repeats, medians).
 * Usage: npm run bench:prune [-- --repeats N --threads N]. Models come from the fixture cache
 * (npm run fixtures -- --only swin_t,resnet50); SWIN / RESNET50 env vars override the paths.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { analyzeModel } from "../analyzers/analysis.ts";
import { saveModel } from "../analyzers/onnx/save.ts";
import { applyPlanDetailed } from "../analyzers/pruning/apply/index.ts";
import { modelWeights, scoreGroups, selectPlan } from "../analyzers/pruning/criteria/index.ts";
import { findGroups } from "../analyzers/pruning/groups/index.ts";
import { createSession, dummyFeeds, type ort } from "../analyzers/runtime/ort.ts";
import { requireTorchvisionModel } from "../test/fixtures/paths.ts";
import { median, printTable } from "./util.ts";

const arg = (name: string, dflt: number) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : dflt;
};
const REPEATS = arg("repeats", 7);
const LAT_REPEATS = arg("latency-repeats", 15);
const THREADS = arg("threads", 1);
const cpuMs = (c: NodeJS.CpuUsage) => (c.user + c.system) / 1000;
const s = (ms: number) => `${(ms / 1000).toFixed(2)} s`;

async function swinAnalysis() {
  const file = process.env.SWIN ?? requireTorchvisionModel("swin_t", "op13-bn");
  const t0 = performance.now();
  const a = await analyzeModel(file);
  const loadMs = performance.now() - t0;
  const walls: number[] = [], cpus: number[] = [];
  let groups = 0;
  for (let i = 0; i < REPEATS + 1; i++) {
    const c = process.cpuUsage(), t = performance.now();
    const g = findGroups(a.graph, a.shapes, { metrics: a.metrics });
    if (i === 0) continue; // warm-up (JIT)
    walls.push(performance.now() - t);
    cpus.push(cpuMs(process.cpuUsage(c)));
    groups = g.groups.length;
  }
  a.model.external.close();
  return { nodes: a.graph.nodes.length, groups, loadMs, wall: median(walls), cpu: median(cpus) };
}

interface Pruned {
  label: string;
  file: string;
  macs: number;
  params: number;
  pruneMs: number;
  /** CPU time of the same stages (this process, all threads): what load from other processes does not inflate. */
  pruneCpuMs: number;
  writeMs: number;
  stages: { analysis: number; select: number; apply: number };
}

async function pruneResnet(file: string, dir: string, roundTo?: number): Promise<Pruned & { macs0: number; params0: number }> {
  const a = await analyzeModel(file);
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  const ga = findGroups(a.graph, a.shapes, { metrics: a.metrics });
  const t1 = performance.now();
  const plan = selectPlan(ga, scoreGroups(ga, modelWeights(a.model, a.graph), { criterion: "l1" }), { ratio: 0.5, roundTo });
  const t2 = performance.now();
  const r = applyPlanDetailed(a.model, ga, plan);
  const t3 = performance.now();
  const pruneCpuMs = cpuMs(process.cpuUsage(c0));
  const out = path.join(dir, `resnet50-${roundTo ?? 1}.onnx`);
  saveModel(r.model, out, { externalData: { kind: "internal" } });
  const t4 = performance.now();
  const b = await analyzeModel(out);
  const res = {
    label: roundTo ? `50%, round-to ${roundTo}` : "50%",
    file: out,
    macs: b.metrics.macs,
    params: b.metrics.params,
    macs0: a.metrics.macs,
    params0: a.metrics.params,
    pruneMs: t3 - t0,
    pruneCpuMs,
    writeMs: t4 - t3,
    stages: { analysis: t1 - t0, select: t2 - t1, apply: t3 - t2 },
  };
  a.model.external.close();
  b.model.external.close();
  return res;
}

/** Medians of interleaved runs: every round times each session once, so machine load hits all alike. */
async function latencies(files: string[]): Promise<number[]> {
  const sessions: ort.InferenceSession[] = [];
  const feeds: Record<string, ort.Tensor>[] = [];
  for (const f of files) {
    const a = await analyzeModel(f, { runtimeFallback: false });
    sessions.push(await createSession(a.model, { threads: THREADS }));
    feeds.push(dummyFeeds(a.graph));
  }
  for (let w = 0; w < 3; w++) for (let k = 0; k < sessions.length; k++) await sessions[k]!.run(feeds[k]!);
  const times = sessions.map(() => [] as number[]);
  for (let i = 0; i < LAT_REPEATS; i++)
    for (let k = 0; k < sessions.length; k++) {
      const t = performance.now();
      await sessions[k]!.run(feeds[k]!);
      times[k]!.push(performance.now() - t);
    }
  for (const x of sessions) await x.release();
  return times.map(median);
}

async function main() {
  console.log(`bench:prune — ${os.cpus().length} CPUs, load average ${os.loadavg().map((x) => x.toFixed(1)).join(" ")}; ORT ${THREADS} thread(s)\n`);
  const sw = await swinAnalysis();
  console.log(`swin_t: ${sw.nodes} nodes, ${sw.groups} groups; load + shapes (incl. onnxruntime shape fallback) ${s(sw.loadMs)}`);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "bench-prune-"));
  try {
    const r50 = process.env.RESNET50 ?? requireTorchvisionModel("resnet50", "op13-bn");
    const p1 = await pruneResnet(r50, dir);
    const p8 = await pruneResnet(r50, dir, 8);
    const [l0, l1, l8] = await latencies([r50, p1.file, p8.file]);
    console.log(`resnet50: ${(p1.params0 / 1e6).toFixed(2)}M params, ${(p1.macs0 / 1e9).toFixed(2)} GMACs; latency original ${l0!.toFixed(1)} ms (median of ${LAT_REPEATS})`);
    for (const p of [p1, p8])
      console.log(`  ${p.label}: ${(p.params / 1e6).toFixed(2)}M params, ${(p.macs / 1e9).toFixed(3)} GMACs; analysis ${s(p.stages.analysis)}, select ${s(p.stages.select)}, apply ${s(p.stages.apply)}; write ${s(p.writeMs)}`);
    console.log("");
    const gain = (lat: number, p: Pruned) => ({ lat: l0! / lat, macs: p1.macs0 / p.macs });
    const g1 = gain(l1!, p1), g8 = gain(l8!, p8);
    const rows = [
      ["measure", "value", "goal", "verdict", "notes"],
      ["swin_t group analysis (wall, median)", s(sw.wall), "≤ 1 s", sw.wall <= 1000 ? "ok" : "MISS", `CPU ${s(sw.cpu)}; ${REPEATS} runs after a warm-up`],
      ["resnet50 prune at 50% (analysis+select+apply)", s(p1.pruneMs), "≤ 3 s", p1.pruneMs <= 3000 ? "ok" : "MISS", `CPU ${s(p1.pruneCpuMs)}; + write ${s(p1.writeMs)}; first run in the process (cold JIT)`],
      ["resnet50 50%: latency gain ÷ MACs gain", (g1.lat / g1.macs).toFixed(2), "≥ 0.8", g1.lat / g1.macs >= 0.8 ? "ok" : "MISS", `latency ${l0!.toFixed(1)} → ${l1!.toFixed(1)} ms (${g1.lat.toFixed(2)}×), MACs ${g1.macs.toFixed(2)}×`],
      ["resnet50 50% round-to 8: latency gain ÷ MACs gain", (g8.lat / g8.macs).toFixed(2), "≥ 0.8", g8.lat / g8.macs >= 0.8 ? "ok" : "MISS", `latency ${l0!.toFixed(1)} → ${l8!.toFixed(1)} ms (${g8.lat.toFixed(2)}×), MACs ${g8.macs.toFixed(2)}×`],
    ];
    printTable(rows);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((e) => {
  console.error(e instanceof Error ? e.message : e);
  process.exit(1);
});
