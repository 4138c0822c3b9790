/** Colour scales for overlays and op categories (pure). */

const VIRIDIS = ["#440154", "#482878", "#3e4989", "#31688e", "#26828e", "#1f9e89", "#35b779", "#6ece58", "#b5de2b", "#fde725"];
const DIVERGING = ["#3b4cc0", "#6788ee", "#9abbff", "#c9d7f0", "#edd1c2", "#f7a889", "#e26952", "#b40426"];
export const CATEGORICAL = ["#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948", "#b07aa1", "#ff9da7", "#9c755f", "#17becf", "#bcbd22", "#8c564b"];

function hex(c: string): [number, number, number] {
  const n = parseInt(c.slice(1), 16);
  return [(n >> 16) & 255, (n >> 8) & 255, n & 255];
}

function lerpStops(stops: readonly string[], t: number): string {
  const x = Math.min(1, Math.max(0, Number.isFinite(t) ? t : 0)) * (stops.length - 1);
  const i = Math.min(stops.length - 2, Math.floor(x));
  const f = x - i;
  const a = hex(stops[i]!), b = hex(stops[i + 1]!);
  const c = a.map((v, k) => Math.round(v + (b[k]! - v) * f));
  return `rgb(${c[0]},${c[1]},${c[2]})`;
}

export function scaleColor(palette: "sequential" | "diverging", min: number, max: number, v: number): string {
  const t = (v - min) / (max - min || 1);
  return lerpStops(palette === "diverging" ? DIVERGING : VIRIDIS, t);
}

/** CSS gradient for a legend bar. */
export function scaleGradient(palette: "sequential" | "diverging"): string {
  const stops = palette === "diverging" ? DIVERGING : VIRIDIS;
  return `linear-gradient(to right, ${stops.join(", ")})`;
}

/** Text colour readable on a fill. */
export function inkOn(fill: string): string {
  const m = /rgb\((\d+),(\d+),(\d+)\)/.exec(fill);
  const [r, g, b] = m ? [Number(m[1]), Number(m[2]), Number(m[3])] : fill.startsWith("#") ? hex(fill) : [128, 128, 128];
  return 0.299 * r! + 0.587 * g! + 0.114 * b! > 140 ? "#1e1e1e" : "#ffffff";
}

export function categorical(rank: number): string {
  return CATEGORICAL[((rank % CATEGORICAL.length) + CATEGORICAL.length) % CATEGORICAL.length]!;
}

export function hashRank(key: string): number {
  let h = 2166136261;
  for (let i = 0; i < key.length; i++) h = Math.imul(h ^ key.charCodeAt(i), 16777619);
  return h >>> 0;
}

const CATEGORIES: [string, string[]][] = [
  ["conv", ["Conv", "ConvTranspose", "ConvInteger", "QLinearConv", "DeformConv"]],
  ["linear", ["Gemm", "MatMul", "MatMulInteger", "QLinearMatMul", "Einsum", "Attention", "MultiHeadAttention"]],
  ["norm", ["BatchNormalization", "LayerNormalization", "InstanceNormalization", "GroupNormalization", "LRN", "RMSNormalization", "SimplifiedLayerNormalization", "SkipLayerNormalization"]],
  ["act", ["Relu", "Gelu", "FastGelu", "BiasGelu", "Sigmoid", "Tanh", "Softmax", "LogSoftmax", "Erf", "Clip", "HardSwish", "HardSigmoid", "LeakyRelu", "Elu", "Selu", "PRelu", "Softplus", "Mish", "Celu", "ThresholdedRelu", "Swish", "QuickGelu"]],
  ["pool", ["MaxPool", "AveragePool", "GlobalAveragePool", "GlobalMaxPool", "LpPool", "MaxRoiPool", "RoiAlign"]],
  ["shape", ["Reshape", "Transpose", "Concat", "Split", "Slice", "Gather", "GatherElements", "GatherND", "Flatten", "Squeeze", "Unsqueeze", "Expand", "Pad", "Shape", "Size", "Cast", "Identity", "Tile", "ScatterND", "ScatterElements", "ConstantOfShape", "Range", "Resize", "Upsample", "DepthToSpace", "SpaceToDepth"]],
  ["io", ["Input", "Output"]],
];
const CAT = new Map<string, string>();
for (const [c, ops] of CATEGORIES) for (const op of ops) CAT.set(op, c);

/** "conv", "linear", "norm", "act", "pool", "shape", "io" or "math". */
export function opCategory(op: string): string {
  const bare = op.includes("::") ? op.slice(op.indexOf("::") + 2) : op;
  return CAT.get(bare) ?? "math";
}
