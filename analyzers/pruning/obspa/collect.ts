/**
 * Hessians from data: run the model in onnxruntime on a FeedSource with the layers' inputs exposed as extra
 * outputs (a temporary copy; the user's model is untouched), turn each activation into im2col rows and
 * stream them into per-layer accumulators. Memory stays bounded: the layers are split into passes whose
 * accumulators fit the budget (one layer per pass at worst), and rows are subsampled (seeded) to a cap.
 */
import { ModelProtoSchema, type ModelProto } from "onnx-buf";
import type * as ortTypes from "onnxruntime-node";
import { withExtraOutputs } from "../../graph/shapes/runtimeShapes.ts";
import { encodeBytes } from "../../onnx/encode.ts";
import type { Model } from "../../onnx/model.ts";
import { float16ToNumber } from "../../onnx/tensor.ts";
import { createSessionFromBytes, seededRandom } from "../../runtime/ort.ts";
import type { FeedSource } from "./feeds.ts";
import { DenseAccumulator, DiagonalHessian, KroneckerAccumulator, type LayerHessian } from "./hessian.ts";
import { im2colRows, rowCount, type Activation } from "./im2col.ts";
import { groupColumns, type WeightLayer } from "./layers.ts";
import type { DampingOptions } from "./linalg.ts";

/** How a layer's Hessian is represented (see hessian.ts). */
export type DataForm = "dense" | "kronecker" | "diagonal";

export interface LayerRequest {
  readonly layer: WeightLayer;
  readonly form: DataForm;
}

export interface Timing {
  /** onnxruntime runs producing the activations, ms. */
  activations: number;
  /** im2col and accumulation, ms. */
  hessians: number;
  /** Factorisations, inverses, scores and compensation solves, ms. */
  solves: number;
}

export function newTiming(): Timing {
  return { activations: 0, hessians: 0, solves: 0 };
}

export interface ProgressEvent {
  readonly phase: "activations" | "hessians" | "scores" | "compensation";
  readonly done: number;
  readonly total: number;
  readonly detail?: string;
}

export interface CollectOptions {
  /** Centre the Hessians and keep column means (bias compensation). */
  centred: boolean;
  damping?: DampingOptions;
  /** Rows of X used per layer, subsampled evenly over batches (default max(2048, 8·columns)). */
  maxRows?: (columns: number) => number;
  /** Seed of the row subsampling. */
  seed?: number;
  /** Bytes of accumulators one pass may hold (default 1 GiB). */
  memoryBudget?: number;
  /** onnxruntime intra-op threads (0: its default). */
  threads?: number;
  timing?: Timing;
  onProgress?: (e: ProgressEvent) => void;
  signal?: AbortSignal;
}

export function defaultMaxRows(columns: number): number {
  return Math.max(2048, 8 * columns);
}

/** Throws the signal's reason when cancelled (the extension's worker maps it to a cancellation). */
export function checkCancelled(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw signal.reason instanceof Error ? signal.reason : new Error("OBSPA cancelled");
}

type Accumulator =
  | { kind: "dense"; acc: DenseAccumulator[] }
  | { kind: "kronecker"; acc: KroneckerAccumulator[] }
  | { kind: "diagonal"; sq: Float64Array[]; sums: Float64Array[]; n: number };

function accumulatorBytes(r: LayerRequest): number {
  const d = groupColumns(r.layer);
  const g = r.layer.groups;
  if (r.form === "dense") return g * d * d * 8;
  if (r.form === "kronecker") {
    const c = r.layer.inChannels / g;
    return g * (c * c + r.layer.taps ** 2 + d) * 8;
  }
  return g * 2 * d * 8;
}

/** Splits requests into passes within the memory budget, keeping graph order. */
function passes(requests: readonly LayerRequest[], budget: number): LayerRequest[][] {
  const out: LayerRequest[][] = [];
  let cur: LayerRequest[] = [];
  let bytes = 0;
  for (const r of requests) {
    const b = accumulatorBytes(r);
    if (cur.length && bytes + b > budget) {
      out.push(cur);
      cur = [];
      bytes = 0;
    }
    cur.push(r);
    bytes += b;
  }
  if (cur.length) out.push(cur);
  return out;
}

function toActivation(t: ortTypes.Tensor): Activation {
  const dims = t.dims.map(Number);
  if (t.type === "float32") return { dims, data: t.data as Float32Array };
  const src = t.data as ArrayLike<number>;
  const data = new Float32Array(src.length);
  if (t.type === "float16") for (let i = 0; i < src.length; i++) data[i] = float16ToNumber(src[i]!);
  else for (let i = 0; i < src.length; i++) data[i] = Number(src[i]!);
  return { dims, data };
}

/** `k` distinct indices below `n`, sorted (all of them when k ≥ n). */
export function sampleIndices(n: number, k: number, rnd: () => number): Int32Array {
  if (k >= n) return Int32Array.from({ length: n }, (_, i) => i);
  const pool = Int32Array.from({ length: n }, (_, i) => i);
  for (let i = 0; i < k; i++) {
    const j = i + Math.floor(rnd() * (n - i));
    const t = pool[i]!;
    pool[i] = pool[j]!;
    pool[j] = t;
  }
  return pool.subarray(0, k).sort();
}

/** Raw activation positions (sample, spatial) of one conv group as a channels × p matrix. */
function positionColumns(layer: WeightLayer, act: Activation, group: number, picks: Int32Array): Float64Array {
  const cg = layer.inChannels / layer.groups;
  const channels = act.dims[1]!;
  const hw = act.dims.slice(2).reduce((a, b) => a * b, 1);
  const p = picks.length;
  const out = new Float64Array(cg * p);
  for (let i = 0; i < p; i++) {
    const pos = picks[i]!;
    const n = Math.floor(pos / hw), s = pos % hw;
    const base = (n * channels + group * cg) * hw + s;
    for (let c = 0; c < cg; c++) out[c * p + i] = act.data[base + c * hw]!;
  }
  return out;
}

/**
 * Runs `source` through `model` and returns one LayerHessian per convolution group for every request,
 * keyed by node name.
 */
export async function collectHessians(
  model: Model | { proto: ModelProto; name: string; baseDir: string | undefined },
  requests: readonly LayerRequest[],
  source: FeedSource,
  opts: CollectOptions,
): Promise<Map<string, LayerHessian[]>> {
  const timing = opts.timing ?? newTiming();
  const maxRows = opts.maxRows ?? defaultMaxRows;
  const result = new Map<string, LayerHessian[]>();
  const plan = passes(requests, opts.memoryBudget ?? 2 ** 30);
  let passIndex = 0;
  for (const pass of plan) {
    passIndex++;
    checkCancelled(opts.signal);
    const names = [...new Set(pass.map((r) => r.layer.input))];
    const copy = withExtraOutputs(model.proto, names);
    const session = await createSessionFromBytes(encodeBytes(ModelProtoSchema, copy), model.name, model.baseDir, { threads: opts.threads });
    const accs = new Map<LayerRequest, Accumulator>();
    for (const r of pass) {
      const cg = r.layer.inChannels / r.layer.groups;
      const g = r.layer.groups;
      const d = groupColumns(r.layer);
      if (r.form === "dense") accs.set(r, { kind: "dense", acc: Array.from({ length: g }, () => new DenseAccumulator(cg, r.layer.taps)) });
      else if (r.form === "kronecker") accs.set(r, { kind: "kronecker", acc: Array.from({ length: g }, () => new KroneckerAccumulator(cg, r.layer.taps)) });
      else accs.set(r, { kind: "diagonal", sq: Array.from({ length: g }, () => new Float64Array(d)), sums: Array.from({ length: g }, () => new Float64Array(d)), n: 0 });
    }
    const rnd = seededRandom((opts.seed ?? 1) * 7 + passIndex);
    try {
      let b = 0;
      for await (const feeds of source.batches()) {
        checkCancelled(opts.signal);
        let t0 = performance.now();
        const out = await session.run(feeds, names);
        timing.activations += performance.now() - t0;
        t0 = performance.now();
        for (const r of pass) {
          const act = toActivation(out[r.layer.input]!);
          const total = rowCount(r.layer, act);
          const want = Math.ceil(maxRows(groupColumns(r.layer)) / source.batchCount);
          const a = accs.get(r)!;
          const d = groupColumns(r.layer);
          for (let g = 0; g < r.layer.groups; g++) {
            const rows = sampleIndices(total, want, rnd);
            const xt = new Float64Array(d * rows.length);
            im2colRows(r.layer, act, g, rows, xt, "columns");
            if (a.kind === "dense") await a.acc[g]!.addColumns(xt, rows.length);
            else if (a.kind === "kronecker") {
              a.acc[g]!.addColumns(xt, rows.length);
              const positions = act.dims[0]! * act.dims.slice(2).reduce((x, y) => x * y, 1);
              await a.acc[g]!.addPositions(positionColumns(r.layer, act, g, sampleIndices(positions, want, rnd)), Math.min(want, positions));
            } else {
              const n = rows.length;
              for (let j = 0; j < d; j++) {
                let s = 0, q = 0;
                for (let k = 0; k < n; k++) {
                  const x = xt[j * n + k]!;
                  s += x;
                  q += x * x;
                }
                a.sums[g]![j] += s;
                a.sq[g]![j] += q;
              }
              if (g === 0) a.n += n;
            }
          }
        }
        timing.hessians += performance.now() - t0;
        b++;
        opts.onProgress?.({ phase: "activations", done: b, total: source.batchCount, detail: plan.length > 1 ? `pass ${passIndex}/${plan.length}` : undefined });
      }
    } finally {
      await session.release();
    }
    const t0 = performance.now();
    for (const r of pass) {
      const a = accs.get(r)!;
      const cg = r.layer.inChannels / r.layer.groups;
      let hs: LayerHessian[];
      if (a.kind === "dense") hs = a.acc.map((x) => x.finish(opts.centred, opts.damping));
      else if (a.kind === "kronecker") hs = a.acc.map((x) => x.finish(opts.centred, opts.damping));
      else
        hs = a.sq.map((sq, g) => {
          const n = Math.max(1, a.n);
          const mean = a.sums[g]!.map((s) => s / n);
          // Uncentred: diag(E[x²] − μ²) + μ·μᵀ keeps the exact diagonal and the mean's rank-one coupling.
          const v = sq.map((q, j) => 2 * (q / n - mean[j]! * mean[j]!));
          const m = opts.centred ? undefined : mean.map((x) => Math.SQRT2 * x);
          return new DiagonalHessian(v, m, cg, r.layer.taps, opts.centred ? mean : undefined, a.n, opts.damping);
        });
      result.set(r.layer.node.name, hs);
    }
    timing.solves += performance.now() - t0;
  }
  return result;
}
