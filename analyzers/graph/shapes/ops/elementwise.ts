/** Unary, binary (broadcasting), variadic and comparison ops, with folding for integer shape math. */
import { DataType } from "../../../onnx/dtypes.ts";
import { attrInt } from "../../attrs.ts";
import type { Dim } from "../../graph.ts";
import { addDims, broadcast, mulDims } from "../dims.ts";
import { t, type RuleResult, type ShapeRule } from "../rule.ts";
import { binaryFold, type KnownValue } from "../values.ts";

const same: ShapeRule = (c) => ({ types: [c.type(0)] });

const UNARY = [
  "Relu", "Sigmoid", "Tanh", "Exp", "Log", "Sqrt", "Neg", "Abs", "Erf", "Gelu", "HardSigmoid", "HardSwish",
  "LeakyRelu", "Elu", "Selu", "Softplus", "Softsign", "Clip", "Identity", "Not", "Sign", "Floor", "Ceil", "Round",
  "Reciprocal", "Sin", "Cos", "Tan", "Asin", "Acos", "Atan", "Sinh", "Cosh", "Asinh", "Acosh", "Atanh", "Mish",
  "Softmax", "LogSoftmax", "Hardmax", "LRN", "InstanceNormalization", "GroupNormalization",
  "MeanVarianceNormalization", "LpNormalization", "Trilu", "CumSum", "Shrink", "ThresholdedRelu", "Celu",
  "BitwiseNot", "ReverseSequence", "ScatterND", "ScatterElements", "Scatter", "CenterCropPad", "Swish",
];

const BINARY_ARITH = ["Add", "Sub", "Mul", "Div", "Pow", "Mod", "BitShift", "PRelu", "BitwiseAnd", "BitwiseOr", "BitwiseXor"];
const COMPARE = ["Equal", "Less", "Greater", "LessOrEqual", "GreaterOrEqual", "And", "Or", "Xor"];
const VARIADIC = ["Max", "Min", "Sum", "Mean"];

function foldUnary(op: string, v: KnownValue | undefined): KnownValue | undefined {
  if (!v) return undefined;
  const f: Record<string, (x: number) => number> = {
    Neg: (x) => -x, Abs: Math.abs, Floor: Math.floor, Ceil: Math.ceil, Sqrt: Math.sqrt, Reciprocal: (x) => 1 / x,
    Relu: (x) => Math.max(0, x), Not: (x) => (x ? 0 : 1), Identity: (x) => x, Sign: Math.sign, Round: (x) => Math.round(x),
  };
  const fn = f[op];
  if (!fn) return undefined;
  if (op === "Identity") return v;
  return { ...v, values: v.values.map((x) => (typeof x === "number" ? fn(x) : undefined)) };
}

const ARITH: Record<string, (x: number, y: number) => number> = {
  Add: (x, y) => x + y,
  Sub: (x, y) => x - y,
  Mul: (x, y) => x * y,
  Div: (x, y) => x / y,
  Pow: (x, y) => x ** y,
  Mod: (x, y) => x % y,
  Max: Math.max,
  Min: Math.min,
  Sum: (x, y) => x + y,
  Equal: (x, y) => (x === y ? 1 : 0),
  Less: (x, y) => (x < y ? 1 : 0),
  Greater: (x, y) => (x > y ? 1 : 0),
  LessOrEqual: (x, y) => (x <= y ? 1 : 0),
  GreaterOrEqual: (x, y) => (x >= y ? 1 : 0),
  And: (x, y) => (x && y ? 1 : 0),
  Or: (x, y) => (x || y ? 1 : 0),
};

const SYM: Record<string, (x: Dim, y: Dim) => Dim> = {
  Add: addDims,
  Mul: mulDims,
  Sum: addDims,
  Sub: (x, y) => (y === 0 ? x : undefined),
  Div: (x, y) => (y === 1 ? x : undefined),
  Max: (x, y) => (x === y ? x : undefined),
  Min: (x, y) => (x === y ? x : undefined),
  Equal: (x, y) => (x !== undefined && x === y ? 1 : undefined),
};

function integerDiv(dataType: number): boolean {
  return dataType !== DataType.FLOAT && dataType !== DataType.DOUBLE && dataType !== DataType.FLOAT16 && dataType !== DataType.BFLOAT16;
}

function broadcastRule(op: string, outType?: number): ShapeRule {
  return (c) => {
    const n = c.inputCount;
    const shapes = Array.from({ length: n }, (_, i) => c.shape(i));
    const shape = broadcast(shapes);
    const dtype = outType ?? c.dtype(0);
    const res: RuleResult = { types: [t(dtype, shape)] };
    const fn = ARITH[op];
    if (fn && n >= 2) {
      let acc = c.value(0);
      const divInt = op === "Div" && integerDiv(c.dtype(0) ?? DataType.FLOAT);
      const f = divInt ? (x: number, y: number) => Math.trunc(x / y) : op === "Mod" && attrInt(c.proto, "fmod", 0) === 0 ? (x: number, y: number) => ((x % y) + y) % y : fn;
      for (let i = 1; i < n && acc; i++) {
        const b = c.value(i);
        acc = b ? binaryFold(acc, b, f, SYM[op], outType ?? acc.dataType) : undefined;
      }
      if (acc) res.values = [acc];
    }
    return res;
  };
}

export const elementwiseRules: Record<string, ShapeRule> = {};
for (const op of UNARY)
  elementwiseRules[op] = (c) => {
    const r = same(c);
    const v = foldUnary(op, c.value(0));
    return v ? { ...r, values: [v] } : r;
  };
for (const op of BINARY_ARITH) elementwiseRules[op] = broadcastRule(op);
for (const op of COMPARE) elementwiseRules[op] = broadcastRule(op, DataType.BOOL);
for (const op of VARIADIC) elementwiseRules[op] = broadcastRule(op);

elementwiseRules["IsNaN"] = (c) => ({ types: [t(DataType.BOOL, c.shape(0))] });
elementwiseRules["IsInf"] = elementwiseRules["IsNaN"];

elementwiseRules["Where"] = (c) => {
  const shape = broadcast([c.shape(0), c.shape(1), c.shape(2)]);
  const res: RuleResult = { types: [t(c.dtype(1) ?? c.dtype(2), shape)] };
  const cond = c.value(0), x = c.value(1), y = c.value(2);
  if (cond && x && y && cond.dims.length <= 1 && x.dims.length <= 1 && y.dims.length <= 1) {
    const n = Math.max(cond.values.length, x.values.length, y.values.length);
    const pick = (v: KnownValue, i: number) => v.values[v.values.length === 1 ? 0 : i];
    const values: Dim[] = [];
    for (let i = 0; i < n; i++) {
      const k = pick(cond, i);
      values.push(typeof k === "number" ? (k ? pick(x, i) : pick(y, i)) : undefined);
    }
    res.values = [{ dataType: x.dataType, dims: n === 1 && cond.dims.length === 0 ? [] : [n], values }];
  }
  return res;
};

elementwiseRules["Cast"] = (c) => {
  const to = attrInt(c.proto, "to", DataType.FLOAT);
  const v = c.value(0);
  const res: RuleResult = { types: [t(to, c.shape(0))] };
  if (v) {
    const toInt = to !== DataType.FLOAT && to !== DataType.DOUBLE && to !== DataType.FLOAT16 && to !== DataType.BFLOAT16;
    res.values = [{ dataType: to, dims: v.dims, values: v.values.map((x) => (typeof x === "number" && toInt ? (to === DataType.BOOL ? (x ? 1 : 0) : Math.trunc(x)) : x)) }];
  }
  return res;
};
elementwiseRules["CastLike"] = (c) => ({ types: [t(c.dtype(1), c.shape(0))] });

elementwiseRules["Dropout"] = (c) => ({ types: [c.type(0), t(DataType.BOOL, c.shape(0))] });
elementwiseRules["BatchNormalization"] = (c) => ({ types: [c.type(0), c.type(1), c.type(1), c.type(1), c.type(1)] });
elementwiseRules["QuantizeLinear"] = (c) => ({ types: [t(c.has(2) ? c.dtype(2) : attrInt(c.proto, "output_dtype", DataType.UINT8) || DataType.UINT8, c.shape(0))] });
elementwiseRules["DequantizeLinear"] = (c) => ({ types: [t(c.dtype(1) ?? DataType.FLOAT, c.shape(0))] });
elementwiseRules["DynamicQuantizeLinear"] = (c) => ({ types: [t(DataType.UINT8, c.shape(0)), t(DataType.FLOAT, []), t(DataType.UINT8, [])] });
