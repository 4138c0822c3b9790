/**
 * Parameters and MACs per node, per op type, per module scope, and in total.
 *
 * MACs count the multiply-accumulates of the linear ops (Conv, ConvTranspose, Gemm, MatMul, Einsum,
 * fused attention), the convention of torchvision's published GFLOPS figures; elementwise ops,
 * normalisations and pooling count 0. Symbolic dims (a dynamic batch) count as 1: figures are per sample.
 * Parameters are the elements of the float/quantised weights a node reads. PyTorch's exporter shares
 * identical weights through Identity nodes; `params` attributes a shared weight to every consumer (as
 * the source model counts it), `storedParams` counts each stored tensor once.
 */
import { DataType } from "../onnx/dtypes.ts";
import { tensorDims } from "../onnx/tensor.ts";
import { attrInt, attrString } from "./attrs.ts";
import type { Dim, Graph, Node } from "./graph.ts";
import { modulePathOf } from "./scopes.ts";
import type { ShapeMap } from "./shapes/infer.ts";

export interface NodeMetrics {
  params: number;
  macs: number;
  /** The op has MACs but they could not be computed (unknown shapes): `macs` is then 0, not the truth. */
  macsUnknown?: boolean;
}

export interface ScopeMetrics {
  /** Scope component (e.g. "layer1.0"); "" for the root. */
  name: string;
  /** Dotted module path ("layer1.0.conv1"). */
  module: string;
  nodes: number;
  params: number;
  macs: number;
  children: ScopeMetrics[];
}

export interface Metrics {
  perNode: NodeMetrics[]; // indexed like graph.nodes
  params: number;
  storedParams: number;
  macs: number;
  byOpType: Record<string, { count: number; params: number; macs: number }>;
  scopes: ScopeMetrics;
  /** True when some dims were symbolic or unknown (MACs then assume 1 or skip the node). */
  approximate: boolean;
  /** Nodes whose MACs could not be computed (counted as 0 in `macs`). */
  macsUnknown?: number;
}

const NON_PARAM_TYPES = new Set<number>([DataType.INT64, DataType.INT32, DataType.BOOL, DataType.STRING, DataType.UINT64, DataType.UINT32]);

/** Follows Identity chains back to the stored weight a value comes from. */
export function weightSource(graph: Graph, name: string): string | undefined {
  let cur = name;
  for (let i = 0; i < 64; i++) {
    if (graph.weight(cur)) return cur;
    const p = graph.producer(cur);
    if (!p || p.opType !== "Identity") return undefined;
    cur = p.inputs[0]!;
  }
  return undefined;
}

function isParamTensor(graph: Graph, name: string): number {
  const tp = graph.weight(name);
  if (!tp || NON_PARAM_TYPES.has(tp.dataType)) return 0;
  const n = tensorDims(tp).reduce((a, b) => a * b, 1);
  return n >= 2 ? n : 0;
}

function num(d: Dim): number | undefined {
  return typeof d === "number" ? d : typeof d === "string" ? 1 : undefined;
}
function prod(dims: readonly Dim[] | undefined): number | undefined {
  if (!dims) return undefined;
  let p = 1;
  for (const d of dims) {
    const n = num(d);
    if (n === undefined) return undefined;
    p *= n;
  }
  return p;
}

function nodeMacs(node: Node, shapes: ShapeMap): number | undefined {
  const shape = (name: string | undefined) => (name ? shapes.types.get(name)?.shape : undefined);
  const op = node.domain ? `${node.domain}::${node.opType}` : node.opType;
  switch (op) {
    case "Conv":
    case "ConvInteger":
    case "com.microsoft::FusedConv": {
      const y = shape(node.outputs[0]), w = shape(node.inputs[1]);
      const out = prod(y), k = prod(w?.slice(1));
      return out !== undefined && k !== undefined ? out * k : undefined;
    }
    case "QLinearConv": {
      const y = shape(node.outputs[0]), w = shape(node.inputs[3]);
      const out = prod(y), k = prod(w?.slice(1));
      return out !== undefined && k !== undefined ? out * k : undefined;
    }
    case "ConvTranspose": {
      const x = shape(node.inputs[0]), w = shape(node.inputs[1]);
      const inp = prod(x), k = prod(w?.slice(1));
      return inp !== undefined && k !== undefined ? inp * k : undefined;
    }
    case "Gemm": {
      const a = shape(node.inputs[0]), y = shape(node.outputs[0]);
      if (!a || a.length !== 2) return undefined;
      const kdim = num(attrInt(node.proto, "transA", 0) ? a[0] : a[1]);
      const out = prod(y);
      return kdim !== undefined && out !== undefined ? out * kdim : undefined;
    }
    case "MatMul":
    case "MatMulInteger":
    case "com.microsoft::FusedMatMul": {
      const a = shape(node.inputs[0]), y = shape(node.outputs[0]);
      if (!a || a.length === 0) return undefined;
      const transA = op === "com.microsoft::FusedMatMul" && attrInt(node.proto, "transA", 0) === 1;
      const kdim = num(a.length === 1 ? a[0] : transA ? a[a.length - 2] : a[a.length - 1]);
      const out = prod(y);
      return kdim !== undefined && out !== undefined ? out * kdim : undefined;
    }
    case "QLinearMatMul": {
      const a = shape(node.inputs[0]), y = shape(node.outputs[0]);
      const kdim = a ? num(a[a.length - 1]) : undefined;
      const out = prod(y);
      return kdim !== undefined && out !== undefined ? out * kdim : undefined;
    }
    case "Einsum": {
      const eq = (attrString(node.proto, "equation") ?? "").replace(/\s/g, "");
      const [lhs] = eq.split("->");
      const sizes = new Map<string, number>();
      (lhs ?? "").split(",").forEach((term, i) => {
        const s = shape(node.inputs[i]);
        [...term].forEach((ch, k) => {
          const d = num(s?.[k]);
          if (d !== undefined && d !== 1) sizes.set(ch, d);
          else if (!sizes.has(ch) && d !== undefined) sizes.set(ch, d);
        });
      });
      let p = 1;
      for (const v of sizes.values()) p *= v;
      return (lhs ?? "").split(",").length >= 2 ? p : 0;
    }
    case "Attention": // opset 23: Q·Kᵀ and A·V
    case "com.microsoft::MultiHeadAttention":
    case "com.microsoft::GroupQueryAttention":
    case "com.microsoft::Attention": {
      return attentionMacs(node, shapes);
    }
  }
  return 0;
}

function attentionMacs(node: Node, shapes: ShapeMap): number | undefined {
  const shape = (name: string | undefined) => (name ? shapes.types.get(name)?.shape : undefined);
  const q = shape(node.inputs[0]);
  const y = shape(node.outputs[0]);
  if (!q || !y) return undefined;
  if (node.domain === "com.microsoft" && node.opType === "Attention") {
    // input [B,S,H] × packed QKV weight [H, 3H'] + scores/values.
    const w = shape(node.inputs[1]);
    const b = num(q[0]), s = num(q[1]), h = num(q[2]), out3 = num(w?.[1]);
    if (b === undefined || s === undefined || h === undefined || out3 === undefined) return undefined;
    const proj = b * s * h * out3;
    const hidden = out3 / 3;
    return proj + 2 * b * s * s * hidden;
  }
  // Q: [B,S,Hq*D] or [B,Hq,S,D]; K/V likewise; output hidden known from y.
  const k = shape(node.inputs[1]);
  if (!k) return undefined;
  const b = num(q[0]);
  const sq = num(q.length === 4 ? q[2] : q[1]);
  const skv = num(k.length === 4 ? k[2] : k[1]);
  const qHidden = q.length === 4 ? (num(q[1]) ?? 0) * (num(q[3]) ?? 0) : num(q[2]);
  const vHidden = y.length === 4 ? (num(y[1]) ?? 0) * (num(y[3]) ?? 0) : num(y[2]);
  if (b === undefined || sq === undefined || skv === undefined || qHidden === undefined || vHidden === undefined) return undefined;
  return b * sq * skv * (qHidden + vHidden);
}

export function computeMetrics(graph: Graph, shapes: ShapeMap): Metrics {
  const perNode: NodeMetrics[] = [];
  const byOpType: Metrics["byOpType"] = {};
  let approximate = false;
  let params = 0, macs = 0, macsUnknown = 0;
  for (const node of graph.nodes) {
    let p = 0;
    const seen = new Set<string>();
    for (const input of node.inputs) {
      if (!input || node.opType === "Identity") continue;
      const src = weightSource(graph, input);
      if (src && !seen.has(src)) {
        seen.add(src);
        p += isParamTensor(graph, src);
      }
    }
    let m = nodeMacs(node, shapes);
    const unknown = m === undefined;
    if (m === undefined) {
      approximate = true;
      macsUnknown++;
      m = 0;
    }
    perNode.push(unknown ? { params: p, macs: m, macsUnknown: true } : { params: p, macs: m });
    params += p;
    macs += m;
    const key = node.domain ? `${node.domain}::${node.opType}` : node.opType;
    const agg = (byOpType[key] ??= { count: 0, params: 0, macs: 0 });
    agg.count++;
    agg.params += p;
    agg.macs += m;
  }
  for (const t of shapes.types.values()) if (t.shape?.some((d) => typeof d !== "number")) approximate = true;
  let storedParams = 0;
  for (const name of [...graph.initializers.keys(), ...graph.constants.keys()]) storedParams += isParamTensor(graph, name);
  return { perNode, params, storedParams, macs, byOpType, scopes: scopeTree(graph, perNode), approximate, ...(macsUnknown ? { macsUnknown } : {}) };
}

function scopeTree(graph: Graph, perNode: NodeMetrics[]): ScopeMetrics {
  const root: ScopeMetrics = { name: "", module: "", nodes: 0, params: 0, macs: 0, children: [] };
  const index = new Map<ScopeMetrics, Map<string, ScopeMetrics>>();
  for (const node of graph.nodes) {
    const m = perNode[node.index]!;
    let cur = root;
    const add = (s: ScopeMetrics) => {
      s.nodes++;
      s.params += m.params;
      s.macs += m.macs;
    };
    add(cur);
    const path: string[] = [];
    for (const comp of node.scope.path) {
      path.push(comp);
      let kids = index.get(cur);
      if (!kids) index.set(cur, (kids = new Map()));
      let next = kids.get(comp);
      if (!next) {
        next = { name: comp, module: modulePathOf(path), nodes: 0, params: 0, macs: 0, children: [] };
        kids.set(comp, next);
        cur.children.push(next);
      }
      cur = next;
      add(cur);
    }
  }
  return root;
}
