/**
 * Dimension arithmetic with symbols. A dim is a number, a symbol/expression string ("batch",
 * "batch*197") or undefined (unknown). Products are kept as coefficient × multiset of symbols, which
 * is exactly what Reshape's -1 and Flatten need with a dynamic batch.
 */
import type { Dim } from "../graph.ts";

export interface Product {
  coef: number;
  syms: string[]; // sorted
}

export function isKnown(d: Dim): d is number | string {
  return d !== undefined;
}

export function productOf(dims: readonly Dim[]): Product | undefined {
  let coef = 1;
  const syms: string[] = [];
  for (const d of dims) {
    if (d === undefined) return undefined;
    if (typeof d === "number") coef *= d;
    else syms.push(...splitExpr(d));
  }
  syms.sort();
  return { coef, syms };
}

/** "batch*197" → ["batch", "197"] are split at top-level '*'; numeric factors are folded by the caller. */
function splitExpr(s: string): string[] {
  return s.split("*").filter((x) => x !== "");
}

export function productToDim(p: Product): Dim {
  let coef = p.coef;
  const syms: string[] = [];
  for (const s of p.syms) {
    const n = Number(s);
    if (Number.isFinite(n) && s.trim() !== "") coef *= n;
    else syms.push(s);
  }
  if (syms.length === 0) return coef;
  if (coef === 0) return 0;
  return coef === 1 ? syms.join("*") : [String(coef), ...syms].join("*");
}

/** a / b for products, when exact; undefined otherwise. */
export function divideProducts(a: Product, b: Product): Product | undefined {
  if (b.coef === 0) return undefined;
  const rest = a.syms.slice();
  for (const s of b.syms) {
    const i = rest.indexOf(s);
    if (i < 0) return undefined;
    rest.splice(i, 1);
  }
  if (a.coef % b.coef !== 0) return undefined;
  return { coef: a.coef / b.coef, syms: rest };
}

export function mulDims(a: Dim, b: Dim): Dim {
  if (typeof a === "number" && typeof b === "number") return a * b;
  const p = productOf([a, b]);
  return p ? productToDim(p) : undefined;
}

export function addDims(a: Dim, b: Dim): Dim {
  if (typeof a === "number" && typeof b === "number") return a + b;
  if (a === 0) return b;
  if (b === 0) return a;
  return undefined;
}

/** The value of a dim once its symbols are bound ("12*batch" with batch = 2 → 24); undefined if a symbol is unbound. */
export function evalDim(d: Dim, bindings: Readonly<Record<string, number>>): number | undefined {
  if (d === undefined || typeof d === "number") return d;
  let v = 1;
  for (const f of splitExpr(d)) {
    const n = Number(f);
    if (Number.isFinite(n) && f.trim() !== "") v *= n;
    else if (f in bindings) v *= bindings[f]!;
    else return undefined;
  }
  return v;
}

export function dimsEqual(a: Dim, b: Dim): boolean {
  return a !== undefined && a === b;
}

/** Numpy broadcasting of several shapes; unknown where it cannot decide. */
export function broadcast(shapes: readonly (readonly Dim[] | undefined)[]): Dim[] | undefined {
  if (shapes.some((s) => s === undefined)) return undefined;
  const rank = Math.max(0, ...shapes.map((s) => s!.length));
  const out: Dim[] = [];
  for (let i = 0; i < rank; i++) {
    let d: Dim = 1;
    let unknown = false;
    for (const s of shapes) {
      const k = s!.length - rank + i;
      if (k < 0) continue;
      const e = s![k];
      if (e === 1) continue;
      if (e === undefined) {
        unknown = true;
        continue;
      }
      if (d === 1) d = e;
      else if (d !== e) {
        // Two different non-1 values: symbols may be equal at run time; numbers conflict.
        if (typeof d === "number" && typeof e === "number") throw new Error(`cannot broadcast ${d} with ${e}`);
        if (typeof e === "number") d = e; // a symbol must equal the concrete dim
      }
    }
    out.push(unknown && d === 1 ? undefined : d);
  }
  return out;
}

export function normAxis(axis: number, rank: number): number {
  return axis < 0 ? axis + rank : axis;
}
