/**
 * The weight layers OBSPA reasons about: Conv, Gemm and MatMul with a constant weight. Each is seen as
 * y = W·x + b with W a (rows × inChannels·taps) matrix per convolution group, x the im2col column of the
 * input activation, and the columns of input channel c being the block c·taps … (c+1)·taps − 1.
 */
import { attrInt, attrInts, attrString } from "../../graph/attrs.ts";
import type { Graph, Node } from "../../graph/graph.ts";
import { readTensor, tensorDims, toFloat64 } from "../../onnx/tensor.ts";
import { ScalpelError } from "../../onnx/errors.ts";

export interface ConvGeometry {
  /** Kernel size per spatial axis. */
  readonly kernel: readonly number[];
  readonly strides: readonly number[];
  readonly dilations: readonly number[];
  /** Explicit pads (begin…, end…), or the auto_pad mode resolved against the input size at run time. */
  readonly pads: readonly number[];
  readonly autoPad: "NOTSET" | "SAME_UPPER" | "SAME_LOWER" | "VALID";
}

export interface WeightLayer {
  readonly node: Node;
  readonly kind: "conv" | "gemm" | "matmul";
  /** Activation input (the x of y = W·x). */
  readonly input: string;
  readonly output: string;
  /** The stored weight tensor (initializer or Constant output), Identity chains followed. */
  readonly weight: string;
  readonly bias: string | undefined;
  /** Output channels (features) M. */
  readonly outChannels: number;
  /** Input channels (features) C of the activation, all groups together. */
  readonly inChannels: number;
  /** Convolution groups G (1 for Gemm/MatMul). */
  readonly groups: number;
  /** Kernel elements per input channel (1 for Gemm/MatMul). */
  readonly taps: number;
  readonly conv: ConvGeometry | undefined;
  /** Gemm with transA: the activation is stored features × batch. */
  readonly transA: boolean;
}

/**
 * The stored tensor behind a value: itself when it is an initializer or Constant, else followed through
 * Identity nodes (torch deduplicates shared weights that way). Undefined for computed values.
 */
export function storedWeight(graph: Graph, name: string | undefined): string | undefined {
  for (let hops = 0; name && hops < 16; hops++) {
    if (graph.weight(name)) return name;
    const p = graph.producer(name);
    if (!p || p.opType !== "Identity") return undefined;
    name = p.inputs[0];
  }
  return undefined;
}

/** The float64 values of the stored tensor behind a value (see storedWeight); undefined for computed values. */
export function storedValues(graph: Graph, name: string | undefined): Float64Array | undefined {
  const stored = storedWeight(graph, name);
  const tp = stored ? graph.weight(stored) : undefined;
  return tp ? toFloat64(readTensor(graph.model, tp)) : undefined;
}

/** The weight layer a node is, or undefined when it is not one OBSPA can use (no constant weight, unknown op). */
export function weightLayer(graph: Graph, node: Node): WeightLayer | undefined {
  if (node.domain !== "") return undefined;
  const w = (name: string | undefined) => {
    const s = storedWeight(graph, name);
    return s ? graph.weight(s) : undefined;
  };
  const stored = (name: string | undefined) => storedWeight(graph, name);
  if (node.opType === "Conv") {
    const wt = w(node.inputs[1]);
    if (!wt) return undefined;
    const dims = tensorDims(wt);
    if (dims.length < 3) return undefined;
    const groups = attrInt(node.proto, "group", 1);
    const spatial = dims.length - 2;
    const kernel = dims.slice(2);
    const pads = attrInts(node.proto, "pads") ?? new Array(2 * spatial).fill(0);
    const autoPad = (attrString(node.proto, "auto_pad") ?? "NOTSET") as ConvGeometry["autoPad"];
    const bias = stored(node.inputs[2]);
    return {
      node,
      kind: "conv",
      input: node.inputs[0]!,
      output: node.outputs[0]!,
      weight: stored(node.inputs[1])!,
      bias,
      outChannels: dims[0]!,
      inChannels: dims[1]! * groups,
      groups,
      taps: kernel.reduce((a, b) => a * b, 1),
      conv: {
        kernel,
        strides: attrInts(node.proto, "strides") ?? new Array(spatial).fill(1),
        dilations: attrInts(node.proto, "dilations") ?? new Array(spatial).fill(1),
        pads,
        autoPad,
      },
      transA: false,
    };
  }
  if (node.opType === "Gemm") {
    const wt = w(node.inputs[1]);
    if (!wt || w(node.inputs[0])) return undefined;
    const dims = tensorDims(wt);
    if (dims.length !== 2) return undefined;
    const transB = attrInt(node.proto, "transB", 0) === 1;
    const bias = stored(node.inputs[2]);
    return {
      node,
      kind: "gemm",
      input: node.inputs[0]!,
      output: node.outputs[0]!,
      weight: stored(node.inputs[1])!,
      bias,
      outChannels: transB ? dims[0]! : dims[1]!,
      inChannels: transB ? dims[1]! : dims[0]!,
      groups: 1,
      taps: 1,
      conv: undefined,
      transA: attrInt(node.proto, "transA", 0) === 1,
    };
  }
  if (node.opType === "MatMul") {
    const wt = w(node.inputs[1]);
    if (!wt || w(node.inputs[0])) return undefined;
    const dims = tensorDims(wt);
    if (dims.length !== 2) return undefined;
    return {
      node,
      kind: "matmul",
      input: node.inputs[0]!,
      output: node.outputs[0]!,
      weight: stored(node.inputs[1])!,
      bias: undefined,
      outChannels: dims[1]!,
      inChannels: dims[0]!,
      groups: 1,
      taps: 1,
      conv: undefined,
      transA: false,
    };
  }
  return undefined;
}

/** Columns of one group's sub-matrix: (inChannels / groups) · taps. */
export function groupColumns(layer: WeightLayer): number {
  return (layer.inChannels / layer.groups) * layer.taps;
}

/** Rows of one group's sub-matrix: outChannels / groups. */
export function groupRows(layer: WeightLayer): number {
  return layer.outChannels / layer.groups;
}

/**
 * The weight as float64 matrices, one per convolution group: rows = that group's outputs, columns =
 * (local input channel, tap) in row-major order. Gemm/MatMul weights are transposed as needed.
 */
export function weightMatrices(graph: Graph, layer: WeightLayer): Float64Array[] {
  const tp = graph.weight(layer.weight);
  if (!tp) throw new ScalpelError(graph.name, `weight '${layer.weight}' of node '${layer.node.name}' is not a constant`);
  const values = toFloat64(readTensor(graph.model, tp));
  return splitWeight(layer, values);
}

/** Splits a flat weight (the tensor's own layout) into the per-group row-major matrices. */
export function splitWeight(layer: WeightLayer, values: Float64Array): Float64Array[] {
  const rows = groupRows(layer);
  const cols = groupColumns(layer);
  if (layer.kind === "conv") {
    const out: Float64Array[] = [];
    for (let g = 0; g < layer.groups; g++) out.push(values.slice(g * rows * cols, (g + 1) * rows * cols));
    return out;
  }
  const transposed = layer.kind === "matmul" || attrInt(layer.node.proto, "transB", 0) === 0;
  if (!transposed) return [values.slice()];
  // Stored [K, N]; the matrix is [N, K].
  const m = new Float64Array(rows * cols);
  for (let k = 0; k < cols; k++) for (let n = 0; n < rows; n++) m[n * cols + k] = values[k * rows + n]!;
  return [m];
}

/** The inverse of splitWeight: per-group matrices back into the tensor's flat layout. */
export function joinWeight(layer: WeightLayer, mats: readonly Float64Array[]): Float64Array {
  const rows = groupRows(layer);
  const cols = groupColumns(layer);
  if (layer.kind === "conv") {
    const out = new Float64Array(layer.outChannels * cols);
    mats.forEach((m, g) => out.set(m, g * rows * cols));
    return out;
  }
  const transposed = layer.kind === "matmul" || attrInt(layer.node.proto, "transB", 0) === 0;
  if (!transposed) return mats[0]!.slice();
  const m = mats[0]!;
  const out = new Float64Array(rows * cols);
  for (let k = 0; k < cols; k++) for (let n = 0; n < rows; n++) out[k * rows + n] = m[n * cols + k]!;
  return out;
}

/** Bias values (zeros when the layer has none). */
export function biasValues(graph: Graph, layer: WeightLayer): Float64Array {
  if (!layer.bias) return new Float64Array(layer.outChannels);
  const tp = graph.weight(layer.bias)!;
  const v = toFloat64(readTensor(graph.model, tp));
  if (v.length === layer.outChannels) return v;
  // Gemm's C may broadcast (a scalar, or [1, N]).
  const out = new Float64Array(layer.outChannels);
  for (let i = 0; i < out.length; i++) out[i] = v[v.length === 1 ? 0 : i % v.length]!;
  return out;
}

/** Every weight layer of the graph, by node name. */
export function weightLayers(graph: Graph): Map<string, WeightLayer> {
  const out = new Map<string, WeightLayer>();
  for (const node of graph.nodes) {
    const l = weightLayer(graph, node);
    if (l) out.set(node.name, l);
  }
  return out;
}
