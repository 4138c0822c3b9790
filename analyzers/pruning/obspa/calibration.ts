/**
 * Calibration data for OBSPA: a folder of user inputs turned into a FeedSource.
 *   - .npy files (NumPy, C order; float32/64/16, int8–64, uint8, bool) and .pb files (ONNX TensorProto);
 *   - images (.png via fast-png, .jpg/.jpeg via jpeg-js, both pure JavaScript) with a declared
 *     preprocessing: x = (pixel / 255 − mean[c]) / std[c], resized bilinearly to the input size, NCHW;
 *   - several inputs: one subfolder per sample holding input_<i>.npy|.pb (ONNX test-data layout), or
 *     files named <input>.npy|.pb.
 * A file holding one sample may omit the batch axis; one holding a batch supplies several samples.
 */
import fs from "node:fs";
import path from "node:path";
import { fromBinary } from "@bufbuild/protobuf";
import { decode as decodePng } from "fast-png";
import jpeg from "jpeg-js";
import { TensorProtoSchema } from "onnx-buf";
import type * as ortTypes from "onnxruntime-node";
import type { Graph } from "../../graph/graph.ts";
import { DataType } from "../../onnx/dtypes.ts";
import { ScalpelError } from "../../onnx/errors.ts";
import { isExternal } from "../../onnx/externalData.ts";
import type { Model } from "../../onnx/model.ts";
import { readTensor, type TensorData } from "../../onnx/tensor.ts";
import { ort } from "../../runtime/ort.ts";
import type { Feeds, FeedSource } from "./feeds.ts";

export interface ImagePreprocess {
  /** Per-channel mean and std applied to pixel / 255 (one value for grayscale). */
  mean: number[];
  std: number[];
  /** Channel order fed to the model (default "rgb"; a 1-channel input gets luma). */
  channels?: "rgb" | "bgr";
}

export interface CalibrationOptions {
  /** Use at most this many samples (files in name order). */
  samples?: number;
  /** Samples per run when the batch dimension is free (default 16). */
  batch?: number;
  /** Required when the folder holds images. */
  image?: ImagePreprocess;
}

const IMAGE_EXT = new Set([".png", ".jpg", ".jpeg"]);
const TENSOR_EXT = new Set([".npy", ".pb"]);

// ---- readers ------------------------------------------------------------------------------------

const NPY_TYPES: Record<string, [number, (b: ArrayBuffer, o: number, n: number) => ArrayLike<number | bigint>]> = {
  "<f4": [DataType.FLOAT, (b, o, n) => new Float32Array(b, o, n)],
  "<f8": [DataType.DOUBLE, (b, o, n) => new Float64Array(b, o, n)],
  "<f2": [DataType.FLOAT16, (b, o, n) => new Uint16Array(b, o, n)],
  "<i8": [DataType.INT64, (b, o, n) => new BigInt64Array(b, o, n)],
  "<i4": [DataType.INT32, (b, o, n) => new Int32Array(b, o, n)],
  "<i2": [DataType.INT16, (b, o, n) => new Int16Array(b, o, n)],
  "|i1": [DataType.INT8, (b, o, n) => new Int8Array(b, o, n)],
  "|u1": [DataType.UINT8, (b, o, n) => new Uint8Array(b, o, n)],
  "|b1": [DataType.BOOL, (b, o, n) => new Uint8Array(b, o, n)],
};

/** Parses a .npy file (format 1.0–3.0, little-endian, C order). */
export function parseNpy(bytes: Uint8Array, file: string): TensorData {
  const magic = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59];
  if (bytes.length < 10 || magic.some((m, i) => bytes[i] !== m)) throw new ScalpelError(file, "is not a .npy file (bad magic)");
  const major = bytes[6]!;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const headerLen = major === 1 ? view.getUint16(8, true) : view.getUint32(8, true);
  const start = major === 1 ? 10 : 12;
  const header = new TextDecoder().decode(bytes.subarray(start, start + headerLen));
  const descr = /'descr':\s*'([^']+)'/.exec(header)?.[1];
  const fortran = /'fortran_order':\s*(True|False)/.exec(header)?.[1];
  const shapeText = /'shape':\s*\(([^)]*)\)/.exec(header)?.[1];
  if (!descr || !fortran || shapeText === undefined) throw new ScalpelError(file, `has an unreadable .npy header: ${header.trim()}`);
  if (fortran === "True") throw new ScalpelError(file, "is stored in Fortran order; save it in C order (np.ascontiguousarray)");
  const t = NPY_TYPES[descr];
  if (!t) throw new ScalpelError(file, `has NumPy dtype '${descr}', which is not supported (use float32)`);
  const dims = shapeText.split(",").map((s) => s.trim()).filter(Boolean).map(Number);
  const count = dims.reduce((a, b) => a * b, 1);
  const offset = start + headerLen;
  const itemSize = Number(descr.slice(2));
  if (bytes.length - offset < count * itemSize) throw new ScalpelError(file, `holds ${bytes.length - offset} data bytes; shape (${dims}) needs ${count * itemSize}`);
  // Copy into an own, aligned buffer (a Node Buffer's slice would share the pool).
  const data = Uint8Array.from(bytes.subarray(offset, offset + count * itemSize));
  return { dataType: t[0], dims, data: t[1](data.buffer, 0, count) as TensorData["data"] };
}

/** Parses an ONNX TensorProto (.pb) with its data inline. */
export function parseTensorPb(bytes: Uint8Array, file: string): TensorData {
  let t;
  try {
    t = fromBinary(TensorProtoSchema, bytes);
  } catch (e) {
    throw new ScalpelError(file, `is not an ONNX TensorProto (${(e as Error).message})`);
  }
  if (isExternal(t)) throw new ScalpelError(file, "keeps its data in an external file; calibration tensors must hold their data inline");
  const fake = { name: file, external: { read: () => new Uint8Array() } } as unknown as Model;
  return readTensor(fake, t);
}

function readTensorFile(file: string): TensorData {
  const bytes = fs.readFileSync(file);
  return path.extname(file).toLowerCase() === ".npy" ? parseNpy(bytes, file) : parseTensorPb(bytes, file);
}

/** RGB(A)/gray image → float32 [channels, h, w] with the declared preprocessing. */
export function imageToTensor(file: string, pre: ImagePreprocess, channels: number, height: number, width: number): Float32Array {
  const bytes = fs.readFileSync(file);
  const ext = path.extname(file).toLowerCase();
  let w: number, h: number, src: ArrayLike<number>, srcChannels: number, maxValue = 255;
  try {
    if (ext === ".png") {
      const png = decodePng(bytes);
      if (png.palette) throw new Error("indexed-colour PNGs are not supported; save as RGB or grayscale");
      [w, h, src, srcChannels] = [png.width, png.height, png.data as ArrayLike<number>, png.channels];
      maxValue = png.depth === 16 ? 65535 : 255;
    } else {
      const img = jpeg.decode(bytes, { useTArray: true, formatAsRGBA: true });
      [w, h, src, srcChannels] = [img.width, img.height, img.data, 4];
    }
  } catch (e) {
    throw new ScalpelError(file, `cannot be decoded as an image (${(e as Error).message})`);
  }
  if (pre.mean.length !== channels && pre.mean.length !== 1) throw new ScalpelError(file, `preprocessing gives ${pre.mean.length} means for a ${channels}-channel input`);
  const out = new Float32Array(channels * height * width);
  const pixel = (x: number, y: number, c: number): number => {
    const o = (y * w + x) * srcChannels;
    if (srcChannels <= 2) return src[o]! / maxValue; // gray (+alpha)
    if (channels === 1) return (0.299 * src[o]! + 0.587 * src[o + 1]! + 0.114 * src[o + 2]!) / maxValue;
    const k = pre.channels === "bgr" ? 2 - c : c;
    return src[o + k]! / maxValue;
  };
  for (let c = 0; c < channels; c++) {
    const mean = pre.mean[pre.mean.length === 1 ? 0 : c]!, std = pre.std[pre.std.length === 1 ? 0 : c]!;
    for (let y = 0; y < height; y++) {
      // Bilinear sampling at pixel centres (identity when the sizes match).
      const fy = Math.min(h - 1, Math.max(0, ((y + 0.5) * h) / height - 0.5));
      const y0 = Math.floor(fy), y1 = Math.min(h - 1, y0 + 1), wy = fy - y0;
      for (let x = 0; x < width; x++) {
        const fx = Math.min(w - 1, Math.max(0, ((x + 0.5) * w) / width - 0.5));
        const x0 = Math.floor(fx), x1 = Math.min(w - 1, x0 + 1), wx = fx - x0;
        const v =
          (1 - wy) * ((1 - wx) * pixel(x0, y0, c) + wx * pixel(x1, y0, c)) + wy * ((1 - wx) * pixel(x0, y1, c) + wx * pixel(x1, y1, c));
        out[(c * height + y) * width + x] = (v - mean) / std;
      }
    }
  }
  return out;
}

// ---- assembling samples -------------------------------------------------------------------------

interface InputSpec {
  name: string;
  dataType: number;
  /** Dims without the batch axis. */
  sample: number[];
}

function inputSpecs(graph: Graph): InputSpec[] {
  return graph.inputs.map((name) => {
    const t = graph.declaredTypes.get(name);
    if (!t?.shape) throw new ScalpelError(graph.name, `graph input '${name}' has no declared shape; calibration needs one`);
    return { name, dataType: t.dataType, sample: t.shape.slice(1).map((d) => (typeof d === "number" ? d : -1)) };
  });
}

/** Splits one file's tensor into samples for an input (batch axis present or not). */
function samplesOf(td: TensorData, spec: InputSpec, file: string): TensorData[] {
  const matches = (dims: readonly number[]) => dims.length === spec.sample.length && dims.every((d, i) => spec.sample[i] === -1 || spec.sample[i] === d);
  if (matches(td.dims)) return [td];
  if (td.dims.length === spec.sample.length + 1 && matches(td.dims.slice(1))) {
    const n = td.dims[0]!;
    const per = (td.data as ArrayLike<unknown>).length / Math.max(1, n);
    const data = td.data as Float32Array;
    return Array.from({ length: n }, (_, i) => ({ dataType: td.dataType, dims: td.dims.slice(1), data: data.slice(i * per, (i + 1) * per) }));
  }
  throw new ScalpelError(file, `has shape [${td.dims}], but input '${spec.name}' takes [${spec.sample.map((d) => (d < 0 ? "?" : d))}] per sample`);
}

const ORT_NAMES: Record<number, ortTypes.Tensor.Type> = {
  [DataType.FLOAT]: "float32",
  [DataType.DOUBLE]: "float64",
  [DataType.FLOAT16]: "float16",
  [DataType.INT64]: "int64",
  [DataType.INT32]: "int32",
  [DataType.INT16]: "int16",
  [DataType.INT8]: "int8",
  [DataType.UINT8]: "uint8",
  [DataType.BOOL]: "bool",
};

function concatSamples(samples: TensorData[], spec: InputSpec, where: string): ortTypes.Tensor {
  const first = samples[0]!;
  if (first.dataType !== spec.dataType) {
    // Float data for a float input of another width: convert through numbers.
    if (spec.dataType === DataType.FLOAT && (first.dataType === DataType.DOUBLE || first.dataType === DataType.FLOAT)) {
      const per = (first.data as Float64Array).length;
      const out = new Float32Array(per * samples.length);
      samples.forEach((s, i) => out.set(s.data as Float64Array, i * per));
      return new ort.Tensor("float32", out, [samples.length, ...first.dims]);
    }
    throw new ScalpelError(where, `holds ${ORT_NAMES[first.dataType] ?? first.dataType} data; input '${spec.name}' takes ${ORT_NAMES[spec.dataType] ?? spec.dataType}`);
  }
  const type = ORT_NAMES[spec.dataType];
  if (!type) throw new ScalpelError(where, `input '${spec.name}' has a data type onnxruntime-node cannot be fed`);
  const per = (first.data as ArrayLike<unknown>).length;
  const Ctor = (first.data as Float32Array).constructor as new (n: number) => Float32Array;
  const out = new Ctor(per * samples.length);
  samples.forEach((s, i) => out.set(s.data as Float32Array, i * per));
  return new ort.Tensor(type, out as never, [samples.length, ...first.dims]);
}

/** Reads a calibration folder for a model into batches of feeds. */
export function calibrationFeeds(graph: Graph, dir: string, opts: CalibrationOptions = {}): FeedSource {
  let entries: fs.Dirent[];
  try {
    entries = fs.readdirSync(dir, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name, "en", { numeric: true }));
  } catch (e) {
    throw new ScalpelError(dir, (e as NodeJS.ErrnoException).code === "ENOENT" ? "does not exist" : `cannot be read (${(e as Error).message})`);
  }
  const specs = inputSpecs(graph);
  const perInput: TensorData[][] = specs.map(() => []);
  const limit = opts.samples ?? Infinity;
  const files = entries.filter((e) => e.isFile() && (TENSOR_EXT.has(path.extname(e.name).toLowerCase()) || IMAGE_EXT.has(path.extname(e.name).toLowerCase())));
  const folders = entries.filter((e) => e.isDirectory());
  if (!files.length && !folders.length) throw new ScalpelError(dir, "holds no calibration samples (.npy, .pb, .png or .jpg files)");
  if (specs.length === 1 && files.length) {
    const spec = specs[0]!;
    for (const f of files) {
      if (perInput[0]!.length >= limit) break;
      const file = path.join(dir, f.name);
      if (IMAGE_EXT.has(path.extname(f.name).toLowerCase())) {
        if (!opts.image) throw new ScalpelError(file, "is an image; give the preprocessing (mean and std) to use images as calibration data");
        const [c, h, w] = spec.sample;
        if (spec.sample.length !== 3 || !(c! > 0 && h! > 0 && w! > 0))
          throw new ScalpelError(graph.name, `input '${spec.name}' is not a fixed-size image [N, C, H, W]; give .npy or .pb tensors instead`);
        perInput[0]!.push({ dataType: DataType.FLOAT, dims: [c!, h!, w!], data: imageToTensor(file, opts.image, c!, h!, w!) });
      } else perInput[0]!.push(...samplesOf(readTensorFile(file), spec, file));
    }
  } else {
    // One subfolder per sample (input_<i>.pb / .npy, or <input name>.npy), or named files for every input.
    const sets = folders.length ? folders.map((f) => path.join(dir, f.name)) : [dir];
    for (const set of sets) {
      if (perInput[0]!.length >= limit) break;
      const names = fs.readdirSync(set);
      specs.forEach((spec, i) => {
        const hit = names.find((n) => [`input_${i}.pb`, `input_${i}.npy`, `${spec.name}.npy`, `${spec.name}.pb`].includes(n));
        if (!hit) throw new ScalpelError(set, `has no tensor for input '${spec.name}' (input_${i}.pb, input_${i}.npy or ${spec.name}.npy)`);
        perInput[i]!.push(...samplesOf(readTensorFile(path.join(set, hit)), spec, path.join(set, hit)));
      });
    }
  }
  const count = Math.min(limit, ...perInput.map((p) => p.length));
  if (!(count > 0)) throw new ScalpelError(dir, "holds no calibration samples (.npy, .pb, .png or .jpg files)");
  const fixed = graph.declaredTypes.get(specs[0]!.name)?.shape?.[0];
  const batch = typeof fixed === "number" && fixed > 0 ? fixed : Math.max(1, opts.batch ?? 16);
  const batches: Feeds[] = [];
  for (let s = 0; s + (typeof fixed === "number" ? batch : 1) <= count; s += batch) {
    const n = Math.min(batch, count - s);
    const feeds: Feeds = {};
    specs.forEach((spec, i) => (feeds[spec.name] = concatSamples(perInput[i]!.slice(s, s + n), spec, dir)));
    batches.push(feeds);
  }
  const used = batches.reduce((a, f) => a + (Object.values(f)[0]!.dims[0] as number), 0);
  return {
    description: `calibration data from ${dir} (${used} samples)`,
    samples: used,
    batchCount: batches.length,
    async *batches() {
      yield* batches;
    },
  };
}
