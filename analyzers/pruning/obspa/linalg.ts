/**
 * Dense float64 linear algebra for OBSPA: Cholesky (blocked, with damping and retries), inverse and
 * solves through it. Matrices are row-major Float64Arrays; symmetric matrices are stored in full.
 * Written for the sizes of one layer's Hessian (up to a few thousand), with register-blocked inner loops
 * since that is where pruning spends its time.
 */

/** Block size of the blocked Cholesky: panel columns that stay in cache while the trailing update runs. */
const NB = 48;

/** A pivot smaller than this fraction of its original diagonal entry means "not positive definite". */
const PIVOT_TOLERANCE = 1e-12;

/**
 * Cholesky factorisation A = L·Lᵀ in place: the lower triangle becomes L, the strict upper triangle is
 * zeroed. Returns false (leaving `a` partly overwritten) when A is not numerically positive definite:
 * a pivot that cancels down to rounding noise counts as a failure, so damping gets a chance to fix it.
 */
export function cholesky(a: Float64Array, n: number): boolean {
  const diag = new Float64Array(n);
  for (let i = 0; i < n; i++) diag[i] = a[i * n + i]!;
  for (let k0 = 0; k0 < n; k0 += NB) {
    const k1 = Math.min(n, k0 + NB);
    // 1. Factor the diagonal block (columns k0..k1), whose rows already hold all earlier updates.
    for (let j = k0; j < k1; j++) {
      const rj = j * n;
      let s = a[rj + j]!;
      for (let k = k0; k < j; k++) s -= a[rj + k]! * a[rj + k]!;
      if (!(s > PIVOT_TOLERANCE * diag[j]!) || !Number.isFinite(s)) return false;
      const d = Math.sqrt(s);
      a[rj + j] = d;
      const inv = 1 / d;
      for (let i = j + 1; i < k1; i++) {
        const ri = i * n;
        let t = a[ri + j]!;
        for (let k = k0; k < j; k++) t -= a[ri + k]! * a[rj + k]!;
        a[ri + j] = t * inv;
      }
    }
    // 2. Panel below the block: L21 = A21 · L11⁻ᵀ (a row-wise forward substitution).
    for (let i = k1; i < n; i++) {
      const ri = i * n;
      for (let j = k0; j < k1; j++) {
        const rj = j * n;
        let t = a[ri + j]!;
        for (let k = k0; k < j; k++) t -= a[ri + k]! * a[rj + k]!;
        a[ri + j] = t / a[rj + j]!;
      }
    }
    // 3. Trailing update of the lower triangle: A22 −= L21 · L21ᵀ.
    syrkLower(a, n, k1, n, k0, k1);
  }
  for (let i = 0; i < n; i++) a.fill(0, i * n + i + 1, (i + 1) * n);
  return true;
}

/**
 * a[i][j] −= Σ_{k∈[k0,k1)} a[i][k]·a[j][k] for r0 ≤ j ≤ i < r1 (rows of the panel dotted pairwise),
 * two rows by two rows at a time so each loaded value feeds two products.
 */
function syrkLower(a: Float64Array, n: number, r0: number, r1: number, k0: number, k1: number): void {
  let i = r0;
  for (; i + 1 < r1; i += 2) {
    const ri = i * n;
    const ri1 = ri + n;
    let j = r0;
    for (; j + 1 <= i; j += 2) {
      const rj = j * n;
      const rj1 = rj + n;
      let s00 = 0, s01 = 0, s10 = 0, s11 = 0;
      for (let k = k0; k < k1; k++) {
        const x0 = a[ri + k]!, x1 = a[ri1 + k]!, y0 = a[rj + k]!, y1 = a[rj1 + k]!;
        s00 += x0 * y0;
        s01 += x0 * y1;
        s10 += x1 * y0;
        s11 += x1 * y1;
      }
      a[ri + j] -= s00;
      a[ri + j + 1] -= s01;
      a[ri1 + j] -= s10;
      a[ri1 + j + 1] -= s11;
    }
    for (; j <= i + 1; j++) {
      // the last column(s) touching the diagonal: j = i (both rows) and j = i + 1 (second row only)
      const rj = j * n;
      let s0 = 0, s1 = 0;
      for (let k = k0; k < k1; k++) {
        const y = a[rj + k]!;
        s0 += a[ri + k]! * y;
        s1 += a[ri1 + k]! * y;
      }
      if (j <= i) a[ri + j] -= s0;
      a[ri1 + j] -= s1;
    }
  }
  for (; i < r1; i++) {
    const ri = i * n;
    for (let j = r0; j <= i; j++) {
      const rj = j * n;
      let s = 0;
      for (let k = k0; k < k1; k++) s += a[ri + k]! * a[rj + k]!;
      a[ri + j] -= s;
    }
  }
}

export interface DampedCholesky {
  /** The lower factor of H + damping·I (full n×n, upper triangle zero). */
  readonly L: Float64Array;
  /** The absolute damping finally added to the diagonal. */
  readonly damping: number;
  /** Factorisations tried (1 when the first damping sufficed). */
  readonly tries: number;
}

export interface DampingOptions {
  /** Relative damping λ: λ·mean(diag H) is added to the diagonal (default 0.01). */
  lambda?: number;
  /** Factor the damping grows by after a failed factorisation (default 10). */
  growth?: number;
  /** Factorisations to try before giving up (default 8). */
  maxTries?: number;
}

/** Mean of the diagonal (1 when it is zero or not finite, so damping stays meaningful for a dead layer). */
export function meanDiagonal(h: Float64Array, n: number): number {
  let s = 0;
  for (let i = 0; i < n; i++) s += h[i * n + i]!;
  const m = s / n;
  return m > 0 && Number.isFinite(m) ? m : 1;
}

/**
 * Cholesky of H + λ·mean(diag H)·I, retrying with more damping while the factorisation fails. H is not
 * modified. Inputs whose H_jj is 0 (dead channels) get the damping alone on their diagonal, which keeps
 * the factorisation defined and makes their removal cost only their weights' damped energy.
 */
export function dampedCholesky(h: Float64Array, n: number, opts: DampingOptions = {}): DampedCholesky {
  const lambda = opts.lambda ?? 0.01;
  const growth = opts.growth ?? 10;
  const maxTries = opts.maxTries ?? 8;
  const scale = meanDiagonal(h, n);
  let damping = lambda > 0 ? lambda * scale : 0;
  for (let t = 1; t <= maxTries; t++) {
    const L = Float64Array.from(h);
    for (let i = 0; i < n; i++) L[i * n + i] += damping;
    if (cholesky(L, n)) return { L, damping, tries: t };
    damping = damping > 0 ? damping * growth : 1e-8 * scale;
  }
  throw new Error(`Cholesky failed after ${maxTries} tries (damping up to ${damping / growth})`);
}

/**
 * The transpose of L⁻¹ (an upper-triangular matrix) for a lower-triangular L. Computed column by column of
 * L⁻¹ so every inner product runs over contiguous memory: Mt[j][i] = −(L[i][j..i) · Mt[j][j..i)) / L[i][i].
 */
export function invertLowerTransposed(L: Float64Array, n: number): Float64Array {
  const mt = new Float64Array(n * n);
  let j = 0;
  for (; j + 1 < n; j += 2) {
    const r0 = j * n, r1 = r0 + n;
    mt[r0 + j] = 1 / L[j * n + j]!;
    mt[r1 + j + 1] = 1 / L[(j + 1) * n + j + 1]!;
    mt[r0 + j + 1] = -L[(j + 1) * n + j]! * mt[r0 + j]! / L[(j + 1) * n + j + 1]!;
    for (let i = j + 2; i < n; i++) {
      const li = i * n;
      let s0 = 0, s1 = 0;
      for (let k = j; k < i; k++) {
        const l = L[li + k]!;
        s0 += l * mt[r0 + k]!;
        s1 += l * mt[r1 + k]!;
      }
      const inv = 1 / L[li + i]!;
      mt[r0 + i] = -s0 * inv;
      mt[r1 + i] = -s1 * inv;
    }
  }
  for (; j < n; j++) {
    const r0 = j * n;
    mt[r0 + j] = 1 / L[j * n + j]!;
    for (let i = j + 1; i < n; i++) {
      const li = i * n;
      let s = 0;
      for (let k = j; k < i; k++) s += L[li + k]! * mt[r0 + k]!;
      mt[r0 + i] = -s / L[li + i]!;
    }
  }
  return mt;
}

/** H⁻¹ = L⁻ᵀ·L⁻¹ from the Cholesky factor of H (full symmetric storage). */
export function choleskyInverse(L: Float64Array, n: number): Float64Array {
  const mt = invertLowerTransposed(L, n); // row i of mt: column i of L⁻¹, non-zero from i on
  const out = new Float64Array(n * n);
  // (H⁻¹)[i][j] = Σ_{k ≥ max(i,j)} L⁻¹[k][i]·L⁻¹[k][j] = mt[i][k..] · mt[j][k..], two by two.
  let i = 0;
  for (; i + 1 < n; i += 2) {
    const ri = i * n, ri1 = ri + n;
    let j = 0;
    for (; j + 1 <= i; j += 2) {
      const rj = j * n, rj1 = rj + n;
      let s00 = 0, s01 = 0, s10 = 0, s11 = 0;
      // rows i, i+1 are zero before i (resp. i+1): start at i; mt[i+1][i] is 0 so the first term is safe.
      for (let k = i; k < n; k++) {
        const x0 = mt[ri + k]!, x1 = mt[ri1 + k]!, y0 = mt[rj + k]!, y1 = mt[rj1 + k]!;
        s00 += x0 * y0;
        s01 += x0 * y1;
        s10 += x1 * y0;
        s11 += x1 * y1;
      }
      out[ri + j] = s00;
      out[ri + j + 1] = s01;
      out[ri1 + j] = s10;
      out[ri1 + j + 1] = s11;
    }
    for (; j <= i + 1; j++) {
      const rj = j * n;
      let s0 = 0, s1 = 0;
      for (let k = i; k < n; k++) {
        const y = mt[rj + k]!;
        s0 += mt[ri + k]! * y;
        s1 += mt[ri1 + k]! * y;
      }
      if (j <= i) out[ri + j] = s0;
      out[ri1 + j] = s1;
    }
  }
  for (; i < n; i++) {
    const ri = i * n;
    for (let j = 0; j <= i; j++) {
      const rj = j * n;
      let s = 0;
      for (let k = i; k < n; k++) s += mt[ri + k]! * mt[rj + k]!;
      out[ri + j] = s;
    }
  }
  symmetrize(out, n);
  return out;
}

/** Solves X·(L·Lᵀ) = B for X in place: B is m×n row-major (each row solved independently). */
export function choleskySolveRows(L: Float64Array, n: number, b: Float64Array, m: number): void {
  for (let r = 0; r < m; r++) {
    const o = r * n;
    // x·L·Lᵀ = b  ⇔  (L·Lᵀ)·xᵀ = bᵀ: forward L·y = bᵀ, back Lᵀ·xᵀ = y.
    for (let i = 0; i < n; i++) {
      const ri = i * n;
      let s = b[o + i]!;
      for (let k = 0; k < i; k++) s -= L[ri + k]! * b[o + k]!;
      b[o + i] = s / L[ri + i]!;
    }
    for (let i = n - 1; i >= 0; i--) {
      let s = b[o + i]!;
      for (let k = i + 1; k < n; k++) s -= L[k * n + i]! * b[o + k]!;
      b[o + i] = s / L[i * n + i]!;
    }
  }
}

/** The square submatrix A[idx, idx] of an n×n matrix. */
export function principalSubmatrix(a: Float64Array, n: number, idx: readonly number[]): Float64Array {
  const k = idx.length;
  const out = new Float64Array(k * k);
  for (let r = 0; r < k; r++) {
    const src = idx[r]! * n;
    for (let c = 0; c < k; c++) out[r * k + c] = a[src + idx[c]!]!;
  }
  return out;
}

/** The rows `idx` of an n-column matrix. */
export function selectRows(a: Float64Array, n: number, idx: readonly number[]): Float64Array {
  const out = new Float64Array(idx.length * n);
  idx.forEach((r, i) => out.set(a.subarray(r * n, (r + 1) * n), i * n));
  return out;
}

/** C (m×p) = A (m×k) · B (k×p), row-major. */
export function matmul(a: Float64Array, b: Float64Array, m: number, k: number, p: number): Float64Array {
  const c = new Float64Array(m * p);
  for (let i = 0; i < m; i++) {
    const ci = i * p;
    for (let t = 0; t < k; t++) {
      const v = a[i * k + t]!;
      if (v === 0) continue;
      const bt = t * p;
      for (let j = 0; j < p; j++) c[ci + j] += v * b[bt + j]!;
    }
  }
  return c;
}

/**
 * H += X·Xᵀ for X stored as `d` rows of `n` samples each (row-major d × n, i.e. one row per column of the
 * Hessian), updating the lower triangle only (call symmetrize after the last chunk). Two-by-two register
 * blocking: each loaded value feeds two products.
 */
export function accumulateGram(h: Float64Array, xt: Float64Array, d: number, n: number): void {
  let i = 0;
  for (; i + 1 < d; i += 2) {
    const pi = i * n, pi1 = pi + n;
    let j = 0;
    for (; j + 1 <= i; j += 2) {
      const pj = j * n, pj1 = pj + n;
      let s00 = 0, s01 = 0, s10 = 0, s11 = 0;
      for (let k = 0; k < n; k++) {
        const x0 = xt[pi + k]!, x1 = xt[pi1 + k]!, y0 = xt[pj + k]!, y1 = xt[pj1 + k]!;
        s00 += x0 * y0;
        s01 += x0 * y1;
        s10 += x1 * y0;
        s11 += x1 * y1;
      }
      h[i * d + j] += s00;
      h[i * d + j + 1] += s01;
      h[(i + 1) * d + j] += s10;
      h[(i + 1) * d + j + 1] += s11;
    }
    for (; j <= i + 1; j++) {
      const pj = j * n;
      let s0 = 0, s1 = 0;
      for (let k = 0; k < n; k++) {
        const y = xt[pj + k]!;
        s0 += xt[pi + k]! * y;
        s1 += xt[pi1 + k]! * y;
      }
      if (j <= i) h[i * d + j] += s0;
      h[(i + 1) * d + j] += s1;
    }
  }
  for (; i < d; i++) {
    const pi = i * n;
    for (let j = 0; j <= i; j++) {
      const pj = j * n;
      let s = 0;
      for (let k = 0; k < n; k++) s += xt[pi + k]! * xt[pj + k]!;
      h[i * d + j] += s;
    }
  }
}

/** The transpose of a rows × cols row-major matrix. */
export function transpose(a: Float64Array, rows: number, cols: number): Float64Array {
  const out = new Float64Array(rows * cols);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) out[c * rows + r] = a[r * cols + c]!;
  return out;
}

/** Copies the lower triangle onto the upper one. */
export function symmetrize(h: Float64Array, n: number): void {
  for (let i = 0; i < n; i++) for (let j = 0; j < i; j++) h[j * n + i] = h[i * n + j]!;
}
