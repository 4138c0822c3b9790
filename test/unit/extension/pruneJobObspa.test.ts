/**
 * The extension worker's prune job with OBSPA: the wizard's Hessian source and calibration folder reach the
 * engine, the result equals the logged CLI equivalent byte for byte, and Apply Plan uses the plan's record;
 * likewise the wizard's variance-correction choice (auto/on/off).
 */
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { main } from "../../../analyzers/cli.ts";
import { imageBatch } from "../../../analyzers/data/evaluate.ts";
import { FASHION_MNIST_DIR, readMnistSplit } from "../../../analyzers/data/idx.ts";
import type { Plan } from "../../../analyzers/pruning/types.ts";
import { cliEquivalent, outputPaths, type PruneOptions, type VarianceCorrection } from "../../../extension/prune/options.ts";
import type { JobContext } from "../../../extension/worker/context.ts";
import type { Progress } from "../../../extension/worker/protocol.ts";
import { runPrune } from "../../../extension/worker/pruneJob.ts";

function context(progress: Progress[]): JobContext {
  const ac = new AbortController();
  return { progress: (p) => progress.push(p), log: () => {}, cancelled: false, throwIfCancelled: () => {}, signal: ac.signal };
}

describe("worker prune job with OBSPA", function () {
  this.timeout(300_000);
  let dir: string, model: string;
  before(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "scalpel-obspa-worker-"));
    model = path.join(dir, "fashion.onnx");
    fs.copyFileSync("test/fixtures/demo/fashion_cnn.onnx", model);
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  const base: Omit<PruneOptions, "hessian" | "calibrationFolder"> = { criterion: "obspa", ratio: 0.3, target: "channels", scope: "local", roundTo: 1, protect: [] };

  it("the wizard's Hessian source reaches the engine; the CLI equivalent writes the same bytes", async () => {
    const calib = path.join(dir, "calib");
    fs.mkdirSync(calib);
    const meta = JSON.parse(fs.readFileSync("test/fixtures/demo/fashion_cnn.json", "utf8")) as { input: { mean: number; std: number } };
    const train = readMnistSplit(FASHION_MNIST_DIR, "train");
    const x = imageBatch(train, 0, 8, { divisor: 255, mean: meta.input.mean, std: meta.input.std });
    const header = "{'descr': '<f4', 'fortran_order': False, 'shape': (8, 1, 28, 28), }".padEnd(117) + "\n";
    fs.writeFileSync(path.join(calib, "x.npy"), Buffer.concat([Buffer.from([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0, header.length, 0]), Buffer.from(header), Buffer.from(x.buffer)]));

    for (const options of [{ ...base, hessian: "bn" }, { ...base, hessian: "calibration", calibrationFolder: calib }] as PruneOptions[]) {
      const progress: Progress[] = [];
      const outputs = { pruned: path.join(dir, `w-${options.hessian}.onnx`), plan: path.join(dir, `w-${options.hessian}.json`) };
      const report = await runPrune({ model, options, outputs, overwrite: false }, context(progress));
      assert.equal(report.obspa?.hessian.source, options.hessian);
      const plan = JSON.parse(fs.readFileSync(outputs.plan, "utf8")) as Plan;
      assert.equal(plan.hessian?.source, options.hessian);
      if (options.hessian === "calibration") assert.equal(plan.hessian?.calib, calib);
      assert.ok(progress.some((p) => /Scoring and selecting channels: OBSPA scores/.test(p.message ?? "")), JSON.stringify(progress));

      // The command line the extension logs does the same.
      const argv = cliEquivalent(model, options).split(" ").slice(1);
      assert.ok(!argv.some((a) => a.startsWith("'")), "no quoting in this test's paths");
      const r = await main([...argv, "--no-latency"], { out: () => {}, err: (t) => assert.fail(t) });
      assert.equal(r, 0);
      assert.ok(fs.readFileSync(outputPaths(model).pruned).equals(fs.readFileSync(outputs.pruned)), `${options.hessian}: CLI and worker agree`);
      fs.rmSync(outputPaths(model).pruned);
      fs.rmSync(outputPaths(model).plan);

      // Apply Plan: settings naming another source do not override the plan's record.
      const again = { pruned: path.join(dir, `again-${options.hessian}.onnx`), plan: "" };
      await runPrune({ model, options: { ...base, hessian: "identity" }, outputs: again, overwrite: false, planFile: outputs.plan }, context([]));
      assert.ok(fs.readFileSync(again.pruned).equals(fs.readFileSync(outputs.pruned)), `${options.hessian}: the plan reapplies to the same bytes`);
    }
  });

  it("the variance-correction choice reaches the engine (auto: the engine's default); the CLI equivalent writes the same bytes", async () => {
    const bytes = new Map<string, Buffer>();
    const cases: [PruneOptions["hessian"], VarianceCorrection][] = [["bn", "on"], ["bn", "off"], ["bn", "auto"], ["identity", "on"]];
    for (const [hessian, vc] of cases) {
      const name = `vc-${hessian}-${vc}`;
      const options: PruneOptions = { ...base, hessian, varianceCorrection: vc };
      const outputs = { pruned: path.join(dir, `${name}.onnx`), plan: path.join(dir, `${name}.json`) };
      const report = await runPrune({ model, options, outputs, overwrite: false }, context([]));
      const plan = JSON.parse(fs.readFileSync(outputs.plan, "utf8")) as Plan;
      if (hessian === "bn" && vc !== "auto") {
        assert.equal(plan.compensation?.variance, vc === "on", `${name}: the plan records the choice`);
        assert.equal(report.obspa?.varianceCorrection, vc === "on", `${name}: BatchNorms rescaled (this model's statistics are trained) or not`);
      }
      bytes.set(name, fs.readFileSync(outputs.pruned));

      const line = cliEquivalent(model, options);
      const argv = line.split(" ").slice(1);
      // "auto" and the identity source (not asked) leave the choice to the engine: no flag at all.
      assert.equal(/variance-correction/.test(line), hessian === "bn" && vc !== "auto", line);
      const r = await main([...argv, "--no-latency"], { out: () => {}, err: (t) => assert.fail(t) });
      assert.equal(r, 0);
      assert.ok(fs.readFileSync(outputPaths(model).pruned).equals(bytes.get(name)!), `${name}: CLI and worker agree`);
      const cliPlan = JSON.parse(fs.readFileSync(outputPaths(model).plan, "utf8")) as Plan;
      assert.deepEqual(cliPlan.compensation, plan.compensation, name);
      fs.rmSync(outputPaths(model).pruned);
      fs.rmSync(outputPaths(model).plan);
    }
    // The choice matters on this model, and "auto" is one of the two (whichever the engine picks for BN moments).
    assert.ok(!bytes.get("vc-bn-on")!.equals(bytes.get("vc-bn-off")!), "on and off give other weights");
    assert.ok(bytes.get("vc-bn-auto")!.equals(bytes.get("vc-bn-on")!) || bytes.get("vc-bn-auto")!.equals(bytes.get("vc-bn-off")!));
  });

  it("the CLI refuses --variance-correction together with --no-variance-correction, and both outside OBSPA", async () => {
    const errors: string[] = [];
    const io = { out: () => {}, err: (t: string) => errors.push(t) };
    const out = path.join(dir, "never.onnx");
    assert.equal(await main(["prune", model, "--criterion", "obspa", "--hessian", "bn", "--ratio", "0.3", "--out", out, "--variance-correction", "--no-variance-correction"], io), 2);
    assert.match(errors.join("\n"), /contradict/);
    assert.equal(await main(["prune", model, "--criterion", "l1", "--ratio", "0.3", "--out", out, "--variance-correction"], io), 2);
    assert.match(errors.join("\n"), /--variance-correction applies to --criterion obspa/);
    assert.ok(!fs.existsSync(out), "nothing written");
  });
});
