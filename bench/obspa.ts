/**
 * bench:obspa — OBSPA against magnitude criteria, without fine-tuning, measured in one run:
 *
 * 1. Fashion-MNIST classifier (test/fixtures/fashion/train.py), BatchNorm kept and folded: top-1 accuracy on
 *    the 10k test images after removing 30/50/70% of the channels of every group (local), and at matched
 *    MACs (global selection reaching the MACs of the local plan), for random, L1, L2, BN |γ|,
 *    OBSPA-identity, OBSPA-BN-moments, OBSPA-synthetic and OBSPA-calibration (1,024 training images).
 *    Goals: every data-free OBSPA variant ≥ L1 at every ratio, and ≥ L1 + 5 points at 50%.
 * 2. ResNet-18 (torchvision, random weights, op13-bn): relative L2 error of the logits against the unpruned
 *    model on synthetic inputs (a seed the Hessians never saw), OBSPA-synthetic vs L1/L2 at 30/50%, and
 *    the time of OBSPA-synthetic (scores + compensation) split into activations / Hessians / solves
 *    (goal ≤ 60 s).
 *
 * Usage: npm run bench:obspa [-- --quick] [-- --only fashion|resnet18]
 *   --quick: 2,000 test images and ratios 30/50% only (a smoke run; the table in the report uses the full run).
 */
import os from "node:os";
import { buildGraph, type Graph } from "../analyzers/graph/graph.ts";
import { inferShapes } from "../analyzers/graph/shapes/index.ts";
import { loadModel, type Model } from "../analyzers/onnx/index.ts";
import { evaluateClassifier, imageBatch } from "../analyzers/data/evaluate.ts";
import { FASHION_MNIST_DIR, readMnistSplit, takeImages } from "../analyzers/data/idx.ts";
import { applyPlan } from "../analyzers/pruning/apply/index.ts";
import { modelWeights, scoreGroups, selectPlanDetailed, type Criterion, type Scores } from "../analyzers/pruning/criteria/index.ts";
import { findGroups } from "../analyzers/pruning/groups/index.ts";
import { measure } from "../analyzers/pruning/measure.ts";
import { resolvePlan } from "../analyzers/pruning/apply/index.ts";
import type { GroupAnalysis, Plan } from "../analyzers/pruning/types.ts";
import { arrayFeeds, compensator, plannedUnits, scoreObspa, syntheticFeeds, type ObspaOptions, type ObspaSession } from "../analyzers/pruning/obspa/index.ts";
import { createSession, ort } from "../analyzers/runtime/ort.ts";
import { fashionModelPath, fashionPreprocess, requireFashion, type FashionVariant } from "../test/fixtures/fashion/index.ts";
import { requireTorchvisionModel } from "../test/fixtures/paths.ts";
import { withInitialBatchNormStatistics } from "../test/fixtures/initialBatchNorm.ts";
import { printTable } from "./util.ts";

const args = process.argv.slice(2);
const quick = args.includes("--quick");
const only = args.includes("--only") ? args[args.indexOf("--only") + 1] : undefined;
const RATIOS = quick ? [0.3, 0.5] : [0.3, 0.5, 0.7];

type Method = { name: string; criterion?: Criterion; obspa?: ObspaOptions; dataFree?: boolean };

interface Scored {
  method: Method;
  scores: Scores;
  session?: ObspaSession;
  seconds: number;
}

async function score(model: Model, graph: Graph, analysis: GroupAnalysis, m: Method): Promise<Scored> {
  const t0 = performance.now();
  if (m.criterion) return { method: m, scores: scoreGroups(analysis, modelWeights(model, graph), { criterion: m.criterion }), seconds: (performance.now() - t0) / 1000 };
  const { scores, session } = await scoreObspa(model, graph, analysis, m.obspa!);
  return { method: m, scores, session, seconds: (performance.now() - t0) / 1000 };
}

async function prune(model: Model, analysis: GroupAnalysis, s: Scored, plan: Plan): Promise<Model> {
  if (!s.session) return applyPlan(model, analysis, plan);
  const comp = await s.session.compensation(plannedUnits(analysis, plan));
  return applyPlan(model, analysis, plan, { compensate: compensator(comp) });
}

const pct = (x: number) => (100 * x).toFixed(1);
const denseRows = (columns: number) => Math.max(4096, 16 * columns);

async function fashionBench(): Promise<void> {
  const meta = requireFashion();
  const pre = fashionPreprocess(meta);
  const fullTest = readMnistSplit(FASHION_MNIST_DIR, "test");
  const test = quick ? takeImages(fullTest, 2000) : fullTest;
  const train = readMnistSplit(FASHION_MNIST_DIR, "train");
  // 1,024 training images (the first ones: the split is shuffled) as calibration data.
  const calib: Record<string, ort.Tensor>[] = [];
  for (let s = 0; s < 1024; s += 64) calib.push({ input: new ort.Tensor("float32", imageBatch(train, s, 64, pre), [64, 1, 28, 28]) });
  const methods: Method[] = [
    { name: "random", criterion: "random" },
    { name: "L1", criterion: "l1" },
    { name: "L2", criterion: "l2" },
    { name: "BN |γ|", criterion: "bn" },
    { name: "OBSPA-identity", obspa: { source: "identity" }, dataFree: true },
    { name: "OBSPA-BN-moments", obspa: { source: "bn" }, dataFree: true },
    // The small model affords 256 samples and max(4096, 16·columns) rows per layer (library defaults: 64, 8·columns).
    { name: "OBSPA-synthetic", obspa: { source: "synthetic", samples: 256, maxRows: denseRows }, dataFree: true },
    { name: "OBSPA-calibration", obspa: { source: "calibration", feeds: arrayFeeds("1,024 Fashion-MNIST training images", calib, 1024), maxRows: denseRows } },
  ];
  const verdicts: string[] = [];
  for (const variant of ["bn", "fold"] as FashionVariant[]) {
    const model = loadModel(fashionModelPath(variant));
    const graph = buildGraph(model);
    const analysis = findGroups(graph, inferShapes(graph));
    const base = await evaluateClassifier(model, test, pre);
    console.log(`\nFashion-MNIST, BatchNorm ${variant === "bn" ? "kept" : "folded"}: unpruned ${pct(base.accuracy)}% on ${test.count} test images (torch: ${pct(meta.models[variant].accuracy)}% on 10k)`);
    const header = ["method", ...RATIOS.map((r) => `${r * 100}% ch`), ...RATIOS.map((r) => `MACs=${r * 100}%ch`), "score s"];
    const rows: string[][] = [header];
    const acc = new Map<string, number[]>();
    let macsLine = "";
    for (const m of methods) {
      if (m.criterion === "bn" && variant === "fold") {
        rows.push([m.name, ...header.slice(1).map(() => "n/a")]);
        continue;
      }
      const s = await score(model, graph, analysis, m);
      const local: number[] = [], global: number[] = [];
      const macsAt: string[] = [];
      for (const ratio of RATIOS) {
        const sel = selectPlanDetailed(analysis, s.scores, { ratio });
        local.push((await evaluateClassifier(await prune(model, analysis, s, sel.plan), test, pre)).accuracy);
        // Matched MACs: a global ranking (scores normalised per group) down to the local plan's MACs.
        const macsRatio = 1 - sel.after.macs / sel.before.macs;
        macsAt.push(`${ratio * 100}% ch = −${pct(macsRatio)}% MACs`);
        const g = selectPlanDetailed(analysis, s.scores, { ratio: macsRatio, scope: "global", target: "macs" });
        const got = measure(analysis, resolvePlan(analysis, g.plan).removed);
        if (Math.abs(got.macs - sel.after.macs) / sel.before.macs > 0.02) console.log(`  note: ${m.name} global plan reaches ${got.macs} MACs vs ${sel.after.macs}`);
        global.push((await evaluateClassifier(await prune(model, analysis, s, g.plan), test, pre)).accuracy);
      }
      macsLine = macsAt.join(", ");
      acc.set(m.name, [...local, ...global]);
      rows.push([m.name, ...local.map(pct), ...global.map(pct), s.seconds.toFixed(1)]);
    }
    printTable(rows);
    console.log(`  (${macsLine})`);
    const l1 = acc.get("L1")!;
    for (const m of methods.filter((x) => x.dataFree)) {
      const a = acc.get(m.name)!;
      const below = a.map((v, i) => (v + 1e-9 < l1[i]! ? i : -1)).filter((i) => i >= 0);
      const at50 = RATIOS.indexOf(0.5);
      const gain50 = 100 * (a[at50]! - l1[at50]!);
      verdicts.push(
        `${variant === "bn" ? "BN kept" : "folded "}  ${m.name.padEnd(17)} ≥ L1 everywhere: ${below.length ? `MISS (below at ${below.map((i) => header[i + 1]).join(", ")})` : "ok"}; ` +
          `at 50%: ${gain50 >= 0 ? "+" : ""}${gain50.toFixed(1)} points vs L1 (goal ≥ +5): ${gain50 >= 5 ? "ok" : "MISS"}`,
      );
    }
  }
  console.log("\nGoals (data-free OBSPA vs L1, all columns):");
  for (const v of verdicts) console.log("  " + v);
}

async function resnetBench(): Promise<void> {
  const file = requireTorchvisionModel("resnet18", "op13-bn");
  const model = loadModel(file);
  const graph = buildGraph(model);
  const t0 = performance.now();
  const analysis = findGroups(graph, inferShapes(graph));
  const analysisSeconds = (performance.now() - t0) / 1000;
  // Evaluation inputs: 8 synthetic images with a seed the Hessians never see.
  const evalFeeds: Record<string, ort.Tensor>[] = [];
  for await (const f of syntheticFeeds(graph, { samples: 8, seed: 987 }).batches()) evalFeeds.push(f);
  const { logits, relErr, inputShare } = await logitFidelity(model, evalFeeds);
  console.log(`\nResNet-18 (random weights): share of the logits' energy that varies with the input: ${inputShare.toExponential(1)}`);
  const rows: string[][] = [["ResNet-18 (random weights)", ...[0.3, 0.5].map((r) => `rel. L2 logits @${r * 100}% (input-dep.)`)]];
  for (const c of ["random", "l1", "l2"] as Criterion[]) {
    const scores = scoreGroups(analysis, modelWeights(model, graph), { criterion: c });
    const errs: string[] = [];
    for (const ratio of [0.3, 0.5]) errs.push(relErr(await logits(applyPlan(model, analysis, selectPlanDetailed(analysis, scores, { ratio }).plan))));
    rows.push([c, ...errs]);
  }
  const threads = os.availableParallelism();
  const cpu0 = process.cpuUsage();
  const t1 = performance.now();
  const { scores, session } = await scoreObspa(model, graph, analysis, { source: "synthetic", samples: 16 });
  const scoreSeconds = (performance.now() - t1) / 1000;
  const errs: string[] = [];
  let compSeconds = 0;
  let cpu = process.cpuUsage(cpu0);
  for (const ratio of [0.3, 0.5]) {
    const plan = selectPlanDetailed(analysis, scores, { ratio }).plan;
    const t2 = performance.now();
    const comp = await session.compensation(plannedUnits(analysis, plan));
    compSeconds = ratio === 0.5 ? (performance.now() - t2) / 1000 : compSeconds;
    if (ratio === 0.5) cpu = process.cpuUsage(cpu0);
    errs.push(relErr(await logits(applyPlan(model, analysis, plan, { compensate: compensator(comp) }))));
  }
  const split = { ...session.timing };
  rows.push(["OBSPA-synthetic (16 samples)", ...errs]);
  // The variance correction restores each BatchNorm's output scale, which the least-squares fidelity measured
  // here penalises (the optimum of ‖W·X − Ŵ·X‖² is a projection): the same plans without it, for comparison.
  const plain: string[] = [];
  for (const ratio of [0.3, 0.5]) {
    const plan = selectPlanDetailed(analysis, scores, { ratio }).plan;
    const comp = await session.compensation(plannedUnits(analysis, plan), { varianceCorrection: false });
    plain.push(relErr(await logits(applyPlan(model, analysis, plan, { compensate: compensator(comp) }))));
  }
  rows.push(["  same, no variance correction", ...plain]);
  // Hessians of the network as it runs: its BatchNorms keep their (random) running statistics instead of being
  // calibrated to the batch. What the fidelity above measures, but not what a trained model needs.
  const asRun = await scoreObspa(model, graph, analysis, { source: "synthetic", samples: 16, bnCalibration: false, varianceCorrection: false });
  const asRunErrs: string[] = [];
  for (const ratio of [0.3, 0.5]) {
    const plan = selectPlanDetailed(analysis, asRun.scores, { ratio }).plan;
    const comp = await asRun.session.compensation(plannedUnits(analysis, plan));
    asRunErrs.push(relErr(await logits(applyPlan(model, analysis, plan, { compensate: compensator(comp) }))));
  }
  rows.push(["OBSPA-synthetic, as run (no BN calibration, no var. corr.)", ...asRunErrs]);
  // BN-moments: no forward pass; the channels' covariance propagated in closed form.
  const tb = performance.now();
  const bnScored = await scoreObspa(model, graph, analysis, { source: "bn" });
  const bnScoreSeconds = (performance.now() - tb) / 1000;
  const bnErrs: string[] = [], bnPlain: string[] = [];
  for (const ratio of [0.3, 0.5]) {
    const plan = selectPlanDetailed(analysis, bnScored.scores, { ratio }).plan;
    for (const [out, varianceCorrection] of [[bnErrs, true], [bnPlain, false]] as const) {
      const comp = await bnScored.session.compensation(plannedUnits(analysis, plan), { varianceCorrection });
      out.push(relErr(await logits(applyPlan(model, analysis, plan, { compensate: compensator(comp) }))));
    }
  }
  rows.push([`OBSPA-BN-moments (scores ${bnScoreSeconds.toFixed(1)} s)`, ...bnErrs]);
  rows.push(["  same, no variance correction", ...bnPlain]);
  console.log(`\n`);
  printTable(rows);
  const t = split;
  const total = scoreSeconds + compSeconds;
  console.log(
    `\nOBSPA-synthetic on ResNet-18 (${threads} CPUs): scores ${scoreSeconds.toFixed(1)} s + compensation at 50% ${compSeconds.toFixed(1)} s = ${total.toFixed(1)} s ` +
      `(goal ≤ 60 s: ${total <= 60 ? "ok" : "MISS"}); group analysis ${analysisSeconds.toFixed(1)} s`,
  );
  // Wall time depends on what else the machine runs; CPU time (all threads, both compensations and the
  // evaluation runs in between included) says what the work costs. Load average shows how busy it was.
  console.log(
    `  CPU time of that span: ${((cpu.user + cpu.system) / 1e6).toFixed(1)} s (load average ${os.loadavg()[0]!.toFixed(1)} on ${threads} CPUs)`,
  );
  console.log(
    `  split (both compensations included): activations ${(t.activations / 1000).toFixed(1)} s, Hessians ${(t.hessians / 1000).toFixed(1)} s, solves ${(t.solves / 1000).toFixed(1)} s`,
  );
  const forms = new Map<string, number>();
  for (const l of (await session.scores()).layers) forms.set(l.form, (forms.get(l.form) ?? 0) + 1);
  console.log(`  Hessian forms: ${[...forms].map(([f, n]) => `${n} ${f}`).join(", ")}`);
  await freshStatisticsBench(model, evalFeeds);
}

/**
 * The same ResNet-18 with every BatchNorm's running statistics at their initial values (mean 0, variance 1: a
 * model as torchvision creates it, before any training step). OBSPA's automatic mode neither calibrates those
 * BatchNorms nor corrects their variance (their statistics describe no data), so its default is the
 * least-squares optimum here.
 */
async function freshStatisticsBench(trained: Model, evalFeeds: Record<string, ort.Tensor>[]): Promise<void> {
  const model = withInitialBatchNormStatistics(trained, "resnet18-initial-bn.onnx");
  const graph = buildGraph(model);
  const analysis = findGroups(graph, inferShapes(graph));
  const { logits, relErr, inputShare } = await logitFidelity(model, evalFeeds);
  console.log(`\nResNet-18, BatchNorm statistics at init: share of the logits' energy that varies with the input: ${inputShare.toExponential(1)}`);
  const rows: string[][] = [["ResNet-18, BatchNorm statistics at init", "rel. L2 logits @30% (input-dep.)", "rel. L2 logits @50% (input-dep.)"]];
  for (const c of ["l1", "l2"] as Criterion[]) {
    const scores = scoreGroups(analysis, modelWeights(model, graph), { criterion: c });
    const errs: string[] = [];
    for (const ratio of [0.3, 0.5]) errs.push(relErr(await logits(applyPlan(model, analysis, selectPlanDetailed(analysis, scores, { ratio }).plan))));
    rows.push([c, ...errs]);
  }
  for (const [name, source] of [["OBSPA-synthetic (default: auto)", "synthetic"], ["OBSPA-BN-moments (default: auto)", "bn"]] as const) {
    const { scores, session } = await scoreObspa(model, graph, analysis, { source, samples: 16 });
    const errs: string[] = [];
    let notes: string[] = [];
    for (const ratio of [0.3, 0.5]) {
      const plan = selectPlanDetailed(analysis, scores, { ratio }).plan;
      const comp = await session.compensation(plannedUnits(analysis, plan));
      notes = comp.notes;
      errs.push(relErr(await logits(applyPlan(model, analysis, plan, { compensate: compensator(comp) }))));
    }
    rows.push([name, ...errs]);
    const skipped = notes.find((n) => n.startsWith("variance correction skipped"));
    if (skipped) console.log(`  ${name}: ${skipped}`);
  }
  console.log("");
  printTable(rows);
}

/**
 * The model's logits on fixed inputs (one array per sample), and the relative L2 error of another model's
 * logits against them, printed as "whole (input-dependent part)". The second number compares the logits minus
 * their mean over the inputs: random-weight networks' logits barely depend on the input (the share of their
 * energy that varies with it is printed), so the whole error mostly measures a constant vector.
 */
async function logitFidelity(model: Model, feeds: Record<string, ort.Tensor>[]) {
  const logits = async (m: Model): Promise<Float32Array[]> => {
    const s = await createSession(m);
    const out: Float32Array[] = [];
    for (const f of feeds) {
      const y = (await s.run(f))[s.outputNames[0]!]!;
      const n = Number(y.dims[0] ?? 1), data = y.data as Float32Array, c = data.length / n;
      for (let i = 0; i < n; i++) out.push(data.slice(i * c, (i + 1) * c));
    }
    await s.release();
    return out;
  };
  const centred = (a: Float32Array[]) => {
    const mean = new Float64Array(a[0]!.length);
    for (const x of a) x.forEach((v, i) => (mean[i] += v / a.length));
    return a.map((x) => Float64Array.from(x, (v, i) => v - mean[i]!));
  };
  const rel = (a: ArrayLike<number>[], b: ArrayLike<number>[]) => {
    let num = 0, den = 0;
    a.forEach((x, k) => { for (let i = 0; i < x.length; i++) ((num += (x[i]! - b[k]![i]!) ** 2), (den += b[k]![i]! ** 2)); });
    return Math.sqrt(num / den);
  };
  const base = await logits(model);
  const baseCentred = centred(base);
  let energy = 0, varying = 0;
  base.forEach((x, k) => x.forEach((v, i) => ((energy += v * v), (varying += baseCentred[k]![i]! ** 2))));
  const relErr = (a: Float32Array[]): string => `${rel(a, base).toFixed(3)} (${rel(centred(a), baseCentred).toFixed(3)})`;
  return { logits, relErr, inputShare: varying / energy };
}

if (!only || only === "fashion") await fashionBench();
if (!only || only === "resnet18") await resnetBench();
