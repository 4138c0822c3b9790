/**
 * Conv and ConvTranspose. Output channels of the weight are the producer's channels (a group seed).
 * With `group` = g > 1 the channel axes factor into (conv-group × channel-in-group): a unit is either a
 * whole conv group (the `group` attribute is rewritten) or the same relative channel in every group.
 * Depthwise convs (one channel per group) reduce to input channel = output channel = conv group;
 * a depthwise multiplier m gives (group × m) output channels.
 */
import { attrInt } from "../../../graph/attrs.ts";
import { RuleError, type RuleContext } from "../context.ts";
import type { RuleTable } from "../rule.ts";
import type { SpaceId } from "../relations.ts";

function spatialOutputs(ctx: RuleContext, what: string): void {
  const r = ctx.outRank(0);
  for (let a = 2; a < r; a++) ctx.freeze(ctx.out(0, a), { kind: "spatial", text: `spatial axis of ${what}` });
}

/** Conv-like with inputs (x, W, B?) at the given slots. */
function convLike(ctx: RuleContext, xs = 0, ws = 1, bs = 2): void {
  const rank = ctx.inRank(xs);
  if (rank < 3 || ctx.inRank(ws) !== rank || ctx.outRank(0) !== rank)
    throw new RuleError({ kind: "rank", text: `${ctx.where}: unexpected ranks` });
  const g = attrInt(ctx.node.proto, "group", 1);
  const x1 = ctx.in(xs, 1), w0 = ctx.in(ws, 0), w1 = ctx.in(ws, 1), y1 = ctx.out(0, 1);
  ctx.same(ctx.in(xs, 0), ctx.out(0, 0));
  // A depthwise conv (one input channel per group) filters channels it does not create: its input
  // channel is its group, and without a multiplier its output channel too — it is not a producer.
  const depthwise = g > 1 && ctx.sizeOf(w1) === 1;
  let producer = true;
  if (g === 1) ctx.same(x1, w1);
  else {
    const cout = ctx.sizeOf(w0);
    if (!(cout % g === 0)) throw new RuleError({ kind: "shape conflict", text: `${ctx.where}: ${cout} output channels in ${g} groups` });
    const G = ctx.virtual("group", g);
    ctx.factor(x1, [G, w1], [depthwise ? "channel" : "conv-group", "group-channel"]);
    const co = cout / g;
    ctx.factor(w0, co > 1 ? [G, ctx.virtual("group-out", co)] : [G], [depthwise ? "channel" : "conv-group", "group-channel"]);
    ctx.rewrite("attribute", [G], `group=${g}`, { attribute: "group" });
    producer = !(depthwise && co === 1);
  }
  ctx.same(w0, y1);
  ctx.weightRole(ws, 0, "out", producer);
  ctx.weightRole(ws, 1, "in");
  if (ctx.has(bs)) {
    ctx.same(ctx.in(bs, 0), y1);
    ctx.role(ctx.in(bs, 0), "bias");
  }
  spatialOutputs(ctx, ctx.where);
  ctx.macs([y1, w1]);
}

/** ConvTranspose: W is [Cin, Cout/g, k…]. */
function convTranspose(ctx: RuleContext): void {
  const rank = ctx.inRank(0);
  if (rank < 3 || ctx.inRank(1) !== rank) throw new RuleError({ kind: "rank", text: `${ctx.where}: unexpected ranks` });
  const g = attrInt(ctx.node.proto, "group", 1);
  const x1 = ctx.in(0, 1), w0 = ctx.in(1, 0), w1 = ctx.in(1, 1), y1 = ctx.out(0, 1);
  ctx.same(ctx.in(0, 0), ctx.out(0, 0));
  ctx.same(x1, w0);
  let producerAxis: SpaceId = w1;
  if (g === 1) ctx.same(w1, y1);
  else {
    const cin = ctx.sizeOf(w0);
    if (!(cin % g === 0)) throw new RuleError({ kind: "shape conflict", text: `${ctx.where}: ${cin} input channels in ${g} groups` });
    const G = ctx.virtual("group", g);
    const ci = cin / g;
    ctx.factor(w0, ci > 1 ? [G, ctx.virtual("group-in", ci)] : [G], ["conv-group", "group-channel"]);
    ctx.factor(y1, [G, w1], ["conv-group", "group-channel"]);
    ctx.rewrite("attribute", [G], `group=${g}`, { attribute: "group" });
    producerAxis = y1;
  }
  ctx.weightRole(1, 1, "out", true);
  if (producerAxis !== w1) ctx.producer(producerAxis);
  ctx.weightRole(1, 0, "in");
  if (ctx.has(2)) {
    ctx.same(ctx.in(2, 0), y1);
    ctx.role(ctx.in(2, 0), "bias");
  }
  spatialOutputs(ctx, ctx.where);
  ctx.macs([x1, w1]);
}

export const convRules: RuleTable = {
  Conv: (ctx) => convLike(ctx),
  ConvTranspose: convTranspose,
};
