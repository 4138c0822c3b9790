import assert from "node:assert/strict";
import type { PruneJobReport } from "../../../analyzers/pruning/job.ts";
import { latencyHint } from "../../../analyzers/pruning/latencyHint.ts";

const report = (before: number, after: number, roundTo?: number) =>
  ({ plan: { criterion: "l1", groups: 1, units: 1, roundTo }, verify: { latencyMs: { before, after, repeats: 20, threads: 1 } } }) as unknown as PruneJobReport;

describe("latency hint", () => {
  it("advises --round-to 8 only when the pruned model measured slower without rounding to 8", () => {
    assert.match(latencyHint(report(0.26, 0.37))!, /--round-to 8/);
    assert.match(latencyHint(report(0.26, 0.37, 4))!, /--round-to 8/);
    assert.equal(latencyHint(report(0.26, 0.37, 8)), undefined);
    assert.equal(latencyHint(report(0.3, 0.2)), undefined);
    assert.equal(latencyHint({ ...report(1, 2), verify: {} } as unknown as PruneJobReport), undefined);
  });
});
