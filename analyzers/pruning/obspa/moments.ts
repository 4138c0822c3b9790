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
import { DiagonalHessian, type LayerHessian } from "./hessian.ts";
import { groupColumns, splitWeight, biasValues, type WeightLayer } from "./layers.ts";
import type { DampingOptions } from "./linalg.ts";

/** Per-channel moments of a value along its channel axis (axis 1, or the last axis of a rank-2 tensor). */
export interface Moments {
  readonly mean: Float64Array;
  readonly variance: Float64Array;
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

export interface MomentOptions {
  /** Moments assumed for the graph inputs (default N(0, 1) per channel). */
  inputMean?: number;
  inputVariance?: number;
}

/**
 * Moments of every activation the rules can follow, by value name. Values reached through an operator
 * without a rule get no entry, and neither does anything computed from them.
 */
export function propagateMoments(graph: Graph, layers: ReadonlyMap<string, WeightLayer>, opts: MomentOptions = {}): Map<string, Moments> {
  const out = new Map<string, Moments>();
  const channelsOf = (name: string): number | undefined => {
    const t = graph.declaredTypes.get(name);
    const d = t?.shape?.[1];
    return typeof d === "number" ? d : undefined;
  };
  for (const name of graph.inputs) {
    const c = channelsOf(name);
    if (c) out.set(name, { mean: new Float64Array(c).fill(opts.inputMean ?? 0), variance: new Float64Array(c).fill(opts.inputVariance ?? 1), origin: "propagated" });
  }
  const weightOf = (name: string | undefined) => (name ? graph.weight(name) : undefined);
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
      set({ mean, variance, origin: x.origin });
      continue;
    }
    switch (node.opType) {
      case "BatchNormalization": {
        if (!weightOf(node.inputs[1]) || !weightOf(node.inputs[2]) || !weightOf(node.inputs[4])) break;
        const gamma = values(node.inputs[1]!), beta = values(node.inputs[2]!), rv = values(node.inputs[4]!);
        const eps = attrFloat(node.proto, "epsilon", 1e-5);
        const variance = gamma.map((g, i) => (g * g * rv[i]!) / (rv[i]! + eps));
        set({ mean: Float64Array.from(beta), variance, origin: "bn" });
        break;
      }
      case "Relu":
        if (x) {
          const mean = new Float64Array(x.mean.length), variance = new Float64Array(x.mean.length);
          for (let i = 0; i < mean.length; i++) [mean[i], variance[i]] = reluMoments(x.mean[i]!, x.variance[i]!);
          set({ mean, variance, origin: x.origin });
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
            origin: a.origin === "bn" && b.origin === "bn" ? "bn" : "propagated",
          });
        } else if (a && weightOf(node.inputs[1])) {
          const c = perChannel(values(node.inputs[1]!), a.mean.length);
          if (c) set({ mean: a.mean.map((m, i) => m + sign * c[i]!), variance: a.variance, origin: a.origin });
        }
        break;
      }
      case "Mul": {
        if (x && weightOf(node.inputs[1])) {
          const c = perChannel(values(node.inputs[1]!), x.mean.length);
          if (c) set({ mean: x.mean.map((m, i) => m * c[i]!), variance: x.variance.map((v, i) => v * c[i]! * c[i]!), origin: x.origin });
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
        set({ mean, variance, origin: x.origin });
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
          set({
            mean: Float64Array.from({ length: c }, (_, f) => x.mean[Math.floor(f / s)]!),
            variance: Float64Array.from({ length: c }, (_, f) => x.variance[Math.floor(f / s)]!),
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
          set({ mean: cat("mean"), variance: cat("variance"), origin: parts.every((p) => p.origin === "bn") ? "bn" : "propagated" });
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
  return { mean, variance, origin: x.origin };
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
 * The Hessian of a layer from the moments of its input: H = 2·(diag(σ²) + μ·μᵀ) over im2col columns (each
 * channel's moments repeated over its taps), or the centred 2·diag(σ²) with the means kept for bias
 * compensation. One per convolution group. Undefined when the input's moments are unknown.
 */
export function momentHessians(layer: WeightLayer, x: Moments | undefined, centred: boolean, damping?: DampingOptions): LayerHessian[] | undefined {
  if (!x || x.mean.length !== layer.inChannels) return undefined;
  const cg = layer.inChannels / layer.groups, T = layer.taps, d = groupColumns(layer);
  const out: LayerHessian[] = [];
  for (let g = 0; g < layer.groups; g++) {
    const v = new Float64Array(d), m = new Float64Array(d), mu = new Float64Array(d);
    for (let c = 0; c < cg; c++)
      for (let t = 0; t < T; t++) {
        v[c * T + t] = 2 * x.variance[g * cg + c]!;
        m[c * T + t] = Math.SQRT2 * x.mean[g * cg + c]!;
        mu[c * T + t] = x.mean[g * cg + c]!;
      }
    out.push(new DiagonalHessian(v, centred ? undefined : m, cg, T, centred ? mu : undefined, 0, damping));
  }
  return out;
}
