/**
 * The IDX format (MNIST, Fashion-MNIST): magic 0x00 0x00 <type> <rank>, big-endian uint32 dims, then the
 * elements in row-major order. Files may be gzip-compressed (detected by their magic bytes).
 */
import fs from "node:fs";
import path from "node:path";
import zlib from "node:zlib";
import { ScalpelError } from "../onnx/errors.ts";

export interface IdxArray {
  readonly dims: readonly number[];
  /** Unsigned bytes (type 0x08), the only element type the image datasets use. */
  readonly data: Uint8Array;
}

/** Parses IDX bytes (already decompressed). */
export function parseIdx(bytes: Uint8Array, file = "<bytes>"): IdxArray {
  if (bytes.length < 4 || bytes[0] !== 0 || bytes[1] !== 0) throw new ScalpelError(file, "is not an IDX file (bad magic number)");
  if (bytes[2] !== 0x08) throw new ScalpelError(file, `IDX element type 0x${bytes[2]!.toString(16)} is not supported (only unsigned bytes)`);
  const rank = bytes[3]!;
  const header = 4 + 4 * rank;
  if (bytes.length < header) throw new ScalpelError(file, "IDX header is truncated");
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const dims: number[] = [];
  for (let i = 0; i < rank; i++) dims.push(view.getUint32(4 + 4 * i, false));
  const count = dims.reduce((a, b) => a * b, 1);
  if (bytes.length - header !== count)
    throw new ScalpelError(file, `IDX data holds ${bytes.length - header} bytes but dims [${dims}] need ${count}`);
  return { dims, data: bytes.subarray(header) };
}

/** Reads an .idx or .idx.gz file. */
export function readIdx(file: string): IdxArray {
  let bytes: Uint8Array;
  try {
    bytes = fs.readFileSync(file);
  } catch (e) {
    throw new ScalpelError(file, (e as NodeJS.ErrnoException).code === "ENOENT" ? "does not exist" : `cannot be read (${(e as Error).message})`);
  }
  if (bytes[0] === 0x1f && bytes[1] === 0x8b) {
    try {
      bytes = zlib.gunzipSync(bytes);
    } catch (e) {
      throw new ScalpelError(file, `is not a valid gzip file (${(e as Error).message})`);
    }
  }
  return parseIdx(bytes, file);
}

/** Grayscale images with class labels, e.g. one split of (Fashion-)MNIST. */
export interface LabelledImages {
  readonly count: number;
  readonly height: number;
  readonly width: number;
  /** count × height × width bytes, row-major. */
  readonly pixels: Uint8Array;
  readonly labels: Uint8Array;
}

/** Debian's dataset-fashion-mnist installs the four IDX files here. */
export const FASHION_MNIST_DIR = "/usr/share/datasets/fashion-mnist";

/** Reads a split of an MNIST-layout folder (`train-*` / `t10k-*` images and labels, gzip or not). */
export function readMnistSplit(dir: string, split: "train" | "test"): LabelledImages {
  const prefix = split === "train" ? "train" : "t10k";
  const find = (stem: string) => {
    for (const name of [`${stem}.gz`, stem]) {
      const p = path.join(dir, name);
      if (fs.existsSync(p)) return p;
    }
    throw new ScalpelError(path.join(dir, `${stem}.gz`), "does not exist (install Debian's dataset-fashion-mnist, or give the folder of the IDX files)");
  };
  const imgFile = find(`${prefix}-images-idx3-ubyte`);
  const lblFile = find(`${prefix}-labels-idx1-ubyte`);
  const images = readIdx(imgFile);
  const labels = readIdx(lblFile);
  if (images.dims.length !== 3) throw new ScalpelError(imgFile, `images must have 3 dims, found [${images.dims}]`);
  if (labels.dims.length !== 1 || labels.dims[0] !== images.dims[0])
    throw new ScalpelError(lblFile, `labels [${labels.dims}] do not match ${images.dims[0]} images`);
  return { count: images.dims[0]!, height: images.dims[1]!, width: images.dims[2]!, pixels: images.data, labels: labels.data };
}

/** The first `n` images of a split (a view, no copy). */
export function takeImages(set: LabelledImages, n: number, start = 0): LabelledImages {
  const end = Math.min(set.count, start + n);
  const px = set.height * set.width;
  return { ...set, count: end - start, pixels: set.pixels.subarray(start * px, end * px), labels: set.labels.subarray(start, end) };
}
