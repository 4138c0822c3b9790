/**
 * bench:io — loading and saving a large model, measured side by side with the baselines in one run:
 *   parse time ÷ reading the file's bytes        goal ≤ 1.2
 *   peak RSS of a parse ÷ file size              goal ≤ 2
 *   parse time ÷ python3-onnx onnx.load          goal ≤ 0.5
 *   save of the untouched model ÷ raw write      goal ≤ 3
 * Usage: npm run bench:io [-- MODEL] (default: the ViT-B/16 export from the fixture cache).
 */
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { loadModel } from "../analyzers/onnx/model.ts";
import { saveModel } from "../analyzers/onnx/save.ts";
import { median, printTable, ratioRow } from "./util.ts";
import { requireTorchvisionModel } from "../test/fixtures/paths.ts";

const here = fileURLToPath(import.meta.url);
const REPEATS = Number(process.env.BENCH_REPEATS ?? 5);

/**
 * Peak resident memory of this process. /proc's VmHWM belongs to the process image, unlike getrusage's
 * maxrss, which on Linux keeps the parent's value across fork+exec.
 */
function peakRss(): number {
  try {
    const m = /VmHWM:\s+(\d+) kB/.exec(fs.readFileSync("/proc/self/status", "utf8"));
    if (m) return Number(m[1]) * 1024;
  } catch {
    // not Linux
  }
  return process.resourceUsage().maxRSS * 1024;
}

if (process.argv[2] === "--child-baseline") {
  process.stdout.write(JSON.stringify({ maxRssBytes: peakRss() }));
  process.exit(0);
}

if (process.argv[2] === "--child-parse") {
  // A fresh process, so its peak RSS is the parse's alone.
  const t = performance.now();
  const m = loadModel(process.argv[3]!);
  const ms = performance.now() - t;
  process.stdout.write(JSON.stringify({ ms, maxRssBytes: peakRss(), nodes: m.proto.graph!.node.length }));
  process.exit(0);
}

const file = path.resolve(process.argv[2] ?? requireTorchvisionModel("vit_b_16"));
const size = fs.statSync(file).size;
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "bench-io-"));
console.log(`bench:io on ${file} (${(size / 1e6).toFixed(1)} MB), ${REPEATS} repeats, medians`);

const readMs: number[] = [], parseMs: number[] = [], saveMs: number[] = [], writeMs: number[] = [], lazySaveMs: number[] = [];
for (let r = 0; r < REPEATS; r++) {
  let t = performance.now();
  const bytes = fs.readFileSync(file);
  readMs.push(performance.now() - t);

  t = performance.now();
  const model = loadModel(file);
  parseMs.push(performance.now() - t);

  const raw = path.join(tmp, `raw-${r}.bin`);
  t = performance.now();
  fs.writeFileSync(raw, bytes);
  writeMs.push(performance.now() - t);

  // Like the raw write, the saved model's bytes are in memory: an eagerly loaded model.
  const eager = loadModel(file, { eager: true });
  const out = path.join(tmp, `saved-${r}.onnx`);
  t = performance.now();
  saveModel(eager, out);
  saveMs.push(performance.now() - t);
  if (r === 0 && Buffer.compare(fs.readFileSync(out), bytes) !== 0) throw new Error("saved model is not byte-identical");
  fs.rmSync(out);

  // A lazily loaded model's save also reads its weights from disk (shown for information).
  t = performance.now();
  saveModel(model, out);
  lazySaveMs.push(performance.now() - t);
  fs.rmSync(raw);
  fs.rmSync(out);
}

// Peak memory of a parse in a fresh process.
const child = JSON.parse(execFileSync(process.execPath, ["--import", "tsx", here, "--child-parse", file], { maxBuffer: 1 << 20 }).toString()) as { ms: number; maxRssBytes: number };
const baseline = JSON.parse(execFileSync(process.execPath, ["--import", "tsx", here, "--child-baseline"]).toString()) as { maxRssBytes: number };

// python3-onnx onnx.load, timed inside Python (interpreter start-up excluded).
const py = `
import time, sys, onnx, statistics
ts = []
for _ in range(${REPEATS}):
    t = time.perf_counter(); m = onnx.load(sys.argv[1]); ts.append((time.perf_counter() - t) * 1000); del m
print(statistics.median(ts))
`;
let pyMs: number | undefined;
try {
  pyMs = Number(execFileSync("/usr/bin/python3", ["-c", py, file]).toString().trim());
} catch (e) {
  console.log(`python3-onnx not available (${(e as Error).message.split("\n")[0]})`);
}
fs.rmSync(tmp, { recursive: true, force: true });

const parse = median(parseMs), read = median(readMs), save = median(saveMs), write = median(writeMs);
printTable([
  ["measure", "ours", "baseline", "ratio", "goal", ""],
  ratioRow("parse ÷ read bytes", parse, read, 1.2),
  ["peak RSS ÷ file size", `${(child.maxRssBytes / 1e6).toFixed(0)} MB`, `${(size / 1e6).toFixed(0)} MB`, (child.maxRssBytes / size).toFixed(2), "≤ 2", child.maxRssBytes / size <= 2 ? "ok" : "MISS"],
  ...(pyMs !== undefined ? [ratioRow("parse ÷ python onnx.load", parse, pyMs, 0.5)] : []),
  ratioRow("save untouched ÷ raw write", save, write, 3),
  ["  (lazily loaded: read + save ÷ raw write)", `${median(lazySaveMs).toFixed(0)} ms`, `${write.toFixed(0)} ms`, (median(lazySaveMs) / write).toFixed(2), "", ""],
]);
console.log(`(node's own baseline RSS: ${(baseline.maxRssBytes / 1e6).toFixed(0)} MB, included in the peak above)`);
