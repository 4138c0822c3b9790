/**
 * Saving a model: streamed to a temp file beside the target, then renamed into place, so a failed save
 * never leaves a half-written file and an existing file is only replaced when the caller says so.
 * Untouched models save byte-identical to their input (see encode.ts).
 */
import fs from "node:fs";
import path from "node:path";
import { create, type Message } from "@bufbuild/protobuf";
import {
  ModelProtoSchema,
  StringStringEntryProtoSchema,
  TensorProto_DataLocation,
  TensorProtoSchema,
  type TensorProto,
} from "onnx-buf";
import { encodeChunks } from "./encode.ts";
import type { PendingPayload } from "./lazyLoad.ts";
import { describeError, ScalpelError } from "./errors.ts";
import { externalRef, isExternal, resolveLocation } from "./externalData.ts";
import { allTensors, type Model } from "./model.ts";
import { encodeRaw, readTensor } from "./tensor.ts";

export type ExternalDataMode =
  /** Keep each tensor where it is (external references stay as written; only valid beside the model). */
  | { kind: "keep" }
  /** Bring every external tensor into the .onnx file. */
  | { kind: "internal" }
  /** Move every tensor of at least `threshold` bytes into `location` (a file name beside the output). */
  | { kind: "external"; location: string; threshold: number };

export interface SaveOptions {
  /** Replace an existing file at the target path. Never allowed for the model's own source file. */
  overwrite?: boolean;
  /** Where weights go. Default: keep when saving beside the source, else move external tensors to `<out>.data`. */
  externalData?: ExternalDataMode;
}

export interface SaveResult {
  path: string;
  bytes: number;
  externalFile?: string;
  externalBytes?: number;
}

/** Offsets in side files are aligned so runtimes can map them. */
const EXTERNAL_ALIGN = 4096;
const PROTOBUF_LIMIT = 2 ** 31 - 1;

export function saveModel(model: Model, outPath: string, opts: SaveOptions = {}): SaveResult {
  const out = path.resolve(outPath);
  const outDir = path.dirname(out);
  if (model.baseDir !== undefined && out === model.name)
    throw new ScalpelError(out, "is the model being saved; refusing to overwrite the original (choose another output path)");
  if (!opts.overwrite && fs.existsSync(out)) throw new ScalpelError(out, "already exists; refusing to overwrite it (pass overwrite to replace it)");
  if (!fs.existsSync(outDir)) throw new ScalpelError(out, `cannot be written: folder '${outDir}' does not exist`);

  const mode = opts.externalData ?? defaultMode(model, out);
  const tmpFiles: string[] = [];
  const tmp = (target: string) => {
    const t = `${target}.tmp-${process.pid}-${Math.random().toString(36).slice(2, 8)}`;
    tmpFiles.push(t);
    return t;
  };
  try {
    const moved = new Map<Message, TensorProto>();
    let externalFile: string | undefined;
    let externalBytes: number | undefined;
    if (mode.kind === "keep") checkKeepable(model, outDir);
    else if (mode.kind === "internal") inlineExternal(model, moved);
    else {
      externalFile = resolveLocation(outDir, mode.location, out);
      if (model.baseDir !== undefined && isSourceSideFile(model, externalFile) && !opts.overwrite && fs.existsSync(externalFile))
        throw new ScalpelError(externalFile, "is a side file of the source model; refusing to overwrite it");
      if (!opts.overwrite && fs.existsSync(externalFile)) throw new ScalpelError(externalFile, "already exists; refusing to overwrite it (pass overwrite to replace it)");
      const dataTmp = tmp(externalFile);
      externalBytes = writeExternal(model, mode, dataTmp, moved);
    }
    const { chunks, size, deferred } = encodeChunks(ModelProtoSchema, model.proto, moved.size ? (m) => moved.get(m) : undefined, { deferLazy: true });
    if (size > PROTOBUF_LIMIT)
      throw new ScalpelError(out, `would be ${size} bytes, over protobuf's 2 GiB limit; save with external data`);
    const modelTmp = tmp(out);
    writeChunksToFile(modelTmp, chunks, deferred);
    // Side file first: a model file never points at a side file that is not in place.
    if (externalFile) commit(tmpFiles[0]!, externalFile, !!opts.overwrite);
    commit(modelTmp, out, !!opts.overwrite);
    return { path: out, bytes: size, externalFile, externalBytes };
  } catch (e) {
    for (const t of tmpFiles) fs.rmSync(t, { force: true });
    if (e instanceof ScalpelError) throw e;
    throw new ScalpelError(out, `could not be written (${describeError(e)})`, { cause: e });
  }
}

function defaultMode(model: Model, out: string): ExternalDataMode {
  const hasExternal = [...allTensors(model.proto)].some(isExternal);
  if (!hasExternal || (model.baseDir !== undefined && path.resolve(model.baseDir) === path.dirname(out))) return { kind: "keep" };
  return { kind: "external", location: `${path.basename(out)}.data`, threshold: 1024 };
}

function checkKeepable(model: Model, outDir: string): void {
  for (const t of allTensors(model.proto)) {
    if (!isExternal(t)) continue;
    if (model.baseDir === undefined || path.resolve(model.baseDir) !== outDir)
      throw new ScalpelError(model.name, `tensor '${t.name}' lives in '${externalRef(t, model.name).location}', which would not be beside the output; save with external data or internal`);
  }
}

function isSourceSideFile(model: Model, file: string): boolean {
  for (const t of allTensors(model.proto))
    if (isExternal(t) && resolveLocation(model.baseDir!, externalRef(t, model.name).location, model.name) === file) return true;
  return false;
}

/** A copy of the tensor without its data, for substitution while encoding (the model is not changed). */
function shellOf(t: TensorProto): TensorProto {
  const c = create(TensorProtoSchema);
  for (const k of Object.keys(t) as (keyof TensorProto)[]) {
    if (k === "$typeName" || k === "rawData" || k === "externalData" || k === "dataLocation") continue;
    (c as Record<string, unknown>)[k] = t[k];
  }
  return c;
}

function tensorPayload(model: Model, t: TensorProto): Uint8Array {
  if (isExternal(t)) return model.external.read(t);
  if (Object.prototype.hasOwnProperty.call(t, "rawData")) return t.rawData;
  return encodeRaw(readTensor(model, t));
}

function hasData(t: TensorProto): boolean {
  return isExternal(t) || Object.prototype.hasOwnProperty.call(t, "rawData") || t.floatData.length + t.int32Data.length + t.int64Data.length + t.doubleData.length + t.uint64Data.length > 0;
}

function inlineExternal(model: Model, moved: Map<Message, TensorProto>): void {
  for (const t of allTensors(model.proto)) {
    if (!isExternal(t)) continue;
    const c = shellOf(t);
    c.rawData = model.external.read(t) as Uint8Array<ArrayBuffer>;
    moved.set(t, c);
  }
}

function writeExternal(model: Model, mode: { location: string; threshold: number }, file: string, moved: Map<Message, TensorProto>): number {
  const fd = fs.openSync(file, "wx");
  let offset = 0;
  try {
    for (const t of allTensors(model.proto)) {
      if (!hasData(t) || t.dataType === 8 /* STRING cannot be external */) continue;
      const bytes = tensorPayload(model, t);
      if (bytes.byteLength < mode.threshold) {
        if (isExternal(t)) {
          const c = shellOf(t);
          c.rawData = bytes as Uint8Array<ArrayBuffer>;
          moved.set(t, c);
        }
        continue;
      }
      const pad = (EXTERNAL_ALIGN - (offset % EXTERNAL_ALIGN)) % EXTERNAL_ALIGN;
      if (pad) {
        writeAll(fd, new Uint8Array(pad));
        offset += pad;
      }
      writeAll(fd, bytes);
      const c = shellOf(t);
      c.floatData = [];
      c.int32Data = [];
      c.int64Data = [];
      c.doubleData = [];
      c.uint64Data = [];
      c.dataLocation = TensorProto_DataLocation.EXTERNAL;
      c.externalData = [
        create(StringStringEntryProtoSchema, { key: "location", value: mode.location }),
        create(StringStringEntryProtoSchema, { key: "offset", value: String(offset) }),
        create(StringStringEntryProtoSchema, { key: "length", value: String(bytes.byteLength) }),
      ];
      moved.set(t, c);
      offset += bytes.byteLength;
    }
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
  return offset;
}

function writeAll(fd: number, bytes: Uint8Array): void {
  let done = 0;
  while (done < bytes.byteLength) done += fs.writeSync(fd, bytes, done, bytes.byteLength - done);
}

/** Writes chunks with writev, handling short writes. Deferred chunks (lazily loaded weights not read yet)
 * are copied from the source file through one reused buffer, so the weights are never held in memory. */
export function writeChunksToFile(file: string, chunks: Uint8Array[], deferred: ReadonlyMap<Uint8Array, PendingPayload> = new Map()): void {
  const fd = fs.openSync(file, "wx");
  let copyBuffer: Buffer | undefined;
  try {
    let i = 0;
    while (i < chunks.length) {
      const p = deferred.get(chunks[i]!);
      if (p) {
        copyBuffer ??= Buffer.allocUnsafe(COPY_BYTES);
        for (let at = p.start; at < p.end; at += COPY_BYTES) {
          const n = Math.min(COPY_BYTES, p.end - at);
          p.file.readInto(copyBuffer, at, n);
          writeAll(fd, copyBuffer.subarray(0, n));
        }
        i++;
        continue;
      }
      let end = i;
      while (end < chunks.length && end - i < 512 && !deferred.has(chunks[end]!)) end++;
      const batch = chunks.slice(i, end);
      const want = batch.reduce((s, c) => s + c.byteLength, 0);
      let n = fs.writevSync(fd, batch);
      if (n !== want) {
        // Short write: finish this batch chunk by chunk.
        for (const c of batch) {
          if (n >= c.byteLength) {
            n -= c.byteLength;
            continue;
          }
          writeAll(fd, c.subarray(n));
          n = 0;
        }
      }
      i = end;
    }
  } finally {
    fs.closeSync(fd);
  }
}

const COPY_BYTES = 8 * 1024 * 1024;

/** Moves a finished temp file into place; without overwrite, fails if the target appeared meanwhile. */
function commit(tmpFile: string, target: string, overwrite: boolean): void {
  if (overwrite) {
    fs.renameSync(tmpFile, target);
    return;
  }
  try {
    fs.linkSync(tmpFile, target); // atomic no-clobber: EEXIST if the target exists
    fs.unlinkSync(tmpFile);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === "EEXIST") throw new ScalpelError(target, "already exists; refusing to overwrite it (pass overwrite to replace it)");
    if (code === "EPERM" || code === "ENOTSUP" || code === "EXDEV") {
      if (fs.existsSync(target)) throw new ScalpelError(target, "already exists; refusing to overwrite it");
      fs.renameSync(tmpFile, target);
      return;
    }
    throw e;
  }
}
