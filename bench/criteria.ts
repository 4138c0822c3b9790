/**
 * Criteria against the random baseline, on a real model: for each criterion, the plan at one ratio and
 * random plans removing the same units per group; each is applied and run in onnxruntime on seeded
 * inputs, and the output's relative error to the original's is printed side by side.
 *
 *   node --import tsx bench/criteria.ts [model.onnx] [ratio] [inputs]
 * Default: the cached torchvision resnet18 (op13, BatchNorm kept), ratio 0.3, 4 inputs.
 * Inputs are synthetic (no dataset here): this measures how well a pruned model keeps the function, not accuracy.
 */
import { homedir } from "node:os";
import { join } from "node:path";
import { analyzeModelStatic } from "../analyzers/analysis.ts";
import { buildGraph } from "../analyzers/graph/graph.ts";
import type { Model } from "../analyzers/onnx/model.ts";
import { applyPlan } from "../analyzers/pruning/apply/index.ts";
import { modelWeights, randomBaselinePlan, scoreGroups, selectPlanDetailed, type Criterion } from "../analyzers/pruning/criteria/index.ts";
import { findGroups } from "../analyzers/pruning/groups/index.ts";
import { createSession, dummyFeeds } from "../analyzers/runtime/ort.ts";

const cache = process.env.SCALPEL_CACHE ?? join(homedir(), ".cache", "onnx-scalpel");
const file = process.argv[2] || join(cache, "torchvision", "op13-bn", "resnet18.onnx");
const ratio = Number(process.argv[3] ?? 0.3);
const inputs = Number(process.argv[4] ?? 4);
const seeds = [1, 2, 3];

async function outputs(model: Model): Promise<Float32Array[]> {
  const g = buildGraph(model);
  const s = await createSession(model);
  const out: Float32Array[] = [];
  for (let i = 0; i < inputs; i++) out.push((await s.run(dummyFeeds(g, {}, 100 + i)))[g.outputs[0]!]!.data as Float32Array);
  return out;
}

function relErr(ref: Float32Array[], got: Float32Array[]): number {
  let num = 0;
  let den = 0;
  ref.forEach((r, i) => r.forEach((x, k) => ((num += (x - got[i]![k]!) ** 2), (den += x * x))));
  return Math.sqrt(num / den);
}

const a = analyzeModelStatic(file);
const ga = findGroups(a.graph, a.shapes, { metrics: a.metrics });
const w = modelWeights(a.model, a.graph);
const ref = await outputs(a.model);
console.log(`${a.model.name}: local ${ratio} of channels, ${inputs} synthetic inputs; random = mean of seeds ${seeds.join(", ")}`);
console.log("criterion  params after  MACs after     rel.err  random rel.err  random÷criterion  score ms");
for (const criterion of ["l1", "l2", "bn", "fpgm"] as Criterion[]) {
  const t = performance.now();
  const scores = scoreGroups(ga, w, { criterion });
  const ms = performance.now() - t;
  const sel = selectPlanDetailed(ga, scores, { ratio });
  const err = relErr(ref, await outputs(applyPlan(a.model, ga, sel.plan)));
  let rnd = 0;
  for (const seed of seeds) rnd += relErr(ref, await outputs(applyPlan(a.model, ga, randomBaselinePlan(ga, sel.plan, seed)))) / seeds.length;
  console.log(
    `${criterion.padEnd(9)}  ${String(sel.after.params).padStart(12)}  ${String(sel.after.macs).padStart(11)}  ${err.toFixed(4).padStart(8)}  ` +
      `${rnd.toFixed(4).padStart(14)}  ${(rnd / err).toFixed(2).padStart(16)}  ${ms.toFixed(0).padStart(8)}`,
  );
}
