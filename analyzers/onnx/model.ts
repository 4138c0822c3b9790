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
import { attachLazyPayloads, LAZY_FILE_BYTES, readStructure, type LazyFile } from "./lazyLoad.ts";
import { ExternalDataReader, externalRef, isExternal, resolveLocation } from "./externalData.ts";

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
  /** For large files loaded lazily: the file the weights are still read from on demand. */
  readonly lazy?: LazyFile;
}

/** Releases the file handles a model keeps for lazy reads (weights, external data). */
export function closeModel(model: Model): void {
  model.external.close();
  model.lazy?.close();
}

export interface LoadOptions {
  /** Folder for external data when loading from bytes. */
  baseDir?: string;
  /** Name used in error messages when loading from bytes. */
  name?: string;
  /** Skip the structural checks (for tools that want to read anything protobuf can parse). */
  lenient?: boolean;
  /** Read large files whole instead of leaving their weights on disk until used. */
  eager?: boolean;
  /** Thresholds of lazy loading (defaults: files from 32 MiB, payloads from 64 KiB). */
  lazy?: { fileBytes?: number; payloadBytes?: number };
}

/** Loads a model from a path or from bytes. Every failure is a ScalpelError naming the file. */
export function loadModel(source: string | Uint8Array, opts: LoadOptions = {}): Model {
  let bytes: Uint8Array;
  let name: string;
  let baseDir: string | undefined;
  let lazy: { file: LazyFile; payloads: { start: number; end: number }[] } | undefined;
  if (typeof source === "string") {
    name = path.resolve(source);
    baseDir = path.dirname(name);
    try {
      const st = fs.statSync(name);
      if (st.isDirectory()) throw new ScalpelError(name, "is a folder, not an ONNX file");
      if (!opts.eager && st.size > 0 && st.size >= (opts.lazy?.fileBytes ?? LAZY_FILE_BYTES)) {
        sniffFile(name);
        lazy = readStructure(name, opts.lazy?.payloadBytes);
        bytes = lazy.file.buffer;
      } else bytes = fs.readFileSync(name);
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
  if (lazy) attachLazyPayloads(proto, allTensors(proto), lazy.file, lazy.payloads);
  const model: Model = { proto, name, baseDir, external: new ExternalDataReader(baseDir, name), byteLength: bytes.byteLength, lazy: lazy?.file };
  if (!opts.lenient && baseDir !== undefined) checkExternalData(model);
  return model;
}

/**
 * Checks every external-data reference up front (location inside the folder, file present, range
 * inside the file) with one stat per side file, so a missing or short side file is reported at load
 * time rather than deep inside an analysis. Nothing is read.
 */
export function checkExternalData(model: Model): void {
  const sizes = new Map<string, number>();
  for (const t of allTensors(model.proto)) {
    if (!isExternal(t)) continue;
    const ref = externalRef(t, model.name);
    const full = resolveLocation(model.baseDir!, ref.location, model.name);
    let size = sizes.get(full);
    if (size === undefined) {
      try {
        size = fs.statSync(full).size;
      } catch {
        throw new ScalpelError(model.name, `external-data file '${ref.location}' (for tensor '${t.name}') is missing next to the model`);
      }
      sizes.set(full, size);
    }
    const end = ref.offset + (ref.length ?? 0);
    if (end > size) throw new ScalpelError(full, `is too short: tensor '${t.name}' needs bytes up to ${end} but the file has ${size}`);
  }
}

/** Field numbers a ModelProto can start with (C++ writes ir_version, field 1, first). */
const MODEL_FIELDS = new Set([1, 2, 3, 4, 5, 6, 7, 8, 14, 20, 25, 26]);

/** A cheap look at the first bytes: does this look like a serialised ModelProto at all? */
function sniffNotOnnx(bytes: Uint8Array): string | undefined {
  const tag = bytes[0]!;
  const field = tag >> 3, wire = tag & 7;
  if (tag & 0x80 || !MODEL_FIELDS.has(field) || (wire !== 0 && wire !== 2)) {
    const head = Buffer.from(bytes.subarray(0, 16));
    const text = /^[\x09\x0a\x0d\x20-\x7e]*$/.test(head.toString("latin1"));
    return text ? `is not an ONNX model: it starts with text ("${head.toString("latin1").replace(/\s+/g, " ").trim()}…")` : `is not an ONNX model: its first bytes (${head.subarray(0, 8).toString("hex")}) are not an ONNX protobuf header`;
  }
  return undefined;
}

function sniffFile(file: string): void {
  const fd = fs.openSync(file, "r");
  try {
    const head = Buffer.alloc(16);
    const n = fs.readSync(fd, head, 0, 16, 0);
    if (n === 0) throw new ScalpelError(file, "is empty (0 bytes), not an ONNX model");
    const notOnnx = sniffNotOnnx(head.subarray(0, n));
    if (notOnnx) throw new ScalpelError(file, notOnnx);
  } finally {
    fs.closeSync(fd);
  }
}

export function parseModelBytes(bytes: Uint8Array, name: string): ModelProto {
  if (bytes.byteLength === 0) throw new ScalpelError(name, "is empty (0 bytes), not an ONNX model");
  const notOnnx = sniffNotOnnx(bytes);
  if (notOnnx) throw new ScalpelError(name, notOnnx);
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
