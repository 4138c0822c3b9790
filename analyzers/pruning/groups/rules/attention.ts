/**
 * Fused attention operators (onnxruntime's com.microsoft contrib ops). Inside the op, Q, K and V are
 * split into `num_heads` heads: the hidden axes factor into (head × head-dim) with one head digit shared
 * by Q, K, V and the output, one Q·K dim digit and one V dim digit. `num_heads` is rewritten when whole
 * heads go. MACs scale with the heads (exactly when only heads go; the dims are approximated).
 *  - MultiHeadAttention(query, key, value, bias?, …): 3-D query/key/value [B, S, D].
 *  - Attention(input, weights [hidden, D+D+Dv], bias?, …): the packed QKV projection is part of the op.
 */
import { attrInt, attrInts } from "../../../graph/attrs.ts";
import { RuleError, type RuleContext } from "../context.ts";
import type { RuleTable } from "../rule.ts";
import type { SpaceId } from "../relations.ts";

function heads(ctx: RuleContext, D: number, Dv: number, shared = false) {
  const n = attrInt(ctx.node.proto, "num_heads", 0);
  if (!(n > 0 && D % n === 0 && Dv % n === 0)) throw new RuleError({ kind: "shape conflict", text: `${ctx.where}: ${D}/${Dv} not divisible by num_heads ${n}` });
  const H = ctx.virtual("head", n);
  const qd = ctx.virtual("qk-dim", D / n), vd = shared ? qd : ctx.virtual("v-dim", Dv / n);
  ctx.rewrite("attribute", [H], `num_heads=${n}`, { attribute: "num_heads" });
  // The default scale is 1/√head_size: keep the original one when Q·K dims go.
  if (!ctx.node.proto.attribute.some((a) => a.name === "scale"))
    ctx.rewrite("attribute", [qd], "scale (default)", { attribute: "scale", extra: { float: 1 / Math.sqrt(D / n) } });
  return { H, qd, vd };
}

function multiHead(ctx: RuleContext): void {
  for (const i of [0, 1, 2]) if (!ctx.has(i) || ctx.inRank(i) !== 3) throw new RuleError({ kind: "unsupported", text: `${ctx.where}: only 3-D query/key/value are handled` });
  if (ctx.outputCount > 1 && ctx.node.outputs.slice(1).some((o) => o)) throw new RuleError({ kind: "unsupported", text: `${ctx.where}: present key/value outputs are not handled` });
  const q2 = ctx.in(0, 2), k2 = ctx.in(1, 2), v2 = ctx.in(2, 2), y2 = ctx.out(0, 2);
  const D = ctx.sizeOf(q2), Dv = ctx.sizeOf(v2);
  const { H, qd, vd } = heads(ctx, D, Dv);
  ctx.factor(q2, [H, qd], ["head", "head-dim"]);
  ctx.factor(k2, [H, qd], ["head", "head-dim"]);
  ctx.factor(v2, [H, vd], ["head", "head-dim"]);
  ctx.factor(y2, [H, vd], ["head", "head-dim"]);
  ctx.same(ctx.in(0, 0), ctx.out(0, 0));
  ctx.same(ctx.in(0, 1), ctx.out(0, 1));
  ctx.same(ctx.in(1, 0), ctx.in(0, 0));
  ctx.same(ctx.in(2, 0), ctx.in(0, 0));
  ctx.same(ctx.in(1, 1), ctx.in(2, 1));
  if (ctx.has(3)) {
    const b = ctx.in(3, 0);
    ctx.linkRange(b, 0, q2, 0, D);
    ctx.linkRange(b, D, k2, 0, D);
    ctx.linkRange(b, 2 * D, v2, 0, Dv);
    ctx.role(b, "bias");
  }
  // Masks and biases over (batch, heads, …) are not handled.
  for (let i = 4; i < ctx.inputCount; i++) if (ctx.has(i)) throw new RuleError({ kind: "unsupported", text: `${ctx.where}: input ${i} (mask / attention bias / past) is not handled` });
  ctx.macs([H]);
}

function packedAttention(ctx: RuleContext): void {
  if (attrInts(ctx.node.proto, "qkv_hidden_sizes")) throw new RuleError({ kind: "unsupported", text: `${ctx.where}: qkv_hidden_sizes is not handled` });
  if (ctx.inRank(0) !== 3 || ctx.inRank(1) !== 2) throw new RuleError({ kind: "rank", text: `${ctx.where}: unexpected ranks` });
  for (let i = 3; i < ctx.inputCount; i++) if (ctx.has(i)) throw new RuleError({ kind: "unsupported", text: `${ctx.where}: input ${i} (mask / past / bias) is not handled` });
  if (ctx.outputCount > 1 && ctx.node.outputs.slice(1).some((o) => o)) throw new RuleError({ kind: "unsupported", text: `${ctx.where}: present output is not handled` });
  const w0 = ctx.in(1, 0), w1 = ctx.in(1, 1), y2 = ctx.out(0, 2);
  const D3 = ctx.sizeOf(w1);
  if (D3 % 3) throw new RuleError({ kind: "shape conflict", text: `${ctx.where}: weights of ${D3} columns` });
  const D = D3 / 3;
  // Without qkv_hidden_sizes the op splits its weights in three equal parts: Q, K and V keep the same dims.
  const { H, qd, vd } = heads(ctx, D, D, true);
  const parts: SpaceId[] = ["q", "k", "v"].map((p) => ctx.virtual(p, D));
  parts.forEach((p, i) => ctx.linkRange(w1, i * D, p, 0, D));
  ctx.factor(parts[0]!, [H, qd], ["head", "head-dim"]);
  ctx.factor(parts[1]!, [H, qd], ["head", "head-dim"]);
  ctx.factor(parts[2]!, [H, vd], ["head", "head-dim"]);
  ctx.factor(y2, [H, vd], ["head", "head-dim"]);
  ctx.same(ctx.in(0, 2), w0);
  ctx.same(ctx.in(0, 0), ctx.out(0, 0));
  ctx.same(ctx.in(0, 1), ctx.out(0, 1));
  ctx.weightRole(1, 1, "out", true);
  ctx.weightRole(1, 0, "in");
  if (ctx.has(2)) {
    ctx.same(ctx.in(2, 0), w1);
    ctx.role(ctx.in(2, 0), "bias");
  }
  ctx.macs([H]);
}

export const attentionRules: RuleTable = {
  "com.microsoft::MultiHeadAttention": multiHead,
  "com.microsoft::Attention": packedAttention,
};
