#!/usr/bin/env node
// `npm run demo`: the main job on the bundled example model (a small residual CNN trained on
// Fashion-MNIST, test/fixtures/demo/fashion_cnn.onnx): inspect it, show its dependency groups, prune
// half of its channels, verify the result in onnxruntime and print the report. Writes only to a temp folder.
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const model = path.join(root, "test/fixtures/demo/fashion_cnn.onnx");
const out = fs.mkdtempSync(path.join(os.tmpdir(), "scalpel-demo-"));
const scalpel = (...args) => {
  console.log(`\n$ scalpel ${args.map((a) => (a.startsWith(os.tmpdir()) || a.startsWith(root) ? path.relative(process.cwd(), a) || a : a)).join(" ")}`);
  const r = spawnSync(process.execPath, [path.join(root, "bin/scalpel.js"), ...args], { stdio: "inherit", cwd: root });
  if (r.status !== 0) process.exit(r.status ?? 1);
};

scalpel("inspect", model, "--depth", "1", "--top", "5");
scalpel("groups", model);
scalpel("prune", model, "--ratio", "0.5", "--criterion", "l1", "--out", path.join(out, "fashion_cnn.pruned.onnx"), "--save-plan", path.join(out, "fashion_cnn.prune.json"));
console.log(`\nwrote ${out}/fashion_cnn.pruned.onnx and its plan fashion_cnn.prune.json`);
