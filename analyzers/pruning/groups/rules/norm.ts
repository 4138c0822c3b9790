/**
 * Normalisations. BatchNormalization / InstanceNormalization: per-channel parameters on axis 1.
 * LayerNormalization (and RMS/Skip variants): parameters on the normalised trailing axes, which are
 * noted — removing channels there changes the statistics even when their weights are zero.
 * GroupNormalization: channels factor into (group × channel-in-group); `num_groups` is rewritten
 * when whole groups go. Decomposed LayerNorm/RMSNorm (ReduceMean, Sub, Pow, Sqrt, Div, Mul, Add) needs
 * no rule of its own: reduce.ts and elementwise.ts cover it.
 */
import { attrInt } from "../../../graph/attrs.ts";
import { normAxis, RuleError, type RuleContext } from "../context.ts";
import type { RuleTable } from "../rule.ts";
import type { MemberRole } from "../../types.ts";

const NORMALISED = (op: string) => `normalised axis (${op}): removing channels changes the statistics, even zero ones`;

function batchNorm(ctx: RuleContext): void {
  ctx.sameAll(0, 0);
  if (ctx.inRank(0) < 2) throw new RuleError({ kind: "rank", text: `${ctx.where}: input has no channel axis` });
  const c = ctx.in(0, 1);
  const roles: MemberRole[] = ["norm-scale", "norm-bias", "norm-mean", "norm-var"];
  for (let i = 1; i <= 4; i++) {
    if (!ctx.has(i)) continue;
    if (ctx.inRank(i) !== 1) throw new RuleError({ kind: "rank", text: `${ctx.where}: parameter ${i} is not 1-D` });
    ctx.same(ctx.in(i, 0), c);
    ctx.role(ctx.in(i, 0), roles[i - 1]!);
  }
  for (let k = 1; k < ctx.outputCount; k++) if (ctx.hasOut(k)) ctx.same(ctx.out(k, 0), c);
}

function instanceNorm(ctx: RuleContext): void {
  ctx.sameAll(0, 0);
  const c = ctx.in(0, 1);
  for (const [i, role] of [[1, "norm-scale"], [2, "norm-bias"]] as const) {
    ctx.same(ctx.in(i, 0), c);
    ctx.role(ctx.in(i, 0), role);
  }
}

/** LayerNormalization(X, scale, B?, axis) and its RMS / simplified forms. */
function layerNorm(ctx: RuleContext, axisDefault = -1): void {
  ctx.sameAll(0, 0);
  const r = ctx.inRank(0);
  const axis = normAxis(attrInt(ctx.node.proto, "axis", axisDefault), r);
  const x = ctx.inShape(0)!;
  for (const [i, role] of [[1, "norm-scale"], [2, "norm-bias"]] as const) {
    if (!ctx.has(i)) continue;
    const s = ctx.inShape(i)!;
    for (let a = 0; a < s.length; a++) {
      const xa = r - s.length + a;
      if (xa < 0) continue;
      if (s[a] === x[xa] && s[a] !== 1) ctx.same(ctx.in(i, a), ctx.in(0, xa));
      ctx.role(ctx.in(i, a), role);
    }
  }
  for (let a = axis; a < r; a++) ctx.note(ctx.in(0, a), NORMALISED(ctx.op));
  // Mean / InvStdDev outputs: kept axes before `axis`, 1 after.
  for (let k = 1; k < ctx.outputCount; k++) {
    if (!ctx.hasOut(k)) continue;
    const o = ctx.outShape(k);
    if (!o) continue;
    for (let a = 0; a < Math.min(axis, o.length); a++) if (o[a] === x[a]) ctx.same(ctx.out(k, a), ctx.in(0, a));
  }
}

/** com.microsoft SkipLayerNormalization(input, skip, gamma, beta?, bias?): a residual add + LayerNorm on the last axis. */
function skipLayerNorm(ctx: RuleContext): void {
  ctx.sameAll(0, 0);
  ctx.broadcast([1], 0);
  const r = ctx.inRank(0);
  const last = ctx.in(0, r - 1);
  const roles: MemberRole[] = ["norm-scale", "norm-bias", "bias"];
  for (let i = 2; i <= 4; i++) {
    if (!ctx.has(i)) continue;
    ctx.same(ctx.in(i, ctx.inRank(i) - 1), last);
    ctx.role(ctx.in(i, ctx.inRank(i) - 1), roles[i - 2]!);
  }
  if (ctx.hasOut(3)) ctx.sameAll(0, 3);
  ctx.note(last, NORMALISED(ctx.op));
}

function groupNorm(ctx: RuleContext): void {
  ctx.sameAll(0, 0);
  const g = attrInt(ctx.node.proto, "num_groups", 0);
  const c = ctx.in(0, 1);
  const C = ctx.sizeOf(c);
  if (!(g > 0 && C % g === 0)) throw new RuleError({ kind: "shape conflict", text: `${ctx.where}: ${C} channels in ${g} groups` });
  const G = ctx.virtual("group", g);
  const per = ctx.virtual("group-channel", C / g);
  ctx.factor(c, [G, per], ["conv-group", "group-channel"]);
  ctx.rewrite("attribute", [G], `num_groups=${g}`, { attribute: "num_groups" });
  for (const [i, role] of [[1, "norm-scale"], [2, "norm-bias"]] as const) {
    const n = ctx.sizeOf(ctx.in(i, 0));
    // Opset 18 has per-group parameters, opset 21 per-channel ones.
    ctx.same(ctx.in(i, 0), n === C ? c : G);
    ctx.role(ctx.in(i, 0), role);
  }
  ctx.note(c, NORMALISED(ctx.op));
}

/** MeanVarianceNormalization(axes): statistics over the listed axes. */
function mvn(ctx: RuleContext): void {
  ctx.sameAll(0, 0);
  const axes = (ctx.node.proto.attribute.find((a) => a.name === "axes")?.ints.map(Number) ?? [0, 2, 3]).map((a) => normAxis(a, ctx.inRank(0)));
  for (const a of axes) ctx.note(ctx.in(0, a), NORMALISED(ctx.op));
}

export const normRules: RuleTable = {
  BatchNormalization: batchNorm,
  InstanceNormalization: instanceNorm,
  LayerNormalization: (ctx) => layerNorm(ctx),
  SimplifiedLayerNormalization: (ctx) => layerNorm(ctx),
  RMSNormalization: (ctx) => layerNorm(ctx),
  "com.microsoft::SimplifiedLayerNormalization": (ctx) => layerNorm(ctx),
  "com.microsoft::SkipLayerNormalization": skipLayerNorm,
  "com.microsoft::SkipSimplifiedLayerNormalization": skipLayerNorm,
  GroupNormalization: groupNorm,
  MeanVarianceNormalization: mvn,
};
