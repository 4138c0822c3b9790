/**
 * `npm run bench:ablate [-- --n 1000 --threads 1 --repeats 3]`
 *
 * The full AF1 sweep (statistics pass, every L_wait with CAMA, then every L_transfer for the chosen L_wait) on
 * the trained arithmetic transformer, on the same prompts, by our TypeScript/onnxruntime engine and by the
 * PyTorch eager reference (test/fixtures/arith/reference.py, hooks), in the same run, with the same thread
 * count. Prints both times and the ratio TS ÷ PyTorch (goal ≤ 1.0), plus the agreement of the results.
 * Times exclude loading the weights; the TS time includes tokenization and the onnxruntime session creation.
 */
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { parseArgs } from "node:util";
import { loadModel } from "../analyzers/onnx/index.ts";
import { AblationRunner } from "../analyzers/ablation/runner.ts";
import { AblationStudy } from "../analyzers/ablation/engine.ts";
import { af1Search, type Af1Result } from "../analyzers/ablation/af1.ts";
import { loadTokenizer } from "../analyzers/ablation/tokenizer.ts";
import { generatePrompts, taskSpec, tokenizePrompts } from "../analyzers/ablation/tasks.ts";
import { ARITH_SCRIPTS, arithDir, arithFile } from "../test/fixtures/arith/fixtures.ts";

const { values: v } = parseArgs({
  options: { n: { type: "string", default: "1000" }, threads: { type: "string", default: "1" }, repeats: { type: "string", default: "3" }, tau: { type: "string", default: "0.9" } },
});
const n = Number(v.n), threads = Number(v.threads), repeats = Number(v.repeats), tau = Number(v.tau);

arithDir();
const items = generatePrompts(taskSpec("add"), { n, seed: 0 });
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "scalpel-bench-"));
const promptsFile = path.join(tmp, "prompts.json");
fs.writeFileSync(promptsFile, JSON.stringify({ prompts: items.map((p) => ({ text: p.text, answer: p.answer })), sink: "bos", tau }));

async function runTs(): Promise<{ seconds: number; session: number; result: Af1Result }> {
  const model = loadModel(arithFile("arith-opset14.onnx"));
  const t0 = performance.now();
  const set = tokenizePrompts(items, loadTokenizer(arithFile("vocab.json")), "bos");
  const runner = await AblationRunner.create(model, { threads, optimization: "all" });
  const session = (performance.now() - t0) / 1000;
  const study = await AblationStudy.prepare(runner, set, { batchSize: 1024 });
  const result = await af1Search(study, tau);
  const seconds = (performance.now() - t0) / 1000;
  await runner.release();
  return { seconds, session, result };
}

interface PyResult {
  seconds: number;
  lWait: number;
  lTransfer: number | null;
  baselineAccuracy: number;
  results: { label: string; accuracy: number; faithfulness: number }[];
}
function runPy(): PyResult {
  const out = path.join(tmp, "py.json");
  const r = spawnSync("/usr/bin/python3", [path.join(ARITH_SCRIPTS, "reference.py"), "--bench", promptsFile, "--out", out, "--threads", String(threads)], { stdio: "inherit" });
  if (r.status !== 0) throw new Error("PyTorch reference failed");
  return JSON.parse(fs.readFileSync(out, "utf8")) as PyResult;
}

const ts: number[] = [], tsSession: number[] = [], py: number[] = [];
let last: { ts: Af1Result; py: PyResult } | undefined;
for (let i = 0; i < repeats; i++) {
  // alternate the order so that neither side always runs on a warmer machine
  const a = i % 2 === 0 ? await runTs() : undefined;
  const p = runPy();
  const b = a ?? (await runTs());
  ts.push(b.seconds);
  tsSession.push(b.session);
  py.push(p.seconds);
  last = { ts: b.result, py: p };
}
const median = (x: number[]) => [...x].sort((a, b) => a - b)[Math.floor(x.length / 2)]!;
const r = last!;
const configs = r.ts.results.length;
let worst = 0;
r.ts.results.forEach((t, i) => {
  const p = r.py.results[i];
  if (p && p.label === t.label) worst = Math.max(worst, Math.abs(t.accuracy - p.accuracy) * 100);
  else worst = Infinity;
});
console.log(`AF1 sweep on ${n} prompts (task add, sink BOS, τ=${tau}), ${configs} configurations + statistics pass, ${threads} thread(s), median of ${repeats}`);
console.log(`  TypeScript/onnxruntime: ${median(ts).toFixed(2)} s   (runs: ${ts.map((x) => x.toFixed(2)).join(", ")}; of which surgery + session creation ${median(tsSession).toFixed(2)} s)`);
console.log(`  PyTorch eager (hooks):  ${median(py).toFixed(2)} s   (runs: ${py.map((x) => x.toFixed(2)).join(", ")})`);
console.log(`  ratio TS ÷ PyTorch:     ${(median(ts) / median(py)).toFixed(3)}   (goal ≤ 1.0)`);
console.log(`  agreement: L_wait ${r.ts.lWait} vs ${r.py.lWait}, L_transfer ${r.ts.lTransfer} vs ${r.py.lTransfer}, baseline ${(100 * r.ts.baselineAccuracy).toFixed(1)}% vs ${(100 * r.py.baselineAccuracy).toFixed(1)}%, max accuracy difference ${worst.toFixed(2)} points`);
fs.rmSync(tmp, { recursive: true, force: true });
