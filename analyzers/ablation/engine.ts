/**
 * Ablation engine: the baseline pass (predictions + residual statistics), the configurations (which
 * residual replacement at which layer, which attention masks in which blocks), and sweeps over them with
 * progress and cancellation between runs.
 *
 * Layer convention: L = the number of blocks run before the replacement; L = 0 is the embedding output and
 * L = N the input of the final norm. This is the paper's L_wait. The authors' code hooks the OUTPUT of block
 * w (0-based), which is L = w + 1 here.
 */
import { ScalpelError } from "../onnx/errors.ts";
import { seededRandom } from "../runtime/ort.ts";
import type { AblationRunner, ResidualPatch, RunPatch } from "./runner.ts";
import type { PromptSet, TokenizedPrompt } from "./tasks.ts";

export const LAYER_CONVENTION =
  "L = number of blocks run before the replacement (L = 0: embedding output, L = N: input of the final norm); this is the paper's L_wait. The authors' code hooks the output of block w (0-based), i.e. L = w + 1.";

export type ReplaceMethod = "cama" | "zero" | "mean" | "resample";
export type AttentionMaskKind = "transfer" | "self" | { readonly knockout: readonly number[] | "others" };

export interface AblationConfig {
  readonly label: string;
  /** Replace the residual stream at layer L (see LAYER_CONVENTION). */
  readonly replace?: { readonly method: ReplaceMethod; readonly layer: number };
  /** Additive attention masks, per block (0-based block index). */
  readonly attention?: readonly { readonly block: number; readonly mask: AttentionMaskKind }[];
  /** Evaluate only the prompts of this token length (knockout heatmaps). */
  readonly length?: number;
}

export interface ConfigResult {
  readonly label: string;
  readonly config: AblationConfig;
  /** Correct predictions / prompts evaluated. */
  readonly accuracy: number;
  /** Correct predictions among the prompts the unablated model answers right / their number. */
  readonly faithfulness: number;
  readonly evaluated: number;
  readonly faithfulBase: number;
}

export interface Progress {
  readonly done: number;
  readonly total: number;
  readonly label: string;
}

export interface SweepOptions {
  readonly onProgress?: (p: Progress) => void;
  readonly signal?: AbortSignal;
}

export class AblationCancelled extends Error {
  override readonly name = "AblationCancelled";
  constructor() {
    super("ablation sweep cancelled");
  }
}

/** Per length group, per stream point: the statistics the replacements need. */
interface GroupStats {
  readonly n: number;
  readonly members: readonly number[]; // prompt indices
  /** prefixVaries[t]: some position before t holds different tokens across the group's prompts. */
  readonly prefixVaries: readonly boolean[];
  /** [L][t] → token → mean residual (d). */
  readonly tokenMeans: Map<number, Float32Array>[][];
  /** [L] → [n * d] mean over the group at each position. */
  readonly positionMeans: Float32Array[];
  /** [L] → [members * n * d], kept only for resample. */
  readonly residuals: (Float32Array | undefined)[];
  /** Resample source: member i takes the residual of member perm[i]. */
  readonly perm: readonly number[];
}

export interface Baseline {
  readonly pred: Int32Array;
  readonly correct: Uint8Array;
  readonly accuracy: number;
  readonly d: number;
}

export interface PrepareOptions extends SweepOptions {
  readonly batchSize?: number;
  /** Keep every residual (needed by resample; memory = prompts × tokens × d × (N + 1) floats). */
  readonly keepResiduals?: boolean;
  /** Seed of the resample permutation. */
  readonly seed?: number;
}

export class AblationStudy {
  private stats = new Map<number, GroupStats>();
  private patchCache = new Map<string, ResidualPatch>();
  baseline!: Baseline;

  private constructor(
    readonly runner: AblationRunner,
    readonly set: PromptSet,
    readonly batchSize: number,
  ) {}

  get numBlocks(): number {
    return this.runner.numBlocks;
  }

  /** Runs the unablated model once over every prompt, collecting predictions and residual statistics. */
  static async prepare(runner: AblationRunner, set: PromptSet, opts: PrepareOptions = {}): Promise<AblationStudy> {
    const s = new AblationStudy(runner, set, opts.batchSize ?? 256);
    await s.collect(opts);
    return s;
  }

  private chunks(members: readonly number[]): number[][] {
    const out: number[][] = [];
    for (let i = 0; i < members.length; i += this.batchSize) out.push(members.slice(i, i + this.batchSize) as number[]);
    return out;
  }

  private async collect(opts: PrepareOptions): Promise<void> {
    const N = this.numBlocks, P = this.set.prompts.length;
    const pred = new Int32Array(P);
    const Ls = Array.from({ length: N + 1 }, (_, L) => L);
    let d = 0;
    const total = [...this.set.groups.values()].reduce((a, m) => a + this.chunks(m).length, 0);
    let done = 0;
    for (const [n, members] of this.set.groups) {
      const prompts = members.map((i) => this.set.prompts[i]!);
      const varies = Array.from({ length: n }, (_, t) => prompts.some((p) => p.ids[t] !== prompts[0]!.ids[t]));
      const prefixVaries = varies.map((_, t) => varies.slice(0, t).some(Boolean));
      // sums in float64
      const tokSums: Map<number, { sum: Float64Array; count: number }>[][] = Ls.map(() => Array.from({ length: n }, () => new Map()));
      const posSums: Float64Array[] = [];
      const residuals: (Float32Array | undefined)[] = Ls.map(() => undefined);
      let offset = 0;
      for (const chunk of this.chunks(members)) {
        checkCancelled(opts.signal);
        const out = await this.runner.run(chunk.map((i) => this.set.prompts[i]!.ids), {}, { resid: Ls });
        chunk.forEach((i, b) => (pred[i] = out.pred[b]!));
        for (const L of Ls) {
          const r = out.resid.get(L)!;
          if (!d) d = r.length / (chunk.length * n);
          if (!posSums[L]) posSums[L] = new Float64Array(n * d);
          if (opts.keepResiduals) {
            if (!residuals[L]) residuals[L] = new Float32Array(members.length * n * d);
            residuals[L]!.set(r, offset * n * d);
          }
          const ps = posSums[L]!;
          chunk.forEach((i, b) => {
            const ids = this.set.prompts[i]!.ids;
            for (let t = 0; t < n; t++) {
              const base = (b * n + t) * d;
              let e = tokSums[L]![t]!.get(ids[t]!);
              if (!e) tokSums[L]![t]!.set(ids[t]!, (e = { sum: new Float64Array(d), count: 0 }));
              e.count++;
              const es = e.sum;
              for (let k = 0; k < d; k++) {
                const v = r[base + k]!;
                es[k]! += v;
                ps[t * d + k]! += v;
              }
            }
          });
        }
        offset += chunk.length;
        opts.onProgress?.({ done: ++done, total, label: "baseline + residual statistics" });
      }
      const m = members.length;
      const tokenMeans = tokSums.map((perT) =>
        perT.map((byTok) => new Map([...byTok].map(([tok, e]) => [tok, Float32Array.from(e.sum, (v) => v / e.count)] as const))),
      );
      const positionMeans = posSums.map((ps) => Float32Array.from(ps, (v) => v / m));
      this.stats.set(n, { n, members, prefixVaries, tokenMeans, positionMeans, residuals, perm: resamplePermutation(m, opts.seed ?? 0) });
    }
    const correct = new Uint8Array(P);
    let c = 0;
    this.set.prompts.forEach((p, i) => {
      if (pred[i] === p.target) (correct[i] = 1), c++;
    });
    this.baseline = { pred, correct, accuracy: P ? c / P : 0, d };
  }

  /** Mean residual μ_{t,v} at layer L for prompts of length n (for tests and the explorer). */
  tokenMean(n: number, L: number, t: number, token: number): Float32Array | undefined {
    return this.stats.get(n)?.tokenMeans[L]?.[t]?.get(token);
  }

  lengths(): number[] {
    return [...this.stats.keys()];
  }

  /** Positions whose residual is replaced by `method` at layer L, for prompts of length n. */
  replacedPositions(method: ReplaceMethod, L: number, n: number): boolean[] {
    const st = this.stats.get(n)!;
    const sink = this.set.sinkPosition;
    return Array.from({ length: n }, (_, t) => {
      if (t === sink) return false;
      // CAMA: the residual at L ≥ 1 mixes in other tokens only when an earlier token varies; at L = 0 (the
      // embedding) and where the prefix is constant, the context-aware mean equals the value itself.
      if (method === "cama") return L >= 1 && st.prefixVaries[t]!;
      return true;
    });
  }

  private residualPatch(method: ReplaceMethod, L: number, n: number, chunkIndex: number, chunk: readonly number[]): ResidualPatch {
    const key = `${method}:${L}:${n}:${chunkIndex}`;
    const cached = this.patchCache.get(key);
    if (cached) return cached;
    const st = this.stats.get(n)!;
    const d = this.baseline.d, B = chunk.length;
    const positions = this.replacedPositions(method, L, n);
    const mask = new Uint8Array(B * n);
    const values = new Float32Array(B * n * d);
    const memberIndex = method === "resample" ? new Map(st.members.map((p, i) => [p, i])) : undefined;
    if (method === "resample" && !st.residuals[L]) throw new Error("resample needs prepare({ keepResiduals: true })");
    chunk.forEach((pi, b) => {
      const ids = this.set.prompts[pi]!.ids;
      for (let t = 0; t < n; t++) {
        if (!positions[t]) continue;
        mask[b * n + t] = 1;
        const dst = (b * n + t) * d;
        if (method === "cama") values.set(st.tokenMeans[L]![t]!.get(ids[t]!)!, dst);
        else if (method === "mean") values.set(st.positionMeans[L]!.subarray(t * d, (t + 1) * d), dst);
        else if (method === "resample") {
          const src = st.perm[memberIndex!.get(pi)!]!;
          values.set(st.residuals[L]!.subarray((src * n + t) * d, (src * n + t + 1) * d), dst);
        }
      }
    });
    const p = { mask, values };
    if (this.patchCache.size > 64) this.patchCache.clear();
    this.patchCache.set(key, p);
    return p;
  }

  attentionMask(kind: AttentionMaskKind, n: number): Float32Array {
    return attentionMask(kind, n, this.set.sinkPosition);
  }

  private validate(c: AblationConfig): void {
    const N = this.numBlocks;
    if (c.replace && !(Number.isInteger(c.replace.layer) && c.replace.layer >= 0 && c.replace.layer <= N))
      throw new ScalpelError("--layers", `layer ${c.replace.layer} is out of range: L goes from 0 (embedding output) to ${N} (after the last block)`);
    for (const a of c.attention ?? [])
      if (!(Number.isInteger(a.block) && a.block >= 0 && a.block < N))
        throw new ScalpelError("--layers", `block ${a.block} is out of range: blocks are 0…${N - 1}`);
  }

  /** Evaluates configurations; progress after each run, cancellation checked before each run. */
  async evaluate(configs: readonly AblationConfig[], opts: SweepOptions = {}): Promise<ConfigResult[]> {
    configs.forEach((c) => this.validate(c));
    const groupsOf = (c: AblationConfig) => [...this.set.groups].filter(([n]) => c.length === undefined || c.length === n);
    const total = configs.reduce((a, c) => a + groupsOf(c).reduce((s, [, m]) => s + this.chunks(m).length, 0), 0);
    let done = 0;
    const results: ConfigResult[] = [];
    for (const c of configs) {
      let ok = 0, evaluated = 0, faithOk = 0, faithBase = 0;
      for (const [n, members] of groupsOf(c)) {
        const attention = new Map<number, Float32Array>();
        for (const a of c.attention ?? []) {
          const m = this.attentionMask(a.mask, n);
          const prev = attention.get(a.block);
          attention.set(a.block, prev ? prev.map((v, i) => v + m[i]!) : m);
        }
        const chunks = this.chunks(members);
        for (let ci = 0; ci < chunks.length; ci++) {
          checkCancelled(opts.signal);
          const chunk = chunks[ci]!;
          const patch: RunPatch = {
            attention,
            residual: c.replace ? new Map([[c.replace.layer, this.residualPatch(c.replace.method, c.replace.layer, n, ci, chunk)]]) : undefined,
          };
          const out = await this.runner.run(chunk.map((i) => this.set.prompts[i]!.ids), patch);
          chunk.forEach((pi, b) => {
            const hit = out.pred[b] === this.set.prompts[pi]!.target;
            evaluated++;
            if (hit) ok++;
            if (this.baseline.correct[pi]) {
              faithBase++;
              if (hit) faithOk++;
            }
          });
          opts.onProgress?.({ done: ++done, total, label: c.label });
        }
      }
      results.push({ label: c.label, config: c, accuracy: evaluated ? ok / evaluated : 0, faithfulness: faithBase ? faithOk / faithBase : 0, evaluated, faithfulBase: faithBase });
    }
    return results;
  }

  /** Attention probabilities of every block for one prompt: [block][head][query][key]. */
  async attentionPatterns(promptIndex: number): Promise<{ tokens: readonly number[]; blocks: (number[][][] | undefined)[] }> {
    const p: TokenizedPrompt | undefined = this.set.prompts[promptIndex];
    if (!p) throw new ScalpelError("--pattern-prompt", `prompt ${promptIndex} does not exist (0…${this.set.prompts.length - 1})`);
    const st = this.runner.structure;
    const avail = st.blocks.map((b) => b.attention.kind === "softmax");
    const out = await this.runner.run([p.ids], {}, { probs: st.blocks.map((_, l) => l).filter((l) => avail[l]) });
    const n = p.ids.length;
    const blocks = st.blocks.map((_, l) => {
      const pr = out.probs.get(l);
      if (!pr) return undefined;
      const H = pr.data.length / (n * n);
      return Array.from({ length: H }, (_, h) => Array.from({ length: n }, (_, q) => Array.from(pr.data.subarray((h * n + q) * n, (h * n + q + 1) * n))));
    });
    return { tokens: p.ids, blocks };
  }
}

/** The additive mask [n * n] (query-major) for one block: 0 = may attend, −∞ = blocked. */
export function attentionMask(kind: AttentionMaskKind, n: number, sink: number | undefined): Float32Array {
  const m = new Float32Array(n * n);
  const last = n - 1;
  const allowOnlySinkAndSelf = (q: number) => {
    for (let k = 0; k < n; k++) if (k !== q && k !== sink) m[q * n + k] = -Infinity;
  };
  if (kind === "transfer") for (let q = 0; q < last; q++) allowOnlySinkAndSelf(q);
  else if (kind === "self") for (let q = 0; q < n; q++) allowOnlySinkAndSelf(q);
  else {
    const keys = kind.knockout === "others" ? Array.from({ length: n }, (_, k) => k).filter((k) => k !== sink) : kind.knockout;
    for (const k of keys) if (k !== last && k >= 0 && k < n) m[last * n + k] = -Infinity;
  }
  return m;
}

/** A seeded Fisher–Yates permutation (mulberry32), reproduced by the PyTorch reference. */
export function resamplePermutation(m: number, seed: number): number[] {
  const rnd = seededRandom(seed);
  const perm = Array.from({ length: m }, (_, i) => i);
  for (let i = m - 1; i > 0; i--) {
    const j = Math.floor(rnd() * (i + 1));
    [perm[i], perm[j]] = [perm[j]!, perm[i]!];
  }
  return perm;
}

function checkCancelled(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw new AblationCancelled();
}
