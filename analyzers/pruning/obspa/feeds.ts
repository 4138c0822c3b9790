/**
 * Where the inputs that produce the activations come from: synthetic (seeded random tensors matching the
 * model's input spec) or user data (calibration, see calibration.ts). A FeedSource yields batches lazily and
 * can be iterated again, giving the same batches (the collector may need several passes).
 */
import type * as ortTypes from "onnxruntime-node";
import type { Graph } from "../../graph/graph.ts";
import { DataType } from "../../onnx/dtypes.ts";
import { ScalpelError } from "../../onnx/errors.ts";
import { numberToFloat16 } from "../../onnx/tensor.ts";
import { ort, ortType, seededRandom } from "../../runtime/ort.ts";

export type Feeds = Record<string, ortTypes.Tensor>;

export interface FeedSource {
  /** What the data is, for reports and plans ("synthetic N(0,1), seed 1"). */
  readonly description: string;
  /** Total samples over all batches. */
  readonly samples: number;
  /** Number of batches one iteration yields. */
  readonly batchCount: number;
  batches(): AsyncIterable<Feeds>;
}

/** Standard normal numbers from a seeded generator (Box–Muller). */
export function gaussianRandom(seed: number): () => number {
  const u = seededRandom(seed);
  let spare: number | undefined;
  return () => {
    if (spare !== undefined) {
      const s = spare;
      spare = undefined;
      return s;
    }
    const r = Math.sqrt(-2 * Math.log(1 - u()));
    const t = 2 * Math.PI * u();
    spare = r * Math.sin(t);
    return r * Math.cos(t);
  };
}

export interface SyntheticOptions {
  samples: number;
  seed?: number;
  /** Samples per run when the batch dimension is free (default 16). */
  batch?: number;
  /** Values for symbolic dims other than the batch (default 1). */
  symbolic?: Record<string, number>;
}

/** The largest index an integer input may take: the row count of the table it indexes through Gather. */
function indexRange(graph: Graph, input: string): number | undefined {
  for (const use of graph.consumers(input)) {
    if (use.node.opType === "Gather" && use.slot === 1) {
      const table = graph.weight(use.node.inputs[0]!);
      if (table) return Number(table.dims[0] ?? 2n);
    }
  }
  return undefined;
}

/**
 * Seeded random inputs matching the declared input spec: N(0, 1) for float inputs, uniform indices for
 * integer inputs that index a table (token ids), 0/1 otherwise. The first dimension, when symbolic, is the
 * batch; a fixed first dimension is respected (one run per that many samples).
 */
export function syntheticFeeds(graph: Graph, opts: SyntheticOptions): FeedSource {
  const seed = opts.seed ?? 1;
  const specs = graph.inputs.map((name) => {
    const type = graph.declaredTypes.get(name);
    if (!type?.shape) throw new ScalpelError(graph.name, `graph input '${name}' has no declared shape; synthetic inputs need one`);
    return { name, type, shape: type.shape };
  });
  const fixed = specs.map((s) => s.shape[0]).find((d): d is number => typeof d === "number" && d > 0);
  const batch = fixed ?? Math.max(1, opts.batch ?? 16);
  const batchCount = Math.ceil(opts.samples / batch);
  const samples = fixed ? batchCount * batch : opts.samples;
  return {
    description: `synthetic N(0,1) inputs, ${samples} samples, seed ${seed}`,
    samples,
    batchCount,
    async *batches() {
      for (let b = 0; b < batchCount; b++) {
        const n = fixed ?? Math.min(batch, samples - b * batch);
        const feeds: Feeds = {};
        specs.forEach((s, i) => {
          const dims = s.shape.map((d, a) =>
            a === 0 ? n : typeof d === "number" && d >= 0 ? d : typeof d === "string" && opts.symbolic?.[d] !== undefined ? opts.symbolic[d]! : 1,
          );
          // One generator per (batch, input): batches are reproducible independently of each other.
          const rnd = gaussianRandom(seed * 1000003 + b * 101 + i);
          const count = dims.reduce((x, y) => x * y, 1);
          const t = ortType(s.type.dataType);
          if (t === "float32" || t === "float64") {
            const a = t === "float64" ? new Float64Array(count) : new Float32Array(count);
            for (let k = 0; k < count; k++) a[k] = rnd();
            feeds[s.name] = new ort.Tensor(t, a, dims);
          } else if (t === "float16") {
            feeds[s.name] = new ort.Tensor("float16", Uint16Array.from({ length: count }, () => numberToFloat16(rnd())), dims);
          } else if (t === "bool") {
            feeds[s.name] = new ort.Tensor("bool", Uint8Array.from({ length: count }, () => (rnd() > 0 ? 1 : 0)), dims);
          } else {
            const range = indexRange(graph, s.name) ?? 2;
            const u = seededRandom(seed * 7919 + b * 13 + i);
            const vals = Array.from({ length: count }, () => Math.floor(u() * range));
            feeds[s.name] =
              s.type.dataType === DataType.INT64
                ? new ort.Tensor("int64", BigInt64Array.from(vals, (v) => BigInt(v)), dims)
                : new ort.Tensor("int32", Int32Array.from(vals), dims);
          }
        });
        yield feeds;
      }
    },
  };
}

/** A FeedSource over batches already in memory (calibration data, tests). */
export function arrayFeeds(description: string, batches: readonly Feeds[], samples: number): FeedSource {
  return {
    description,
    samples,
    batchCount: batches.length,
    async *batches() {
      yield* batches;
    },
  };
}
