/**
 * Lazy loading of large models: only the model's structure is read from disk; each large raw_data
 * payload stays on disk until something reads that tensor.
 *
 * How: the file is mirrored into a zero-filled buffer of the same size (fresh pages the OS has not
 * committed yet, so they cost no memory), the scanner below reads just the bytes outside large
 * raw_data fields into it at their own offsets, and protobuf-es parses that buffer as usual — raw_data
 * fields become views of still-empty regions. Each such tensor then gets a `rawData` accessor that
 * reads its bytes into that very region on first use. Code reading `t.rawData` directly therefore sees
 * the right bytes; it just pays for the read when it happens.
 */
import fs from "node:fs";
import type { ModelProto, TensorProto } from "onnx-buf";
import { ScalpelError } from "./errors.ts";

/** raw_data payloads at least this large are left on disk until used. */
export const LAZY_PAYLOAD_BYTES = 64 * 1024;
/** Files below this size are simply read whole. */
export const LAZY_FILE_BYTES = 32 * 1024 * 1024;

type Kind = "model" | "graph" | "node" | "attr" | "tensor" | "sparse" | "function" | "training";

/** Which length-delimited fields hold messages that can (transitively) hold tensors. */
const CHILDREN: Record<Kind, Record<number, Kind>> = {
  model: { 7: "graph", 20: "training", 25: "function" },
  training: { 1: "graph", 2: "graph" },
  function: { 7: "node", 11: "attr" },
  graph: { 1: "node", 5: "tensor", 15: "sparse" },
  node: { 5: "attr" },
  attr: { 5: "tensor", 6: "graph", 10: "tensor", 11: "graph", 22: "sparse", 23: "sparse" },
  sparse: { 1: "tensor", 2: "tensor" },
  tensor: {},
};
const RAW_DATA_FIELD = 9;

/** A file mirrored into memory on demand. */
export class LazyFile {
  private fd: number | undefined;

  constructor(
    readonly path: string,
    readonly buffer: Buffer,
    private readonly mtimeMs: number,
  ) {}

  /** Reads [start, end) of the file into the mirror. */
  fill(start: number, end: number): void {
    const fd = this.open();
    let pos = start;
    while (pos < end) {
      const n = fs.readSync(fd, this.buffer, pos, end - pos, pos);
      if (n === 0) throw new ScalpelError(this.path, `ended early: byte ${pos} of ${this.buffer.length} is missing (was the file truncated after loading?)`);
      pos += n;
    }
  }

  /** The open file, checked against the size and time it had when loaded (one fstat per read). */
  private open(): number {
    if (this.fd === undefined) {
      try {
        this.fd = fs.openSync(this.path, "r");
      } catch (e) {
        throw new ScalpelError(this.path, `cannot be reopened to read its weights (${(e as NodeJS.ErrnoException).code ?? e})`, { cause: e });
      }
    }
    const st = fs.fstatSync(this.fd);
    if (st.size !== this.buffer.length || st.mtimeMs !== this.mtimeMs) {
      this.close();
      throw new ScalpelError(this.path, "changed on disk since it was loaded; reload the model");
    }
    return this.fd;
  }

  /** Reads [start, start + length) of the file into `target` (from 0), not into the mirror. */
  readInto(target: Uint8Array, start: number, length: number): void {
    const fd = this.open();
    let done = 0;
    while (done < length) {
      const n = fs.readSync(fd, target, done, length - done, start + done);
      if (n === 0) throw new ScalpelError(this.path, `ended early: byte ${start + done} of ${this.buffer.length} is missing (was the file truncated after loading?)`);
      done += n;
    }
  }

  close(): void {
    if (this.fd !== undefined) fs.closeSync(this.fd);
    this.fd = undefined;
  }
}

interface Payload {
  start: number;
  end: number;
}

/**
 * Reads the structure of the file at `path` into a zero-filled mirror, skipping large raw_data payloads.
 * Returns the mirror (parse it with fromBinary) and the payload ranges that were skipped.
 */
export function readStructure(path: string, payloadBytes = LAZY_PAYLOAD_BYTES): { file: LazyFile; payloads: Payload[] } {
  const st = fs.statSync(path);
  const size = st.size;
  const buffer = Buffer.alloc(size); // zero-filled, uncommitted pages
  const file = new LazyFile(path, buffer, st.mtimeMs);
  const payloads: Payload[] = [];
  const reader = new StructureReader(file, size, payloadBytes);
  reader.scanMessage("model", 0, size, payloads);
  return { file, payloads };
}

/** Walks protobuf fields with small positioned reads, descending only into tensor-bearing messages. */
class StructureReader {
  /** Bytes read around each position, so the scan does not make a syscall per field. */
  private static readonly CHUNK = 16 * 1024;
  private readStart = 0;
  private readEnd = 0;

  constructor(
    private readonly file: LazyFile,
    private readonly size: number,
    private readonly payloadBytes: number,
  ) {}

  private ensure(pos: number, n: number): void {
    if (pos >= this.readStart && pos + n <= this.readEnd) return;
    const end = Math.min(this.size, Math.max(pos + n, pos + StructureReader.CHUNK));
    if (pos + n > this.size) throw this.corrupt(pos, "a field runs past the end of the file");
    this.file.fill(pos, end);
    this.readStart = pos;
    this.readEnd = end;
  }

  private corrupt(pos: number, why: string): ScalpelError {
    return new ScalpelError(this.file.path, `is truncated or corrupt: ${why} (at byte ${pos})`);
  }

  private varint(pos: number): [value: number, next: number] {
    let value = 0, mul = 1;
    for (let i = 0; i < 10; i++) {
      this.ensure(pos + i, 1);
      const b = this.file.buffer[pos + i]!;
      value += (b & 0x7f) * mul;
      mul *= 128;
      if (!(b & 0x80)) return [value, pos + i + 1];
    }
    throw this.corrupt(pos, "a varint is longer than 10 bytes");
  }

  scanMessage(kind: Kind, start: number, end: number, payloads: Payload[]): void {
    let pos = start;
    const children = CHILDREN[kind];
    while (pos < end) {
      const [tag, afterTag] = this.varint(pos);
      const field = Math.floor(tag / 8), wire = tag % 8;
      pos = afterTag;
      switch (wire) {
        case 0:
          pos = this.varint(pos)[1];
          break;
        case 1:
          this.ensure(pos, 8);
          pos += 8;
          break;
        case 5:
          this.ensure(pos, 4);
          pos += 4;
          break;
        case 2: {
          const [len, body] = this.varint(pos);
          const bodyEnd = body + len;
          if (bodyEnd > end) throw this.corrupt(pos, "a length-delimited field runs past its enclosing message");
          const child = children[field];
          if (child) this.scanMessage(child, body, bodyEnd, payloads);
          else if (kind === "tensor" && field === RAW_DATA_FIELD && len >= this.payloadBytes) payloads.push({ start: body, end: bodyEnd });
          else if (len > 0) this.ensure(body, len);
          pos = bodyEnd;
          break;
        }
        case 3:
        case 4:
          throw this.corrupt(pos, "groups are not used by ONNX");
        default:
          throw this.corrupt(pos, `invalid wire type ${wire}`);
      }
      if (pos > end) throw this.corrupt(pos, "a field runs past its enclosing message");
    }
  }
}

/**
 * Gives every tensor whose raw_data was skipped a `rawData` accessor that reads it from disk on first
 * use and then becomes a plain property again.
 */
export function attachLazyPayloads(model: ModelProto, tensors: Iterable<TensorProto>, file: LazyFile, payloads: Payload[]): number {
  const byStart = new Map<number, Payload>();
  for (const p of payloads) byStart.set(p.start, p);
  const base = file.buffer.byteOffset;
  let attached = 0;
  for (const t of tensors) {
    if (!Object.prototype.hasOwnProperty.call(t, "rawData")) continue;
    const view = t.rawData;
    if (view.buffer !== file.buffer.buffer) continue;
    const p = byStart.get(view.byteOffset - base);
    if (!p || p.end - p.start !== view.byteLength) continue;
    pendingPayloads.set(t, { view, file, start: p.start, end: p.end });
    Object.defineProperty(t, "rawData", {
      configurable: true,
      enumerable: true,
      get() {
        file.fill(p.start, p.end);
        Object.defineProperty(t, "rawData", { value: view, writable: true, configurable: true, enumerable: true });
        return view;
      },
      set(v: Uint8Array) {
        Object.defineProperty(t, "rawData", { value: v, writable: true, configurable: true, enumerable: true });
      },
    });
    attached++;
  }
  void model;
  return attached;
}

/** True while a tensor's raw_data has not been read from disk yet. */
export function isPayloadPending(t: TensorProto): boolean {
  const d = Object.getOwnPropertyDescriptor(t, "rawData");
  return !!d && typeof d.get === "function";
}

/** Where the bytes of a tensor not read yet are: saving copies them from the file without filling the mirror. */
export interface PendingPayload {
  readonly view: Uint8Array;
  readonly file: LazyFile;
  readonly start: number;
  readonly end: number;
}
const pendingPayloads = new WeakMap<object, PendingPayload>();

/** The payload of a tensor whose raw_data has not been read (or replaced) yet; reads nothing. */
export function pendingPayload(t: object): PendingPayload | undefined {
  const d = Object.getOwnPropertyDescriptor(t, "rawData");
  return d && typeof d.get === "function" ? pendingPayloads.get(t) : undefined;
}
