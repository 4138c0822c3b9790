/**
 * Reductions, Softmax and the index-returning ops. Kept axes flow through; a reduced axis is
 * independent of the output (decomposed LayerNorm/RMSNorm reduce over channels: noted, since the mean
 * changes when channels go). ArgMax/ArgMin/TopK return positions on their axis as values, so that
 * axis is frozen.
 */
import { attrInt, attrInts } from "../../../graph/attrs.ts";
import { normAxis, RuleError, type RuleContext } from "../context.ts";
import type { RuleTable } from "../rule.ts";

const AXES_AS_INPUT_SINCE: Record<string, number> = { ReduceSum: 13 };

function reduce(ctx: RuleContext): void {
  const r = ctx.inRank(0);
  const since = AXES_AS_INPUT_SINCE[ctx.op] ?? 18;
  let axes: number[] | undefined;
  if (ctx.opset < since) axes = attrInts(ctx.node.proto, "axes");
  else if (ctx.has(1)) {
    axes = ctx.ints(1);
    if (!axes) throw new RuleError({ kind: "runtime shape", text: `${ctx.where}: reduction axes computed at run time` });
  }
  const noop = attrInt(ctx.node.proto, "noop_with_empty_axes", 0) === 1;
  if (!axes || axes.length === 0) axes = noop ? [] : Array.from({ length: r }, (_, i) => i);
  const red = new Set(axes.map((a) => normAxis(a, r)));
  const keep = attrInt(ctx.node.proto, "keepdims", 1) === 1;
  let o = 0;
  for (let a = 0; a < r; a++) {
    if (red.has(a)) {
      if (ctx.op === "ReduceMean" || ctx.op === "ReduceL2" || ctx.op === "ReduceLogSumExp")
        ctx.note(ctx.in(0, a), `reduced by ${ctx.op}: removing channels changes the result, even zero ones`);
      if (keep) o++;
      continue;
    }
    ctx.same(ctx.in(0, a), ctx.out(0, o++));
  }
}

function softmax(ctx: RuleContext): void {
  ctx.sameAll(0, 0);
  const r = ctx.inRank(0);
  const axis = normAxis(attrInt(ctx.node.proto, "axis", ctx.opset < 13 ? 1 : -1), r);
  const axes = ctx.opset < 13 ? Array.from({ length: r - axis }, (_, i) => axis + i) : [axis];
  for (const a of axes) ctx.note(ctx.in(0, a), `normalised by ${ctx.op}: removing entries renormalises the rest`);
}

/** ArgMax/ArgMin(axis, keepdims) and TopK(axis): positions on the axis become values. */
function indexing(ctx: RuleContext): void {
  const r = ctx.inRank(0);
  const axis = normAxis(attrInt(ctx.node.proto, "axis", ctx.op === "TopK" ? -1 : 0), r);
  const keep = ctx.op === "TopK" || attrInt(ctx.node.proto, "keepdims", 1) === 1;
  ctx.freeze(ctx.in(0, axis), { kind: "index values", text: `${ctx.where} returns positions on this axis as values` });
  for (let k = 0; k < ctx.outputCount; k++) {
    if (!ctx.hasOut(k)) continue;
    let o = 0;
    for (let a = 0; a < r; a++) {
      if (a === axis) {
        if (keep) ctx.freeze(ctx.out(k, o++), { kind: "index values", text: `${ctx.where} output axis` });
        continue;
      }
      ctx.same(ctx.in(0, a), ctx.out(k, o++));
    }
  }
}

/** CumSum(x, axis): a running sum along the axis; other axes flow. */
function cumsum(ctx: RuleContext): void {
  ctx.sameAll(0, 0);
  const ax = ctx.ints(1);
  if (!ax) throw new RuleError({ kind: "runtime shape", text: `${ctx.where}: axis computed at run time` });
  ctx.note(ctx.in(0, normAxis(ax[0]!, ctx.inRank(0))), `accumulated by ${ctx.op}`);
}

export const reduceRules: RuleTable = {
  Softmax: softmax,
  LogSoftmax: softmax,
  Hardmax: softmax,
  ArgMax: indexing,
  ArgMin: indexing,
  TopK: indexing,
  CumSum: cumsum,
};
for (const op of ["ReduceSum", "ReduceMean", "ReduceMax", "ReduceMin", "ReduceProd", "ReduceL1", "ReduceL2", "ReduceLogSum", "ReduceLogSumExp", "ReduceSumSquare"])
  reduceRules[op] = reduce;
