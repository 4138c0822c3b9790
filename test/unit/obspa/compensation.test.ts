/**
 * OBSPA's compensation is the Optimal Brain Surgeon update; for one layer and fixed inputs X it must be the
 * least-squares optimum argmin ‖W·X − Ŵ·X‖² subject to the removed columns being zero. Checked against an
 * independent solve in TypeScript (normal equations by Gaussian elimination) and against NumPy's lstsq.
 */
import assert from "node:assert/strict";
import { relativeError } from "../../helpers/relativeError.ts";
import { spawnSync } from "node:child_process";
import { DenseAccumulator, DenseHessian, DiagonalHessian, KroneckerHessian } from "../../../analyzers/pruning/obspa/hessian.ts";
import { seededRandom } from "../../../analyzers/runtime/ort.ts";

const C = 6, T = 3, D = C * T, M = 4, N = 80;
const REMOVED = [1, 4];

function gaussian(seed: number): () => number {
  const r = seededRandom(seed);
  return () => Math.sqrt(-2 * Math.log(r() + 1e-300)) * Math.cos(2 * Math.PI * r());
}

/** Correlated inputs X (D × N): a random mixing of independent sources, plus a non-zero mean. */
function inputs(seed: number): Float64Array {
  const g = gaussian(seed);
  const mix = Float64Array.from({ length: D * D }, () => g());
  const src = Float64Array.from({ length: D * N }, () => g());
  const x = new Float64Array(D * N);
  for (let i = 0; i < D; i++)
    for (let k = 0; k < N; k++) {
      let s = 0.5 + 0.1 * i; // mean
      for (let j = 0; j < D; j++) s += mix[i * D + j]! * src[j * N + k]!;
      x[i * N + k] = s;
    }
  return x;
}

function weights(seed: number): Float64Array {
  const g = gaussian(seed);
  return Float64Array.from({ length: M * D }, () => g());
}

/** Solves A·x = b for a small dense system by Gaussian elimination with partial pivoting (A: k × k, b: k × m). */
function gaussSolve(a: Float64Array, b: Float64Array, k: number, m: number): Float64Array {
  const A = Float64Array.from(a), B = Float64Array.from(b);
  for (let c = 0; c < k; c++) {
    let p = c;
    for (let r = c + 1; r < k; r++) if (Math.abs(A[r * k + c]!) > Math.abs(A[p * k + c]!)) p = r;
    for (let j = 0; j < k; j++) [A[c * k + j], A[p * k + j]] = [A[p * k + j]!, A[c * k + j]!];
    for (let j = 0; j < m; j++) [B[c * m + j], B[p * m + j]] = [B[p * m + j]!, B[c * m + j]!];
    for (let r = c + 1; r < k; r++) {
      const f = A[r * k + c]! / A[c * k + c]!;
      for (let j = c; j < k; j++) A[r * k + j] -= f * A[c * k + j]!;
      for (let j = 0; j < m; j++) B[r * m + j] -= f * B[c * m + j]!;
    }
  }
  for (let c = k - 1; c >= 0; c--)
    for (let j = 0; j < m; j++) {
      let s = B[c * m + j]!;
      for (let t = c + 1; t < k; t++) s -= A[c * k + t]! * B[t * m + j]!;
      B[c * m + j] = s / A[c * k + c]!;
    }
  return B;
}

/** Columns kept, in order. */
function keptColumns(): number[] {
  const out: number[] = [];
  for (let c = 0; c < C; c++) if (!REMOVED.includes(c)) for (let t = 0; t < T; t++) out.push(c * T + t);
  return out;
}

/**
 * The least-squares reference: rows of Ŵ_K (and b̂ with an intercept) minimising ‖W·X − Ŵ_K·X_K [− b̂]‖²,
 * from the normal equations (X_K·X_Kᵀ)·Ŵ_Kᵀ = X_K·(W·X)ᵀ, X_K augmented by a ones row for the intercept.
 */
function leastSquares(w: Float64Array, x: Float64Array, intercept: boolean): { wk: Float64Array; b: Float64Array } {
  const kept = keptColumns();
  const k = kept.length + (intercept ? 1 : 0);
  const xk = (i: number, n: number) => (i < kept.length ? x[kept[i]! * N + n]! : 1);
  const y = new Float64Array(M * N); // W·X
  for (let r = 0; r < M; r++)
    for (let n = 0; n < N; n++) {
      let s = 0;
      for (let j = 0; j < D; j++) s += w[r * D + j]! * x[j * N + n]!;
      y[r * N + n] = s;
    }
  const a = new Float64Array(k * k), rhs = new Float64Array(k * M);
  for (let i = 0; i < k; i++) {
    for (let j = 0; j < k; j++) {
      let s = 0;
      for (let n = 0; n < N; n++) s += xk(i, n) * xk(j, n);
      a[i * k + j] = s;
    }
    for (let r = 0; r < M; r++) {
      let s = 0;
      for (let n = 0; n < N; n++) s += xk(i, n) * y[r * N + n]!;
      rhs[i * M + r] = s;
    }
  }
  const sol = gaussSolve(a, rhs, k, M); // k × M
  const wk = new Float64Array(M * D);
  kept.forEach((col, i) => {
    for (let r = 0; r < M; r++) wk[r * D + col] = sol[i * M + r]!;
  });
  const b = new Float64Array(M);
  if (intercept) for (let r = 0; r < M; r++) b[r] = sol[kept.length * M + r]!;
  return { wk, b };
}


async function denseHessian(x: Float64Array, centred: boolean): Promise<DenseHessian> {
  const acc = new DenseAccumulator(C, T);
  // Stream in two chunks to exercise the accumulation.
  const n1 = 30;
  const part = (from: number, to: number) => {
    const out = new Float64Array(D * (to - from));
    for (let j = 0; j < D; j++) out.set(x.subarray(j * N + from, j * N + to), j * (to - from));
    return out;
  };
  await acc.addColumns(part(0, n1), n1);
  await acc.addColumns(part(n1, N), N - n1);
  return acc.finish(centred, { lambda: 0 });
}

/** (1/n)·‖W·X − Ŵ·X − Δb‖²_F, the layer-wise error per sample. */
function layerError(w: Float64Array, what: Float64Array, x: Float64Array, db?: Float64Array): number {
  let s = 0;
  for (let r = 0; r < M; r++)
    for (let n = 0; n < N; n++) {
      let e = -(db?.[r] ?? 0);
      for (let j = 0; j < D; j++) e += (w[r * D + j]! - what[r * D + j]!) * x[j * N + n]!;
      s += e * e;
    }
  return s / N;
}

describe("OBSPA compensation equals the least-squares optimum", () => {
  const x = inputs(7);
  const w = weights(11);

  it("without bias: Ŵ = argmin ‖W·X − Ŵ·X‖², removed columns zero (TypeScript solve)", async () => {
    const h = await denseHessian(x, false);
    const { weight } = await h.compensate(w, M, REMOVED);
    const ref = leastSquares(w, x, false);
    assert.ok(relativeError(weight, ref.wk) < 1e-6, `relative error ${relativeError(weight, ref.wk)}`);
    for (let r = 0; r < M; r++) for (const c of REMOVED) for (let t = 0; t < T; t++) assert.equal(weight[r * D + c * T + t], 0);
    // The OBS cost is the error left after the optimal update.
    const cost = h.removalCost(w, M, REMOVED);
    const err = layerError(w, weight, x);
    assert.ok(Math.abs(cost - err) / err < 1e-8, `cost ${cost} vs error ${err}`);
    // And the update is better than plain deletion.
    const deleted = Float64Array.from(w);
    for (let r = 0; r < M; r++) for (const c of REMOVED) deleted.fill(0, r * D + c * T, r * D + (c + 1) * T);
    assert.ok(err < layerError(w, deleted, x));
  });

  it("with bias compensation: Ŵ, b̂ = argmin ‖W·X + b − Ŵ·X − b̂‖² (TypeScript solve)", async () => {
    const h = await denseHessian(x, true);
    const { weight, biasDelta } = await h.compensate(w, M, REMOVED);
    const ref = leastSquares(w, x, true);
    assert.ok(relativeError(weight, ref.wk) < 1e-6, `weights: relative error ${relativeError(weight, ref.wk)}`);
    assert.ok(biasDelta && relativeError(biasDelta, ref.b) < 1e-6, `bias: relative error ${biasDelta && relativeError(biasDelta, ref.b)}`);
    const cost = h.removalCost(w, M, REMOVED);
    const err = layerError(w, weight, x, biasDelta);
    assert.ok(Math.abs(cost - err) / err < 1e-8, `cost ${cost} vs error ${err}`);
  });

  it("matches NumPy's lstsq (Debian python3-numpy)", async function () {
    const script = `
import json, sys
import numpy as np
d = json.load(sys.stdin)
W = np.array(d["w"]).reshape(${M}, ${D}); X = np.array(d["x"]).reshape(${D}, ${N})
kept = d["kept"]
Y = W @ X
out = {}
sol, *_ = np.linalg.lstsq(X[kept].T, Y.T, rcond=None)
Wk = np.zeros_like(W); Wk[:, kept] = sol.T
out["plain"] = Wk.ravel().tolist()
A = np.vstack([X[kept], np.ones((1, X.shape[1]))])
sol, *_ = np.linalg.lstsq(A.T, Y.T, rcond=None)
Wk = np.zeros_like(W); Wk[:, kept] = sol[:-1].T
out["bias_w"] = Wk.ravel().tolist(); out["bias_b"] = sol[-1].tolist()
print(json.dumps(out))
`;
    const run = spawnSync("/usr/bin/python3", ["-c", script], {
      input: JSON.stringify({ w: Array.from(w), x: Array.from(x), kept: keptColumns() }),
      encoding: "utf8",
    });
    assert.equal(run.status, 0, `NumPy reference failed (install python3-numpy): ${run.stderr}`);
    const ref = JSON.parse(run.stdout) as { plain: number[]; bias_w: number[]; bias_b: number[] };
    const plain = await (await denseHessian(x, false)).compensate(w, M, REMOVED);
    assert.ok(relativeError(plain.weight, ref.plain) < 1e-6, `relative error ${relativeError(plain.weight, ref.plain)}`);
    const biased = await (await denseHessian(x, true)).compensate(w, M, REMOVED);
    assert.ok(relativeError(biased.weight, ref.bias_w) < 1e-6);
    assert.ok(relativeError(biased.biasDelta!, ref.bias_b) < 1e-6);
  });
});

describe("OBSPA structured Hessians agree with the dense form when the structure is exact", () => {
  const w = weights(5);

  it("diagonal + rank one (moment and identity sources)", async () => {
    const g = gaussian(3);
    const v = Float64Array.from({ length: D }, () => 0.5 + Math.abs(g()));
    const m = Float64Array.from({ length: D }, () => g());
    const h = new Float64Array(D * D);
    for (let i = 0; i < D; i++) for (let j = 0; j < D; j++) h[i * D + j] = m[i]! * m[j]! + (i === j ? v[i]! : 0);
    const dense = new DenseHessian(h, C, T, undefined, 0, { lambda: 0 });
    const diag = new DiagonalHessian(v, m, C, T, undefined, 0, { lambda: 0 });
    for (const ch of [[0], [3], [1, 4], [0, 2, 5]]) {
      const a = dense.removalCost(w, M, ch), b = diag.removalCost(w, M, ch);
      assert.ok(Math.abs(a - b) / a < 1e-10, `cost of ${ch}: ${a} vs ${b}`);
      assert.ok(relativeError((await diag.compensate(w, M, ch)).weight, (await dense.compensate(w, M, ch)).weight) < 1e-10);
    }
    const e1 = await dense.rowEnergy(w, M), e2 = await diag.rowEnergy(w, M);
    assert.ok(relativeError(e2, e1) < 1e-10);
    // Identity: the cost is half the squared norm of the removed columns and nothing else moves.
    const id = new DiagonalHessian(new Float64Array(D).fill(1), undefined, C, T, undefined, 0, { lambda: 0 });
    let sq = 0;
    for (let r = 0; r < M; r++) for (let t = 0; t < T; t++) sq += w[r * D + 2 * T + t]! ** 2;
    assert.ok(Math.abs(id.removalCost(w, M, [2]) - sq / 2) < 1e-12);
    const comp = (await id.compensate(w, M, [2])).weight;
    for (let r = 0; r < M; r++) for (let j = 0; j < D; j++) assert.equal(comp[r * D + j], Math.floor(j / T) === 2 ? 0 : w[r * D + j]);
  });

  it("Kronecker (channel ⊗ tap) equals the dense form of Σ ⊗ Ω / κ", async () => {
    const g = gaussian(4);
    const spd = (k: number) => {
      const a = Float64Array.from({ length: k * (k + 2) }, () => g());
      const s = new Float64Array(k * k);
      for (let i = 0; i < k; i++) for (let j = 0; j < k; j++) for (let t = 0; t < k + 2; t++) s[i * k + j] += a[i * (k + 2) + t]! * a[j * (k + 2) + t]!;
      return s;
    };
    const sigma = spd(C), omega = spd(T), kappa = 1.7;
    const h = new Float64Array(D * D);
    for (let a = 0; a < C; a++)
      for (let u = 0; u < T; u++)
        for (let b = 0; b < C; b++) for (let v = 0; v < T; v++) h[(a * T + u) * D + b * T + v] = (sigma[a * C + b]! * omega[u * T + v]!) / kappa;
    const dense = new DenseHessian(h, C, T, undefined, 0, { lambda: 0 });
    const kron = new KroneckerHessian(sigma, omega, kappa, C, T, undefined, 0, { lambda: 0 });
    for (const ch of [[0], [5], [1, 4], [0, 2, 3]]) {
      const a = dense.removalCost(w, M, ch), b = kron.removalCost(w, M, ch);
      assert.ok(Math.abs(a - b) / a < 1e-9, `cost of ${ch}: ${a} vs ${b}`);
      assert.ok(relativeError((await kron.compensate(w, M, ch)).weight, (await dense.compensate(w, M, ch)).weight) < 1e-9);
    }
    assert.ok(relativeError(await kron.rowEnergy(w, M), await dense.rowEnergy(w, M)) < 1e-9);
  });
});
