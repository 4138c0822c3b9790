/**
 * Slice: on a sliced axis with step ±1, output k is input start ± k (bounds rewritten from the removed
 * input indices); a strided slice (|step| > 1) keeps every step-th channel, which no pruning preserves,
 * so both axes are frozen. A full-range slice is the identity.
 */
import { attrInts } from "../../../graph/attrs.ts";
import { sliceBounds } from "../../../graph/shapes/ops/tensor.ts";
import { normAxis, RuleError, type RuleContext } from "../context.ts";
import type { RuleTable } from "../rule.ts";

function slice(ctx: RuleContext): void {
  const r = ctx.inRank(0);
  let starts: number[] | undefined, ends: number[] | undefined, axes: number[] | undefined, steps: number[] | undefined;
  if (ctx.opset < 10) {
    starts = attrInts(ctx.node.proto, "starts");
    ends = attrInts(ctx.node.proto, "ends");
    axes = attrInts(ctx.node.proto, "axes");
  } else {
    starts = ctx.ints(1);
    ends = ctx.ints(2);
    axes = ctx.has(3) ? ctx.ints(3) : undefined;
    steps = ctx.has(4) ? ctx.ints(4) : undefined;
    if ((ctx.has(3) && !axes) || (ctx.has(4) && !steps)) starts = undefined;
  }
  if (!starts || !ends) {
    if (!axes) throw new RuleError({ kind: "runtime shape", text: `${ctx.where}: slice parameters computed at run time` });
    const sliced = new Set(axes.map((a) => normAxis(a, r)));
    for (let a = 0; a < r; a++) {
      if (!sliced.has(a)) ctx.same(ctx.in(0, a), ctx.out(0, a));
      else {
        const reason = { kind: "runtime shape", text: `${ctx.where}: slice bounds computed at run time` };
        ctx.freeze(ctx.in(0, a), reason);
        ctx.freeze(ctx.out(0, a), reason);
      }
    }
    return;
  }
  const ax = (axes ?? starts.map((_, i) => i)).map((a) => normAxis(a, r));
  const st = steps ?? starts.map(() => 1);
  const done = new Set<number>();
  ax.forEach((a, i) => {
    done.add(a);
    const x = ctx.in(0, a), y = ctx.out(0, a);
    const n = ctx.sizeOf(x);
    const step = st[i]!;
    if (!Number.isFinite(n)) {
      const full = starts![i] === 0 && step === 1 && ends![i]! >= 2 ** 31 - 1;
      if (full) ctx.same(x, y);
      else {
        const reason = { kind: "unknown shape", text: `${ctx.where} slices an axis of unknown size` };
        ctx.freeze(x, reason);
        ctx.freeze(y, reason);
      }
      return;
    }
    const b = sliceBounds(n, starts![i]!, ends![i]!, step);
    if (step === 1 && b.start === 0 && b.count === n) {
      ctx.same(x, y);
      return;
    }
    if (Math.abs(step) !== 1) {
      const reason = { kind: "strided slice", text: `${ctx.where} takes every ${Math.abs(step)}th index` };
      ctx.freeze(x, reason);
      ctx.freeze(y, reason);
      return;
    }
    ctx.linkRange(y, 0, x, b.start, b.count, step);
    // The bounds as analysed (they may be computed from Shape at run time: apply writes constants).
    ctx.rewrite("slice-bounds", [x, y], `[${starts![i]}:${ends![i]}:${step}] on axis ${a}`, { slot: 1, entry: i, extra: { starts, ends, steps: st } });
  });
  for (let a = 0; a < r; a++) if (!done.has(a)) ctx.same(ctx.in(0, a), ctx.out(0, a));
}

export const sliceRules: RuleTable = { Slice: slice };
