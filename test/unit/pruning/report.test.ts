import assert from "node:assert/strict";
import type { PruneJobReport } from "../../../analyzers/pruning/job.ts";
import { obspaFidelityNote } from "../../../analyzers/pruning/report.ts";

const report = (source: string, err: number, random: number | undefined) =>
  ({
    obspa: { hessian: { source, damping: 0.01 }, compensated: 3, varianceCorrection: true, notes: [] },
    baseline: random === undefined ? undefined : { criterion: "random", relativeError: random, params: 1, macs: 1 },
    verify: { relativeError: err },
  }) as unknown as PruneJobReport;

describe("prune report: OBSPA's fidelity on dummy inputs", () => {
  it("explains an error above the random baseline for data-derived Hessians, and only then", () => {
    assert.match(obspaFidelityNote(report("synthetic", 3.7, 0.7))!, /training statistics its BatchNorms record.*scalpel accuracy/);
    assert.match(obspaFidelityNote(report("bn", 1.5, 0.8))!, /random weights/);
    assert.match(obspaFidelityNote(report("calibration", 1.2, 0.9))!, /your calibration data/);
    assert.equal(obspaFidelityNote(report("synthetic", 0.5, 0.7)), undefined);
    assert.equal(obspaFidelityNote(report("identity", 1.5, 0.7)), undefined, "magnitude has no fit to explain");
    assert.equal(obspaFidelityNote(report("synthetic", 1.5, undefined)), undefined, "no baseline, no comparison");
    assert.equal(obspaFidelityNote({ ...report("synthetic", 1, 1), obspa: undefined }), undefined);
  });
});
