#!/usr/bin/env node
// Builds the generated test fixtures into the shared cache (`npm run fixtures`).
//
//   node scripts/fixtures.mjs [--subset quick] [--only resnet18,vit_b_16] [--step NAME] [--no-install] [--budget SECONDS]
//   node scripts/fixtures.mjs --report     (what the torchvision manifest holds: counts, failures, size, slowest)
//
// 1. Checks the Debian packages the generators need; installs the missing ones when running as root.
// 2. Runs each registered step. A step is a script writing into the cache; it runs when one of its
//    outputs is missing, or always when it is `incremental` (it skips its own cached work in seconds).
// 3. Prints a summary per step: exported, failed, skipped, size, time.
// Environment: SCALPEL_CACHE (cache root, default ~/.cache/onnx-scalpel),
//              SCALPEL_FIXTURES (default subset for the torchvision step, e.g. "quick").
import { spawnSync, spawn } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const cache = process.env.SCALPEL_CACHE || path.join(os.homedir(), ".cache", "onnx-scalpel");
const PYTHON = "/usr/bin/python3"; // Debian's python: the only one that sees python3-torch
const APT_PACKAGES = [
  "python3-torch", "python3-torchvision", "python3-onnx", "python3-numpy", "libonnx-testdata", "dataset-fashion-mnist",
  // torch links libblas.so.3; Debian's default is the reference BLAS, ~40x slower on Linear layers
  "libopenblas0-openmp",
];

/**
 * The generators. Add a step here to plug in a new one:
 *   name:        short id (also accepted by --step)
 *   script:      path from the repo root; .py runs with Debian's python, .mjs/.js with node, .ts with tsx
 *   args(opts):  extra arguments from the command line options
 *   outputs:     paths relative to the cache root that the step produces
 *   incremental: true when the script itself skips cached work (then it always runs)
 * A script may print a last line `RESULT {"exported":n,"failed":n,"skipped":n,"bytes":n}` for the summary.
 */
const STEPS = [
  {
    name: "torchvision",
    script: "test/fixtures/export_torchvision.py",
    args: (o) => [
      ...(o.only ? ["--only", o.only] : []),
      ...(o.subset ? ["--subset", o.subset] : []),
      ...(o.budget ? ["--budget-seconds", String(o.budget)] : []),
    ],
    outputs: ["torchvision/manifest.json"],
    incremental: true,
  },
  {
    // the arithmetic transformer for the ablation tests: train (cached), exports, PyTorch reference
    name: "arith",
    script: "test/fixtures/arith/build.py",
    outputs: ["arith/reference.json"],
    incremental: true,
  },
  {
    // The Fashion-MNIST residual CNN for OBSPA's accuracy tests (BN kept and folded exports).
    name: "fashion",
    script: "test/fixtures/fashion/train.py",
    outputs: ["fashion/fashion.json", "fashion/fashion_bn.onnx", "fashion/fashion_fold.onnx"],
  },
];

function parseArgs(argv) {
  // A first run on a new machine exports the models the tests name first, then as many others as fit in
  // the time budget (default 20 min); later runs continue from the cache. --budget 0 exports everything.
  const o = {
    subset: process.env.SCALPEL_FIXTURES || undefined,
    only: undefined,
    steps: undefined,
    install: true,
    budget: Number(process.env.SCALPEL_FIXTURE_BUDGET_S ?? 1200),
    report: false,
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const value = () => {
      const v = argv[++i];
      if (v === undefined) fail(`${a} needs a value`);
      return v;
    };
    if (a === "--subset") o.subset = value();
    else if (a === "--only") o.only = value();
    else if (a === "--step") o.steps = [...(o.steps ?? []), value()];
    else if (a === "--no-install") o.install = false;
    else if (a === "--budget") o.budget = Number(value());
    else if (a === "--report") o.report = true;
    else if (a === "--demo") o.steps = [...(o.steps ?? []), "demo"];
    else if (a === "-h" || a === "--help") {
      console.log(fs.readFileSync(fileURLToPath(import.meta.url), "utf8").split("\nimport")[0].replace(/^#!.*\n/, "").replace(/^\/\/ ?/gm, ""));
      process.exit(0);
    } else fail(`unknown option ${a}`);
  }
  if (o.subset === "full" || o.subset === "all") o.subset = undefined;
  return o;
}

function fail(message) {
  console.error(`fixtures: ${message}`);
  process.exit(2);
}

function missingPackages() {
  return APT_PACKAGES.filter((p) => {
    const r = spawnSync("dpkg-query", ["-W", "-f=${Status}", p], { encoding: "utf8" });
    return r.status !== 0 || !r.stdout.includes("install ok installed");
  });
}

function ensurePackages(install) {
  const missing = missingPackages();
  if (missing.length === 0) return;
  const cmd = `apt-get install -y --no-install-recommends ${missing.join(" ")}`;
  if (!install || process.getuid?.() !== 0) fail(`missing Debian packages: ${missing.join(", ")}. Install them with: sudo ${cmd}`);
  console.log(`fixtures: installing ${missing.join(" ")}`);
  const env = { ...process.env, DEBIAN_FRONTEND: "noninteractive" };
  const run = (c) => spawnSync("sh", ["-c", c], { stdio: "inherit", env }).status === 0;
  if (!run(cmd) && !(run("apt-get update") && run(cmd))) fail(`could not install: ${missing.join(" ")}`);
  const still = missingPackages();
  if (still.length) fail(`still missing after apt-get: ${still.join(", ")}`);
}

function commandFor(script) {
  if (script.endsWith(".py")) return [PYTHON, [script]];
  if (script.endsWith(".ts")) return [process.execPath, ["--import", "tsx", script]];
  return [process.execPath, [script]];
}

/** Runs one step, echoing its output, and resolves with the parsed RESULT line (if any). */
function runStep(step, opts) {
  const [cmd, args] = commandFor(step.script);
  return new Promise((resolve) => {
    const child = spawn(cmd, [...args, ...(step.args?.(opts) ?? [])], {
      cwd: repo,
      env: { ...process.env, SCALPEL_CACHE: cache },
      stdio: ["ignore", "pipe", "inherit"],
    });
    let result;
    let pending = "";
    child.stdout.on("data", (chunk) => {
      pending += chunk;
      const lines = pending.split("\n");
      pending = lines.pop();
      for (const line of lines) {
        if (line.startsWith("RESULT ")) {
          try {
            result = JSON.parse(line.slice(7));
          } catch {
            console.log(line);
          }
        } else console.log(`  ${line}`);
      }
    });
    child.on("close", (code, signal) => resolve({ code: code ?? (signal ? 128 : 1), signal, result }));
  });
}

/** Prints what the torchvision manifest holds. */
function report() {
  const file = path.join(cache, "torchvision", "manifest.json");
  if (!fs.existsSync(file)) fail(`no manifest at ${file}; run npm run fixtures`);
  const exports = JSON.parse(fs.readFileSync(file, "utf8")).exports;
  const ok = exports.filter((e) => !e.error);
  const gb = (es) => (es.reduce((s, e) => s + e.bytes + e.external_bytes, 0) / 1e9).toFixed(2);
  const sum = (es, k) => es.reduce((s, e) => s + (e[k] ?? 0), 0);
  console.log(`${file}: ${exports.length} entries`);
  for (const v of [...new Set(exports.map((e) => e.variant))].sort()) {
    const es = exports.filter((e) => e.variant === v);
    const good = es.filter((e) => !e.error);
    console.log(
      `  ${v.padEnd(10)} ${good.length} ok, ${es.length - good.length} failed, ${gb(good)} GB, ` +
        `${(sum(good, "total_seconds") / 60).toFixed(1)} min wall, ${(sum(good, "cpu_seconds") / 60).toFixed(1)} min CPU`,
    );
  }
  console.log(`  total      ${ok.length} ok, ${exports.length - ok.length} failed, ${gb(ok)} GB, ` +
    `${(sum(ok, "total_seconds") / 60).toFixed(1)} min wall, ${(sum(ok, "cpu_seconds") / 60).toFixed(1)} min CPU`);
  for (const e of exports.filter((e) => e.error)) console.log(`  FAILED ${e.name}: ${e.error.split("\n")[0].slice(0, 300)}`);
  // CPU seconds rank the exports whatever else the machine was doing; wall time depends on the load.
  console.log("  slowest by CPU time (wall s / CPU s / MB):");
  for (const e of [...ok].sort((a, b) => (b.cpu_seconds ?? b.total_seconds) - (a.cpu_seconds ?? a.total_seconds)).slice(0, 10))
    console.log(`    ${e.name.padEnd(28)} ${e.total_seconds.toFixed(0).padStart(6)} ${e.cpu_seconds.toFixed(0).padStart(6)} ${((e.bytes + e.external_bytes) / 1e6).toFixed(0).padStart(7)}`);
}

async function main() {
  const opts = parseArgs(process.argv.slice(2));
  if (opts.report) return report();
  const known = new Set(STEPS.map((s) => s.name));
  for (const s of opts.steps ?? []) if (!known.has(s)) fail(`no fixture step named "${s}" (registered: ${[...known].join(", ")})`);
  const steps = STEPS.filter((s) => !opts.steps || opts.steps.includes(s.name));
  if (opts.install) ensurePackages(true);
  else {
    const missing = missingPackages();
    if (missing.length) fail(`missing Debian packages: ${missing.join(", ")}`);
  }
  fs.mkdirSync(cache, { recursive: true });

  const rows = [];
  let failedSteps = 0;
  const start = Date.now();
  for (const step of steps) {
    const missing = step.outputs.filter((o) => !fs.existsSync(path.join(cache, o)));
    if (!step.incremental && missing.length === 0) {
      rows.push({ name: step.name, status: "cached" });
      continue;
    }
    console.log(`fixtures: ${step.name} (${step.script})`);
    const t0 = Date.now();
    const { code, signal, result } = await runStep(step, opts);
    const seconds = (Date.now() - t0) / 1000;
    const ok = code === 0 && step.outputs.every((o) => fs.existsSync(path.join(cache, o)));
    if (!ok) failedSteps++;
    rows.push({ name: step.name, status: ok ? "ok" : `FAILED (${signal ?? `exit ${code}`})`, seconds, ...result });
  }

  console.log(`\nfixtures in ${cache}:`);
  for (const r of rows) {
    const parts = [r.status];
    if (r.exported !== undefined) parts.push(`${r.exported} exported`, `${r.failed} failed`, `${r.skipped} skipped (cached)`);
    if (r.deferred) parts.push(`${r.deferred} deferred to the next run (time budget)`);
    if (r.failed_total) parts.push(`${r.failed_total} failed in manifest`);
    if (r.bytes !== undefined) parts.push(`${(r.bytes / 1e9).toFixed(2)} GB`);
    if (r.seconds !== undefined) parts.push(`${r.seconds.toFixed(1)} s`);
    console.log(`  ${r.name.padEnd(14)} ${parts.join(", ")}`);
  }
  console.log(`  total time ${((Date.now() - start) / 1000).toFixed(1)} s`);
  // A model that fails to export is data (recorded in the manifest); a step that crashes is not.
  if (failedSteps) process.exit(1);
}

await main();
