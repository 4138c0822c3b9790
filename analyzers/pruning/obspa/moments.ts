/**
 * Data-free Hessians from moments: per-channel mean and variance of every activation, propagated through
 * the graph in closed form, channels (and positions) treated as independent. A BatchNormalization resets its
 * output to N(β, γ²·var/(var+ε)) — its running statistics are the training data's — so in BN-kept models
 * the moments after every BN come from the real data; elsewhere they are propagated from N(0, 1) inputs
 * (Conv/Gemm: μ' = W·μ + b, σ'² = W²·σ²). Nonlinearities use the rectified-Gaussian moments for ReLU and
 * Gauss–Hermite quadrature for other elementwise functions. A layer's Hessian is then
 * H = 2·(diag(σ² ⊗ 1) + (μ ⊗ 1)(μ ⊗ 1)ᵀ): diagonal plus rank one, exact for this model of the inputs.
 */
import { attrFloat, attrInt, attrInts } from "../../graph/attrs.ts";
import type { Graph, Node } from "../../graph/graph.ts";
import { readTensor, toFloat64 } from "../../onnx/tensor.ts";
import { untrainedStatistics } from "./batchStats.ts";
import { matmulFast } from "./gram.ts";
import { DenseHessian, DiagonalHessian, KroneckerHessian, type LayerHessian } from "./hessian.ts";
import { groupColumns, splitWeight, biasValues, storedWeight, type WeightLayer } from "./layers.ts";
import type { DampingOptions } from "./linalg.ts";

/** Per-channel moments of a value along its channel axis (axis 1, or the last axis of a rank-2 tensor). */
export interface Moments {
  readonly mean: Float64Array;
  readonly variance: Float64Array;
  /**
   * The channels' covariance (C × C, row-major; its diagonal is `variance`), when it could be followed;
   * undefined means independent channels.
   */
  readonly covariance?: Float64Array;
  /** How the moments were obtained: "bn" when they descend from BatchNorm statistics through known ops. */
  readonly origin: "bn" | "propagated";
}

const SQRT2PI = Math.sqrt(2 * Math.PI);

function phi(z: number): number {
  return Math.exp(-0.5 * z * z) / SQRT2PI;
}

/** The standard normal CDF (erfc-based, accurate to ~1e-7, enough for moments). */
export function normalCdf(z: number): number {
  const t = 1 / (1 + 0.5 * Math.abs(z) / Math.SQRT2);
  const y =
    t *
    Math.exp(
      -(z * z) / 2 -
        1.26551223 +
        t * (1.00002368 + t * (0.37409196 + t * (0.09678418 + t * (-0.18628806 + t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277)))))))),
    );
  return z >= 0 ? 1 - y / 2 : y / 2;
}

/**
 * E[ReLU(x)] for x ~ N(m, s²), s > 0: m·Φ(m/s) + s·φ(m/s), with Φ from φ (Abramowitz–Stegun 26.2.17, error
 * < 7.5e-8) so one exp serves both: the inner loop of the channels' ReLU covariance calls it per pair and node.
 */
function rectifiedMean(m: number, s: number): number {
  const z = m / s, a = Math.abs(z);
  const p = Math.exp(-0.5 * z * z) / SQRT2PI;
  const t = 1 / (1 + 0.2316419 * a);
  const tail = p * t * (0.31938153 + t * (-0.356563782 + t * (1.781477937 + t * (-1.821255978 + t * 1.330274429))));
  return m * (z >= 0 ? 1 - tail : tail) + s * p;
}

/** Mean and variance of ReLU(x) for x ~ N(μ, σ²) (the rectified Gaussian). */
export function reluMoments(mu: number, variance: number): [number, number] {
  const s = Math.sqrt(Math.max(variance, 0));
  if (s === 0) return [Math.max(mu, 0), 0];
  const a = mu / s;
  const P = normalCdf(a), p = phi(a);
  const m1 = mu * P + s * p;
  const m2 = (mu * mu + variance) * P + mu * s * p;
  return [m1, Math.max(0, m2 - m1 * m1)];
}

// Gauss–Hermite nodes/weights (probabilists', 20 points) for E[f(x)], x ~ N(μ, σ²).
const GH = (() => {
  const n = 20;
  // Golub–Welsch on the Jacobi matrix of the probabilists' Hermite polynomials (off-diagonal √k).
  const d = new Float64Array(n), e = new Float64Array(n);
  for (let k = 1; k < n; k++) e[k - 1] = Math.sqrt(k);
  const z = Array.from({ length: n }, (_, i) => Float64Array.from({ length: n }, (_, j) => (i === j ? 1 : 0)));
  // Symmetric tridiagonal QL (tqli), eigenvectors accumulated.
  for (let l = 0; l < n; l++) {
    let iter = 0;
    let m: number;
    do {
      for (m = l; m < n - 1; m++) {
        const dd = Math.abs(d[m]!) + Math.abs(d[m + 1]!);
        if (Math.abs(e[m]!) <= 1e-15 * dd) break;
      }
      if (m !== l) {
        if (iter++ > 60) break;
        let g = (d[l + 1]! - d[l]!) / (2 * e[l]!);
        let r = Math.hypot(g, 1);
        g = d[m]! - d[l]! + e[l]! / (g + (g >= 0 ? Math.abs(r) : -Math.abs(r)));
        let s = 1, c = 1, p = 0;
        let i: number;
        for (i = m - 1; i >= l; i--) {
          let f = s * e[i]!;
          const b = c * e[i]!;
          r = Math.hypot(f, g);
          e[i + 1] = r;
          if (r === 0) {
            d[i + 1]! -= p;
            e[m] = 0;
            break;
          }
          s = f / r;
          c = g / r;
          g = d[i + 1]! - p;
          r = (d[i]! - g) * s + 2 * c * b;
          p = s * r;
          d[i + 1] = g + p;
          g = c * r - b;
          for (let k = 0; k < n; k++) {
            f = z[k]![i + 1]!;
            z[k]![i + 1] = s * z[k]![i]! + c * f;
            z[k]![i] = c * z[k]![i]! - s * f;
          }
        }
        if (r === 0 && i >= l) continue;
        d[l]! -= p;
        e[l] = g;
        e[m] = 0;
      }
    } while (m !== l);
  }
  return { x: Array.from(d), w: Array.from({ length: n }, (_, i) => z[0]![i]! ** 2) };
})();

/** Mean and variance of f(x) for x ~ N(μ, σ²), by quadrature. */
export function functionMoments(f: (x: number) => number, mu: number, variance: number): [number, number] {
  const s = Math.sqrt(Math.max(variance, 0));
  let m1 = 0, m2 = 0;
  for (let i = 0; i < GH.x.length; i++) {
    const y = f(mu + s * GH.x[i]!);
    m1 += GH.w[i]! * y;
    m2 += GH.w[i]! * y * y;
  }
  return [m1, Math.max(0, m2 - m1 * m1)];
}

const erf = (x: number) => 2 * normalCdf(x * Math.SQRT2) - 1;
const sigmoid = (x: number) => 1 / (1 + Math.exp(-x));

/** Elementwise functions with a known moment map (single activation input). */
function unaryFunction(node: Node): ((x: number) => number) | undefined {
  switch (node.opType) {
    case "Sigmoid":
      return sigmoid;
    case "Tanh":
      return Math.tanh;
    case "LeakyRelu": {
      const a = attrFloat(node.proto, "alpha", 0.01);
      return (x) => (x >= 0 ? x : a * x);
    }
    case "Elu": {
      const a = attrFloat(node.proto, "alpha", 1);
      return (x) => (x >= 0 ? x : a * (Math.exp(x) - 1));
    }
    case "HardSigmoid": {
      const a = attrFloat(node.proto, "alpha", 0.2), b = attrFloat(node.proto, "beta", 0.5);
      return (x) => Math.max(0, Math.min(1, a * x + b));
    }
    case "HardSwish":
      return (x) => x * Math.max(0, Math.min(1, x / 6 + 0.5));
    case "Softplus":
      return (x) => (x > 30 ? x : Math.log1p(Math.exp(x)));
    case "Gelu":
      return (x) => 0.5 * x * (1 + erf(x / Math.SQRT2));
    case "Erf":
      return erf;
  }
  return undefined;
}

/**
 * E[ReLU(a)·ReLU(b)] for (a, b) jointly Gaussian with means ma, mb, standard deviations sa, sb and correlation
 * ρ: E over a (Gauss–Hermite) of ReLU(a)·E[ReLU(b) | a], where b | a is Gaussian.
 */
export function reluCrossMoment(ma: number, sa: number, mb: number, sb: number, rho: number): number {
  const r = Math.max(-1, Math.min(1, rho));
  const sc = sb * Math.sqrt(Math.max(0, 1 - r * r));
  let e = 0;
  for (let i = 0; i < GH.x.length; i++) {
    const z = GH.x[i]!;
    const a = ma + sa * z;
    if (a <= 0) continue;
    const m = mb + sb * r * z;
    const eb = sc > 0 ? rectifiedMean(m, sc) : Math.max(m, 0);
    e += GH.w[i]! * a * eb;
  }
  return e;
}

export interface MomentOptions {
  /** Moments assumed for the graph inputs (default N(0, 1) per channel). */
  inputMean?: number;
  inputVariance?: number;
  /** Follow the channels' covariance (default true) up to this many channels per value (default 2048). */
  covariance?: boolean;
  maxCovarianceChannels?: number;
}

/**
 * Σ_t W_t·Cov·W_tᵀ for each conv group (block diagonal over groups), as two float64 products through
 * onnxruntime: B = [W_t]_t·Cov, then B (rearranged to the weight's column order) · Wᵀ.
 */
async function convCovariance(mats: Float64Array[], rows: number, cg: number, T: number, cov: Float64Array, cin: number, C: number): Promise<Float64Array> {
  const out = new Float64Array(C * C);
  const d = cg * T;
  for (let g = 0; g < mats.length; g++) {
    const w = mats[g]!;
    const block = new Float64Array(cg * cg);
    for (let i = 0; i < cg; i++) block.set(cov.subarray((g * cg + i) * cin + g * cg, (g * cg + i) * cin + g * cg + cg), i * cg);
    const ws = new Float64Array(rows * T * cg);
    for (let r = 0; r < rows; r++) for (let c = 0; c < cg; c++) for (let t = 0; t < T; t++) ws[(r * T + t) * cg + c] = w[(r * cg + c) * T + t]!;
    const b = await matmulFast(ws, block, rows * T, cg, cg);
    const bp = new Float64Array(rows * d);
    for (let r = 0; r < rows; r++) for (let t = 0; t < T; t++) for (let c = 0; c < cg; c++) bp[r * d + c * T + t] = b[(r * T + t) * cg + c]!;
    const wt = new Float64Array(d * rows);
    for (let q = 0; q < rows; q++) for (let j = 0; j < d; j++) wt[j * rows + q] = w[q * d + j]!;
    const y = await matmulFast(bp, wt, rows, d, rows);
    for (let r = 0; r < rows; r++)
      for (let q = 0; q < rows; q++) out[(g * rows + r) * C + g * rows + q] = 0.5 * (y[r * rows + q]! + y[q * rows + r]!);
  }
  return out;
}

/** The covariance with new per-channel variances and the same correlations (undefined stays undefined). */
function withVariances(cov: Float64Array | undefined, oldVar: Float64Array, newVar: Float64Array): Float64Array | undefined {
  if (!cov) return undefined;
  const c = newVar.length;
  const out = new Float64Array(c * c);
  const scale = Float64Array.from({ length: c }, (_, i) => (oldVar[i]! > 0 ? Math.sqrt(newVar[i]! / oldVar[i]!) : 0));
  for (let i = 0; i < c; i++) {
    for (let j = 0; j < c; j++) out[i * c + j] = cov[i * c + j]! * scale[i]! * scale[j]!;
    out[i * c + i] = newVar[i]!;
  }
  return out;
}

/** Cov(ReLU(x)) for Gaussian x with the given moments (exact per pair under joint Gaussianity). */
function reluCovariance(x: Moments, mean: Float64Array, variance: Float64Array): Float64Array | undefined {
  const cov = x.covariance;
  if (!cov) return undefined;
  const c = mean.length;
  const out = new Float64Array(c * c);
  const sd = x.variance.map((v) => Math.sqrt(Math.max(v, 0)));
  // reluCrossMoment with channel i's side hoisted out of the loop over j: the nodes where ReLU(a) > 0 and w·a.
  const zs = new Float64Array(GH.x.length), wa = new Float64Array(GH.x.length);
  for (let i = 0; i < c; i++) {
    out[i * c + i] = variance[i]!;
    let n = 0;
    for (let k = 0; k < GH.x.length; k++) {
      const a = x.mean[i]! + sd[i]! * GH.x[k]!;
      if (a > 0) ((zs[n] = GH.x[k]!), (wa[n++] = GH.w[k]! * a));
    }
    for (let j = i + 1; j < c; j++) {
      let v = 0;
      const sb = sd[j]!;
      if (sd[i]! > 0 && sb > 0) {
        const r = Math.max(-1, Math.min(1, cov[i * c + j]! / (sd[i]! * sb)));
        if (r !== 0) {
          const sc = sb * Math.sqrt(Math.max(0, 1 - r * r)), mb = x.mean[j]!, sr = sb * r;
          let e = 0;
          for (let k = 0; k < n; k++) {
            const m = mb + sr * zs[k]!;
            e += wa[k]! * (sc > 0 ? rectifiedMean(m, sc) : Math.max(m, 0));
          }
          v = e - mean[i]! * mean[j]!;
        }
      }
      out[i * c + j] = out[j * c + i] = v;
    }
  }
  return out;
}

/**
 * Moments of every activation the rules can follow, by value name. Values reached through an operator
 * without a rule get no entry, and neither does anything computed from them.
 */
export async function propagateMoments(graph: Graph, layers: ReadonlyMap<string, WeightLayer>, opts: MomentOptions = {}): Promise<Map<string, Moments>> {
  const out = new Map<string, Moments>();
  const followCov = (c: number) => opts.covariance !== false && c <= (opts.maxCovarianceChannels ?? 2048);
  const channelsOf = (name: string): number | undefined => {
    const t = graph.declaredTypes.get(name);
    const d = t?.shape?.[1];
    return typeof d === "number" ? d : undefined;
  };
  for (const name of graph.inputs) {
    const c = channelsOf(name);
    if (c) {
      const v = opts.inputVariance ?? 1;
      const covariance = followCov(c) ? Float64Array.from({ length: c * c }, (_, k) => (k % (c + 1) === 0 ? v : 0)) : undefined;
      out.set(name, { mean: new Float64Array(c).fill(opts.inputMean ?? 0), variance: new Float64Array(c).fill(v), covariance, origin: "propagated" });
    }
  }
  const weightOf = (name: string | undefined) => {
    const stored = storedWeight(graph, name);
    return stored ? graph.weight(stored) : undefined;
  };
  const values = (name: string) => toFloat64(readTensor(graph.model, weightOf(name)!));
  for (const node of graph.nodes) {
    if (node.domain !== "") continue;
    const x = out.get(node.inputs[0] ?? "");
    const y = node.outputs[0];
    if (!y) continue;
    const set = (m: Moments) => out.set(y, m);
    const layer = layers.get(node.name);
    if (layer) {
      if (!x || x.mean.length !== layer.inChannels) continue;
      const mats = splitWeight(layer, toFloat64(readTensor(graph.model, weightOf(layer.weight)!)));
      const b = biasValues(graph, layer);
      const rows = layer.outChannels / layer.groups, cg = layer.inChannels / layer.groups, T = layer.taps;
      const mean = new Float64Array(layer.outChannels), variance = new Float64Array(layer.outChannels);
      mats.forEach((w, g) => {
        for (let r = 0; r < rows; r++) {
          let m = b[g * rows + r]!, v = 0;
          for (let c = 0; c < cg; c++) {
            const mu = x.mean[g * cg + c]!, vr = x.variance[g * cg + c]!;
            for (let t = 0; t < T; t++) {
              const wv = w[(r * cg + c) * T + t]!;
              m += wv * mu;
              v += wv * wv * vr;
            }
          }
          mean[g * rows + r] = m;
          variance[g * rows + r] = v;
        }
      });
      // Positions independent, channels not: Cov(y) = Σ_t W_t·Cov(x)·W_tᵀ per conv group.
      let covariance: Float64Array | undefined;
      if (x.covariance && followCov(layer.outChannels)) {
        covariance = await convCovariance(mats, rows, cg, T, x.covariance, layer.inChannels, layer.outChannels);
        for (let r = 0; r < layer.outChannels; r++) variance[r] = covariance[r * layer.outChannels + r]!;
      }
      set({ mean, variance, covariance, origin: x.origin });
      continue;
    }
    switch (node.opType) {
      case "BatchNormalization": {
        if (!weightOf(node.inputs[1]) || !weightOf(node.inputs[2]) || !weightOf(node.inputs[4])) break;
        const gamma = values(node.inputs[1]!), beta = values(node.inputs[2]!), rv = values(node.inputs[4]!);
        const eps = attrFloat(node.proto, "epsilon", 1e-5);
        if (untrainedStatistics(graph, node)) {
          // Statistics that never saw data reset nothing: the BN is the affine map γ·x/√(1+ε) + β.
          if (!x || x.mean.length !== gamma.length) break;
          const c = gamma.map((g) => g / Math.sqrt(1 + eps));
          const n = c.length;
          set({
            mean: x.mean.map((m, i) => m * c[i]! + beta[i]!),
            variance: x.variance.map((v, i) => v * c[i]! * c[i]!),
            covariance: x.covariance?.map((v, k) => v * c[Math.floor(k / n)]! * c[k % n]!),
            origin: x.origin,
          });
          break;
        }
        const variance = gamma.map((g, i) => (g * g * rv[i]!) / (rv[i]! + eps));
        // The statistics reset means and variances; the correlations come from what feeds it.
        const covariance = x && x.mean.length === variance.length ? withVariances(x.covariance, x.variance, variance) : undefined;
        set({ mean: Float64Array.from(beta), variance, covariance, origin: "bn" });
        break;
      }
      case "Relu":
        if (x) {
          const mean = new Float64Array(x.mean.length), variance = new Float64Array(x.mean.length);
          for (let i = 0; i < mean.length; i++) [mean[i], variance[i]] = reluMoments(x.mean[i]!, x.variance[i]!);
          set({ mean, variance, covariance: reluCovariance(x, mean, variance), origin: x.origin });
        }
        break;
      case "Clip": {
        if (!x) break;
        const lo = node.inputs[1] && weightOf(node.inputs[1]) ? values(node.inputs[1])[0]! : attrFloat(node.proto, "min", -Infinity);
        const hi = node.inputs[2] && weightOf(node.inputs[2]) ? values(node.inputs[2])[0]! : attrFloat(node.proto, "max", Infinity);
        const f = (v: number) => Math.min(hi, Math.max(lo, v));
        set(mapMoments(x, f));
        break;
      }
      case "Add":
      case "Sub": {
        const a = out.get(node.inputs[0]!), b = out.get(node.inputs[1]!);
        const sign = node.opType === "Sub" ? -1 : 1;
        if (a && b && a.mean.length === b.mean.length) {
          set({
            mean: a.mean.map((m, i) => m + sign * b.mean[i]!),
            variance: a.variance.map((v, i) => v + b.variance[i]!),
            // The two operands taken as independent of each other.
            covariance: a.covariance && b.covariance ? a.covariance.map((v, i) => v + b.covariance![i]!) : undefined,
            origin: a.origin === "bn" && b.origin === "bn" ? "bn" : "propagated",
          });
        } else if (a && weightOf(node.inputs[1])) {
          const c = perChannel(values(node.inputs[1]!), a.mean.length);
          if (c) set({ mean: a.mean.map((m, i) => m + sign * c[i]!), variance: a.variance, covariance: a.covariance, origin: a.origin });
        }
        break;
      }
      case "Mul": {
        if (x && weightOf(node.inputs[1])) {
          const c = perChannel(values(node.inputs[1]!), x.mean.length);
          if (c) {
            const n = x.mean.length;
            const covariance = x.covariance?.map((v, k) => v * c[Math.floor(k / n)]! * c[k % n]!);
            set({ mean: x.mean.map((m, i) => m * c[i]!), variance: x.variance.map((v, i) => v * c[i]! * c[i]!), covariance, origin: x.origin });
          }
        }
        break;
      }
      case "MaxPool": {
        if (!x) break;
        const k = (attrInts(node.proto, "kernel_shape") ?? [1]).reduce((a, b) => a * b, 1);
        // Max of k independent Gaussians, moment-matched (Clark's approximation, iterated pairwise).
        const mean = new Float64Array(x.mean.length), variance = new Float64Array(x.mean.length);
        for (let i = 0; i < mean.length; i++) {
          let m = x.mean[i]!, v = x.variance[i]!;
          for (let j = 1; j < k; j++) [m, v] = maxMoments(m, v, x.mean[i]!, x.variance[i]!);
          mean[i] = m;
          variance[i] = v;
        }
        set({ mean, variance, covariance: withVariances(x.covariance, x.variance, variance), origin: x.origin });
        break;
      }
      case "AveragePool":
      case "GlobalAveragePool":
      case "ReduceMean": {
        if (!x) break;
        // Averaging correlated neighbours: the variance shrinks by an unknown factor; keep it (the upper
        // bound, perfectly correlated positions), which is closest for smooth feature maps.
        set(x);
        break;
      }
      case "Flatten":
      case "Reshape":
      case "Squeeze":
      case "Unsqueeze": {
        if (!x) break;
        const c = channelsOf(y);
        const from = x.mean.length;
        if (c === from) set(x);
        else if (c && c % from === 0) {
          // [N, C, H, W] → [N, C·H·W]: feature f belongs to channel ⌊f / (H·W)⌋.
          const s = c / from;
          // Features at the same position covary like their channels; other positions are independent.
          let covariance: Float64Array | undefined;
          if (x.covariance && followCov(c)) {
            covariance = new Float64Array(c * c);
            for (let f = 0; f < c; f++)
              for (let k = f % s; k < c; k += s) covariance[f * c + k] = x.covariance[Math.floor(f / s) * from + Math.floor(k / s)]!;
          }
          set({
            mean: Float64Array.from({ length: c }, (_, f) => x.mean[Math.floor(f / s)]!),
            variance: Float64Array.from({ length: c }, (_, f) => x.variance[Math.floor(f / s)]!),
            covariance,
            origin: x.origin,
          });
        }
        break;
      }
      case "Identity":
      case "Dropout":
      case "Pad":
      case "Resize":
      case "Upsample":
        if (x) set(x);
        break;
      case "Concat": {
        if (attrInt(node.proto, "axis", 0) !== 1) break;
        const parts = node.inputs.map((n) => out.get(n));
        if (parts.every((p): p is Moments => !!p)) {
          const cat = (k: "mean" | "variance") => {
            const arr = new Float64Array(parts.reduce((a, p) => a + p[k].length, 0));
            let o = 0;
            for (const p of parts) {
              arr.set(p[k], o);
              o += p[k].length;
            }
            return arr;
          };
          const n = parts.reduce((a, p) => a + p.mean.length, 0);
          let covariance: Float64Array | undefined;
          if (parts.every((p) => p.covariance) && followCov(n)) {
            covariance = new Float64Array(n * n);
            let o = 0;
            for (const p of parts) {
              const k = p.mean.length;
              for (let i = 0; i < k; i++) covariance.set(p.covariance!.subarray(i * k, (i + 1) * k), (o + i) * n + o);
              o += k;
            }
          }
          set({ mean: cat("mean"), variance: cat("variance"), covariance, origin: parts.every((p) => p.origin === "bn") ? "bn" : "propagated" });
        }
        break;
      }
      default: {
        const f = unaryFunction(node);
        if (f && x) set(mapMoments(x, f));
      }
    }
  }
  return out;
}

function perChannel(v: Float64Array, c: number): Float64Array | undefined {
  if (v.length === 1) return new Float64Array(c).fill(v[0]!);
  if (v.length === c) return v;
  return undefined;
}

function mapMoments(x: Moments, f: (v: number) => number): Moments {
  const mean = new Float64Array(x.mean.length), variance = new Float64Array(x.mean.length);
  for (let i = 0; i < mean.length; i++) [mean[i], variance[i]] = functionMoments(f, x.mean[i]!, x.variance[i]!);
  // Correlations kept (exact for monotone near-linear maps, an approximation otherwise).
  return { mean, variance, covariance: withVariances(x.covariance, x.variance, variance), origin: x.origin };
}

/** Moments of max(a, b) for independent Gaussians a, b (Clark 1961). */
function maxMoments(m1: number, v1: number, m2: number, v2: number): [number, number] {
  const th = Math.sqrt(v1 + v2);
  if (th === 0) return [Math.max(m1, m2), 0];
  const a = (m1 - m2) / th;
  const P = normalCdf(a), Q = 1 - P, p = phi(a);
  const e1 = m1 * P + m2 * Q + th * p;
  const e2 = (m1 * m1 + v1) * P + (m2 * m2 + v2) * Q + (m1 + m2) * th * p;
  return [e1, Math.max(0, e2 - e1 * e1)];
}

/**
 * The Hessian of a layer from the moments of its input over im2col columns, positions independent:
 * H = 2·(Cov ⊗ I_taps + (μ ⊗ 1)(μ ⊗ 1)ᵀ), or the centred 2·Cov ⊗ I_taps with the means kept for bias
 * compensation. Dense up to `exactMaxColumns` columns, else Kronecker (uncentred: (Cov + μμᵀ) ⊗ I, the
 * means counted per tap only). Without a covariance: diagonal plus rank one. One per convolution group.
 * Undefined when the input's moments are unknown.
 */
export function momentHessians(layer: WeightLayer, x: Moments | undefined, centred: boolean, damping?: DampingOptions, exactMaxColumns = 576): LayerHessian[] | undefined {
  if (!x || x.mean.length !== layer.inChannels) return undefined;
  const cg = layer.inChannels / layer.groups, T = layer.taps, d = groupColumns(layer);
  const out: LayerHessian[] = [];
  for (let g = 0; g < layer.groups; g++) {
    const mu = new Float64Array(d);
    for (let c = 0; c < cg; c++) for (let t = 0; t < T; t++) mu[c * T + t] = x.mean[g * cg + c]!;
    if (x.covariance) {
      const C = layer.inChannels;
      const sigma = new Float64Array(cg * cg);
      for (let i = 0; i < cg; i++)
        for (let j = 0; j < cg; j++) {
          const mi = x.mean[g * cg + i]!, mj = x.mean[g * cg + j]!;
          sigma[i * cg + j] = 2 * (x.covariance[(g * cg + i) * C + g * cg + j]! + (centred ? 0 : mi * mj));
        }
      if (d <= exactMaxColumns) {
        const h = new Float64Array(d * d);
        for (let i = 0; i < cg; i++)
          for (let j = 0; j < cg; j++)
            for (let t = 0; t < T; t++) {
              const row = (i * T + t) * d;
              if (centred) h[row + j * T + t] = sigma[i * cg + j]!;
              else {
                const mm = 2 * x.mean[g * cg + i]! * x.mean[g * cg + j]!;
                for (let u = 0; u < T; u++) h[row + j * T + u] = mm;
                h[row + j * T + t] = sigma[i * cg + j]!;
              }
            }
        out.push(new DenseHessian(h, cg, T, centred ? mu : undefined, 0, damping));
      } else {
        const omega = Float64Array.from({ length: T * T }, (_, k) => (k % (T + 1) === 0 ? 1 : 0));
        out.push(new KroneckerHessian(sigma, omega, 1, cg, T, centred ? mu : undefined, 0, damping));
      }
      continue;
    }
    const v = new Float64Array(d), m = new Float64Array(d);
    for (let c = 0; c < cg; c++)
      for (let t = 0; t < T; t++) {
        v[c * T + t] = 2 * x.variance[g * cg + c]!;
        m[c * T + t] = Math.SQRT2 * x.mean[g * cg + c]!;
      }
    out.push(new DiagonalHessian(v, centred ? undefined : m, cg, T, centred ? mu : undefined, 0, damping));
  }
  return out;
}
