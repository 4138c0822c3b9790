/**
 * Classification accuracy of an ONNX model on labelled images, run in onnxruntime-node in batches.
 * Preprocessing is declared, not guessed: x = (pixel / divisor − mean) / std, computed in float32 exactly
 * as PyTorch does it, so the accuracy measured here equals the one torch measured on the same weights.
 */
import type * as ortTypes from "onnxruntime-node";
import { ScalpelError } from "../onnx/errors.ts";
import type { Model } from "../onnx/model.ts";
import { createSession, ort, type SessionOptions } from "../runtime/ort.ts";
import type { LabelledImages } from "./idx.ts";

export interface Preprocess {
  /** The raw byte is divided by this first (255 for [0, 1] pixels). */
  readonly divisor: number;
  readonly mean: number;
  readonly std: number;
}

export interface Progress {
  readonly done: number;
  readonly total: number;
}

export interface EvaluateOptions extends SessionOptions {
  /** Images per run (default 500; 1 when the model's batch dimension is fixed to 1). */
  batch?: number;
  onProgress?: (p: Progress) => void;
  signal?: AbortSignal;
}

export interface Accuracy {
  readonly correct: number;
  readonly total: number;
  readonly accuracy: number;
  /** Predicted class of every image (argmax, first maximum on ties like torch). */
  readonly predictions: Uint8Array;
}

const f = Math.fround;

/** Normalised float32 input [n, 1, h, w] for images [start, start + n). */
export function imageBatch(set: LabelledImages, start: number, n: number, pre: Preprocess): Float32Array {
  const px = set.height * set.width;
  const out = new Float32Array(n * px);
  const divisor = f(pre.divisor);
  const mean = f(pre.mean);
  const std = f(pre.std);
  // Each step rounded to float32, as torch/numpy do in float32 (division by 255, not multiplication by 1/255).
  const lut = new Float32Array(256);
  for (let v = 0; v < 256; v++) lut[v] = f(f(f(v / divisor) - mean) / std);
  const src = set.pixels.subarray(start * px, (start + n) * px);
  for (let i = 0; i < src.length; i++) out[i] = lut[src[i]!]!;
  return out;
}

/** Index of the largest value in each row of a [rows, cols] float array (first one on ties). */
export function argmaxRows(data: Float32Array, rows: number, cols: number): Uint8Array {
  const out = new Uint8Array(rows);
  for (let r = 0; r < rows; r++) {
    let best = 0;
    let bv = data[r * cols]!;
    for (let c = 1; c < cols; c++) {
      const v = data[r * cols + c]!;
      if (v > bv || (Number.isNaN(v) && !Number.isNaN(bv))) {
        bv = v;
        best = c;
      }
    }
    out[r] = best;
  }
  return out;
}

/** Accuracy of a classifier with one image input [batch, 1, h, w] and one logits output [batch, classes]. */
export async function evaluateClassifier(
  model: Model | ortTypes.InferenceSession,
  set: LabelledImages,
  pre: Preprocess,
  opts: EvaluateOptions = {},
): Promise<Accuracy> {
  const owned = !("run" in model);
  const session = owned ? await createSession(model as Model, opts) : (model as ortTypes.InferenceSession);
  const name = owned ? (model as Model).name : "session";
  try {
    if (session.inputNames.length !== 1) throw new ScalpelError(name, `expected one image input, found ${session.inputNames.length}`);
    const input = session.inputNames[0]!;
    const output = session.outputNames[0]!;
    const meta = session.inputMetadata?.[0] as { isTensor?: boolean; shape?: readonly (number | string)[] } | undefined;
    const fixedBatch = meta?.shape && typeof meta.shape[0] === "number" ? (meta.shape[0] as number) : undefined;
    const batch = fixedBatch ?? opts.batch ?? 500;
    const predictions = new Uint8Array(set.count);
    let correct = 0;
    for (let start = 0; start < set.count; start += batch) {
      if (opts.signal?.aborted) throw opts.signal.reason ?? new Error("cancelled");
      const n = Math.min(batch, set.count - start);
      if (fixedBatch !== undefined && n !== fixedBatch)
        throw new ScalpelError(name, `the model's batch dimension is fixed to ${fixedBatch}; ${set.count} images do not divide into it`);
      const x = new ort.Tensor("float32", imageBatch(set, start, n, pre), [n, 1, set.height, set.width]);
      const result = await session.run({ [input]: x }, [output]);
      const logits = result[output]!;
      if (logits.dims.length !== 2 || logits.dims[0] !== n)
        throw new ScalpelError(name, `output '${output}' has shape [${logits.dims}], expected [${n}, classes]`);
      const p = argmaxRows(logits.data as Float32Array, n, logits.dims[1]!);
      predictions.set(p, start);
      for (let i = 0; i < n; i++) if (p[i] === set.labels[start + i]) correct++;
      opts.onProgress?.({ done: start + n, total: set.count });
    }
    return { correct, total: set.count, accuracy: set.count ? correct / set.count : 0, predictions };
  } finally {
    if (owned) await session.release();
  }
}
