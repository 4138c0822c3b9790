/** Transpose, Squeeze, Unsqueeze: axes move, indices do not. */
import { attrInts } from "../../../graph/attrs.ts";
import { normAxis, permOf, RuleError, type RuleContext } from "../context.ts";
import type { RuleTable } from "../rule.ts";

function transpose(ctx: RuleContext): void {
  const r = ctx.inRank(0);
  const perm = permOf(ctx.node, r);
  perm.forEach((p, k) => ctx.same(ctx.in(0, p), ctx.out(0, k)));
}

function axesOf(ctx: RuleContext): number[] | undefined {
  const a = attrInts(ctx.node.proto, "axes");
  if (a) return a;
  if (ctx.has(1)) {
    const v = ctx.ints(1);
    if (!v) throw new RuleError({ kind: "runtime shape", text: `${ctx.where}: axes computed at run time` });
    return v;
  }
  return undefined;
}

function squeeze(ctx: RuleContext): void {
  const x = ctx.inShape(0)!;
  const r = ctx.inRank(0);
  const axes = axesOf(ctx);
  const drop = new Set(axes ? axes.map((a) => normAxis(a, r)) : x.flatMap((d, i) => (d === 1 ? [i] : [])));
  let o = 0;
  for (let a = 0; a < r; a++) if (!drop.has(a)) ctx.same(ctx.in(0, a), ctx.out(0, o++));
}

function unsqueeze(ctx: RuleContext): void {
  const r = ctx.inRank(0);
  const axes = axesOf(ctx);
  if (!axes) throw new RuleError({ kind: "runtime shape", text: `${ctx.where}: no axes` });
  const R = r + axes.length;
  const ins = new Set(axes.map((a) => normAxis(a, R)));
  let i = 0;
  for (let k = 0; k < R; k++) if (!ins.has(k)) ctx.same(ctx.in(0, i++), ctx.out(0, k));
}

export const transposeRules: RuleTable = { Transpose: transpose, Squeeze: squeeze, Unsqueeze: unsqueeze };
