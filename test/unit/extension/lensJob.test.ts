import assert from "node:assert/strict";
import path from "node:path";
import { analyzeModel } from "../../../analyzers/analysis.ts";
import { modelWeights, scoreGroups } from "../../../analyzers/pruning/criteria/index.ts";
import { findGroups } from "../../../analyzers/pruning/groups/index.ts";
import { groupFacts } from "../../../analyzers/source/groupLenses.ts";
import type { JobContext } from "../../../extension/worker/context.ts";
import { lensFacts } from "../../../extension/worker/lensJob.ts";
import { closeModel, openModel } from "../../../extension/worker/modelSessions.ts";
// @ts-expect-error plain .mjs helper without types
import { ensureExtensionFixtures } from "../../fixtures/extension/ensure.mjs";

const ctx: JobContext = { progress() {}, log() {}, cancelled: false, throwIfCancelled() {}, signal: new AbortController().signal };

describe("worker job lensFacts (CodeLens groups)", function () {
  this.timeout(600_000);
  let file: string;
  before(() => {
    file = path.join(ensureExtensionFixtures({ log: () => {} }) as string, "tiny_cnn.onnx");
  });

  it("scores a model that is not open with the asked criterion, falling back to L1 for random and OBSPA", async () => {
    const a = await analyzeModel(file, { runtimeFallback: false });
    const analysis = findGroups(a.graph, a.shapes, { metrics: a.metrics });
    const moduleOf = new Map(a.graph.nodes.map((n) => [n.name, n.scope.module]));
    const expected = (c: "l1" | "l2") => groupFacts(analysis, (n) => moduleOf.get(n) ?? "", scoreGroups(analysis, modelWeights(a.model, a.graph), { criterion: c }));
    assert.deepEqual(await lensFacts({ file, criterion: "l2" }, ctx), expected("l2"));
    for (const c of ["random", "obspa", "nonsense"]) assert.deepEqual(await lensFacts({ file, criterion: c }, ctx), expected("l1"), c);
    a.model.external.close();
  });

  it("reads a model open in a viewer from its session, giving the same facts", async () => {
    const { session } = await openModel({ file }, ctx);
    try {
      const fresh = await lensFacts({ file, criterion: "bn" }, ctx);
      const fromSession = await lensFacts({ file, session, criterion: "bn" }, ctx);
      assert.deepEqual(fromSession, fresh);
      assert.equal(fromSession.criterion, "bn");
      // The session is still usable afterwards (the job must not close the viewer's model).
      assert.deepEqual(await lensFacts({ file, session, criterion: "bn" }, ctx), fresh);
    } finally {
      await closeModel({ session });
    }
  });
});
