/**
 * Operators that read shapes rather than data (Shape, Size), make constants (Constant,
 * ConstantOfShape, Range), and quantisation (QuantizeLinear / DequantizeLinear with per-axis scales).
 */
import { attrInt } from "../../../graph/attrs.ts";
import { normAxis, RuleError, type RuleContext } from "../context.ts";
import type { RuleTable } from "../rule.ts";

/** Reading a shape is fine: a pruned model reports its new size. */
const nothing = () => {};

function constantOfShape(ctx: RuleContext): void {
  const y = ctx.outShape(0);
  if (!y) throw new RuleError({ kind: "unknown shape", text: `${ctx.where}: unknown shape` });
  y.forEach((d, k) => {
    if (d !== 1 && typeof d === "number") ctx.shapeEntry(0, k, ctx.out(0, k), `shape[${k}]=${d}`);
  });
}

function range(ctx: RuleContext): void {
  ctx.freeze(ctx.out(0, 0), { kind: "range", text: `positions made by ${ctx.where}` });
}

function quantLinear(ctx: RuleContext): void {
  ctx.sameAll(0, 0);
  if (attrInt(ctx.node.proto, "block_size", 0) > 0) throw new RuleError({ kind: "unsupported", text: `${ctx.where}: blocked quantisation is not handled` });
  const r = ctx.inRank(0);
  const axis = normAxis(attrInt(ctx.node.proto, "axis", 1), r);
  for (const i of [1, 2]) {
    if (!ctx.has(i)) continue;
    const s = ctx.inShape(i)!;
    if (s.length === 0 || (s.length === 1 && s[0] === 1)) continue;
    if (s.length !== 1) throw new RuleError({ kind: "unsupported", text: `${ctx.where}: ${s.length}-D quantisation parameters` });
    ctx.same(ctx.in(i, 0), ctx.in(0, axis));
    ctx.role(ctx.in(i, 0), "quant");
  }
}

export const miscRules: RuleTable = {
  Shape: nothing,
  Size: nothing,
  Constant: nothing,
  ConstantOfShape: constantOfShape,
  Range: range,
  QuantizeLinear: quantLinear,
  DequantizeLinear: quantLinear,
  DynamicQuantizeLinear: (ctx) => ctx.sameAll(0, 0),
};
