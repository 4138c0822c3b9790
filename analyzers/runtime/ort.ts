/**
 * onnxruntime-node, wrapped: sessions from a Model (in memory, external data resolved), dummy inputs
 * from the graph's input spec, and timing. Every engine feature that runs a model goes through here so
 * the options (threads, optimisation level) are the same everywhere.
 */
import path from "node:path";
import * as ort from "onnxruntime-node";
import { ModelProtoSchema } from "onnx-buf";
import { encodeBytes } from "../onnx/encode.ts";
import { describeError, ScalpelError } from "../onnx/errors.ts";
import { DataType } from "../onnx/dtypes.ts";
import type { Model } from "../onnx/model.ts";
import type { Dim, Graph, TensorType } from "../graph/graph.ts";
import { seededRandom } from "../util/random.ts";

export { seededRandom };

export { ort };

export type GraphOptimizationLevel = "disabled" | "basic" | "extended" | "all";

export interface SessionOptions {
  /** Intra-op threads (0: onnxruntime's default). */
  threads?: number;
  optimization?: GraphOptimizationLevel;
}

/**
 * Creates a session for an in-memory model. External-data locations are resolved against the model's
 * folder (onnxruntime reads them itself, so nothing is inlined).
 */
export async function createSession(model: Model, opts: SessionOptions = {}): Promise<ort.InferenceSession> {
  const bytes = encodeBytes(ModelProtoSchema, model.proto);
  return createSessionFromBytes(bytes, model.name, model.baseDir, opts);
}

export async function createSessionFromBytes(
  bytes: Uint8Array,
  name: string,
  baseDir: string | undefined,
  opts: SessionOptions = {},
): Promise<ort.InferenceSession> {
  const so: ort.InferenceSession.SessionOptions = {
    graphOptimizationLevel: opts.optimization ?? "all",
    intraOpNumThreads: opts.threads ?? 0,
    interOpNumThreads: 1,
    executionMode: "sequential",
    executionProviders: ["cpu"],
  };
  if (baseDir) (so as { extra?: Record<string, unknown> }).extra = { session: { model_external_initializers_file_folder_path: path.resolve(baseDir) } };
  try {
    return await ort.InferenceSession.create(bytes, so);
  } catch (e) {
    throw new ScalpelError(name, `onnxruntime cannot load the model: ${describeError(e).split("\n")[0]}`, { cause: e });
  }
}

const ORT_TYPES: Partial<Record<number, ort.Tensor.Type>> = {
  [DataType.FLOAT]: "float32",
  [DataType.DOUBLE]: "float64",
  [DataType.INT64]: "int64",
  [DataType.INT32]: "int32",
  [DataType.INT8]: "int8",
  [DataType.UINT8]: "uint8",
  [DataType.INT16]: "int16",
  [DataType.UINT16]: "uint16",
  [DataType.BOOL]: "bool",
  [DataType.FLOAT16]: "float16",
  [DataType.UINT32]: "uint32",
  [DataType.UINT64]: "uint64",
};

export function ortType(dataType: number): ort.Tensor.Type {
  const t = ORT_TYPES[dataType];
  if (!t) throw new Error(`data type ${dataType} cannot be fed to onnxruntime-node`);
  return t;
}

/** Concrete dims for a dummy input: symbolic and unknown dims become `symbolic` (default 1). */
export function concreteShape(shape: readonly Dim[] | undefined, symbolic: Record<string, number> = {}, fallback = 1): number[] {
  return (shape ?? []).map((d) => (typeof d === "number" && d >= 0 ? d : typeof d === "string" && symbolic[d] !== undefined ? symbolic[d]! : fallback));
}

/** A tensor of the given type and shape filled with seeded values (normal-ish floats, small integers). */
export function dummyTensor(type: TensorType, dims: number[], seed = 1): ort.Tensor {
  const t = ortType(type.dataType);
  const n = dims.reduce((a, b) => a * b, 1);
  const rnd = seededRandom(seed);
  switch (t) {
    case "float32":
    case "float64": {
      const a = t === "float32" ? new Float32Array(n) : new Float64Array(n);
      for (let i = 0; i < n; i++) a[i] = (rnd() + rnd() + rnd() - 1.5) * 2; // ~N(0,1)
      return new ort.Tensor(t, a, dims);
    }
    case "int64": {
      const a = new BigInt64Array(n);
      for (let i = 0; i < n; i++) a[i] = BigInt(Math.floor(rnd() * 2));
      return new ort.Tensor(t, a, dims);
    }
    case "bool":
      return new ort.Tensor(t, Uint8Array.from({ length: n }, () => (rnd() < 0.5 ? 1 : 0)), dims);
    default: {
      const a = new Int32Array(n).map(() => Math.floor(rnd() * 2));
      return new ort.Tensor("int32", a, dims);
    }
  }
}

/** Dummy feeds for every graph input, from declared types (symbolic dims → 1 unless given). */
export function dummyFeeds(graph: Graph, symbolic: Record<string, number> = {}, seed = 1): Record<string, ort.Tensor> {
  const feeds: Record<string, ort.Tensor> = {};
  graph.inputs.forEach((name, i) => {
    const type = graph.declaredTypes.get(name);
    if (!type) throw new ScalpelError(graph.name, `graph input '${name}' has no declared type; cannot build a dummy input`);
    feeds[name] = dummyTensor(type, concreteShape(type.shape, symbolic), seed + i);
  });
  return feeds;
}

/** Median wall time of `repeats` runs after `warmup` runs, in milliseconds. */
export async function timeRuns(session: ort.InferenceSession, feeds: Record<string, ort.Tensor>, repeats = 10, warmup = 2): Promise<number> {
  for (let i = 0; i < warmup; i++) await session.run(feeds);
  const times: number[] = [];
  for (let i = 0; i < repeats; i++) {
    const t = performance.now();
    await session.run(feeds);
    times.push(performance.now() - t);
  }
  times.sort((a, b) => a - b);
  return times[Math.floor(times.length / 2)]!;
}
