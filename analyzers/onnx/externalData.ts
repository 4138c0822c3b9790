/**
 * Weights stored outside the .onnx file (TensorProto.data_location = EXTERNAL). They are read lazily,
 * one tensor at a time, by offset and length; a model's side files are never read whole.
 */
import fs from "node:fs";
import path from "node:path";
import { TensorProto_DataLocation, type TensorProto } from "onnx-buf";
import { ScalpelError } from "./errors.ts";

export interface ExternalRef {
  /** Location as written in the model, relative to the model's folder. */
  readonly location: string;
  readonly offset: number;
  /** Byte length; undefined means "to the end of the file". */
  readonly length: number | undefined;
}

export function isExternal(t: TensorProto): boolean {
  return t.dataLocation === TensorProto_DataLocation.EXTERNAL;
}

/** Reads the external_data key/value entries of a tensor. Throws on malformed numbers. */
export function externalRef(t: TensorProto, modelName: string): ExternalRef {
  let location: string | undefined;
  let offset = 0;
  let length: number | undefined;
  for (const e of t.externalData) {
    if (e.key === "location") location = e.value;
    else if (e.key === "offset" || e.key === "length") {
      const n = Number(e.value);
      if (!Number.isSafeInteger(n) || n < 0)
        throw new ScalpelError(modelName, `tensor '${t.name}' has an invalid external-data ${e.key} '${e.value}'`);
      if (e.key === "offset") offset = n;
      else length = n;
    }
  }
  if (!location) throw new ScalpelError(modelName, `tensor '${t.name}' is external but names no location`);
  return { location, offset, length };
}

/**
 * Resolves an external-data location inside the model's folder. Absolute paths and paths that climb
 * out of the folder (`..`, or a symlink pointing elsewhere) are refused: a model must not make us read
 * arbitrary files.
 */
export function resolveLocation(baseDir: string, location: string, modelName: string): string {
  if (path.isAbsolute(location) || path.win32.isAbsolute(location) || location.includes("\0"))
    throw new ScalpelError(modelName, `external-data location '${location}' is an absolute path; only files inside the model's folder are allowed`);
  const base = path.resolve(baseDir);
  const full = path.resolve(base, location);
  const rel = path.relative(base, full);
  if (rel === "" || rel.startsWith("..") || path.isAbsolute(rel))
    throw new ScalpelError(modelName, `external-data location '${location}' escapes the model's folder`);
  if (fs.existsSync(full)) {
    const real = fs.realpathSync(full);
    const realBase = fs.realpathSync(base);
    const realRel = path.relative(realBase, real);
    if (realRel.startsWith("..") || path.isAbsolute(realRel))
      throw new ScalpelError(modelName, `external-data location '${location}' links outside the model's folder`);
  }
  return full;
}

/** Lazily opened side files of one model, read by offset and length. */
export class ExternalDataReader {
  private readonly fds = new Map<string, { fd: number; size: number }>();

  constructor(
    /** Folder the locations are relative to; undefined for models loaded from bytes. */
    readonly baseDir: string | undefined,
    private readonly modelName: string,
  ) {}

  read(t: TensorProto): Uint8Array {
    const ref = externalRef(t, this.modelName);
    if (this.baseDir === undefined)
      throw new ScalpelError(this.modelName, `tensor '${t.name}' is stored in '${ref.location}' but the model was loaded from bytes without a folder`);
    const full = resolveLocation(this.baseDir, ref.location, this.modelName);
    const file = this.open(full, ref.location);
    const length = ref.length ?? file.size - ref.offset;
    if (ref.offset + length > file.size || length < 0)
      throw new ScalpelError(full, `tensor '${t.name}' needs bytes ${ref.offset}..${ref.offset + length} but the file has ${file.size}`);
    const buf = Buffer.allocUnsafe(length);
    let done = 0;
    while (done < length) {
      const n = fs.readSync(file.fd, buf, done, length - done, ref.offset + done);
      if (n === 0) throw new ScalpelError(full, `unexpected end of file reading tensor '${t.name}'`);
      done += n;
    }
    return buf;
  }

  private open(full: string, location: string): { fd: number; size: number } {
    let f = this.fds.get(full);
    if (!f) {
      let fd: number;
      try {
        fd = fs.openSync(full, "r");
      } catch (e) {
        throw new ScalpelError(this.modelName, `external-data file '${location}' cannot be opened (${(e as NodeJS.ErrnoException).code ?? e})`, { cause: e });
      }
      f = { fd, size: fs.fstatSync(fd).size };
      this.fds.set(full, f);
    }
    return f;
  }

  /** The set of side files the model refers to (resolved), for checks and for copying. */
  close(): void {
    for (const { fd } of this.fds.values()) fs.closeSync(fd);
    this.fds.clear();
  }
}
