#!/usr/bin/env node
// `npm run demo`: the main job on the bundled example model (a small residual CNN trained on
// Fashion-MNIST, test/fixtures/demo/fashion_cnn.onnx): inspect it, show its dependency groups, prune 30% of
// its channels with OBSPA (report: params, MACs, latency, verification), with L1 and at random, and compare
// the accuracy of all four on 1,000 bundled test images. Writes only to a temp folder.
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const model = path.join(root, "test/fixtures/demo/fashion_cnn.onnx");
const out = fs.mkdtempSync(path.join(os.tmpdir(), "scalpel-demo-"));
const show = (args) => args.map((a) => (a.startsWith(os.tmpdir()) || a.startsWith(root) ? path.relative(process.cwd(), a) || a : a)).join(" ");
const scalpel = (...args) => {
  console.log(`\n$ scalpel ${show(args)}`);
  const r = spawnSync(process.execPath, [path.join(root, "bin/scalpel.js"), ...args], { stdio: "inherit", cwd: root });
  if (r.status !== 0) process.exit(r.status ?? 1);
};
/** The same, with the report hidden (the comparison below says what matters). */
const quietly = (...args) => {
  console.log(`\n$ scalpel ${show(args)}   (report not shown)`);
  const r = spawnSync(process.execPath, [path.join(root, "bin/scalpel.js"), ...args], { stdio: ["ignore", "ignore", "inherit"], cwd: root });
  if (r.status !== 0) process.exit(r.status ?? 1);
};
const pruned = (name) => path.join(out, `fashion_cnn.${name}.onnx`);

scalpel("inspect", model, "--depth", "1", "--top", "5");
scalpel("groups", model);
// 30% of every group's channels (kept widths rounded to multiples of 8, which onnxruntime runs fastest), three ways: OBSPA (second-order scores and weight compensation from
// synthetic inputs: no data, no fine-tuning), L1 magnitude, and random; then accuracy on real test images.
scalpel("prune", model, "--ratio", "0.3", "--round-to", "8", "--criterion", "obspa", "--hessian", "synthetic", "--out", pruned("obspa"), "--save-plan", path.join(out, "fashion_cnn.prune.json"));
quietly("prune", model, "--ratio", "0.3", "--round-to", "8", "--criterion", "l1", "--out", pruned("l1"));
quietly("prune", model, "--ratio", "0.3", "--round-to", "8", "--criterion", "random", "--out", pruned("random"));
// 1,000 Fashion-MNIST test images bundled beside the model; the preprocessing the model was trained with.
scalpel("accuracy", model, pruned("obspa"), pruned("l1"), pruned("random"), "--images", path.dirname(model), "--mean", "0.286", "--std", "0.353");
console.log(`\nwrote ${out}: the pruned models and the OBSPA plan fashion_cnn.prune.json`);
