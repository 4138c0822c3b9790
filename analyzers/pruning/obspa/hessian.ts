/**
 * A layer's Hessian of the layer-wise objective ‖W·X − Ŵ·X‖², H = 2·X·Xᵀ/n (+ damping), in one of three
 * forms, and the two OBS operations OBSPA needs from it:
 *   removalCost  ½·tr(W_J · [(H⁻¹)_JJ]⁻¹ · W_Jᵀ) for the columns J of a set of input channels;
 *   compensate   ΔW = −W_Q · [(H⁻¹)_QQ]⁻¹ · (H⁻¹)_{Q,:}, the optimal update of the surviving columns.
 * Forms:
 *   dense       the exact d × d matrix (d = channels · taps), factorised by a damped Cholesky;
 *   kronecker   H ≈ (Σ ⊗ Ω) / mean(diag H) with Σ the channel and Ω the kernel-tap second moments, for layers
 *               too large for the dense form (cost in channels³, not (channels·taps)³);
 *   diagonal    H = diag(v) + m·mᵀ (rank one), exact for the moment-based and identity sources.
 * With bias compensation the Hessian is centred (covariance) and the column means are kept: the optimum
 * with a free bias is the centred solution plus Δb = −ΔW·μ, identical to augmenting X with a ones row.
 */
import { accumulateGramFast, matmulFast } from "./gram.ts";
import {
  choleskyInverse,
  choleskySolveRows,
  dampedCholesky,
  matmul,
  principalSubmatrix,
  symmetrize,
  type DampingOptions,
} from "./linalg.ts";

export type HessianForm = "dense" | "kronecker" | "diagonal";

export interface Compensation {
  /** The new weight matrix (rows × d): removed columns exactly zero, the others updated. */
  readonly weight: Float64Array;
  /** Δb per row, when the Hessian is centred (bias compensation); undefined otherwise. */
  readonly biasDelta: Float64Array | undefined;
}

export interface LayerHessian {
  readonly form: HessianForm;
  readonly channels: number;
  readonly taps: number;
  /** Column means (length channels·taps) when centred for bias compensation. */
  readonly means: Float64Array | undefined;
  /** Absolute damping added to the diagonal (dense and diagonal), or to Σ (kronecker). */
  readonly damping: number;
  /** Rows (samples × positions) the statistics came from; 0 for analytic sources. */
  readonly samples: number;
  /** OBS cost of removing the input channels `channels` from a rows × d weight matrix. */
  removalCost(w: Float64Array, rows: number, channels: readonly number[]): number;
  /** ½·w_r·H·w_rᵀ per row: the energy of each output (around its mean when centred). */
  rowEnergy(w: Float64Array, rows: number): Promise<Float64Array>;
  /** The OBS update for removing the input channels `removed`. */
  compensate(w: Float64Array, rows: number, removed: readonly number[]): Promise<Compensation>;
}

function columnsOf(channels: readonly number[], taps: number): number[] {
  const out: number[] = [];
  for (const c of channels) for (let t = 0; t < taps; t++) out.push(c * taps + t);
  return out;
}

/** The rows × |cols| submatrix of a rows × d matrix. */
function selectColumns(w: Float64Array, rows: number, d: number, cols: readonly number[]): Float64Array {
  const k = cols.length;
  const out = new Float64Array(rows * k);
  for (let r = 0; r < rows; r++) for (let j = 0; j < k; j++) out[r * k + j] = w[r * d + cols[j]!]!;
  return out;
}

/** Σ_r w_r·A⁻¹·w_rᵀ for the rows of w (rows × k) and a k × k SPD matrix A given by its Cholesky factor. */
function quadInverse(L: Float64Array, k: number, w: Float64Array, rows: number): number {
  const y = Float64Array.from(w);
  choleskySolveRows(L, k, y, rows);
  let s = 0;
  for (let i = 0; i < y.length; i++) s += y[i]! * w[i]!;
  return s;
}

function biasDeltaOf(delta: Float64Array, rows: number, d: number, means: Float64Array | undefined): Float64Array | undefined {
  if (!means) return undefined;
  const out = new Float64Array(rows);
  for (let r = 0; r < rows; r++) {
    let s = 0;
    for (let j = 0; j < d; j++) s += delta[r * d + j]! * means[j]!;
    out[r] = -s;
  }
  return out;
}

/** Cholesky of a small SPD block, with escalating damping if rounding made it indefinite. */
function smallCholesky(a: Float64Array, k: number): Float64Array {
  return dampedCholesky(a, k, { lambda: 0 }).L;
}

// ---- dense ----------------------------------------------------------------------------------------

export class DenseHessian implements LayerHessian {
  readonly form = "dense";
  readonly damping: number;
  private inv: Float64Array | undefined;
  private readonly L: Float64Array;

  /** `h` is the undamped H (d × d, full symmetric); it is not kept. */
  constructor(
    h: Float64Array,
    readonly channels: number,
    readonly taps: number,
    readonly means: Float64Array | undefined,
    readonly samples: number,
    damping: DampingOptions = {},
  ) {
    const f = dampedCholesky(h, channels * taps, damping);
    this.L = f.L;
    this.damping = f.damping;
  }

  get d(): number {
    return this.channels * this.taps;
  }

  /** H⁻¹ (damped), computed once. */
  inverse(): Float64Array {
    return (this.inv ??= choleskyInverse(this.L, this.d));
  }

  removalCost(w: Float64Array, rows: number, channels: readonly number[]): number {
    const cols = columnsOf(channels, this.taps);
    const block = principalSubmatrix(this.inverse(), this.d, cols);
    return 0.5 * quadInverse(smallCholesky(block, cols.length), cols.length, selectColumns(w, rows, this.d, cols), rows);
  }

  async rowEnergy(w: Float64Array, rows: number): Promise<Float64Array> {
    // ½·w·H·wᵀ = ½·‖w·L‖² with the damped factor (the damping is part of the objective everywhere).
    const t = await matmulFast(w, this.L, rows, this.d, this.d);
    const out = new Float64Array(rows);
    for (let r = 0; r < rows; r++) {
      let s = 0;
      for (let j = 0; j < this.d; j++) s += t[r * this.d + j]! ** 2;
      out[r] = 0.5 * s;
    }
    return out;
  }

  async compensate(w: Float64Array, rows: number, removed: readonly number[]): Promise<Compensation> {
    const d = this.d;
    const q = columnsOf(removed, this.taps);
    if (q.length === 0) return { weight: Float64Array.from(w), biasDelta: this.means ? new Float64Array(rows) : undefined };
    const hinv = this.inverse();
    const k = q.length;
    const lq = smallCholesky(principalSubmatrix(hinv, d, q), k);
    // Y = W_Q · [(H⁻¹)_QQ]⁻¹ (rows × k), then ΔW = −Y · (H⁻¹)_{Q,:}.
    const y = selectColumns(w, rows, d, q);
    choleskySolveRows(lq, k, y, rows);
    const hq = new Float64Array(k * d);
    q.forEach((j, a) => hq.set(hinv.subarray(j * d, (j + 1) * d), a * d));
    const delta = await matmulFast(y, hq, rows, k, d);
    for (let i = 0; i < delta.length; i++) delta[i] = -delta[i]!;
    const weight = Float64Array.from(w);
    for (let i = 0; i < weight.length; i++) weight[i] += delta[i]!;
    for (let r = 0; r < rows; r++) for (const j of q) weight[r * d + j] = 0;
    return { weight, biasDelta: biasDeltaOf(delta, rows, d, this.means) };
  }
}

// ---- kronecker ------------------------------------------------------------------------------------

export class KroneckerHessian implements LayerHessian {
  readonly form = "kronecker";
  readonly damping: number;
  /** Σ⁻¹ (channels²) and Ω (taps², damped) / κ, the pieces every operation needs. */
  private readonly sigmaInv: Float64Array;
  private readonly omega: Float64Array;
  private readonly kappa: number;
  private readonly sigma: Float64Array;

  /**
   * `sigma` (channels²) and `omega` (taps²) are the undamped factors, normalised so that Σ ⊗ Ω / κ has the
   * trace of the exact H; κ = mean(diag H).
   */
  constructor(
    sigma: Float64Array,
    omega: Float64Array,
    kappa: number,
    readonly channels: number,
    readonly taps: number,
    readonly means: Float64Array | undefined,
    readonly samples: number,
    damping: DampingOptions = {},
  ) {
    const fs = dampedCholesky(sigma, channels, damping);
    this.damping = fs.damping;
    this.sigma = Float64Array.from(sigma);
    for (let i = 0; i < channels; i++) this.sigma[i * channels + i] += fs.damping;
    this.sigmaInv = choleskyInverse(fs.L, channels);
    const fo = dampedCholesky(omega, taps, damping);
    this.omega = Float64Array.from(omega);
    for (let i = 0; i < taps; i++) this.omega[i * taps + i] += fo.damping;
    this.kappa = kappa > 0 ? kappa : 1;
  }

  /** tr(W_a·Ω·W_bᵀ) summed over rows, for channel blocks a and b. */
  private cross(w: Float64Array, rows: number, a: number, b: number): number {
    const T = this.taps, d = this.channels * T;
    let s = 0;
    for (let r = 0; r < rows; r++) {
      const ra = r * d + a * T, rb = r * d + b * T;
      for (let u = 0; u < T; u++) {
        const wa = w[ra + u]!;
        if (wa === 0) continue;
        let t = 0;
        for (let v = 0; v < T; v++) t += this.omega[u * T + v]! * w[rb + v]!;
        s += wa * t;
      }
    }
    return s;
  }

  removalCost(w: Float64Array, rows: number, channels: readonly number[]): number {
    const k = channels.length;
    // [(H⁻¹)_PP]⁻¹ = [(Σ⁻¹)_PP]⁻¹ ⊗ Ω / κ.
    const a = smallInverse(principalSubmatrix(this.sigmaInv, this.channels, channels), k);
    let s = 0;
    for (let i = 0; i < k; i++) for (let j = 0; j < k; j++) s += a[i * k + j]! * this.cross(w, rows, channels[i]!, channels[j]!);
    return (0.5 * s) / this.kappa;
  }

  /** The weight regrouped as (row, tap) × channel: A[(r·T + u), c] = W[r, c·T + u]. */
  private byTap(w: Float64Array, rows: number, channels: readonly number[] | undefined): Float64Array {
    const C = this.channels, T = this.taps, d = C * T;
    const cs = channels ?? Array.from({ length: C }, (_, c) => c);
    const k = cs.length;
    const a = new Float64Array(rows * T * k);
    for (let r = 0; r < rows; r++)
      for (let i = 0; i < k; i++) {
        const src = r * d + cs[i]! * T;
        for (let u = 0; u < T; u++) a[(r * T + u) * k + i] = w[src + u]!;
      }
    return a;
  }

  async rowEnergy(w: Float64Array, rows: number): Promise<Float64Array> {
    const C = this.channels, T = this.taps;
    // e_r = ½·Σ_{u,v} Ω_uv · (A_ru·Σ)·A_rvᵀ / κ with A_ru the channel vector of row r at tap u.
    const a = this.byTap(w, rows, undefined);
    const p = await matmulFast(a, this.sigma, rows * T, C, C);
    const out = new Float64Array(rows);
    for (let r = 0; r < rows; r++) {
      let s = 0;
      for (let u = 0; u < T; u++) {
        const pu = (r * T + u) * C;
        for (let v = 0; v < T; v++) {
          const o = this.omega[u * T + v]!;
          if (o === 0) continue;
          const av = (r * T + v) * C;
          let t = 0;
          for (let c = 0; c < C; c++) t += p[pu + c]! * a[av + c]!;
          s += o * t;
        }
      }
      out[r] = (0.5 * s) / this.kappa;
    }
    return out;
  }

  async compensate(w: Float64Array, rows: number, removed: readonly number[]): Promise<Compensation> {
    const C = this.channels, T = this.taps, d = C * T;
    const k = removed.length;
    if (k === 0) return { weight: Float64Array.from(w), biasDelta: this.means ? new Float64Array(rows) : undefined };
    // ΔW = −W_Q·([(Σ⁻¹)_QQ]⁻¹·(Σ⁻¹)_{Q,:} ⊗ I): the same channel mixing M (k × C) at every tap.
    const a = smallInverse(principalSubmatrix(this.sigmaInv, C, removed), k);
    const sq = new Float64Array(k * C);
    removed.forEach((q, i) => sq.set(this.sigmaInv.subarray(q * C, (q + 1) * C), i * C));
    const m = matmul(a, sq, k, k, C);
    const prod = await matmulFast(this.byTap(w, rows, removed), m, rows * T, k, C);
    const delta = new Float64Array(rows * d);
    for (let r = 0; r < rows; r++)
      for (let u = 0; u < T; u++) {
        const pr = (r * T + u) * C;
        for (let c = 0; c < C; c++) delta[r * d + c * T + u] = -prod[pr + c]!;
      }
    const weight = Float64Array.from(w);
    for (let i = 0; i < weight.length; i++) weight[i] += delta[i]!;
    for (let r = 0; r < rows; r++) for (const q of removed) weight.fill(0, r * d + q * T, r * d + (q + 1) * T);
    return { weight, biasDelta: biasDeltaOf(delta, rows, d, this.means) };
  }
}

function smallInverse(a: Float64Array, k: number): Float64Array {
  return choleskyInverse(smallCholesky(a, k), k);
}

// ---- diagonal + rank one --------------------------------------------------------------------------

/**
 * H = diag(v) + m·mᵀ (+ damping on the diagonal). Inverses of it and of its principal blocks are rank-one
 * corrections of diagonals (Sherman–Morrison), so every operation is linear in d.
 */
export class DiagonalHessian implements LayerHessian {
  readonly form = "diagonal";
  readonly damping: number;
  private readonly v: Float64Array;
  private readonly m: Float64Array;
  /** a = D⁻¹·m and α = 1 / (1 + mᵀ·D⁻¹·m), so H⁻¹ = D⁻¹ − α·a·aᵀ. */
  private readonly a: Float64Array;
  private readonly alpha: number;

  constructor(
    v: Float64Array,
    m: Float64Array | undefined,
    readonly channels: number,
    readonly taps: number,
    readonly means: Float64Array | undefined,
    readonly samples: number,
    damping: DampingOptions = {},
  ) {
    const d = channels * taps;
    const lambda = damping.lambda ?? 0.01;
    let s = 0;
    for (let j = 0; j < d; j++) s += v[j]! + (m ? m[j]! * m[j]! : 0);
    const mean = s / d > 0 && Number.isFinite(s / d) ? s / d : 1;
    this.damping = lambda * mean;
    this.v = new Float64Array(d);
    for (let j = 0; j < d; j++) this.v[j] = Math.max(0, v[j]!) + this.damping || mean * 1e-12;
    this.m = m ? Float64Array.from(m) : new Float64Array(d);
    this.a = new Float64Array(d);
    let q = 0;
    for (let j = 0; j < d; j++) {
      this.a[j] = this.m[j]! / this.v[j]!;
      q += this.m[j]! * this.a[j]!;
    }
    this.alpha = 1 / (1 + q);
  }

  /** [(H⁻¹)_PP]⁻¹ = D_P + β·m_P·m_Pᵀ with β = α / (1 − α·Σ_P m_j²/v_j). */
  private beta(cols: readonly number[]): number {
    let s = 0;
    for (const j of cols) s += this.m[j]! * this.a[j]!;
    const den = 1 - this.alpha * s;
    return den > 0 ? this.alpha / den : 0;
  }

  removalCost(w: Float64Array, rows: number, channels: readonly number[]): number {
    const d = this.channels * this.taps;
    const cols = columnsOf(channels, this.taps);
    const beta = this.beta(cols);
    let s = 0;
    for (let r = 0; r < rows; r++) {
      let dot = 0;
      for (const j of cols) {
        const x = w[r * d + j]!;
        s += this.v[j]! * x * x;
        dot += x * this.m[j]!;
      }
      s += beta * dot * dot;
    }
    return 0.5 * s;
  }

  async rowEnergy(w: Float64Array, rows: number): Promise<Float64Array> {
    const d = this.channels * this.taps;
    const out = new Float64Array(rows);
    for (let r = 0; r < rows; r++) {
      let s = 0, dot = 0;
      for (let j = 0; j < d; j++) {
        const x = w[r * d + j]!;
        s += this.v[j]! * x * x;
        dot += x * this.m[j]!;
      }
      out[r] = 0.5 * (s + dot * dot);
    }
    return out;
  }

  async compensate(w: Float64Array, rows: number, removed: readonly number[]): Promise<Compensation> {
    const d = this.channels * this.taps;
    const q = columnsOf(removed, this.taps);
    const beta = this.beta(q);
    const delta = new Float64Array(rows * d);
    for (let r = 0; r < rows; r++) {
      // y = W_Q·[(H⁻¹)_QQ]⁻¹ = w_Q∘v_Q + β·(w_Q·m_Q)·m_Q ; ΔW = −y·(H⁻¹)_{Q,:} = −(y/v_Q on Q) + α·(y·a_Q)·a.
      let dot = 0;
      for (const j of q) dot += w[r * d + j]! * this.m[j]!;
      let ya = 0;
      for (const j of q) {
        const y = w[r * d + j]! * this.v[j]! + beta * dot * this.m[j]!;
        delta[r * d + j] -= y / this.v[j]!;
        ya += y * this.a[j]!;
      }
      if (ya !== 0) for (let j = 0; j < d; j++) delta[r * d + j] += this.alpha * ya * this.a[j]!;
    }
    const weight = Float64Array.from(w);
    for (let i = 0; i < weight.length; i++) weight[i] += delta[i]!;
    for (let r = 0; r < rows; r++) for (const j of q) weight[r * d + j] = 0;
    return { weight, biasDelta: biasDeltaOf(delta, rows, d, this.means) };
  }
}

// ---- building from data ---------------------------------------------------------------------------

/** Streams rows of X (as d × n column blocks) into the dense H = 2·X·Xᵀ/n (centred on request). */
export class DenseAccumulator {
  private readonly h: Float64Array;
  private readonly sums: Float64Array;
  private n = 0;

  constructor(readonly channels: number, readonly taps: number) {
    const d = channels * taps;
    this.h = new Float64Array(d * d);
    this.sums = new Float64Array(d);
  }

  /** Adds `n` rows given transposed: xt is d × n row-major. */
  async addColumns(xt: Float64Array, n: number): Promise<void> {
    const d = this.channels * this.taps;
    await gram(this.h, xt, d, n);
    for (let j = 0; j < d; j++) {
      let s = 0;
      for (let k = 0; k < n; k++) s += xt[j * n + k]!;
      this.sums[j] += s;
    }
    this.n += n;
  }

  get rows(): number {
    return this.n;
  }

  /** H = 2·(X·Xᵀ/n − μ·μᵀ [centred]) as a DenseHessian. */
  finish(centred: boolean, damping: DampingOptions = {}): DenseHessian {
    const d = this.channels * this.taps;
    const h = this.h;
    symmetrize(h, d);
    const n = Math.max(1, this.n);
    const means = new Float64Array(d);
    for (let j = 0; j < d; j++) means[j] = this.sums[j]! / n;
    for (let i = 0; i < d; i++)
      for (let j = 0; j < d; j++) h[i * d + j] = (2 * (h[i * d + j]! / n - (centred ? means[i]! * means[j]! : 0)));
    return new DenseHessian(h, this.channels, this.taps, centred ? means : undefined, this.n, damping);
  }
}

export type GramKernel = (h: Float64Array, xt: Float64Array, d: number, n: number) => void | Promise<void>;

/** The Gram accumulation (lower triangle of H += X·Xᵀ): onnxruntime's float64 GEMM for large products. */
let gram: GramKernel = accumulateGramFast;

export function setGramKernel(k: GramKernel): void {
  gram = k;
}

/**
 * Streams statistics for the Kronecker form: Σ from the raw activation map (channel × channel over every
 * input position), Ω and the column means from im2col rows (taps × taps, averaged over channels).
 */
export class KroneckerAccumulator {
  private readonly sigma: Float64Array;
  private readonly omega: Float64Array;
  private readonly sums: Float64Array;
  private readonly chanSums: Float64Array;
  private positions = 0;
  private n = 0;
  private diagSum = 0;

  constructor(readonly channels: number, readonly taps: number) {
    this.sigma = new Float64Array(channels * channels);
    this.omega = new Float64Array(taps * taps);
    this.sums = new Float64Array(channels * taps);
    this.chanSums = new Float64Array(channels);
  }

  /** Adds input positions: `xt` is channels × p (one row per channel). */
  async addPositions(xt: Float64Array, p: number): Promise<void> {
    await gram(this.sigma, xt, this.channels, p);
    for (let c = 0; c < this.channels; c++) {
      let s = 0;
      for (let k = 0; k < p; k++) s += xt[c * p + k]!;
      this.chanSums[c] += s;
    }
    this.positions += p;
  }

  /** Adds im2col rows given transposed (d × n). */
  addColumns(xt: Float64Array, n: number): void {
    const C = this.channels, T = this.taps;
    for (let c = 0; c < C; c++)
      for (let u = 0; u < T; u++) {
        const pu = (c * T + u) * n;
        let s = 0;
        for (let k = 0; k < n; k++) s += xt[pu + k]!;
        this.sums[c * T + u] += s;
        for (let v = 0; v <= u; v++) {
          const pv = (c * T + v) * n;
          let t = 0;
          for (let k = 0; k < n; k++) t += xt[pu + k]! * xt[pv + k]!;
          this.omega[u * T + v] += t;
          if (u === v) this.diagSum += t;
        }
      }
    this.n += n;
  }

  get rows(): number {
    return this.n;
  }

  finish(centred: boolean, damping: DampingOptions = {}): KroneckerHessian {
    const C = this.channels, T = this.taps;
    symmetrize(this.sigma, C);
    for (let u = 0; u < T; u++) for (let v = 0; v < u; v++) this.omega[v * T + u] = this.omega[u * T + v]!;
    const p = Math.max(1, this.positions), n = Math.max(1, this.n);
    const cm = new Float64Array(C);
    for (let c = 0; c < C; c++) cm[c] = this.chanSums[c]! / p;
    const sigma = new Float64Array(C * C);
    for (let a = 0; a < C; a++)
      for (let b = 0; b < C; b++) sigma[a * C + b] = 2 * (this.sigma[a * C + b]! / p - (centred ? cm[a]! * cm[b]! : 0));
    const means = new Float64Array(C * T);
    for (let j = 0; j < C * T; j++) means[j] = this.sums[j]! / n;
    const omega = new Float64Array(T * T);
    for (let u = 0; u < T; u++)
      for (let v = 0; v < T; v++) {
        let mm = 0;
        if (centred) for (let c = 0; c < C; c++) mm += means[c * T + u]! * means[c * T + v]!;
        omega[u * T + v] = 2 * ((this.omega[u * T + v]! / n - mm) / C);
      }
    // Normalise: Σ ⊗ Ω / κ must have the trace of H, i.e. κ = tr(Σ)·tr(Ω) / tr(H).
    let trS = 0, trO = 0;
    for (let c = 0; c < C; c++) trS += sigma[c * C + c]!;
    for (let u = 0; u < T; u++) trO += omega[u * T + u]!;
    let trH = (2 * this.diagSum) / n;
    if (centred) for (let j = 0; j < C * T; j++) trH -= 2 * means[j]! * means[j]!;
    const kappa = trH > 0 ? (trS * trO) / trH : 1;
    return new KroneckerHessian(sigma, omega, kappa, C, T, centred ? means : undefined, this.n, damping);
  }
}
