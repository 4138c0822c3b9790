/**
 * Pooling, Resize and Pad: batch and channel axes flow through, window/resized axes are spatial
 * (frozen: they are not channels). Pad on a channel axis embeds the input after the leading pad; the
 * padded positions are frozen. Resize with explicit `sizes` gets its channel entry rewritten.
 */
import { attrInts, attrString } from "../../../graph/attrs.ts";
import { normAxis, RuleError, type RuleContext } from "../context.ts";
import type { RuleTable } from "../rule.ts";

function pool(ctx: RuleContext): void {
  const r = ctx.inRank(0);
  for (let k = 0; k < ctx.outputCount; k++) {
    if (!ctx.hasOut(k)) continue;
    ctx.same(ctx.in(0, 0), ctx.out(k, 0));
    ctx.same(ctx.in(0, 1), ctx.out(k, 1));
    for (let a = 2; a < r; a++) ctx.freeze(ctx.out(k, a), { kind: "spatial", text: `spatial axis of ${ctx.where}` });
  }
  // MaxPool's indices encode (n, c, h, w) positions as values.
  if (ctx.hasOut(1) && ctx.graph.consumers(ctx.node.outputs[1]!).length > 0)
    ctx.freeze(ctx.in(0, 1), { kind: "index values", text: `${ctx.where} returns flat indices that count channels` });
}

function resize(ctx: RuleContext): void {
  const x = ctx.inShape(0), y = ctx.outShape(0);
  if (!x || !y || x.length !== y.length) throw new RuleError({ kind: "unknown shape", text: `${ctx.where}: unknown shapes` });
  const sizesSlot = ctx.op === "Resize" && ctx.opset >= 11 ? 3 : -1;
  for (let a = 0; a < x.length; a++) {
    if (x[a] === y[a] && x[a] !== undefined) {
      ctx.same(ctx.in(0, a), ctx.out(0, a));
      if (sizesSlot > 0 && ctx.has(sizesSlot) && x[a] !== 1) ctx.shapeEntry(sizesSlot, a, ctx.out(0, a), `sizes[${a}]`);
    } else {
      const reason = { kind: "spatial", text: `axis resized by ${ctx.where}` };
      ctx.freeze(ctx.in(0, a), reason);
      ctx.freeze(ctx.out(0, a), reason);
    }
  }
}

function pad(ctx: RuleContext): void {
  const r = ctx.inRank(0);
  let pads: number[] | undefined;
  let axes: number[] = Array.from({ length: r }, (_, i) => i);
  if (ctx.opset < 11) pads = attrInts(ctx.node.proto, "pads") ?? attrInts(ctx.node.proto, "paddings");
  else {
    pads = ctx.ints(1);
    if (ctx.has(3)) {
      const ax = ctx.ints(3);
      if (!ax) pads = undefined;
      else axes = ax.map((a) => normAxis(a, r));
    }
  }
  if (!pads) {
    // Unknown pads: an axis whose size does not change is not padded only if begin = end = 0, which we cannot know.
    ctx.freezeNode({ kind: "runtime shape", text: `${ctx.where}: pads computed at run time` });
    return;
  }
  const n = axes.length;
  const mode = attrString(ctx.node.proto, "mode", "constant");
  const padded = new Set<number>();
  axes.forEach((a, i) => {
    const pb = pads![i]!, pe = pads![i + n]!;
    if (pb === 0 && pe === 0) return;
    padded.add(a);
    const size = ctx.sizeOf(ctx.in(0, a));
    const x = ctx.in(0, a), y = ctx.out(0, a);
    if (pb < 0 || pe < 0 || !Number.isFinite(size) || mode !== "constant") {
      const reason = { kind: "padding", text: `${ctx.where} pads or crops this axis (${mode})` };
      ctx.freeze(x, reason);
      ctx.freeze(y, reason);
      return;
    }
    ctx.linkRange(y, pb, x, 0, size);
    const edges: number[] = [];
    for (let j = 0; j < pb; j++) edges.push(j);
    for (let j = 0; j < pe; j++) edges.push(pb + size + j);
    ctx.freeze(y, { kind: "padding", text: `positions added by ${ctx.where}` }, edges);
  });
  for (let a = 0; a < r; a++) if (!padded.has(a)) ctx.same(ctx.in(0, a), ctx.out(0, a));
}

export const poolRules: RuleTable = {
  MaxPool: pool,
  AveragePool: pool,
  LpPool: pool,
  GlobalAveragePool: pool,
  GlobalMaxPool: pool,
  GlobalLpPool: pool,
  MaxRoiPool: (ctx) => ctx.freezeNode({ kind: "unsupported", text: `${ctx.where} is not handled` }),
  Resize: resize,
  Upsample: resize,
  Pad: pad,
};
