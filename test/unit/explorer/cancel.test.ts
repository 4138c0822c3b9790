import assert from "node:assert/strict";
import { buildGraph } from "../../../analyzers/graph/graph.ts";
import { loadModel } from "../../../analyzers/onnx/index.ts";
import { createExplorerSession } from "../../../analyzers/explorer/index.ts";
import { answerRequest, CANCELLED, ExplorerRequests } from "../../../analyzers/explorer/host.ts";
import { weightStats, weightStatsCancellable } from "../../../analyzers/explorer/stats.ts";
import { requireTorchvisionModel } from "../../fixtures/paths.ts";

describe("explorer protocol: cancelling a request", function () {
  const graph = buildGraph(loadModel(requireTorchvisionModel("resnet18")));
  const session = createExplorerSession(graph);

  it("statistics of a big tensor are computed in chunks, equal to the one-go figures, and stop when cancelled", async () => {
    const whole = weightStats(graph, "fc.weight", 48);
    const chunked = await weightStatsCancellable(graph, "fc.weight", 48, undefined, 65_536);
    assert.deepEqual(chunked.histogram.counts, whole.histogram.counts);
    for (const k of ["count", "min", "max", "zeros", "nonFinite"] as const) assert.equal(chunked[k], whole[k], k);
    for (const k of ["mean", "std"] as const) assert.ok(Math.abs(chunked[k] - whole[k]) <= 1e-12 * Math.max(1, Math.abs(whole[k])), k);
    // Cancelled after its first chunk: it never finishes.
    const abort = new AbortController();
    const p = weightStatsCancellable(graph, "fc.weight", 48, abort.signal, 65_536);
    setImmediate(() => abort.abort(new Error(CANCELLED)));
    await assert.rejects(p, /cancelled/);
  });

  it("the host answers a cancelled request with 'cancelled', through ExplorerRequests", async () => {
    const reqs = new ExplorerRequests();
    const signal = reqs.begin(7);
    const pending = answerRequest(session, { id: 7, method: "tensorStats", params: { name: "layer4.1.conv2.weight", bins: 48 } }, signal);
    assert.equal(reqs.cancel(7), true);
    assert.equal(reqs.cancel(7), false, "a request is cancelled once");
    const r = await pending;
    assert.deepEqual(r, { kind: "response", id: 7, ok: false, error: CANCELLED });
    // Not cancelled: the normal answer.
    const s2 = reqs.begin(8);
    const ok = await answerRequest(session, { id: 8, method: "tensorStats", params: { name: "layer4.1.conv2.weight", bins: 48 } }, s2);
    reqs.end(8);
    assert.equal(ok.ok, true);
    assert.equal(reqs.size, 0);
  });
});
