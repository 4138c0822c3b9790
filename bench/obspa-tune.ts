/**
 * bench/obspa-tune.ts — settings of the data-free OBSPA variants chosen on HELD-OUT TRAINING images
 * (Fashion-MNIST train[50000, 52000), never the test set; the calibration images of bench:obspa are train[0, 1024)).
 * Prints accuracy at 30/50/70% local and matched MACs for L1 and each variant, both model variants.
 *
 * Usage: node --import tsx bench/obspa-tune.ts [--variants 'bn cov+var,L1'] [--models bn,fold]
 */
import { buildGraph } from "../analyzers/graph/graph.ts";
import { inferShapes } from "../analyzers/graph/shapes/index.ts";
import { loadModel, type Model } from "../analyzers/onnx/index.ts";
import { evaluateClassifier } from "../analyzers/data/evaluate.ts";
import { FASHION_MNIST_DIR, readMnistSplit, takeImages } from "../analyzers/data/idx.ts";
import { applyPlan } from "../analyzers/pruning/apply/index.ts";
import { modelWeights, scoreGroups, selectPlanDetailed, type Scores } from "../analyzers/pruning/criteria/index.ts";
import { findGroups } from "../analyzers/pruning/groups/index.ts";
import type { GroupAnalysis, Plan } from "../analyzers/pruning/types.ts";
import { compensator, plannedUnits, scoreObspa, type ObspaOptions, type ObspaSession } from "../analyzers/pruning/obspa/index.ts";
import { fashionModelPath, fashionPreprocess, requireFashion, type FashionVariant } from "../test/fixtures/fashion/index.ts";
import { printTable } from "./util.ts";

const args = process.argv.slice(2);
const opt = (k: string) => (args.includes(k) ? args[args.indexOf(k) + 1] : undefined);
const RATIOS = [0.3, 0.5, 0.7];
// Every variant spelled out (defaults change; these names do not): cov = channel covariance of the BN-moments,
// var = variance correction, fallback = identity where no BatchNorm precedes.
// Costs are measured before the BatchNorm that follows a layer unless the name says "afterbn".
const VARIANTS: Record<string, ObspaOptions | "l1"> = {
  L1: "l1",
  identity: { source: "identity", varianceCorrection: false },
  "identity+var": { source: "identity", varianceCorrection: true },
  "bn indep": { source: "bn", momentCovariance: false, varianceCorrection: false, momentsWithoutBatchNorm: true },
  "bn indep nobias": { source: "bn", momentCovariance: false, varianceCorrection: false, momentsWithoutBatchNorm: true, biasCompensation: false },
  "bn indep producer": { source: "bn", momentCovariance: false, varianceCorrection: false, momentsWithoutBatchNorm: true, producerWeight: 1 },
  "bn indep+var": { source: "bn", momentCovariance: false, varianceCorrection: true, momentsWithoutBatchNorm: true },
  "bn cov": { source: "bn", momentCovariance: true, varianceCorrection: false, momentsWithoutBatchNorm: true },
  "bn cov+var": { source: "bn", momentCovariance: true, varianceCorrection: true, momentsWithoutBatchNorm: true },
  "bn cov+var nobias": { source: "bn", momentCovariance: true, varianceCorrection: true, momentsWithoutBatchNorm: true, biasCompensation: false },
  "bn cov+var+fallback": { source: "bn", momentCovariance: true, varianceCorrection: true, momentsWithoutBatchNorm: false },
  synthetic: { source: "synthetic", samples: 256, maxRows: (c) => Math.max(4096, 16 * c), varianceCorrection: false },
  "synthetic+var": { source: "synthetic", samples: 256, maxRows: (c) => Math.max(4096, 16 * c), varianceCorrection: true },
  // "afterbn": costs measured after the BatchNorm that follows a layer (scoreAfterBatchNorm).
  "identity afterbn": { source: "identity", varianceCorrection: false, scoreAfterBatchNorm: true },
  "identity+var afterbn": { source: "identity", varianceCorrection: true, scoreAfterBatchNorm: true },
  "bn cov+var+fallback afterbn": { source: "bn", momentCovariance: true, varianceCorrection: true, momentsWithoutBatchNorm: false, scoreAfterBatchNorm: true },
  "synthetic+var afterbn": { source: "synthetic", samples: 256, maxRows: (c) => Math.max(4096, 16 * c), varianceCorrection: true, scoreAfterBatchNorm: true },
};
const names = opt("--variants")?.split(",") ?? Object.keys(VARIANTS);
const models = (opt("--models")?.split(",") ?? ["bn", "fold"]) as FashionVariant[];

const meta = requireFashion();
const pre = fashionPreprocess(meta);
const heldOut = takeImages(readMnistSplit(FASHION_MNIST_DIR, "train"), 2000, 50000);
const pct = (x: number) => (100 * x).toFixed(1);

async function prune(model: Model, analysis: GroupAnalysis, session: ObspaSession | undefined, plan: Plan): Promise<Model> {
  if (!session) return applyPlan(model, analysis, plan);
  return applyPlan(model, analysis, plan, { compensate: compensator(await session.compensation(plannedUnits(analysis, plan))) });
}

for (const variant of models) {
  const model = loadModel(fashionModelPath(variant));
  const graph = buildGraph(model);
  const analysis = findGroups(graph, inferShapes(graph));
  const base = await evaluateClassifier(model, heldOut, pre);
  console.log(`\n${variant}: unpruned ${pct(base.accuracy)}% on ${heldOut.count} held-out training images`);
  const rows = [["method", ...RATIOS.map((r) => `${r * 100}%`), ...RATIOS.map((r) => `MACs=${r * 100}`)]];
  for (const name of names) {
    const v = VARIANTS[name]!;
    let scores: Scores, session: ObspaSession | undefined;
    if (v === "l1") scores = scoreGroups(analysis, modelWeights(model, graph), { criterion: "l1" });
    else ({ scores, session } = await scoreObspa(model, graph, analysis, v));
    const local: string[] = [], global: string[] = [];
    for (const ratio of RATIOS) {
      const sel = selectPlanDetailed(analysis, scores, { ratio });
      local.push(pct((await evaluateClassifier(await prune(model, analysis, session, sel.plan), heldOut, pre)).accuracy));
      const macsRatio = 1 - sel.after.macs / sel.before.macs;
      const g = selectPlanDetailed(analysis, scores, { ratio: macsRatio, scope: "global", target: "macs" });
      global.push(pct((await evaluateClassifier(await prune(model, analysis, session, g.plan), heldOut, pre)).accuracy));
    }
    rows.push([name, ...local, ...global]);
    console.log(`  ${name}: ${[...local, ...global].join(" ")}`);
  }
  printTable(rows);
}
