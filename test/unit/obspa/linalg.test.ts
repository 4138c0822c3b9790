import assert from "node:assert/strict";
import {
  accumulateGram,
  cholesky,
  choleskyInverse,
  choleskySolveRows,
  dampedCholesky,
  matmul,
  symmetrize,
  transpose,
} from "../../../analyzers/pruning/obspa/linalg.ts";
import { seededRandom } from "../../../analyzers/runtime/ort.ts";

function randomMatrix(rows: number, cols: number, seed: number): Float64Array {
  const r = seededRandom(seed);
  return Float64Array.from({ length: rows * cols }, () => r() - 0.5);
}

/** A random SPD matrix X·Xᵀ/n + εI of size d. */
function spd(d: number, seed: number): Float64Array {
  const n = d + 7;
  const x = randomMatrix(d, n, seed);
  const h = new Float64Array(d * d);
  accumulateGram(h, x, d, n);
  symmetrize(h, d);
  for (let i = 0; i < d * d; i++) h[i] /= n;
  for (let i = 0; i < d; i++) h[i * d + i] += 1e-3;
  return h;
}

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

describe("obspa linalg", () => {
  // Sizes around the block size (48) and the 2×2 register blocking (odd and even).
  for (const d of [1, 2, 5, 47, 48, 49, 97, 130]) {
    it(`Cholesky, inverse and solves agree with the matrix (d = ${d})`, () => {
      const h = spd(d, d);
      const L = Float64Array.from(h);
      assert.ok(cholesky(L, d));
      // L·Lᵀ = H and L is lower triangular.
      const llt = matmul(L, transpose(L, d, d), d, d, d);
      assert.ok(maxAbsDiff(llt, h) < 1e-12, "L·Lᵀ = H");
      for (let i = 0; i < d; i++) for (let j = i + 1; j < d; j++) assert.equal(L[i * d + j], 0);
      const inv = choleskyInverse(L, d);
      const eye = matmul(h, inv, d, d, d);
      for (let i = 0; i < d; i++) eye[i * d + i] -= 1;
      assert.ok(maxAbsDiff(eye, new Float64Array(d * d)) < 1e-8, "H·H⁻¹ = I");
      const b = randomMatrix(3, d, 99);
      const x = Float64Array.from(b);
      choleskySolveRows(L, d, x, 3);
      assert.ok(maxAbsDiff(matmul(x, h, 3, d, d), b) < 1e-9, "X·H = B");
    });
  }

  it("accumulates the Gram matrix of streamed chunks", () => {
    const d = 9, n1 = 13, n2 = 6;
    const a = randomMatrix(d, n1, 1), b = randomMatrix(d, n2, 2);
    const h = new Float64Array(d * d);
    accumulateGram(h, a, d, n1);
    accumulateGram(h, b, d, n2);
    symmetrize(h, d);
    const want = new Float64Array(d * d);
    for (let i = 0; i < d; i++)
      for (let j = 0; j < d; j++) {
        let s = 0;
        for (let k = 0; k < n1; k++) s += a[i * n1 + k]! * a[j * n1 + k]!;
        for (let k = 0; k < n2; k++) s += b[i * n2 + k]! * b[j * n2 + k]!;
        want[i * d + j] = s;
      }
    assert.ok(maxAbsDiff(h, want) < 1e-12);
  });

  it("damps a singular Hessian (dead inputs) and retries an indefinite one", () => {
    const d = 4;
    // Input 2 is dead: its row and column are zero.
    const h = Float64Array.from([2, 1, 0, 0, 1, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]);
    const f = dampedCholesky(h, d, { lambda: 0.01 });
    assert.equal(f.tries, 1);
    assert.ok(Math.abs(f.damping - 0.01 * (5 / 4)) < 1e-15);
    assert.ok(Math.abs(f.L[2 * d + 2]! - Math.sqrt(f.damping)) < 1e-15);
    // Indefinite (eigenvalues 3 and −1): more damping until it factorises.
    const bad = Float64Array.from([1, 2, 2, 1]);
    const g = dampedCholesky(bad, 2, { lambda: 0.01 });
    assert.ok(g.tries > 1 && g.damping > 1);
    assert.throws(() => dampedCholesky(Float64Array.from([1, 2, 2, 1]), 2, { lambda: 0.01, maxTries: 2 }), /Cholesky failed/);
  });
});

describe("obspa products through onnxruntime (float64)", () => {
  it("matmulFast and accumulateGramFast equal the JavaScript kernels above the size threshold", async () => {
    const { matmulFast, accumulateGramFast } = await import("../../../analyzers/pruning/obspa/gram.ts");
    const m = 150, k = 400, n = 350; // m·k·n ≥ 2e7: onnxruntime path
    const a = randomMatrix(m, k, 1), b = randomMatrix(k, n, 2);
    assert.ok(maxAbsDiff(await matmulFast(a, b, m, k, n), matmul(a, b, m, k, n)) < 1e-11);
    const d = 300, rows = 400;
    const x = randomMatrix(d, rows, 3);
    const h1 = new Float64Array(d * d), h2 = new Float64Array(d * d);
    accumulateGram(h1, x, d, rows);
    await accumulateGramFast(h2, x, d, rows);
    for (let i = 0; i < d; i++) for (let j = 0; j <= i; j++) assert.ok(Math.abs(h1[i * d + j]! - h2[i * d + j]!) < 1e-10);
  });
});
