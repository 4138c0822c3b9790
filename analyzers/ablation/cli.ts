/**
 * CLI commands (registered by analyzers/cli.ts):
 *   scalpel ablate MODEL --task add|sub|… --method cama|abp|knockout|zero|mean|resample --layers … [--json]
 *   scalpel af1 MODEL --task … [--tau 0.9] [--json]
 * Each returns an exit code: 0 ok, 2 bad input or usage (a ScalpelError names the file), 130 cancelled (Ctrl-C).
 */
import fs from "node:fs";
import path from "node:path";
import { parseArgs, type ParseArgsConfig } from "node:util";
import { isScalpelError, ScalpelError } from "../onnx/errors.ts";
import type { GraphOptimizationLevel } from "../runtime/ort.ts";
import { AblationCancelled, LAYER_CONVENTION, type AblationConfig, type ConfigResult, type Progress, type ReplaceMethod } from "./engine.ts";
import { af1Search, knockoutHeatmap, type KnockoutHeatmap } from "./af1.ts";
import { openStudy, type OpenedStudy, type StudyRequest } from "./index.ts";
import { TASKS, type SinkChoice } from "./tasks.ts";

export interface CliIO {
  out: (s: string) => void;
  err: (s: string) => void;
}
const defaultIO: CliIO = { out: (s) => process.stdout.write(s + "\n"), err: (s) => process.stderr.write(s + "\n") };

const COMMON = {
  task: { type: "string", default: "add" },
  template: { type: "string" },
  "answer-prefix": { type: "string" },
  tokenizer: { type: "string" },
  "bos-token": { type: "string" },
  n: { type: "string", default: "1000" },
  min: { type: "string" },
  max: { type: "string" },
  seed: { type: "string" },
  sink: { type: "string" },
  threads: { type: "string" },
  optimization: { type: "string" },
  batch: { type: "string" },
  "pattern-prompt": { type: "string" },
  json: { type: "boolean", default: false },
  out: { type: "string" },
  quiet: { type: "boolean", default: false },
  help: { type: "boolean", short: "h", default: false },
} as const satisfies ParseArgsConfig["options"];

const ABLATE_HELP = `usage: scalpel ablate MODEL --method cama|abp|knockout|zero|mean|resample [--task ${Object.keys(TASKS).join("|")}]
       [--layers 0-4|1,3|all] [--tokenizer FILE] [--n 1000] [--sink bos|first|none] [--json] [--out FILE]
  cama|zero|mean|resample: one run per layer L in --layers (replace the residual stream there)
  abp: one run with the mask (--abp self|transfer, default self) in every block in --layers
  knockout: one run per window start in --layers: the last token cannot read other tokens in blocks [l, l+--window);
            --heatmap adds the layer × position map
  ${LAYER_CONVENTION}`;

const AF1_HELP = `usage: scalpel af1 MODEL [--task ${Object.keys(TASKS).join("|")}] [--tau 0.9] [--tokenizer FILE] [--n 1000]
       [--sink bos|first|none] [--no-heatmap] [--pattern-prompt I] [--json] [--out FILE]
  ${LAYER_CONVENTION}`;

export async function runAblateCommand(argv: readonly string[], io: CliIO = defaultIO): Promise<number> {
  return guarded(io, async (signal) => {
    const { values: v, positionals } = parseArgs({
      args: [...argv],
      allowPositionals: true,
      options: { ...COMMON, method: { type: "string" }, layers: { type: "string", default: "all" }, abp: { type: "string", default: "self" }, window: { type: "string", default: "1" }, heatmap: { type: "boolean", default: false } },
    });
    if (v.help) return io.out(ABLATE_HELP), 0;
    const model = positionals[0];
    if (!model || positionals.length > 1) return io.err(ABLATE_HELP), 2;
    const method = v.method;
    if (!method || !["cama", "abp", "knockout", "zero", "mean", "resample"].includes(method))
      throw new ScalpelError("--method", `must be one of cama, abp, knockout, zero, mean, resample (got ${method ?? "nothing"})`);
    if (v.abp !== "self" && v.abp !== "transfer") throw new ScalpelError("--abp", `must be self or transfer (got ${v.abp})`);
    const req = request(model, v, method === "resample");
    const opened = await open(req, io, v, signal);
    const { study } = opened;
    const N = study.numBlocks;
    const isReplace = method !== "abp" && method !== "knockout";
    const layers = parseLayers(v.layers!, isReplace ? N : N - 1);
    const win = positiveInt(v.window!, "--window");
    let configs: AblationConfig[];
    if (isReplace) configs = layers.map((L) => ({ label: `${method} at L=${L}`, replace: { method: method as ReplaceMethod, layer: L } }));
    else if (method === "abp")
      configs = [{ label: `ABP ${v.abp} in blocks ${layers.join(",")}`, attention: layers.map((b) => ({ block: b, mask: v.abp as "self" | "transfer" })) }];
    else
      configs = layers
        .filter((l) => l + win <= N)
        .map((l) => ({
          label: `knockout last→others in blocks ${l}…${l + win - 1}`,
          attention: Array.from({ length: win }, (_, j) => ({ block: l + j, mask: { knockout: "others" as const } })),
        }));
    const results = await study.evaluate(configs, { signal, onProgress: progress(v) });
    const heatmap = method === "knockout" && v.heatmap ? await knockoutHeatmap(study, (id) => opened.tokenizer.tokenText(id), win, { signal, onProgress: progress(v) }) : undefined;
    const patterns = v["pattern-prompt"] !== undefined ? await patternsOf(opened, nonNegInt(v["pattern-prompt"], "--pattern-prompt")) : undefined;
    const report = { ...header("ablate", opened, req), method, results: results.map(resultJson), heatmap, attentionPatterns: patterns };
    emit(io, v, report, () => {
      printHeader(io, opened);
      io.out(`\n${"configuration".padEnd(44)} accuracy  faithfulness`);
      for (const r of results) io.out(`${r.label.padEnd(44)} ${pct(r.accuracy).padStart(8)}  ${pct(r.faithfulness).padStart(12)}`);
      if (heatmap) printHeatmap(io, heatmap);
    });
    return 0;
  });
}

export async function runAf1Command(argv: readonly string[], io: CliIO = defaultIO): Promise<number> {
  return guarded(io, async (signal) => {
    const { values: v, positionals } = parseArgs({
      args: [...argv],
      allowPositionals: true,
      options: { ...COMMON, tau: { type: "string", default: "0.9" }, "no-heatmap": { type: "boolean", default: false }, window: { type: "string", default: "1" } },
    });
    if (v.help) return io.out(AF1_HELP), 0;
    const model = positionals[0];
    if (!model || positionals.length > 1) return io.err(AF1_HELP), 2;
    const tau = Number(v.tau);
    if (!(tau > 0 && tau <= 1)) throw new ScalpelError("--tau", `must be a number in (0, 1] (got ${v.tau})`);
    const req = request(model, v, false);
    const opened = await open(req, io, v, signal);
    const af1 = await af1Search(opened.study, tau, { signal, onProgress: progress(v) });
    const heatmap = v["no-heatmap"]
      ? undefined
      : await knockoutHeatmap(opened.study, (id) => opened.tokenizer.tokenText(id), positiveInt(v.window!, "--window"), { signal, onProgress: progress(v) });
    const patterns = await patternsOf(opened, v["pattern-prompt"] !== undefined ? nonNegInt(v["pattern-prompt"], "--pattern-prompt") : 0);
    const report = { ...header("af1", opened, req), af1: { ...af1, results: af1.results.map(resultJson) }, heatmap, attentionPatterns: patterns };
    emit(io, v, report, () => {
      printHeader(io, opened);
      io.out(`\nL_wait sweep (CAMA only), τ = ${tau}:`);
      for (const p of af1.lWaitCurve) io.out(`  L=${String(p.L).padEnd(3)} accuracy ${pct(p.accuracy).padStart(7)}  faithfulness ${pct(p.faithfulness).padStart(7)}${p.L === af1.lWait ? "  ← L_wait" : ""}`);
      io.out(`L_transfer sweep (CAMA at L_wait=${af1.lWait}, transfer blocks, then self blocks):`);
      for (const p of af1.lTransferCurve)
        io.out(`  L_transfer=${String(p.L).padEnd(3)} accuracy ${pct(p.accuracy).padStart(7)}  faithfulness ${pct(p.faithfulness).padStart(7)}${p.L === af1.lTransfer ? "  ← L_transfer" : ""}`);
      io.out(af1.lTransfer === null ? `no L_transfer reaches τ = ${tau}` : `AF1: L_wait = ${af1.lWait}, L_transfer = ${af1.lTransfer} (of ${af1.blocks} blocks)`);
      if (heatmap) printHeatmap(io, heatmap);
    });
    return 0;
  });
}

type Values = Record<string, string | boolean | undefined>;

function request(model: string, v: Values, keepResiduals: boolean): StudyRequest {
  const sink = v.sink as string | undefined;
  if (sink !== undefined && !["bos", "first", "none"].includes(sink)) throw new ScalpelError("--sink", `must be bos, first or none (got ${sink})`);
  const opt = v.optimization as string | undefined;
  if (opt !== undefined && !["disabled", "basic", "extended", "all"].includes(opt))
    throw new ScalpelError("--optimization", `must be disabled, basic, extended or all (got ${opt})`);
  const num = (k: string) => (v[k] === undefined ? undefined : int(v[k] as string, `--${k}`));
  return {
    model,
    task: v.task as string,
    template: v.template as string | undefined,
    answerPrefix: v["answer-prefix"] as string | undefined,
    tokenizer: v.tokenizer as string | undefined,
    bosToken: v["bos-token"] as string | undefined,
    n: positiveInt(v.n as string, "--n"),
    min: num("min"),
    max: num("max"),
    seed: num("seed"),
    sink: sink as SinkChoice | undefined,
    threads: num("threads"),
    optimization: opt as GraphOptimizationLevel | undefined,
    batchSize: v.batch === undefined ? undefined : positiveInt(v.batch as string, "--batch"),
    keepResiduals,
  };
}

async function open(req: StudyRequest, io: CliIO, v: Values, signal: AbortSignal): Promise<OpenedStudy> {
  const opened = await openStudy(req, { signal, onProgress: progress(v) });
  // The sink choice is always printed (stderr when stdout carries JSON).
  (v.json ? io.err : io.out)(opened.study.set.sinkDescription);
  return opened;
}

function header(command: string, o: OpenedStudy, req: StudyRequest) {
  const { study, tokenizer, task } = o;
  const st = study.runner.structure;
  return {
    tool: "onnx-scalpel",
    command,
    model: path.resolve(req.model),
    convention: LAYER_CONVENTION,
    task: { name: task.name, template: task.template, answerPrefix: task.answerPrefix, target: "first token of the answer, argmax at the last position" },
    tokenizer: { file: tokenizer.file, kind: tokenizer.kind, bos: tokenizer.bos ?? null },
    sink: { choice: study.set.sink, position: study.set.sinkPosition ?? null, bosPrepended: study.set.bosPrepended, description: study.set.sinkDescription },
    prompts: study.set.prompts.length,
    lengths: Object.fromEntries([...study.set.groups].map(([n, m]) => [n, m.length])),
    structure: {
      blocks: st.blocks.length,
      stream: st.stream.map((s) => s.tensor ?? `(sum inside ${s.fusedIn?.name})`),
      attention: st.blocks.map((b) => (b.attention.kind === "softmax" ? { kind: "softmax", node: b.attention.node.name, scores: b.attention.scores } : { kind: "fused", node: b.attention.node.name, op: b.attention.op })),
      notes: st.notes,
    },
    baseline: { accuracy: study.baseline.accuracy, correct: study.baseline.correct.reduce((a, b) => a + b, 0) },
  };
}

function resultJson(r: ConfigResult) {
  return { label: r.label, config: r.config, accuracy: r.accuracy, faithfulness: r.faithfulness, evaluated: r.evaluated, faithfulBase: r.faithfulBase };
}

async function patternsOf(o: OpenedStudy, index: number) {
  const p = await o.study.attentionPatterns(index);
  return {
    prompt: index,
    text: o.study.set.prompts[index]!.item.text,
    tokens: p.tokens.map((id) => o.tokenizer.tokenText(id)),
    blocks: p.blocks.map((b) => b ?? null),
    note: p.blocks.some((b) => !b) ? "null: the block's attention is a fused op that does not expose its probabilities" : undefined,
  };
}

function printHeader(io: CliIO, o: OpenedStudy) {
  const s = o.study;
  io.out(`model: ${s.runner.structure.modelName}`);
  io.out(`structure: ${s.runner.structure.notes.join("; ")}`);
  io.out(`task: ${o.task.name} "${o.task.template}", ${s.set.prompts.length} prompts, lengths ${[...s.set.groups].map(([n, m]) => `${n}×${m.length}`).join(" ")}`);
  io.out(`tokenizer: ${o.tokenizer.kind} (${o.tokenizer.file})`);
  io.out(`baseline accuracy: ${pct(s.baseline.accuracy)}`);
  io.out(`layers: ${LAYER_CONVENTION}`);
}

function printHeatmap(io: CliIO, h: KnockoutHeatmap) {
  io.out(`\nknockout heatmap (faithfulness; last token blocked from one key in blocks [l, l+${h.window}); prompts of ${h.length} tokens):`);
  io.out(`${"block".padEnd(7)}${h.positions.map((p) => p.padStart(8)).join("")}`);
  h.faithfulness.forEach((row, l) => io.out(`${String(l).padEnd(7)}${row.map((x) => pct(x).padStart(8)).join("")}`));
}

function emit(io: CliIO, v: Values, report: unknown, human: () => void) {
  const text = JSON.stringify(report, (_k, x) => (x instanceof Float32Array ? Array.from(x) : x), 1);
  if (v.out) {
    const file = path.resolve(v.out as string);
    const tmp = `${file}.tmp-${process.pid}`;
    fs.writeFileSync(tmp, text);
    fs.renameSync(tmp, file);
  }
  if (v.json) io.out(text);
  else human();
}

function progress(v: Values): ((p: Progress) => void) | undefined {
  if (v.quiet || !process.stderr.isTTY) return undefined;
  let last = 0;
  return (p) => {
    const now = Date.now();
    if (now - last < 200 && p.done < p.total) return;
    last = now;
    process.stderr.write(`\r${p.label.slice(0, 50).padEnd(50)} ${p.done}/${p.total}${p.done === p.total ? "\n" : ""}`);
  };
}

async function guarded(io: CliIO, body: (signal: AbortSignal) => Promise<number | void>): Promise<number> {
  const ac = new AbortController();
  const onInt = () => ac.abort();
  process.once("SIGINT", onInt);
  try {
    return (await body(ac.signal)) ?? 0;
  } catch (e) {
    if (e instanceof AblationCancelled) return io.err("cancelled"), 130;
    if (isScalpelError(e)) return io.err(`scalpel: ${e.message}`), 2;
    if (e instanceof TypeError && (e as { code?: string }).code?.startsWith("ERR_PARSE_ARGS")) return io.err(`error: ${e.message}`), 2;
    throw e;
  } finally {
    process.off("SIGINT", onInt);
  }
}

/** "all", "3", "0-4", "1,3,5" (ranges inclusive). */
export function parseLayers(spec: string, max: number): number[] {
  if (spec === "all") return Array.from({ length: max + 1 }, (_, i) => i);
  const out = new Set<number>();
  for (const part of spec.split(",")) {
    const m = /^\s*(\d+)\s*(?:-\s*(\d+)\s*)?$/.exec(part);
    if (!m) throw new ScalpelError("--layers", `cannot read '${part}': use all, 3, 0-4 or 1,3,5`);
    const a = Number(m[1]), b = m[2] === undefined ? a : Number(m[2]);
    if (a > b || b > max) throw new ScalpelError("--layers", `'${part}' is outside 0…${max}`);
    for (let i = a; i <= b; i++) out.add(i);
  }
  return [...out].sort((x, y) => x - y);
}

function int(s: string, flag: string): number {
  const n = Number(s);
  if (!Number.isInteger(n)) throw new ScalpelError(flag, `must be an integer (got ${s})`);
  return n;
}
function positiveInt(s: string, flag: string): number {
  const n = int(s, flag);
  if (n < 1) throw new ScalpelError(flag, `must be ≥ 1 (got ${s})`);
  return n;
}
function nonNegInt(s: string, flag: string): number {
  const n = int(s, flag);
  if (n < 0) throw new ScalpelError(flag, `must be ≥ 0 (got ${s})`);
  return n;
}
function pct(x: number): string {
  return `${(100 * x).toFixed(1)}%`;
}
