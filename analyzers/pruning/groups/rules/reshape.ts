/**
 * Reshape and Flatten. Input and output dims are aligned into chunks of equal product (size-1 axes
 * are independent). A chunk of one axis on each side is the same space; one axis split into several
 * is a factorisation (768 → 12 heads × 64 dims; channel c of a Flatten covers features c·S…(c+1)·S−1);
 * several into several goes through a virtual flat axis. Positive shape entries of axes that may lose
 * indices are rewritten (constant shape tensors, or constants fed through Concat); entries read at run
 * time with Shape follow by themselves.
 */
import { attrInt } from "../../../graph/attrs.ts";
import type { Dim } from "../../../graph/graph.ts";
import { normAxis, RuleError, type RuleContext } from "../context.ts";
import type { RuleTable } from "../rule.ts";
import type { SpaceId } from "../relations.ts";

export interface Chunk {
  a: number[];
  b: number[];
}

/** Aligns two shapes into chunks of equal product; size-1 axes are left out. `rest` is set when it stops early. */
export function alignShapes(x: readonly Dim[], y: readonly Dim[]): { chunks: Chunk[]; restA: number[]; restB: number[] } {
  const A = x.flatMap((d, i) => (d === 1 ? [] : [i]));
  const B = y.flatMap((d, i) => (d === 1 ? [] : [i]));
  const chunks: Chunk[] = [];
  let i = 0, j = 0;
  const fail = () => ({ chunks, restA: A.slice(i), restB: B.slice(j) });
  while (i < A.length && j < B.length) {
    const da = x[A[i]!], db = y[B[j]!];
    if (typeof da !== "number" || typeof db !== "number") {
      if (da !== undefined && da === db) {
        chunks.push({ a: [A[i]!], b: [B[j]!] });
        i++, j++;
        continue;
      }
      return fail();
    }
    const ci = [A[i]!], cj = [B[j]!];
    let pa = da, pb = db;
    const i0 = i, j0 = j;
    i++, j++;
    while (pa !== pb) {
      if (pa < pb) {
        const d = x[A[i]!];
        if (i >= A.length || typeof d !== "number") {
          i = i0, j = j0;
          return fail();
        }
        pa *= d;
        ci.push(A[i++]!);
      } else {
        const d = y[B[j]!];
        if (j >= B.length || typeof d !== "number") {
          i = i0, j = j0;
          return fail();
        }
        pb *= d;
        cj.push(B[j++]!);
      }
    }
    chunks.push({ a: ci, b: cj });
  }
  return { chunks, restA: A.slice(i), restB: B.slice(j) };
}

/** Relates the axes of input 0 and output 0 of a reshaping node. Returns the output axes that are tracked. */
export function relateReshape(ctx: RuleContext, x: readonly Dim[], y: readonly Dim[]): Set<number> {
  const { chunks, restA, restB } = alignShapes(x, y);
  const tracked = new Set<number>();
  chunks.forEach((c, n) => {
    const as = c.a.map((a) => ctx.in(0, a)), bs = c.b.map((b) => ctx.out(0, b));
    c.b.forEach((b) => tracked.add(b));
    if (as.length === 1 && bs.length === 1) ctx.same(as[0]!, bs[0]!);
    else if (as.length === 1) ctx.factor(as[0]!, bs);
    else if (bs.length === 1) ctx.factor(bs[0]!, as);
    else {
      const size = as.reduce((p, s) => p * ctx.sizeOf(s), 1);
      const v: SpaceId = ctx.virtual(`flat${n}`, size);
      ctx.factor(v, as);
      ctx.factor(v, bs);
    }
  });
  if (restA.length || restB.length) {
    const reason = { kind: "reshape", text: `${ctx.where} mixes axes in a way the rules do not cover ([${x}] → [${y}])` };
    for (const a of restA) ctx.freeze(ctx.in(0, a), reason);
    for (const b of restB) ctx.freeze(ctx.out(0, b), reason);
  }
  return tracked;
}

function reshape(ctx: RuleContext): void {
  const x = ctx.inShape(0), y = ctx.outShape(0);
  if (!x || !y) throw new RuleError({ kind: "unknown shape", text: `${ctx.where}: unknown shapes` });
  relateReshape(ctx, x, y);
  const shape = ctx.value(1);
  const allowZero = attrInt(ctx.node.proto, "allowzero", 0) === 1;
  y.forEach((d, k) => {
    if (d === 1 || typeof d !== "number") return;
    const e = shape?.values[k];
    if (e === -1 || (e === 0 && !allowZero)) return;
    ctx.shapeEntry(1, k, ctx.out(0, k), `shape[${k}]=${e ?? d}`);
  });
}

function flatten(ctx: RuleContext): void {
  const x = ctx.inShape(0), y = ctx.outShape(0);
  if (!x || !y) throw new RuleError({ kind: "unknown shape", text: `${ctx.where}: unknown shapes` });
  const ax = normAxis(attrInt(ctx.node.proto, "axis", 1), x.length);
  // Flatten's two output axes are products of the two input halves: align each half separately.
  const left = x.slice(0, ax), right = x.slice(ax);
  const relate = (half: readonly Dim[], offset: number, k: number) => {
    const idx = half.flatMap((d, i) => (d === 1 ? [] : [i + offset]));
    if (idx.length === 0) return;
    const out = ctx.out(0, k);
    if (idx.length === 1) ctx.same(ctx.in(0, idx[0]!), out);
    else if (idx.every((i) => typeof x[i] === "number")) ctx.factor(out, idx.map((i) => ctx.in(0, i)), idx.map(() => "channel"));
    else {
      const reason = { kind: "reshape", text: `${ctx.where} flattens symbolic axes` };
      for (const i of idx) ctx.freeze(ctx.in(0, i), reason);
      ctx.freeze(out, reason);
    }
  };
  relate(left, 0, 0);
  relate(right, ax, 1);
}

export const reshapeRules: RuleTable = { Reshape: reshape, Flatten: flatten };
