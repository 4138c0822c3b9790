/**
 * A model's summary: what a viewer shows before anything else (opsets, inputs/outputs with their
 * declared types, op counts, weights). Plain data (no protobuf objects), so it can cross a worker
 * boundary or be printed as JSON. Params here are counted from the weights themselves; MACs need
 * shapes and come from the metrics module.
 */
import { dataTypeInfo, dataTypeName } from "../onnx/dtypes.ts";
import type { Dim, Graph } from "./graph.ts";

export interface TensorSummary {
  readonly name: string;
  /** "float32", "int64", ...; undefined when the model does not declare it. */
  readonly dataType: string | undefined;
  /** undefined: rank unknown. Symbolic dims are strings, unknown dims null (JSON-safe). */
  readonly shape: readonly (number | string | null)[] | undefined;
}

export interface OpCount {
  readonly opType: string;
  /** "" for the default ai.onnx domain. */
  readonly domain: string;
  readonly count: number;
}

export interface ModelSummary {
  /** The model's path (or display name when loaded from bytes). */
  readonly file: string;
  /** Size of the .onnx file itself (without external-data side files). */
  readonly fileBytes: number;
  readonly irVersion: number;
  readonly producer: string;
  readonly graphName: string;
  /** Imported opsets, "" for ai.onnx. */
  readonly opsets: readonly { readonly domain: string; readonly version: number }[];
  readonly inputs: readonly TensorSummary[];
  readonly outputs: readonly TensorSummary[];
  readonly nodeCount: number;
  /** Node counts per op type, most frequent first. */
  readonly ops: readonly OpCount[];
  /** Domains of ops outside ai.onnx / ai.onnx.ml (custom ops: never loaded from libraries named by a model). */
  readonly customDomains: readonly string[];
  readonly initializerCount: number;
  /** Elements of floating-point weights (initializers and Constant nodes) that nodes consume. */
  readonly parameters: number;
  /** Bytes of all weights (initializers and Constant nodes), packed as stored. */
  readonly weightBytes: number;
  /** Whether any initializer keeps its data in a side file. */
  readonly externalData: boolean;
  readonly functions: number;
  /** Nodes of the main graph with a module scope (from names or metadata). */
  readonly scopedNodes: number;
}

const STANDARD_DOMAINS = new Set(["", "ai.onnx", "ai.onnx.ml", "ai.onnx.training", "ai.onnx.preview.training"]);

export function summarizeGraph(graph: Graph): ModelSummary {
  const model = graph.model;
  const proto = model.proto;
  const tensor = (name: string): TensorSummary => {
    const t = graph.declaredTypes.get(name);
    return {
      name,
      dataType: t ? dataTypeName(t.dataType) : undefined,
      shape: t?.shape?.map((d: Dim) => d ?? null),
    };
  };

  const counts = new Map<string, { opType: string; domain: string; count: number }>();
  const custom = new Set<string>();
  let scopedNodes = 0;
  for (const n of graph.nodes) {
    const domain = n.domain === "ai.onnx" ? "" : n.domain;
    const key = `${domain}\u0000${n.opType}`;
    const c = counts.get(key);
    if (c) c.count++;
    else counts.set(key, { opType: n.opType, domain, count: 1 });
    if (!STANDARD_DOMAINS.has(domain)) custom.add(domain);
    if (n.scope.path.length > 0) scopedNodes++;
  }
  const ops = [...counts.values()].sort((a, b) => b.count - a.count || a.opType.localeCompare(b.opType));

  // Parameters: floating-point weights some node reads (shape constants and index tensors are not params).
  let parameters = 0;
  let weightBytes = 0;
  let externalData = false;
  const countWeight = (name: string, dataType: number, dims: readonly bigint[], rawBytes: number, isExternal: boolean) => {
    const elements = dims.reduce((a, d) => a * Number(d), 1);
    const info = dataTypeInfo(dataType);
    weightBytes += isExternal ? Math.ceil((elements * (info?.bits ?? 0)) / 8) : rawBytes;
    if (isExternal) externalData = true;
    if (info?.isFloat && graph.consumers(name).length > 0) parameters += elements;
  };
  for (const [name, t] of graph.initializers) {
    countWeight(name, t.dataType, t.dims, storedBytes(t), t.dataLocation === 1);
  }
  for (const [name, t] of graph.constants) countWeight(name, t.dataType, t.dims, storedBytes(t), false);

  return {
    file: model.name,
    fileBytes: model.byteLength,
    irVersion: Number(proto.irVersion),
    producer: [proto.producerName, proto.producerVersion].filter(Boolean).join(" "),
    graphName: proto.graph?.name ?? "",
    opsets: proto.opsetImport.map((o) => ({ domain: o.domain === "ai.onnx" ? "" : o.domain, version: Number(o.version) })),
    inputs: graph.inputs.map(tensor),
    outputs: graph.outputs.map(tensor),
    nodeCount: graph.nodes.length,
    ops,
    customDomains: [...custom].sort(),
    initializerCount: graph.initializers.size,
    parameters,
    weightBytes,
    externalData,
    functions: proto.functions.length,
    scopedNodes,
  };
}

/** Bytes a tensor's data takes in the file, whichever field holds it. */
function storedBytes(t: {
  rawData: Uint8Array;
  floatData: number[];
  int32Data: number[];
  int64Data: bigint[];
  doubleData: number[];
  uint64Data: bigint[];
  stringData: Uint8Array[];
}): number {
  if (t.rawData.byteLength > 0) return t.rawData.byteLength;
  return (
    t.floatData.length * 4 +
    t.int32Data.length * 4 +
    t.int64Data.length * 8 +
    t.doubleData.length * 8 +
    t.uint64Data.length * 8 +
    t.stringData.reduce((a, s) => a + s.byteLength, 0)
  );
}
