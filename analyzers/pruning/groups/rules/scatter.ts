/**
 * ScatterND(data, indices, updates): the output is data with `updates` written at `indices`. Every data
 * axis flows to the output; the axes past the indexed ones also to the updates' trailing axes. With
 * constant indices into axis 0 only (indices [n, 1]: Swin V2 zeroes the K third of its qkv bias this
 * way), update j is data position idx[j]: they are linked, and apply renumbers the indices and drops
 * the entries of removed positions. Run-time or multi-axis indices freeze the node's axes.
 */
import { RuleError, type RuleContext } from "../context.ts";
import type { RuleTable } from "../rule.ts";

function scatterND(ctx: RuleContext): void {
  const r = ctx.inRank(0);
  const is = ctx.inShape(1);
  const q = is?.length ?? 0;
  const idx = is && q === 2 && is[1] === 1 ? ctx.ints(1) : undefined;
  if (!idx || ctx.inRank(2) !== r) throw new RuleError({ kind: "scatter", text: `${ctx.where} scatters with run-time or multi-axis indices` });
  const n = ctx.sizeOf(ctx.in(0, 0));
  const norm = idx.map((v) => (v < 0 ? v + n : v));
  if (!Number.isFinite(n) || norm.some((v) => v < 0 || v >= n)) throw new RuleError({ kind: "shape conflict", text: `${ctx.where}: index out of range` });
  for (let a = 0; a < r; a++) ctx.same(ctx.in(0, a), ctx.out(0, a));
  for (let a = 1; a < r; a++) ctx.same(ctx.in(2, a), ctx.out(0, a));
  const y = ctx.out(0, 0), u = ctx.in(2, 0);
  ctx.link(y, u, norm, norm.map((_, j) => j));
  ctx.rewrite("gather-indices", [y, u], `indices[${norm.length}, 1]`, { slot: 1 });
}

export const scatterRules: RuleTable = { ScatterND: scatterND };
