/**
 * Checks shared by the pruning tests: analyse a model, build plans, make the "zeroed" twin of a plan
 * (the original with the pruned channels' weights set to zero, so removing them must not change
 * anything), run models in onnxruntime, and run Debian's onnx.checker (full check) on a result.
 */
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { ModelProtoSchema } from "onnx-buf";
import { analyzeModel, analyzeModelStatic, type Analysis } from "../../analyzers/analysis.ts";
import { encodeBytes } from "../../analyzers/onnx/encode.ts";
import type { Model } from "../../analyzers/onnx/model.ts";
import { toFloat32, type TensorData } from "../../analyzers/onnx/tensor.ts";
import { applyPlanDetailed } from "../../analyzers/pruning/apply/index.ts";
import { ModelEditor } from "../../analyzers/pruning/apply/editor.ts";
import { findGroups } from "../../analyzers/pruning/groups/index.ts";
import { scoreGroups, selectPlan } from "../../analyzers/pruning/criteria/index.ts";
import { indicesOf, type Group, type GroupAnalysis, type MemberRole, type Plan } from "../../analyzers/pruning/types.ts";
import { createSession, dummyFeeds, ort } from "../../analyzers/runtime/ort.ts";

ort.env.logLevel = "error";

export interface Analyzed extends Analysis {
  groups: GroupAnalysis;
}

export function analyze(model: Model): Analyzed {
  const a = analyzeModelStatic(model);
  return { ...a, groups: findGroups(a.graph, a.shapes, { metrics: a.metrics }) };
}

/** With the onnxruntime shape fallback (models whose shapes static inference cannot follow: Swin, MaxViT). */
export async function analyzeFull(model: Model): Promise<Analyzed> {
  const a = await analyzeModel(model);
  return { ...a, groups: findGroups(a.graph, a.shapes, { metrics: a.metrics }) };
}

/** The group whose producer member (role out) is `tensor` (or whose key starts with it). */
export function groupOf(a: GroupAnalysis, tensor: string, kind?: string): Group {
  const g = a.groups.find((g) => (g.key === tensor || g.key.startsWith(`${tensor}:`) || g.members.some((m) => m.role === "out" && m.tensor === tensor)) && (!kind || g.unitKind === kind));
  if (!g) throw new Error(`no group for '${tensor}'${kind ? ` (${kind})` : ""}; groups: ${a.groups.map((g) => g.key).join(", ")}`);
  return g;
}

export function member(g: Group, tensor: string, dim?: number) {
  const m = g.members.find((m) => m.tensor === tensor && (dim === undefined || m.dim === dim));
  if (!m) throw new Error(`group '${g.key}' has no member '${tensor}'${dim !== undefined ? `[${dim}]` : ""}; members: ${g.members.map((m) => `${m.tensor}[${m.dim}]`).join(", ")}`);
  return m;
}

/** unit → indices of a member as plain arrays. */
export function unitIndices(g: Group, tensor: string, dim?: number): number[][] {
  const m = member(g, tensor, dim);
  return Array.from({ length: g.units }, (_, u) => indicesOf(m.indices, u));
}

export function planOf(a: GroupAnalysis, picks: [Group, number[]][]): Plan {
  return { version: 1, model: a.model, criterion: "manual", settings: {}, groups: picks.map(([g, prune]) => ({ key: g.key, id: g.id, prune })) };
}

/** Random units at `ratio` in every prunable group (criteria's random scores, local selection). */
export function randomPlan(a: GroupAnalysis, ratio: number, seed = 3): Plan {
  return selectPlan(a, scoreGroups(a, () => undefined, { criterion: "random", seed }), { ratio });
}

const KEEP_ROLES = new Set<MemberRole>(["norm-mean", "norm-var", "quant"]);

/**
 * The original model with every pruned unit's weights zeroed (every member — producers, biases, norm
 * affine parameters, constants and the consumers' input slices — but running statistics and
 * quantisation scales): the pruned channels then carry nothing to the output, so removing them must
 * not change it (where no normalisation over the pruned axis is involved).
 */
export function zeroUnits(model: Model, a: GroupAnalysis, plan: Plan): Model {
  const ed = new ModelEditor(model);
  const byKey = new Map(a.groups.map((g) => [g.key, g]));
  // Per reader (node, slot): a stored tensor shared by several readers is zeroed only for the pruned one.
  const edits = new Map<string, { tensor: string; node: string; slot: number; td: TensorData }>();
  for (const pg of plan.groups) {
    const g = byKey.get(pg.key)!;
    for (const m of g.members) {
      if (KEEP_ROLES.has(m.role)) continue;
      const slot = a.axes[m.axis]!.slot!;
      const key = `${m.node}\u0000${slot}`;
      let e = edits.get(key);
      if (!e) {
        const src = ed.read(m.tensor);
        e = { tensor: m.tensor, node: m.node, slot, td: { dataType: src.dataType, dims: src.dims, data: Float32Array.from(toFloat32(src)) } };
        edits.set(key, e);
      }
      const data = e.td.data as Float32Array;
      const dims = e.td.dims;
      let inner = 1;
      for (let d = m.dim + 1; d < dims.length; d++) inner *= dims[d]!;
      const size = dims[m.dim]!;
      const outer = data.length / (size * inner);
      for (const u of pg.prune)
        for (const i of indicesOf(m.indices, u))
          for (let o = 0; o < outer; o++) data.fill(0, (o * size + i) * inner, (o * size + i + 1) * inner);
    }
  }
  for (const e of edits.values()) {
    const name = ed.addInitializer(`${e.tensor}_zeroed`, e.td);
    ed.setInput(e.node, e.slot, name);
  }
  return ed.model;
}

export type Outputs = Record<string, { dims: readonly number[]; data: Float32Array }>;

export async function run(model: Model, feeds?: Record<string, ort.Tensor>): Promise<Outputs> {
  const s = await createSession(model, { threads: 1 });
  try {
    const f = feeds ?? dummyFeeds(analyzeModelStatic(model).graph);
    const r = await s.run(f);
    const out: Outputs = {};
    for (const [k, v] of Object.entries(r)) out[k] = { dims: v.dims, data: Float32Array.from(v.data as ArrayLike<number | bigint>, Number) };
    return out;
  } finally {
    await s.release();
  }
}

export function maxAbsDiff(a: Outputs, b: Outputs): number {
  let m = 0;
  for (const k of Object.keys(a)) {
    const x = a[k]!.data, y = b[k]!.data;
    if (x.length !== y.length) return Infinity;
    for (let i = 0; i < x.length; i++) m = Math.max(m, Math.abs(x[i]! - y[i]!));
  }
  return m;
}

export interface PruneCheck {
  plan: Plan;
  pruned: Model;
  /** Max |pruned − zeroed twin| over all outputs. */
  diff: number;
  shapesOk: boolean;
}

/** Prunes `plan`, runs pruned and zeroed twin on the same inputs, compares. */
export async function pruneAndCompare(model: Model, a: GroupAnalysis, plan: Plan): Promise<PruneCheck> {
  const pruned = applyPlanDetailed(model, a, plan).model;
  const feeds = dummyFeeds(analyzeModelStatic(model).graph);
  const [zo, po, oo] = await Promise.all([run(zeroUnits(model, a, plan), feeds), run(pruned, feeds), run(model, feeds)]);
  const shapesOk = Object.keys(oo).every((k) => po[k] && po[k]!.dims.join() === oo[k]!.dims.join());
  return { plan, pruned, diff: maxAbsDiff(zo, po), shapesOk };
}

/** Debian python3-onnx's checker with full_check (shape inference included); undefined when valid. */
export function onnxChecker(model: Model | string): string | undefined {
  let file = typeof model === "string" ? model : "";
  let tmp: string | undefined;
  if (typeof model !== "string") {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), "scalpel-check-"));
    file = path.join(tmp, "m.onnx");
    fs.writeFileSync(file, encodeBytes(ModelProtoSchema, model.proto));
  }
  try {
    const r = spawnSync("/usr/bin/python3", ["-c", "import onnx,sys\nm=onnx.load(sys.argv[1])\nonnx.checker.check_model(m, full_check=True)\n", file], { encoding: "utf8" });
    if (r.error) return `cannot run /usr/bin/python3: ${r.error.message}`;
    return r.status === 0 ? undefined : (r.stderr || r.stdout).trim().split("\n").slice(-3).join("\n");
  } finally {
    if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
  }
}
