/**
 * Unary and broadcasting elementwise operators. Every axis of the output is the same space as the
 * matching axis of each input of equal size; a size-1 input axis broadcast to more is independent
 * (a per-channel constant [C,1,1] couples only its C axis). Weights read by these ops are per-channel
 * constants (layer scale, pos-embedding, PReLU slope…) and get the role "const".
 */
import type { RuleContext } from "../context.ts";
import type { RuleTable } from "../rule.ts";

const UNARY = [
  "Relu", "Sigmoid", "Tanh", "Exp", "Log", "Sqrt", "Reciprocal", "Neg", "Abs", "Erf", "Sin", "Cos", "Tan",
  "Asin", "Acos", "Atan", "Sinh", "Cosh", "Asinh", "Acosh", "Atanh", "Floor", "Ceil", "Round", "Sign",
  "Softplus", "Softsign", "Elu", "Selu", "LeakyRelu", "ThresholdedRelu", "HardSigmoid", "HardSwish", "Gelu",
  "Mish", "Celu", "Not", "IsNaN", "IsInf", "Cast", "Shrink", "BitwiseNot", "QuickGelu", "FastGelu", "Swish",
];
const BROADCAST = [
  "Add", "Sub", "Mul", "Div", "Pow", "Mod", "Max", "Min", "Sum", "Mean", "Equal", "Less", "Greater",
  "LessOrEqual", "GreaterOrEqual", "And", "Or", "Xor", "BitShift", "BitwiseAnd", "BitwiseOr", "BitwiseXor",
  "Where", "PRelu",
];

function constRoles(ctx: RuleContext, inputs: readonly number[]): void {
  for (const i of inputs) {
    if (!ctx.has(i) || !ctx.isWeight(i)) continue;
    const r = ctx.inRank(i);
    for (let a = 0; a < r; a++) ctx.role(ctx.in(i, a), "const");
  }
}

const unary = (ctx: RuleContext) => ctx.sameAll(0, 0);

const broadcastAll = (ctx: RuleContext) => {
  const inputs = ctx.node.inputs.map((_, i) => i);
  ctx.broadcast(inputs, 0);
  constRoles(ctx, inputs);
};

export const elementwiseRules: RuleTable = {};
for (const op of UNARY) elementwiseRules[op] = unary;
for (const op of BROADCAST) elementwiseRules[op] = broadcastAll;

/** Identity of a weight is torch's fan-out of a deduplicated weight: consumers read the weight itself. */
elementwiseRules["Identity"] = (ctx) => {
  if (ctx.isWeight(0)) return;
  ctx.sameAll(0, 0);
};

/** Clip(x, min, max): min/max are scalars. */
elementwiseRules["Clip"] = (ctx) => ctx.sameAll(0, 0);

/** CastLike(x, like): only x flows. */
elementwiseRules["CastLike"] = (ctx) => ctx.sameAll(0, 0);

/** Dropout (inference: identity); the optional mask has the same shape. */
elementwiseRules["Dropout"] = (ctx) => {
  ctx.sameAll(0, 0);
  if (ctx.hasOut(1)) ctx.sameAll(0, 1);
};

/** LRN normalises over a window of neighbouring channels: pruning is valid but changes the neighbourhoods. */
elementwiseRules["LRN"] = (ctx) => {
  ctx.sameAll(0, 0);
  ctx.note(ctx.in(0, 1), "LRN normalises across neighbouring channels: removing channels changes it");
};
