/**
 * A protobuf encoder that writes a message as a list of chunks, without copying large `bytes` fields.
 *
 * Why not `toBinary`: it serialises every nested message into its own buffer and concatenates at each
 * level, so a 350 MB model's weights are copied three times and the peak memory triples. This encoder
 * sizes every message first (like C++'s ByteSizeLong), then emits tags and lengths into small scratch
 * buffers and hands large payloads (raw_data) to the file writer as they are. Field order and presence
 * follow the same rules as protobuf-es/C++ (known fields by number, explicit presence by own property,
 * unknown fields last), so an untouched model encodes to its original bytes.
 */
import { ScalarType, type DescField, type DescMessage, type Message } from "@bufbuild/protobuf";
import { pendingPayload, type PendingPayload } from "./lazyLoad.ts";

const WT_VARINT = 0;
const WT_FIXED64 = 1;
const WT_LEN = 2;
const WT_FIXED32 = 5;

/** Payloads at least this large are passed through by reference instead of being copied. */
const PASS_THROUGH_BYTES = 16 * 1024;
const SCRATCH_BYTES = 1 << 20;

type AnyMsg = Message & Record<string, unknown>;

interface Plan {
  readonly typeName: string;
  readonly fields: readonly DescField[];
}
const plans = new WeakMap<DescMessage, Plan>();
function planOf(desc: DescMessage): Plan {
  let p = plans.get(desc);
  if (!p) {
    p = { typeName: desc.typeName, fields: desc.fields.concat().sort((a, b) => a.number - b.number) };
    plans.set(desc, p);
  }
  return p;
}

const textEncoder = new TextEncoder();

function varintSize(n: number): number {
  if (n < 0) return 10; // negative int32/enum values are sign-extended to 64 bits
  if (n < 0x80) return 1;
  if (n < 0x4000) return 2;
  if (n < 0x200000) return 3;
  if (n < 0x10000000) return 4;
  let size = 4;
  let v = Math.floor(n / 0x10000000);
  while (v > 0) {
    size++;
    v = Math.floor(v / 128);
  }
  return size;
}
function varint64Size(v: bigint): number {
  let u = BigInt.asUintN(64, v);
  if (u < 0x80n) return 1;
  let size = 0;
  while (u > 0n) {
    size++;
    u >>= 7n;
  }
  return size;
}
const tagSize = (no: number, wt: number) => varintSize(no * 8 + wt);

function toBig(v: unknown): bigint {
  return typeof v === "bigint" ? v : BigInt(v as number | string);
}
function zigzag32(n: number): number {
  return ((n << 1) ^ (n >> 31)) >>> 0;
}
function zigzag64(v: bigint): bigint {
  return BigInt.asUintN(64, (v << 1n) ^ (v >> 63n));
}

function wireTypeOf(s: ScalarType): number {
  switch (s) {
    case ScalarType.DOUBLE:
    case ScalarType.FIXED64:
    case ScalarType.SFIXED64:
      return WT_FIXED64;
    case ScalarType.FLOAT:
    case ScalarType.FIXED32:
    case ScalarType.SFIXED32:
      return WT_FIXED32;
    case ScalarType.STRING:
    case ScalarType.BYTES:
      return WT_LEN;
    default:
      return WT_VARINT;
  }
}

/** Encoded size of one scalar value without its tag (strings and bytes include their length prefix). */
function scalarSize(s: ScalarType, v: unknown): number {
  switch (s) {
    case ScalarType.DOUBLE:
    case ScalarType.FIXED64:
    case ScalarType.SFIXED64:
      return 8;
    case ScalarType.FLOAT:
    case ScalarType.FIXED32:
    case ScalarType.SFIXED32:
      return 4;
    case ScalarType.BOOL:
      return 1;
    case ScalarType.STRING: {
      const n = Buffer.byteLength(v as string, "utf8");
      return varintSize(n) + n;
    }
    case ScalarType.BYTES: {
      const n = (v as Uint8Array).byteLength;
      return varintSize(n) + n;
    }
    case ScalarType.INT32:
      return varintSize(v as number);
    case ScalarType.UINT32:
      return varintSize((v as number) >>> 0);
    case ScalarType.SINT32:
      return varintSize(zigzag32(v as number));
    case ScalarType.INT64:
    case ScalarType.UINT64:
      return varint64Size(toBig(v));
    case ScalarType.SINT64:
      return varint64Size(zigzag64(toBig(v)));
  }
  throw new Error(`unsupported scalar type ${s}`);
}

/** Collects the encoded bytes as chunks; small writes go to a shared scratch buffer. */
export class ChunkSink {
  readonly chunks: Uint8Array[] = [];
  private buf = Buffer.allocUnsafe(SCRATCH_BYTES);
  private start = 0;
  private pos = 0;
  total = 0;

  private ensure(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    this.flush();
    this.buf = Buffer.allocUnsafe(Math.max(SCRATCH_BYTES, n));
    this.start = this.pos = 0;
  }
  private flush(): void {
    if (this.pos > this.start) {
      this.chunks.push(this.buf.subarray(this.start, this.pos));
      this.start = this.pos;
    }
  }
  finish(): Uint8Array[] {
    this.flush();
    return this.chunks;
  }
  byte(b: number): void {
    this.ensure(1);
    this.buf[this.pos++] = b;
    this.total++;
  }
  varint(n: number): void {
    if (n < 0) return this.varint64(BigInt(n));
    this.ensure(10);
    const start = this.pos;
    while (n >= 0x80) {
      this.buf[this.pos++] = (n % 128) | 0x80;
      n = Math.floor(n / 128);
    }
    this.buf[this.pos++] = n;
    this.total += this.pos - start;
  }
  varint64(v: bigint): void {
    let u = BigInt.asUintN(64, v);
    if (u < 0x100000000n) return this.varint(Number(u));
    this.ensure(10);
    const start = this.pos;
    while (u >= 0x80n) {
      this.buf[this.pos++] = Number(u & 0x7fn) | 0x80;
      u >>= 7n;
    }
    this.buf[this.pos++] = Number(u);
    this.total += this.pos - start;
  }
  tag(no: number, wt: number): void {
    this.varint(no * 8 + wt);
  }
  fixed32(v: number, kind: "float" | "u32" | "i32"): void {
    this.ensure(4);
    if (kind === "float") this.buf.writeFloatLE(v, this.pos);
    else if (kind === "u32") this.buf.writeUInt32LE(v >>> 0, this.pos);
    else this.buf.writeInt32LE(v | 0, this.pos);
    this.pos += 4;
    this.total += 4;
  }
  fixed64(v: number | bigint, kind: "double" | "u64" | "i64"): void {
    this.ensure(8);
    if (kind === "double") this.buf.writeDoubleLE(v as number, this.pos);
    else if (kind === "u64") this.buf.writeBigUInt64LE(BigInt.asUintN(64, toBig(v)), this.pos);
    else this.buf.writeBigInt64LE(BigInt.asIntN(64, toBig(v)), this.pos);
    this.pos += 8;
    this.total += 8;
  }
  raw(bytes: Uint8Array): void {
    const n = bytes.byteLength;
    if (n >= PASS_THROUGH_BYTES) {
      this.flush();
      this.chunks.push(bytes);
    } else {
      this.ensure(n);
      this.buf.set(bytes, this.pos);
      this.pos += n;
    }
    this.total += n;
  }
  string(s: string, byteLength: number): void {
    if (byteLength >= PASS_THROUGH_BYTES) return this.raw(textEncoder.encode(s));
    this.ensure(byteLength);
    this.buf.write(s, this.pos, "utf8");
    this.pos += byteLength;
    this.total += byteLength;
  }
}

/** Lets a save swap some messages for others without touching the model (e.g. tensors moved to a side file). */
export type Substitute = (msg: Message) => Message | undefined;

export class Encoder {
  /** Sizes of the messages met during sizing, reused while writing (objects are not shared across saves). */
  private readonly sizes = new Map<object, number>();

  constructor(private readonly substitute?: Substitute) {}

  private sub(msg: AnyMsg): AnyMsg {
    return this.substitute ? ((this.substitute(msg) as AnyMsg | undefined) ?? msg) : msg;
  }

  messageSize(desc: DescMessage, original: AnyMsg): number {
    const msg = this.sub(original);
    const cached = this.sizes.get(msg);
    if (cached !== undefined) return cached;
    let size = 0;
    for (const f of planOf(desc).fields) size += this.fieldSize(f, msg);
    const unknown = msg.$unknown;
    if (unknown) for (const u of unknown) size += tagSize(u.no, u.wireType) + u.data.byteLength;
    this.sizes.set(msg, size);
    return size;
  }

  private fieldSize(f: DescField, msg: AnyMsg): number {
    if (f.fieldKind === "list") {
      const list = msg[f.localName] as unknown[];
      if (!list || list.length === 0) return 0;
      if (f.listKind === "message") {
        let s = 0;
        for (const m of list) {
          const n = this.messageSize(f.message, m as AnyMsg);
          s += tagSize(f.number, WT_LEN) + varintSize(n) + n;
        }
        return s;
      }
      const scalar = f.listKind === "enum" ? ScalarType.INT32 : f.scalar;
      if (f.packed) {
        const n = packedPayloadSize(scalar, list);
        return tagSize(f.number, WT_LEN) + varintSize(n) + n;
      }
      let s = 0;
      const ts = tagSize(f.number, wireTypeOf(scalar));
      for (const v of list) s += ts + scalarSize(scalar, v);
      return s;
    }
    if (f.fieldKind === "map") throw new Error(`map fields are not used by ONNX (${f.name})`);
    const value = singularValue(f, msg);
    if (value === undefined) return 0;
    if (f.fieldKind === "message") {
      const n = this.messageSize(f.message, value as AnyMsg);
      return tagSize(f.number, WT_LEN) + varintSize(n) + n;
    }
    const scalar = f.fieldKind === "enum" ? ScalarType.INT32 : f.scalar;
    return tagSize(f.number, wireTypeOf(scalar)) + scalarSize(scalar, value);
  }

  writeMessage(desc: DescMessage, original: AnyMsg, out: ChunkSink): void {
    const msg = this.sub(original);
    for (const f of planOf(desc).fields) this.writeField(f, msg, out);
    const unknown = msg.$unknown;
    if (unknown)
      for (const u of unknown) {
        out.tag(u.no, u.wireType);
        out.raw(u.data);
      }
  }

  private writeField(f: DescField, msg: AnyMsg, out: ChunkSink): void {
    if (f.fieldKind === "list") {
      const list = msg[f.localName] as unknown[];
      if (!list || list.length === 0) return;
      if (f.listKind === "message") {
        for (const m of list) {
          out.tag(f.number, WT_LEN);
          out.varint(this.messageSize(f.message, m as AnyMsg));
          this.writeMessage(f.message, m as AnyMsg, out);
        }
        return;
      }
      const scalar = f.listKind === "enum" ? ScalarType.INT32 : f.scalar;
      if (f.packed) {
        out.tag(f.number, WT_LEN);
        out.varint(packedPayloadSize(scalar, list));
        writePacked(scalar, list, out);
        return;
      }
      const wt = wireTypeOf(scalar);
      for (const v of list) {
        out.tag(f.number, wt);
        writeScalar(scalar, v, out);
      }
      return;
    }
    if (f.fieldKind === "map") throw new Error(`map fields are not used by ONNX (${f.name})`);
    const value = singularValue(f, msg);
    if (value === undefined) return;
    if (f.fieldKind === "message") {
      out.tag(f.number, WT_LEN);
      out.varint(this.messageSize(f.message, value as AnyMsg));
      this.writeMessage(f.message, value as AnyMsg, out);
      return;
    }
    const scalar = f.fieldKind === "enum" ? ScalarType.INT32 : f.scalar;
    out.tag(f.number, wireTypeOf(scalar));
    writeScalar(scalar, value, out);
  }
}

/** While a save encodes: lazily loaded payloads not read yet, written later straight from the source file. */
let deferring: Map<Uint8Array, PendingPayload> | undefined;

/** The value of a singular field if it is present (explicit presence: an own property; oneof: its case). */
function singularValue(f: DescField, msg: AnyMsg): unknown {
  if (deferring && f.localName === "rawData") {
    const p = pendingPayload(msg);
    if (p && p.view.byteLength >= PASS_THROUGH_BYTES) {
      deferring.set(p.view, p); // passed through by reference (≥ PASS_THROUGH_BYTES), its zeros never copied
      return p.view;
    }
  }
  if (f.oneof) {
    const o = msg[f.oneof.localName] as { case?: string; value?: unknown } | undefined;
    return o && o.case === f.localName ? o.value : undefined;
  }
  const v = msg[f.localName];
  if (v === undefined) return undefined;
  if (f.presence !== 2 /* IMPLICIT */) return Object.prototype.hasOwnProperty.call(msg, f.localName) ? v : undefined;
  // Implicit presence (proto3): zero values are not written.
  if (f.fieldKind === "message") return v;
  if (v === 0 || v === 0n || v === false || v === "" || (v instanceof Uint8Array && v.byteLength === 0)) return undefined;
  return v;
}

function packedPayloadSize(s: ScalarType, list: unknown[]): number {
  switch (s) {
    case ScalarType.FLOAT:
    case ScalarType.FIXED32:
    case ScalarType.SFIXED32:
      return 4 * list.length;
    case ScalarType.DOUBLE:
    case ScalarType.FIXED64:
    case ScalarType.SFIXED64:
      return 8 * list.length;
    case ScalarType.BOOL:
      return list.length;
  }
  let n = 0;
  for (const v of list) n += scalarSize(s, v);
  return n;
}

function writePacked(s: ScalarType, list: unknown[], out: ChunkSink): void {
  if (s === ScalarType.FLOAT && list.length >= 1024) {
    out.raw(new Uint8Array(Float32Array.from(list as number[]).buffer));
    return;
  }
  if (s === ScalarType.DOUBLE && list.length >= 512) {
    out.raw(new Uint8Array(Float64Array.from(list as number[]).buffer));
    return;
  }
  for (const v of list) writeScalar(s, v, out);
}

function writeScalar(s: ScalarType, v: unknown, out: ChunkSink): void {
  switch (s) {
    case ScalarType.DOUBLE:
      return out.fixed64(v as number, "double");
    case ScalarType.FLOAT:
      return out.fixed32(v as number, "float");
    case ScalarType.FIXED64:
      return out.fixed64(v as bigint, "u64");
    case ScalarType.SFIXED64:
      return out.fixed64(v as bigint, "i64");
    case ScalarType.FIXED32:
      return out.fixed32(v as number, "u32");
    case ScalarType.SFIXED32:
      return out.fixed32(v as number, "i32");
    case ScalarType.BOOL:
      return out.byte(v ? 1 : 0);
    case ScalarType.STRING: {
      const n = Buffer.byteLength(v as string, "utf8");
      out.varint(n);
      return out.string(v as string, n);
    }
    case ScalarType.BYTES:
      out.varint((v as Uint8Array).byteLength);
      return out.raw(v as Uint8Array);
    case ScalarType.INT32:
      return out.varint(v as number);
    case ScalarType.UINT32:
      return out.varint((v as number) >>> 0);
    case ScalarType.SINT32:
      return out.varint(zigzag32(v as number));
    case ScalarType.INT64:
    case ScalarType.UINT64:
      return out.varint64(toBig(v));
    case ScalarType.SINT64:
      return out.varint64(zigzag64(toBig(v)));
  }
}

/**
 * Encodes a message into chunks (large byte fields by reference). With `deferLazy`, the chunks of lazily
 * loaded payloads not read yet are placeholders listed in `deferred`: only a writer that copies them from
 * the source file (writeChunksToFile) may use such chunks.
 */
export function encodeChunks(
  desc: DescMessage,
  msg: Message,
  substitute?: Substitute,
  opts: { deferLazy?: boolean } = {},
): { chunks: Uint8Array[]; size: number; deferred: ReadonlyMap<Uint8Array, PendingPayload> } {
  const deferred = new Map<Uint8Array, PendingPayload>();
  deferring = opts.deferLazy ? deferred : undefined;
  try {
    const enc = new Encoder(substitute);
    const size = enc.messageSize(desc, msg as AnyMsg);
    const sink = new ChunkSink();
    enc.writeMessage(desc, msg as AnyMsg, sink);
    const chunks = sink.finish();
    if (sink.total !== size) throw new Error(`internal encoder error: sized ${size} bytes, wrote ${sink.total}`);
    return { chunks, size, deferred };
  } finally {
    deferring = undefined;
  }
}

/** Encodes a message into one contiguous buffer. */
export function encodeBytes(desc: DescMessage, msg: Message): Uint8Array {
  const { chunks, size } = encodeChunks(desc, msg);
  if (chunks.length === 1) return chunks[0]!;
  return Buffer.concat(chunks, size);
}
