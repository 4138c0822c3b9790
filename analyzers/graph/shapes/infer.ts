/**
 * Static shape inference over the graph IR, in topological order, with constant folding of shape
 * arithmetic and symbolic dims. What cannot be decided statically is listed in `incomplete`; the
 * runtime fallback (runtimeShapes.ts) can then fill it from one onnxruntime run.
 */
import { isIntType, MAX_FOLD_ELEMENTS, type KnownValue } from "./values.ts";
import { readTensor, tensorDims, toFloat64 } from "../../onnx/tensor.ts";
import type { Dim, Graph, TensorType } from "../graph.ts";
import { ruleFor } from "./registry.ts";
import type { OpContext } from "./rule.ts";
import { DataType } from "../../onnx/dtypes.ts";
import type { TensorProto } from "onnx-buf";

export type ShapeSource = "input" | "weight" | "inferred" | "declared" | "runtime";

export interface ShapeMap {
  /** Every value's type (dtype and shape, possibly partial). */
  readonly types: Map<string, TensorType>;
  /** Small values known at analysis time (shape tensors, axes, small constants). */
  readonly values: Map<string, KnownValue>;
  readonly source: Map<string, ShapeSource>;
  /** Values whose rank or some dim is still unknown. */
  readonly incomplete: string[];
  /** Operators with no shape rule (domain::op), for the report. */
  readonly unsupportedOps: Set<string>;
  /** Rules that found inconsistent shapes: node name → message. */
  readonly conflicts: Map<string, string>;
}

export interface InferOptions {
  /** Override input shapes (e.g. a concrete batch size). */
  inputShapes?: Record<string, Dim[]>;
  /** Merge in the shapes the model declares for outputs and value_info (default true; tests turn it off). */
  useDeclared?: boolean;
}

export function isComplete(t: TensorType | undefined): boolean {
  return !!t && !!t.shape && t.shape.every((d) => d !== undefined);
}

export function isFullyStatic(t: TensorType | undefined): boolean {
  return !!t && !!t.shape && t.shape.every((d) => typeof d === "number");
}

function weightValue(graph: Graph, tp: TensorProto): KnownValue | undefined {
  const dims = tensorDims(tp);
  const n = dims.reduce((a, b) => a * b, 1);
  if (n > MAX_FOLD_ELEMENTS || tp.dataType === DataType.STRING) return undefined;
  try {
    const td = readTensor(graph.model, tp);
    const nums = isIntType(tp.dataType) ? Array.from(td.data as ArrayLike<number | bigint>, Number) : Array.from(toFloat64(td));
    return { dataType: tp.dataType, dims, values: nums };
  } catch {
    return undefined;
  }
}

/** Merges two views of one type: known dims win, concrete numbers beat symbols. */
function mergeTypes(a: TensorType | undefined, b: TensorType | undefined): TensorType | undefined {
  if (!a) return b;
  if (!b) return a;
  if (!a.shape) return { dataType: a.dataType || b.dataType, shape: b.shape };
  if (!b.shape || b.shape.length !== a.shape.length) return a;
  return {
    dataType: a.dataType || b.dataType,
    shape: a.shape.map((d, i) => {
      const e = b.shape![i];
      if (typeof d === "number") return d;
      if (typeof e === "number") return e;
      return d ?? e;
    }),
  };
}

export function inferShapes(graph: Graph, opts: InferOptions = {}): ShapeMap {
  const types = new Map<string, TensorType>();
  const values = new Map<string, KnownValue>();
  const source = new Map<string, ShapeSource>();
  const unsupportedOps = new Set<string>();
  const conflicts = new Map<string, string>();

  for (const name of graph.inputs) {
    const declared = graph.declaredTypes.get(name);
    const override = opts.inputShapes?.[name];
    if (declared || override) {
      types.set(name, { dataType: declared?.dataType ?? DataType.FLOAT, shape: override ?? declared?.shape });
      source.set(name, "input");
    }
  }
  const weightCache = new Map<string, KnownValue | undefined>();
  const weightVal = (name: string): KnownValue | undefined => {
    if (weightCache.has(name)) return weightCache.get(name);
    const tp = graph.weight(name);
    const v = tp ? weightValue(graph, tp) : undefined;
    weightCache.set(name, v);
    return v;
  };
  for (const [name, tp] of graph.initializers) {
    types.set(name, { dataType: tp.dataType, shape: tensorDims(tp) });
    source.set(name, "weight");
  }

  for (const node of graph.nodes) {
    const key = node.domain ? `${node.domain}::${node.opType}` : node.opType;
    const rule = ruleFor(node.domain, node.opType);
    const ctx: OpContext = {
      node,
      proto: node.proto,
      opset: graph.opset(node.domain),
      inputCount: node.inputs.length,
      has: (i) => !!node.inputs[i],
      type: (i) => (node.inputs[i] ? types.get(node.inputs[i]!) : undefined),
      shape: (i) => (node.inputs[i] ? types.get(node.inputs[i]!)?.shape : undefined),
      dtype: (i) => (node.inputs[i] ? types.get(node.inputs[i]!)?.dataType : undefined),
      value: (i) => {
        const n = node.inputs[i];
        if (!n) return undefined;
        return values.get(n) ?? (graph.initializers.has(n) ? weightVal(n) : undefined);
      },
    };
    let outTypes: (TensorType | undefined)[] = [];
    let outValues: (KnownValue | undefined)[] | undefined;
    if (!rule) unsupportedOps.add(key);
    else {
      try {
        const r = rule(ctx);
        outTypes = r.types;
        outValues = r.values;
      } catch (e) {
        conflicts.set(node.name, e instanceof Error ? e.message : String(e));
      }
    }
    node.outputs.forEach((o, i) => {
      if (!o) return;
      const declared = opts.useDeclared === false ? undefined : graph.declaredTypes.get(o);
      const inferred = outTypes[i];
      const merged = mergeTypes(inferred, declared);
      if (merged) {
        types.set(o, merged);
        source.set(o, inferred && isComplete(inferred) ? "inferred" : declared ? "declared" : "inferred");
      }
      const v = outValues?.[i];
      if (v && v.values.length <= MAX_FOLD_ELEMENTS) values.set(o, v);
      else if (node.opType === "Constant") {
        const cv = weightVal(o);
        if (cv) values.set(o, cv);
      }
    });
  }

  const incomplete: string[] = [];
  for (const node of graph.nodes) for (const o of node.outputs) if (o && !isComplete(types.get(o))) incomplete.push(o);
  return { types, values, source, incomplete, unsupportedOps, conflicts };
}
