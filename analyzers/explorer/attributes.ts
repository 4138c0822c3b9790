/** Node attributes as short display strings for the details pane. */
import { AttributeProto_AttributeType as AT, type AttributeProto, type TensorProto } from "onnx-buf";
import { dataTypeName } from "../onnx/dtypes.ts";
import { elementCount, readTensor, tensorDims, toFloat64 } from "../onnx/tensor.ts";
import type { Model } from "../onnx/model.ts";
import { formatNumber, formatShape } from "./format.ts";
import type { AttributeInfo } from "./types.ts";

const MAX_ITEMS = 16;
const MAX_CHARS = 200;

const TYPE_NAMES: Record<number, string> = {
  [AT.FLOAT]: "float",
  [AT.INT]: "int",
  [AT.STRING]: "string",
  [AT.TENSOR]: "tensor",
  [AT.GRAPH]: "graph",
  [AT.SPARSE_TENSOR]: "sparse tensor",
  [AT.TYPE_PROTO]: "type",
  [AT.FLOATS]: "floats",
  [AT.INTS]: "ints",
  [AT.STRINGS]: "strings",
  [AT.TENSORS]: "tensors",
  [AT.GRAPHS]: "graphs",
  [AT.SPARSE_TENSORS]: "sparse tensors",
  [AT.TYPE_PROTOS]: "types",
};

const decoder = new TextDecoder();

function clip(s: string): string {
  return s.length > MAX_CHARS ? `${s.slice(0, MAX_CHARS - 1)}…` : s;
}

function list<T>(xs: readonly T[], f: (x: T) => string): string {
  const head = xs.slice(0, MAX_ITEMS).map(f).join(", ");
  return `[${head}${xs.length > MAX_ITEMS ? `, … (${xs.length})` : ""}]`;
}

/** "float32[64×3×7×7]", with the values when there are at most 16 of them. */
export function describeTensor(model: Model | undefined, t: TensorProto): string {
  const dims = tensorDims(t);
  const head = `${dataTypeName(t.dataType)}[${formatShape(dims)}]`;
  const n = elementCount(dims);
  if (!model || n > MAX_ITEMS || n === 0) return head;
  try {
    const td = readTensor(model, t);
    if (Array.isArray(td.data)) return `${head} = ${list(td.data, (b) => JSON.stringify(decoder.decode(b)))}`;
    const vals = Array.from(toFloat64(td));
    return `${head} = ${dims.length === 0 ? formatNumber(vals[0]!) : list(vals, formatNumber)}`;
  } catch {
    return head;
  }
}

export function formatAttribute(a: AttributeProto, model?: Model): AttributeInfo {
  const type = a.refAttrName ? "reference" : (TYPE_NAMES[a.type] ?? "unknown");
  let value: string;
  if (a.refAttrName) value = `→ ${a.refAttrName}`;
  else
    switch (a.type) {
      case AT.FLOAT:
        value = formatNumber(a.f);
        break;
      case AT.INT:
        value = String(a.i);
        break;
      case AT.STRING:
        value = JSON.stringify(decoder.decode(a.s));
        break;
      case AT.FLOATS:
        value = list(a.floats, formatNumber);
        break;
      case AT.INTS:
        value = list(a.ints, String);
        break;
      case AT.STRINGS:
        value = list(a.strings, (s) => JSON.stringify(decoder.decode(s)));
        break;
      case AT.TENSOR:
        value = a.t ? describeTensor(model, a.t) : "";
        break;
      case AT.TENSORS:
        value = list(a.tensors, (t) => describeTensor(undefined, t));
        break;
      case AT.GRAPH:
        value = a.g ? `graph '${a.g.name}' (${a.g.node.length} nodes)` : "";
        break;
      case AT.GRAPHS:
        value = list(a.graphs, (g) => `graph '${g.name}' (${g.node.length} nodes)`);
        break;
      case AT.SPARSE_TENSOR:
        value = a.sparseTensor ? `sparse[${formatShape(a.sparseTensor.dims.map(Number))}]` : "";
        break;
      default:
        value = "…";
    }
  return { name: a.name, type, value: clip(value) };
}
