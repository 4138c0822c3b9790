/**
 * Gemm, MatMul and Einsum: contracted axes of the two operands are the same space, the kept axes flow to
 * the output, batch axes broadcast. When an operand is a weight its non-contracted axis is a producer
 * (output features) and its contracted axis the consumer side ("in"). Activation × activation products
 * (Q·Kᵀ, attention · V) couple the same way and have no producer of their own.
 */
import { attrInt, attrString } from "../../../graph/attrs.ts";
import { RuleError, type RuleContext } from "../context.ts";
import type { RuleTable } from "../rule.ts";
import type { SpaceId } from "../relations.ts";

function gemm(ctx: RuleContext): void {
  if (ctx.inRank(0) !== 2 || ctx.inRank(1) !== 2) throw new RuleError({ kind: "rank", text: `${ctx.where}: Gemm operands must be 2-D` });
  const transA = attrInt(ctx.node.proto, "transA", 0) === 1;
  const transB = attrInt(ctx.node.proto, "transB", 0) === 1;
  const aM = transA ? 1 : 0, aK = 1 - aM, bK = transB ? 1 : 0, bN = 1 - bK;
  const k = ctx.in(0, aK);
  ctx.same(k, ctx.in(1, bK));
  ctx.same(ctx.in(0, aM), ctx.out(0, 0));
  ctx.same(ctx.in(1, bN), ctx.out(0, 1));
  if (ctx.has(2)) {
    ctx.broadcast([2], 0);
    if (ctx.isWeight(2)) for (let a = 0; a < ctx.inRank(2); a++) ctx.role(ctx.in(2, a), "bias");
  }
  if (ctx.isWeight(1) || weightLike(ctx, 1)) {
    ctx.weightRole(1, bN, "out", true);
    ctx.weightRole(1, bK, "in");
  }
  if (ctx.isWeight(0) || weightLike(ctx, 0)) {
    ctx.weightRole(0, aM, "out", true);
    ctx.weightRole(0, aK, "in");
  }
  ctx.macs([ctx.out(0, 0), ctx.out(0, 1), k]);
}

/** A weight seen through Transpose/DequantizeLinear/Cast counts as a weight for producer seeding. */
function weightLike(ctx: RuleContext, i: number): boolean {
  let name = ctx.node.inputs[i]!;
  for (let hop = 0; hop < 8; hop++) {
    const p = ctx.graph.producer(name);
    if (!p) return !!ctx.graph.weight(name);
    if (!["Transpose", "DequantizeLinear", "Cast", "Identity"].includes(p.opType)) return false;
    name = p.inputs[0]!;
    if (ctx.graph.weight(name)) return true;
  }
  return false;
}

function matmul(ctx: RuleContext): void {
  const ra = ctx.inRank(0), rb = ctx.inRank(1), R = ctx.outRank(0);
  if (ra === 0 || rb === 0) throw new RuleError({ kind: "rank", text: `${ctx.where}: scalar operand` });
  const aK = ra - 1, bK = rb === 1 ? 0 : rb - 2;
  const k = ctx.in(0, aK);
  ctx.same(k, ctx.in(1, bK));
  const yN = rb === 1 ? -1 : R - 1;
  const yM = ra === 1 ? -1 : rb === 1 ? R - 1 : R - 2;
  if (ra >= 2) ctx.same(ctx.in(0, ra - 2), ctx.out(0, yM));
  if (rb >= 2) ctx.same(ctx.in(1, rb - 1), ctx.out(0, yN));
  // Batch axes broadcast onto the output's leading axes.
  const batchOut = R - (ra >= 2 ? 1 : 0) - (rb >= 2 ? 1 : 0);
  const outShape = ctx.outShape(0)!;
  for (const [i, r] of [[0, ra], [1, rb]] as const) {
    const nb = Math.max(0, r - 2);
    const s = ctx.inShape(i)!;
    for (let a = 0; a < nb; a++) {
      const o = batchOut - nb + a;
      const di = s[a], dout = outShape[o];
      if (di === dout && di !== undefined) ctx.same(ctx.in(i, a), ctx.out(0, o));
      else if (di !== 1) {
        const reason = { kind: "unknown shape", text: `${ctx.where}: batch axis ${a} of input ${i} does not match the output` };
        ctx.freeze(ctx.in(i, a), reason);
        ctx.freeze(ctx.out(0, o), reason);
      }
    }
  }
  const bWeight = ctx.isWeight(1) || weightLike(ctx, 1);
  const aWeight = ctx.isWeight(0) || weightLike(ctx, 0);
  if (bWeight && rb >= 2) {
    ctx.weightRole(1, rb - 1, "out", true);
    ctx.weightRole(1, bK, "in");
  }
  if (aWeight && ra >= 2) {
    ctx.weightRole(0, ra - 2, "out", true);
    ctx.weightRole(0, aK, "in");
  }
  const macSpaces: SpaceId[] = [k];
  for (let a = 0; a < R; a++) macSpaces.push(ctx.out(0, a));
  ctx.macs(macSpaces);
}

/** Einsum: every index letter is one space across operands and output. Ellipses are not handled. */
function einsum(ctx: RuleContext): void {
  const eq = (attrString(ctx.node.proto, "equation") ?? "").replace(/\s/g, "");
  if (eq.includes(".")) throw new RuleError({ kind: "unsupported", text: `${ctx.where}: Einsum with '...' is not handled` });
  const [lhs, rhs] = eq.split("->");
  const terms = (lhs ?? "").split(",");
  const out = rhs ?? [...new Set(terms.join(""))].filter((c) => terms.join("").indexOf(c) === terms.join("").lastIndexOf(c)).sort().join("");
  const spaces = new Map<string, SpaceId[]>();
  const add = (ch: string, s: SpaceId) => {
    const l = spaces.get(ch);
    if (l) l.push(s);
    else spaces.set(ch, [s]);
  };
  terms.forEach((t, i) => {
    if (ctx.inRank(i) !== t.length) throw new RuleError({ kind: "rank", text: `${ctx.where}: Einsum term '${t}' does not match the rank of input ${i}` });
    [...t].forEach((ch, a) => add(ch, ctx.in(i, a)));
  });
  [...out].forEach((ch, a) => add(ch, ctx.out(0, a)));
  for (const list of spaces.values()) {
    const big = list.filter((s) => ctx.sizeOf(s) !== 1);
    for (let j = 1; j < big.length; j++) ctx.same(big[0]!, big[j]!);
  }
  terms.forEach((t, i) => {
    if (!ctx.isWeight(i)) return;
    [...t].forEach((ch, a) => {
      if (out.includes(ch)) ctx.weightRole(i, a, "out", true);
      else ctx.weightRole(i, a, "in");
    });
  });
  ctx.macs([...spaces.values()].map((l) => l[0]!));
}

export const matmulRules: RuleTable = {
  Gemm: gemm,
  MatMul: matmul,
  Einsum: einsum,
};
