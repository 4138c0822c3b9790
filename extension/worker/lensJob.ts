/**
 * Facts for the CodeLens of PyTorch sources: the associated model's dependency groups (which modules own
 * them) and the importance of their units under a magnitude criterion (analyzers/source/groupLenses.ts).
 * A model open in a viewer is read from its session; any other model is loaded for the job and released.
 */
import path from "node:path";
import { analyzeModel, type Analysis } from "../../analyzers/analysis.ts";
import { closeModel } from "../../analyzers/onnx/model.ts";
import { modelWeights, scoreGroups, type Criterion } from "../../analyzers/pruning/criteria/index.ts";
import { findGroups } from "../../analyzers/pruning/groups/index.ts";
import type { GroupAnalysis } from "../../analyzers/pruning/types.ts";
import { groupFacts, lensCriterion, type GroupFacts } from "../../analyzers/source/groupLenses.ts";
import type { JobContext } from "./context.ts";
import { sessionAnalysis } from "./modelSessions.ts";

export async function lensFacts({ file, session, criterion }: { file: string; session?: number; criterion: string }, ctx: JobContext): Promise<GroupFacts> {
  const crit = lensCriterion(criterion, undefined) as Criterion;
  const open = session !== undefined ? sessionAnalysis(session) : undefined;
  let a: Analysis;
  let groups: GroupAnalysis;
  if (open && path.resolve(open.analysis.model.name) === path.resolve(file)) ({ analysis: a, groups } = open);
  else {
    ctx.progress({ message: "Reading the model" });
    a = await analyzeModel(file, { runtimeFallback: false });
    groups = findGroups(a.graph, a.shapes, { metrics: a.metrics });
  }
  try {
    ctx.throwIfCancelled();
    ctx.progress({ message: `Scoring units (${crit})` });
    const scores = scoreGroups(groups, modelWeights(a.model, a.graph), { criterion: crit });
    const moduleOf = new Map(a.graph.nodes.map((n) => [n.name, n.scope.module]));
    return groupFacts(groups, (n) => moduleOf.get(n) ?? "", scores);
  } finally {
    if (!open || open.analysis !== a) closeModel(a.model);
  }
}
