/**
 * Concat and Split: the other axes flow through; on the axis, input k occupies [offset_k, offset_k + n_k)
 * of the concatenation. Split sizes are rewritten from the kept sizes of its outputs.
 */
import { attrInt } from "../../../graph/attrs.ts";
import { normAxis, RuleError, type RuleContext } from "../context.ts";
import type { RuleTable } from "../rule.ts";

function concat(ctx: RuleContext): void {
  const R = ctx.outRank(0);
  const ax = normAxis(attrInt(ctx.node.proto, "axis", 0), R);
  let off = 0;
  for (let i = 0; i < ctx.inputCount; i++) {
    if (!ctx.has(i)) continue;
    if (ctx.inRank(i) !== R) throw new RuleError({ kind: "rank", text: `${ctx.where}: inputs of different ranks` });
    for (let a = 0; a < R; a++) if (a !== ax) ctx.same(ctx.in(i, a), ctx.out(0, a));
    const n = ctx.sizeOf(ctx.in(i, ax));
    if (!Number.isFinite(n)) throw new RuleError({ kind: "unknown shape", text: `${ctx.where}: input ${i} has an unknown size on the concat axis` });
    ctx.linkRange(ctx.in(i, ax), 0, ctx.out(0, ax), off, n);
    off += n;
  }
}

function split(ctx: RuleContext): void {
  const r = ctx.inRank(0);
  const ax = normAxis(attrInt(ctx.node.proto, "axis", 0), r);
  let off = 0;
  const outs = [];
  for (let k = 0; k < ctx.outputCount; k++) {
    if (!ctx.hasOut(k)) {
      throw new RuleError({ kind: "unsupported", text: `${ctx.where}: an output is unnamed` });
    }
    for (let a = 0; a < r; a++) if (a !== ax) ctx.same(ctx.in(0, a), ctx.out(k, a));
    const y = ctx.out(k, ax);
    const n = ctx.sizeOf(y);
    if (!Number.isFinite(n)) throw new RuleError({ kind: "unknown shape", text: `${ctx.where}: output ${k} has an unknown size` });
    ctx.linkRange(y, 0, ctx.in(0, ax), off, n);
    outs.push(y);
    off += n;
  }
  if (ctx.opset >= 13 && ctx.has(1) && !ctx.ints(1)) {
    const reason = { kind: "runtime shape", text: `${ctx.where}: split sizes computed at run time` };
    ctx.freeze(ctx.in(0, ax), reason);
    return;
  }
  ctx.rewrite("split-sizes", outs, `split=[${outs.map((s) => ctx.sizeOf(s)).join(",")}]`, { slot: 1 });
}

export const concatRules: RuleTable = { Concat: concat, Split: split };
