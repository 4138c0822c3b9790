/**
 * Loading an ONNX model: bytes → ModelProto (onnx-buf), with the file's folder kept for external data.
 * Parsing is zero-copy for raw_data: the tensors' bytes stay views into the file buffer.
 */
import fs from "node:fs";
import path from "node:path";
import { fromBinary } from "@bufbuild/protobuf";
import {
  ModelProtoSchema,
  type GraphProto,
  type ModelProto,
  type NodeProto,
  type TensorProto,
} from "onnx-buf";
import { describeError, ScalpelError } from "./errors.ts";
import { ExternalDataReader } from "./externalData.ts";

export interface Model {
  readonly proto: ModelProto;
  /** Absolute path the model came from, or a display name for bytes. Used in every error message. */
  readonly name: string;
  /** Folder external-data locations are relative to (undefined: loaded from bytes without one). */
  readonly baseDir: string | undefined;
  /** Lazy reader of external-data files. */
  readonly external: ExternalDataReader;
  /** Size of the serialised model (the .onnx file without side files). */
  readonly byteLength: number;
}

export interface LoadOptions {
  /** Folder for external data when loading from bytes. */
  baseDir?: string;
  /** Name used in error messages when loading from bytes. */
  name?: string;
  /** Skip the structural checks (for tools that want to read anything protobuf can parse). */
  lenient?: boolean;
}

/** Loads a model from a path or from bytes. Every failure is a ScalpelError naming the file. */
export function loadModel(source: string | Uint8Array, opts: LoadOptions = {}): Model {
  let bytes: Uint8Array;
  let name: string;
  let baseDir: string | undefined;
  if (typeof source === "string") {
    name = path.resolve(source);
    baseDir = path.dirname(name);
    try {
      const st = fs.statSync(name);
      if (st.isDirectory()) throw new ScalpelError(name, "is a folder, not an ONNX file");
      bytes = fs.readFileSync(name);
    } catch (e) {
      if (e instanceof ScalpelError) throw e;
      const code = (e as NodeJS.ErrnoException).code;
      throw new ScalpelError(name, code === "ENOENT" ? "file not found" : `cannot be read (${code ?? describeError(e)})`, { cause: e });
    }
  } else {
    bytes = source;
    name = opts.name ?? "<bytes>";
    baseDir = opts.baseDir;
  }
  const proto = parseModelBytes(bytes, name);
  if (!opts.lenient) checkModel(proto, name);
  return { proto, name, baseDir, external: new ExternalDataReader(baseDir, name), byteLength: bytes.byteLength };
}

export function parseModelBytes(bytes: Uint8Array, name: string): ModelProto {
  if (bytes.byteLength === 0) throw new ScalpelError(name, "is empty (0 bytes), not an ONNX model");
  try {
    return fromBinary(ModelProtoSchema, bytes, { readUnknownFields: true });
  } catch (e) {
    const msg = describeError(e);
    const truncated = /premature EOF|out of range|index out of range|RangeError/i.test(msg) || e instanceof RangeError;
    throw new ScalpelError(
      name,
      truncated
        ? `is truncated or corrupt: the protobuf data ends inside a field (${msg})`
        : `is not a valid ONNX protobuf (${msg})`,
      { cause: e },
    );
  }
}

/** The structural minimum for a file to be an ONNX model; the graph checks (cycles, dangling inputs) live in graph/. */
function checkModel(m: ModelProto, name: string): void {
  if (!m.graph) throw new ScalpelError(name, "is not an ONNX model: it has no graph (protobuf parsed, but ModelProto.graph is missing)");
  if (m.irVersion <= 0n) throw new ScalpelError(name, "is not an ONNX model: ir_version is missing");
  if (m.irVersion > 100n) throw new ScalpelError(name, `is not an ONNX model: ir_version ${m.irVersion} is not a known version`);
  if (m.irVersion >= 3n && m.opsetImport.length === 0)
    throw new ScalpelError(name, "is truncated or invalid: it declares no opset_import");
}

/** Every tensor holding data anywhere in the model: initializers, Constant values, tensor attributes, functions, subgraphs. */
export function* allTensors(m: ModelProto): Generator<TensorProto> {
  if (m.graph) yield* graphTensors(m.graph);
  for (const f of m.functions) for (const n of f.node) yield* nodeTensors(n);
}

export function* graphTensors(g: GraphProto): Generator<TensorProto> {
  yield* g.initializer;
  for (const s of g.sparseInitializer) {
    if (s.values) yield s.values;
    if (s.indices) yield s.indices;
  }
  for (const n of g.node) yield* nodeTensors(n);
}

function* nodeTensors(n: NodeProto): Generator<TensorProto> {
  for (const a of n.attribute) {
    if (a.t) yield a.t;
    yield* a.tensors;
    if (a.sparseTensor) {
      if (a.sparseTensor.values) yield a.sparseTensor.values;
      if (a.sparseTensor.indices) yield a.sparseTensor.indices;
    }
    if (a.g) yield* graphTensors(a.g);
    for (const g of a.graphs) yield* graphTensors(g);
  }
}

/** Subgraphs held by a node's attributes (If branches, Loop/Scan bodies). */
export function subgraphsOf(n: NodeProto): GraphProto[] {
  const out: GraphProto[] = [];
  for (const a of n.attribute) {
    if (a.g) out.push(a.g);
    out.push(...a.graphs);
  }
  return out;
}
