/**
 * Gather(data, indices, axis). The data's other axes flow to the output. On the gathered axis:
 *  - constant 1-D indices: output position j is data index idx[j] (indices renumbered on apply);
 *  - a constant scalar index picks one data index, which then may not be removed;
 *  - run-time indices (token ids into an embedding table): the axis is frozen, and the table's other
 *    axis is a producer (the embedding dim).
 */
import { attrInt } from "../../../graph/attrs.ts";
import { normAxis, RuleError, type RuleContext } from "../context.ts";
import type { RuleTable } from "../rule.ts";

function gather(ctx: RuleContext): void {
  const r = ctx.inRank(0);
  const ax = normAxis(attrInt(ctx.node.proto, "axis", 0), r);
  const q = ctx.inRank(1);
  for (let a = 0; a < r; a++) {
    if (a < ax) ctx.same(ctx.in(0, a), ctx.out(0, a));
    else if (a > ax) ctx.same(ctx.in(0, a), ctx.out(0, a + q - 1));
  }
  const x = ctx.in(0, ax);
  const idx = ctx.ints(1);
  const n = ctx.sizeOf(x);
  if (idx && Number.isFinite(n)) {
    const norm = idx.map((v) => (v < 0 ? v + n : v));
    if (norm.some((v) => v < 0 || v >= n)) throw new RuleError({ kind: "shape conflict", text: `${ctx.where}: index out of range` });
    if (q === 0) {
      ctx.freeze(x, { kind: "selected", text: `index ${norm[0]} is selected by ${ctx.where}` }, [norm[0]!]);
      ctx.rewrite("gather-indices", [x], `indices=${norm[0]}`, { slot: 1 });
      return;
    }
    if (q === 1) {
      const y = ctx.out(0, ax);
      ctx.link(y, x, norm.map((_, j) => j), norm);
      ctx.rewrite("gather-indices", [x, y], `indices[${norm.length}]`, { slot: 1 });
      return;
    }
    const reason = { kind: "gather", text: `${ctx.where} gathers with ${q}-D constant indices` };
    ctx.freeze(x, reason);
    for (let j = 0; j < q; j++) ctx.freeze(ctx.out(0, ax + j), reason);
    return;
  }
  // Run-time indices.
  ctx.freeze(x, { kind: "runtime indices", text: `gathered by run-time indices (${ctx.where})` });
  for (let j = 0; j < q; j++) ctx.same(ctx.in(1, j), ctx.out(0, ax + j));
  if (ctx.isWeight(0)) for (let a = 0; a < r; a++) if (a !== ax) ctx.weightRole(0, a, "out", true);
}

export const gatherRules: RuleTable = { Gather: gather };
