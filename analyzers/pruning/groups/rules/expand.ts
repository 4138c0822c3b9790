/**
 * Expand and Tile. Expand broadcasts size-1 axes (the new positions are independent units; the
 * repeated key/value heads of grouped-query attention are exactly that) and its shape entries are
 * rewritten; Tile repeats an axis, so every copy of an index is the same unit.
 */
import { RuleError, type RuleContext } from "../context.ts";
import type { RuleTable } from "../rule.ts";

function expand(ctx: RuleContext): void {
  ctx.broadcast([0], 0);
  const y = ctx.outShape(0)!;
  const shape = ctx.value(1);
  const n = shape?.values.length ?? ctx.inShape(1)?.[0];
  if (typeof n !== "number") throw new RuleError({ kind: "runtime shape", text: `${ctx.where}: shape of unknown length` });
  const R = y.length;
  for (let e = 0; e < n; e++) {
    const k = R - n + e;
    const d = y[k];
    if (d === 1 || typeof d !== "number") continue;
    const v = shape?.values[e];
    if (v === 1) continue; // keeps the input's size
    ctx.shapeEntry(1, e, ctx.out(0, k), `shape[${e}]=${v ?? d}`);
  }
}

function tile(ctx: RuleContext): void {
  const reps = ctx.ints(1);
  if (!reps) throw new RuleError({ kind: "runtime shape", text: `${ctx.where}: repeats computed at run time` });
  const r = ctx.inRank(0);
  for (let a = 0; a < r; a++) {
    const x = ctx.in(0, a), y = ctx.out(0, a);
    if (reps[a] === 1) {
      ctx.same(x, y);
      continue;
    }
    const n = ctx.sizeOf(x);
    if (!Number.isFinite(n)) {
      const reason = { kind: "unknown shape", text: `${ctx.where} repeats an axis of unknown size` };
      ctx.freeze(x, reason);
      ctx.freeze(y, reason);
      continue;
    }
    for (let t = 0; t < reps[a]!; t++) ctx.linkRange(y, t * n, x, 0, n);
  }
}

export const expandRules: RuleTable = { Expand: expand, Tile: tile };
