/**
 * OBSPA through the prune job the CLI and the extension run (`scalpel prune --criterion obspa --hessian …`):
 * the written model carries the compensation, the plan records the Hessian source, samples and seed, and
 * `--plan` reproduces the same bytes. On the bundled Fashion-MNIST classifier, judged on real test images.
 */
import assert from "node:assert/strict";
import { relativeError } from "../../helpers/relativeError.ts";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { encode as encodePng } from "fast-png";
import { main } from "../../../analyzers/cli.ts";
import { imageBatch } from "../../../analyzers/data/evaluate.ts";
import { FASHION_MNIST_DIR, readMnistSplit } from "../../../analyzers/data/idx.ts";
import { analyzeModel } from "../../../analyzers/analysis.ts";
import { loadModel } from "../../../analyzers/onnx/index.ts";
import type { Model } from "../../../analyzers/onnx/model.ts";
import { applyPlan } from "../../../analyzers/pruning/apply/index.ts";
import { findGroups } from "../../../analyzers/pruning/groups/index.ts";
import { runPruneJob } from "../../../analyzers/pruning/job.ts";
import type { Plan } from "../../../analyzers/pruning/types.ts";
import { createSession, ort } from "../../../analyzers/runtime/ort.ts";

const MODEL = path.resolve("test/fixtures/demo/fashion_cnn.onnx");
const META = JSON.parse(fs.readFileSync("test/fixtures/demo/fashion_cnn.json", "utf8")) as { input: { mean: number; std: number } };

async function cli(...argv: string[]) {
  const out: string[] = [], err: string[] = [];
  const code = await main(argv, { out: (t) => out.push(t), err: (t) => err.push(t) });
  return { code, out: out.join("\n"), err: err.join("\n") };
}

/** A float32 .npy file (format 1.0) of the given shape. */
function npy(data: Float32Array, shape: number[]): Uint8Array {
  let header = `{'descr': '<f4', 'fortran_order': False, 'shape': (${shape.join(", ")}${shape.length === 1 ? "," : ""}), }`;
  header = header.padEnd(Math.ceil((10 + header.length + 1) / 64) * 64 - 10 - 1) + "\n";
  const out = new Uint8Array(10 + header.length + data.byteLength);
  out.set([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0, header.length & 255, header.length >> 8]);
  out.set(new TextEncoder().encode(header), 10);
  out.set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength), 10 + header.length);
  return out;
}

describe("OBSPA in the prune job and the CLI", function () {
  this.timeout(600_000);
  const test = readMnistSplit(FASHION_MNIST_DIR, "test");
  const train = readMnistSplit(FASHION_MNIST_DIR, "train");
  const pre = { divisor: 255, mean: META.input.mean, std: META.input.std };
  const N = 500;
  const images = new ort.Tensor("float32", imageBatch(test, 0, N, pre), [N, 1, 28, 28]);
  let dir: string;
  let reference: Float32Array;

  async function logits(m: Model | string): Promise<Float32Array> {
    const s = await createSession(typeof m === "string" ? loadModel(m) : m);
    const out = await s.run({ input: images });
    await s.release();
    return out.logits!.data as Float32Array;
  }

  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "scalpel-obspa-cli-"));
    reference = await logits(MODEL);
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  it("--hessian synthetic: the written model is compensated, the plan records source, samples and seed, --plan gives the same bytes", async () => {
    const out = path.join(dir, "syn.onnx"), planFile = path.join(dir, "syn.json");
    const r = await cli("prune", MODEL, "--criterion", "obspa", "--hessian", "synthetic", "--samples", "32", "--seed", "7", "--ratio", "0.3", "--out", out, "--save-plan", planFile, "--no-latency");
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, /OBSPA: Hessian synthetic, 32 samples, seed 7; \d+ layers compensated/);
    const plan = JSON.parse(fs.readFileSync(planFile, "utf8")) as Plan;
    assert.equal(plan.criterion, "obspa");
    assert.deepEqual(plan.hessian, { source: "synthetic", damping: 0.01, seed: 7, samples: 32 });
    assert.equal(plan.compensation?.method, "obs");

    // The compensation is in the written model: closer to the original on real images than plain removal.
    const a = await analyzeModel(MODEL);
    const analysis = findGroups(a.graph, a.shapes);
    const plain = relativeError(await logits(applyPlan(a.model, analysis, plan)), reference);
    const written = relativeError(await logits(out), reference);
    assert.ok(written < 0.8 * plain, `written model's logit error ${written} vs plain removal ${plain}`);

    const again = path.join(dir, "syn-again.onnx");
    const r2 = await cli("prune", MODEL, "--plan", planFile, "--out", again, "--no-latency");
    assert.equal(r2.code, 0, r2.err);
    assert.match(r2.out, /OBSPA: Hessian synthetic, 32 samples, seed 7/);
    assert.ok(fs.readFileSync(again).equals(fs.readFileSync(out)), "the plan reproduces the same bytes");

    // Another seed is another Hessian: the same plan with other compensation differs (the seed matters).
    const other = { ...plan, hessian: { ...plan.hessian!, seed: 8 } };
    const otherFile = path.join(dir, "syn-seed8.json"), otherOut = path.join(dir, "syn-seed8.onnx");
    fs.writeFileSync(otherFile, JSON.stringify(other));
    assert.equal((await cli("prune", MODEL, "--plan", otherFile, "--out", otherOut, "--no-latency")).code, 0);
    assert.ok(!fs.readFileSync(otherOut).equals(fs.readFileSync(out)), "seed 8 gives other weights");
  });

  it("--hessian calibration --sequential from a folder of .npy files; the plan reapplies to the same bytes", async () => {
    const calib = path.join(dir, "calib");
    fs.mkdirSync(calib);
    // Training images (never the test set): one batch file and single-sample files without a batch axis.
    fs.writeFileSync(path.join(calib, "a_batch.npy"), npy(imageBatch(train, 0, 12, pre), [12, 1, 28, 28]));
    for (let i = 0; i < 6; i++) fs.writeFileSync(path.join(calib, `b_${i}.npy`), npy(imageBatch(train, 12 + i, 1, pre), [1, 28, 28]));
    const out = path.join(dir, "cal.onnx"), planFile = path.join(dir, "cal.json");
    const r = await cli("prune", MODEL, "--criterion", "obspa", "--hessian", "calibration", "--calib", calib, "--samples", "16", "--sequential", "--ratio", "0.3", "--out", out, "--save-plan", planFile, "--no-latency");
    assert.equal(r.code, 0, r.err);
    const plan = JSON.parse(fs.readFileSync(planFile, "utf8")) as Plan;
    assert.deepEqual(plan.hessian, { source: "calibration", damping: 0.01, seed: 1, samples: 16, sequential: true, calib });
    const a = await analyzeModel(MODEL);
    const plain = relativeError(await logits(applyPlan(a.model, findGroups(a.graph, a.shapes), plan)), reference);
    const written = relativeError(await logits(out), reference);
    assert.ok(written < 0.8 * plain, `written ${written} vs plain ${plain}`);
    const again = path.join(dir, "cal-again.onnx");
    const r2 = await cli("prune", MODEL, "--plan", planFile, "--out", again, "--no-latency");
    assert.equal(r2.code, 0, r2.err);
    assert.ok(fs.readFileSync(again).equals(fs.readFileSync(out)), "the plan reproduces the same bytes");
    // Without its folder the plan cannot be recomputed: the error names the folder.
    const moved = calib + "-moved";
    fs.renameSync(calib, moved);
    const r3 = await cli("prune", MODEL, "--plan", planFile, "--out", path.join(dir, "cal-3.onnx"), "--no-latency");
    assert.equal(r3.code, 2);
    assert.ok(r3.err.includes(calib) && /does not exist/.test(r3.err), r3.err);
    // --calib points the plan at the folder's new place: same bytes again.
    const r4 = await cli("prune", MODEL, "--plan", planFile, "--calib", moved, "--out", path.join(dir, "cal-4.onnx"), "--no-latency");
    assert.equal(r4.code, 0, r4.err);
    assert.ok(fs.readFileSync(path.join(dir, "cal-4.onnx")).equals(fs.readFileSync(out)));
  });

  it("calibration images with a declared preprocessing (--calib-mean/--calib-std)", async () => {
    const calib = path.join(dir, "png");
    fs.mkdirSync(calib);
    for (let i = 0; i < 8; i++) {
      const px = train.pixels.subarray((100 + i) * 784, (101 + i) * 784);
      fs.writeFileSync(path.join(calib, `img${i}.png`), encodePng({ width: 28, height: 28, data: Uint8Array.from(px), channels: 1, depth: 8 }));
    }
    const out = path.join(dir, "png.onnx");
    const r = await cli("prune", MODEL, "--criterion", "obspa", "--hessian", "calibration", "--calib", calib, "--calib-mean", String(META.input.mean), "--calib-std", String(META.input.std), "--ratio", "0.25", "--out", out, "--no-latency");
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, /OBSPA: Hessian calibration, 8 samples/);
    const noPre = await cli("prune", MODEL, "--criterion", "obspa", "--hessian", "calibration", "--calib", calib, "--ratio", "0.25", "--out", path.join(dir, "png2.onnx"));
    assert.equal(noPre.code, 2);
    assert.match(noPre.err, /img0\.png.*preprocessing/);
  });

  it("the job API (as the extension's worker calls it): bn and identity sources, progress, cancellation", async () => {
    for (const hessian of ["bn", "identity"] as const) {
      const out = path.join(dir, `${hessian}.onnx`), savePlan = path.join(dir, `${hessian}.json`);
      const stages: string[] = [];
      const rep = await runPruneJob(MODEL, { out, savePlan, criterion: "obspa", hessian, ratio: 0.3, latency: false, baseline: false, onProgress: (s, d) => stages.push(d ? `${s}: ${d}` : s) });
      assert.equal(rep.verify.ok, true);
      assert.equal(rep.plan.criterion, "obspa");
      assert.equal(rep.obspa?.hessian.source, hessian);
      assert.ok(stages.some((s) => /^selecting: OBSPA scores \d+\/\d+$/.test(s)), stages.join(" | "));
      const plan = JSON.parse(fs.readFileSync(savePlan, "utf8")) as Plan;
      assert.deepEqual(plan.hessian, { source: hessian, damping: 0.01 });
      const again = path.join(dir, `${hessian}-again.onnx`);
      await runPruneJob(MODEL, { out: again, planFile: savePlan, ratio: 0, latency: false });
      assert.ok(fs.readFileSync(again).equals(fs.readFileSync(out)), `${hessian}: same bytes from the plan`);
    }
    // Without the variance correction: recorded in the plan, other bytes, reproduced from the plan.
    const plainOut = path.join(dir, "bn-plain.onnx"), plainPlan = path.join(dir, "bn-plain.json");
    const r = await cli("prune", MODEL, "--criterion", "obspa", "--hessian", "bn", "--no-variance-correction", "--ratio", "0.3", "--out", plainOut, "--save-plan", plainPlan, "--no-latency");
    assert.equal(r.code, 0, r.err);
    assert.equal((JSON.parse(fs.readFileSync(plainPlan, "utf8")) as Plan).compensation?.variance, false);
    assert.equal((JSON.parse(fs.readFileSync(path.join(dir, "bn.json"), "utf8")) as Plan).compensation?.variance, "auto");
    assert.ok(!fs.readFileSync(plainOut).equals(fs.readFileSync(path.join(dir, "bn.onnx"))), "the correction changes the BatchNorms");
    await runPruneJob(MODEL, { out: path.join(dir, "bn-plain-again.onnx"), planFile: plainPlan, ratio: 0, latency: false });
    assert.ok(fs.readFileSync(path.join(dir, "bn-plain-again.onnx")).equals(fs.readFileSync(plainOut)));
    const ac = new AbortController();
    ac.abort(new Error("cancelled by the user"));
    await assert.rejects(runPruneJob(MODEL, { out: path.join(dir, "never.onnx"), criterion: "obspa", ratio: 0.3, signal: ac.signal }), /cancelled by the user/);
    assert.ok(!fs.existsSync(path.join(dir, "never.onnx")), "nothing written when cancelled");
  });

  it("bad input: a clear message naming the file, exit code 2, nothing written", async () => {
    const bad = path.join(dir, "bad");
    fs.mkdirSync(bad);
    fs.writeFileSync(path.join(bad, "x.npy"), "not numpy at all");
    const empty = path.join(dir, "empty");
    fs.mkdirSync(empty);
    const wrong = path.join(dir, "wrong");
    fs.mkdirSync(wrong);
    fs.writeFileSync(path.join(wrong, "w.npy"), npy(new Float32Array(10), [10]));
    const y = path.join(dir, "y.onnx");
    const o = ["--ratio", "0.3", "--out", y];
    const cases: [string[], RegExp][] = [
      [["--criterion", "obspa", "--hessian", "calibration", "--calib", path.join(dir, "none")], new RegExp(`${path.join(dir, "none")}: does not exist`)],
      [["--criterion", "obspa", "--hessian", "calibration", "--calib", bad], /bad\/x\.npy.*not a \.npy file/],
      [["--criterion", "obspa", "--hessian", "calibration", "--calib", empty], /empty.*holds no calibration samples/],
      [["--criterion", "obspa", "--hessian", "calibration", "--calib", wrong], /wrong\/w\.npy.*shape \[10\]/],
      [["--criterion", "obspa", "--hessian", "calibration"], /--calib DIR/],
      [["--criterion", "obspa", "--hessian", "magic"], /--hessian must be/],
      [["--criterion", "l1", "--hessian", "bn"], /--hessian applies to --criterion obspa/],
      [["--criterion", "obspa", "--hessian", "bn", "--samples", "0"], /--samples/],
      [["--criterion", "obspa", "--calib", bad], /--calib DIR applies to --hessian calibration/],
      [["--criterion", "obspa", "--hessian", "calibration", "--calib", bad, "--calib-mean", "0.5"], /go together/],
    ];
    const l1Plan = path.join(dir, "l1.json");
    assert.equal((await cli("prune", MODEL, "--ratio", "0.3", "--out", path.join(dir, "l1.onnx"), "--save-plan", l1Plan, "--no-latency")).code, 0);
    cases.push([["--plan", l1Plan, "--hessian", "bn"], /l1\.json: was not made by OBSPA/]);
    for (const [args, re] of cases) {
      const r = await cli("prune", MODEL, ...o, ...args);
      assert.equal(r.code, 2, `${args.join(" ")}: ${r.err}`);
      assert.match(r.err, re, args.join(" "));
      assert.ok(!fs.existsSync(y), `${args.join(" ")}: nothing written`);
    }
  });
});
