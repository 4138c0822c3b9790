/**
 * Runs the edited model (see surgery.ts) on one batch of equal-length prompts with a given patch: residual
 * replacements per stream point and additive attention masks per block. Everything not patched gets the
 * no-op feeds (all-false mask, zero values, zero attention mask), broadcast by onnxruntime.
 */
import type { Model } from "../onnx/model.ts";
import { DataType } from "../onnx/dtypes.ts";
import { numberToFloat16 } from "../onnx/tensor.ts";
import { createSession, ort, type GraphOptimizationLevel } from "../runtime/ort.ts";
import { prepareAblationModel, type EditedModel } from "./surgery.ts";
import type { Structure } from "./structure.ts";

export interface RunnerOptions {
  /** Intra-op threads (0: onnxruntime's default). */
  threads?: number;
  /** The same level serves the baseline and every ablated run (they all run the one edited model). */
  optimization?: GraphOptimizationLevel;
}

export interface ResidualPatch {
  /** [batch * n]: 1 where position t of prompt b is replaced. */
  readonly mask: Uint8Array;
  /** [batch * n * d]. */
  readonly values: Float32Array;
}

export interface RunPatch {
  /** Stream point L → replacement. */
  readonly residual?: ReadonlyMap<number, ResidualPatch>;
  /** Block → additive mask [n * n] (query-major), 0 or −∞. */
  readonly attention?: ReadonlyMap<number, Float32Array>;
}

export interface RunOutputs {
  /** Argmax token at the last position, per prompt. */
  readonly pred: Int32Array;
  /** Requested residuals: L → [batch * n * d] (unreplaced values at that point). */
  readonly resid: Map<number, Float32Array>;
  /** Requested attention probabilities: block → [batch * heads * n * n]. */
  readonly probs: Map<number, { data: Float32Array; dims: readonly number[] }>;
  readonly lastLogits?: Float32Array;
}

export class AblationRunner {
  private readonly zeroMask: ort.Tensor;
  private readonly zeroValues: ort.Tensor;
  private readonly zeroAttn: ort.Tensor;

  private constructor(
    readonly edited: EditedModel,
    readonly session: ort.InferenceSession,
    readonly options: RunnerOptions,
  ) {
    this.zeroMask = new ort.Tensor("bool", new Uint8Array(1), [1, 1, 1]);
    this.zeroValues = this.floatTensor(new Float32Array(1), [1, 1, 1]);
    this.zeroAttn = this.floatTensor(new Float32Array(1), [1, 1]);
  }

  static async create(model: Model, opts: RunnerOptions = {}, structure?: Structure): Promise<AblationRunner> {
    const edited = prepareAblationModel(model, structure);
    const session = await createSession(edited.model, { threads: opts.threads ?? 0, optimization: opts.optimization ?? "all" });
    return new AblationRunner(edited, session, opts);
  }

  get structure(): Structure {
    return this.edited.structure;
  }

  get numBlocks(): number {
    return this.edited.structure.blocks.length;
  }

  private floatTensor(a: Float32Array, dims: number[]): ort.Tensor {
    if (this.edited.structure.floatType === DataType.FLOAT16) {
      const h = new Uint16Array(a.length);
      for (let i = 0; i < a.length; i++) h[i] = numberToFloat16(a[i]!);
      return new ort.Tensor("float16", h, dims);
    }
    return new ort.Tensor("float32", a, dims);
  }

  private readonly zeroAttnBySize = new Map<number, ort.Tensor>();
  private zeroAttnOf(n: number): ort.Tensor {
    let t = this.zeroAttnBySize.get(n);
    if (!t) this.zeroAttnBySize.set(n, (t = this.floatTensor(new Float32Array(n * n), [n, n])));
    return t;
  }

  /** Runs one batch: `ids` are B prompts of n tokens each. */
  async run(
    ids: readonly (readonly number[])[],
    patch: RunPatch = {},
    fetch: { resid?: readonly number[]; probs?: readonly number[]; lastLogits?: boolean } = {},
  ): Promise<RunOutputs> {
    const st = this.edited.structure, io = this.edited.io;
    const B = ids.length, n = ids[0]!.length;
    const feeds: Record<string, ort.Tensor> = {};
    feeds[io.tokens] = intTensor(st.tokenType, B, n, (b, t) => ids[b]![t]!);
    for (const x of st.extraInputs) feeds[x.name] = intTensor(x.dataType, B, n, x.fill === "ones" ? () => 1 : (_b, t) => t);
    io.camaMask.forEach((name, L) => {
      const p = patch.residual?.get(L);
      if (!p) {
        feeds[name] = this.zeroMask;
        feeds[io.camaValues[L]!] = this.zeroValues;
      } else {
        const d = p.values.length / (B * n);
        feeds[name] = new ort.Tensor("bool", p.mask, [B, n, 1]);
        feeds[io.camaValues[L]!] = this.floatTensor(p.values, [B, n, d]);
      }
    });
    io.attnMask.forEach((name, l) => {
      const m = patch.attention?.get(l);
      // Fused attention ops do not broadcast their bias over the sequence axes: give them a full [n, n].
      feeds[name] = m ? this.floatTensor(m, [n, n]) : st.blocks[l]!.attention.kind === "fused" ? this.zeroAttnOf(n) : this.zeroAttn;
    });
    const names = [io.pred];
    for (const L of fetch.resid ?? []) names.push(io.resid[L]!);
    for (const l of fetch.probs ?? []) {
      const p = io.probs[l];
      if (!p) throw new Error(`block ${l}: attention probabilities are not available (fused attention op)`);
      names.push(p);
    }
    if (fetch.lastLogits) names.push(io.lastLogits);
    const out = await this.session.run(feeds, names);
    const predT = out[io.pred]!;
    const pred = Int32Array.from(predT.data as BigInt64Array, (v) => Number(v));
    const resid = new Map<number, Float32Array>();
    for (const L of fetch.resid ?? []) resid.set(L, toF32(out[io.resid[L]!]!));
    const probs = new Map<number, { data: Float32Array; dims: readonly number[] }>();
    for (const l of fetch.probs ?? []) {
      const t = out[io.probs[l]!]!;
      probs.set(l, { data: toF32(t), dims: t.dims });
    }
    const lastLogits = fetch.lastLogits ? toF32(out[io.lastLogits]!) : undefined;
    for (const t of Object.values(out)) t.dispose?.();
    return { pred, resid, probs, lastLogits };
  }

  async release(): Promise<void> {
    await this.session.release();
  }
}

function intTensor(dataType: number, B: number, n: number, f: (b: number, t: number) => number): ort.Tensor {
  if (dataType === DataType.INT32) {
    const a = new Int32Array(B * n);
    for (let b = 0; b < B; b++) for (let t = 0; t < n; t++) a[b * n + t] = f(b, t);
    return new ort.Tensor("int32", a, [B, n]);
  }
  const a = new BigInt64Array(B * n);
  for (let b = 0; b < B; b++) for (let t = 0; t < n; t++) a[b * n + t] = BigInt(f(b, t));
  return new ort.Tensor("int64", a, [B, n]);
}

function toF32(t: ort.Tensor): Float32Array {
  if (t.type === "float32") return new Float32Array(t.data as Float32Array);
  if (t.type === "float16") {
    const h = t.data as Uint16Array;
    const out = new Float32Array(h.length);
    for (let i = 0; i < h.length; i++) out[i] = halfToFloat(h[i]!);
    return out;
  }
  return Float32Array.from(t.data as ArrayLike<number>);
}

function halfToFloat(h: number): number {
  const s = h & 0x8000 ? -1 : 1, e = (h >> 10) & 0x1f, m = h & 0x3ff;
  if (e === 0) return s * m * 2 ** -24;
  if (e === 31) return m ? NaN : s * Infinity;
  return s * (1 + m / 1024) * 2 ** (e - 15);
}
