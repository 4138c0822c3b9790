import assert from "node:assert/strict";
import fs from "node:fs";
import * as vscode from "vscode";
import type { ScalpelApi } from "../../extension/extension.ts";
import { isCancelled } from "../../extension/log.ts";
import type { Progress } from "../../extension/worker/protocol.ts";
import { fixture, scalpel } from "./helpers.ts";

describe("engine worker (worker_threads)", () => {
  let api: ScalpelApi;
  before(async () => {
    api = await scalpel();
  });

  it("runs the model in onnxruntime-node inside the worker", async () => {
    const facts = JSON.parse(fs.readFileSync(fixture("tiny_cnn.json"), "utf8"));
    const fractions: number[] = [];
    const r = await api.engine.run("latency", { file: fixture("tiny_cnn.onnx"), threads: 1, repeats: 5, warmup: 1 }, { onProgress: (p) => fractions.push(p.fraction ?? -1) });
    assert.equal(r.runs, 5);
    assert.ok(r.medianMs > 0 && r.medianMs < 5_000, `median ${r.medianMs} ms`);
    // Symbolic batch → 1 in the dummy input; the rest as torch computed it.
    assert.deepEqual(r.outputs, [{ name: "logits", dims: [1, ...facts.output.slice(1)] }]);
    assert.equal(fractions.at(-1), 1);
  });

  it("reports progress and stops between steps when cancelled", async () => {
    const cts = new vscode.CancellationTokenSource();
    const seen: Progress[] = [];
    const run = api.engine.run(
      "count",
      { steps: 50, stepMs: 20 },
      {
        token: cts.token,
        onProgress: (p) => {
          seen.push(p);
          if (seen.length === 3) cts.cancel();
        },
      },
    );
    await assert.rejects(run, (e) => isCancelled(e));
    assert.ok(seen.length >= 3 && seen.length < 50, `stopped early after ${seen.length} steps`);
    assert.ok(seen.every((p, i) => i === 0 || p.fraction! > seen[i - 1]!.fraction!), "fractions increase");
  });

  it("terminates a worker stuck in an uninterruptible step, and recovers", async () => {
    const cts = new vscode.CancellationTokenSource();
    const start = Date.now();
    const run = api.engine.run("count", { steps: 1, stepMs: 0, blockMs: 20_000 }, { token: cts.token, dedicated: true, graceMs: 300 });
    setTimeout(() => cts.cancel(), 200);
    await assert.rejects(run, (e) => isCancelled(e));
    assert.ok(Date.now() - start < 5_000, `cancelled in ${Date.now() - start} ms, not after the 20 s step`);
    // The shared worker is unaffected; a new job runs normally.
    const s = await api.engine.run("inspect", { file: fixture("tiny_cnn.onnx") });
    assert.ok(s.nodes > 0);
  });

  it("terminates the shared worker when a cancelled job does not stop, then restarts it", async () => {
    const cts = new vscode.CancellationTokenSource();
    const run = api.engine.run("count", { steps: 1, stepMs: 0, blockMs: 20_000 }, { token: cts.token, graceMs: 300 });
    setTimeout(() => cts.cancel(), 200);
    await assert.rejects(run, (e) => isCancelled(e));
    const s = await api.engine.run("inspect", { file: fixture("tiny_cnn.onnx") });
    assert.ok(s.params > 0);
  });
});
