/**
 * The API operator rules are written against: the node, its shapes and constants, and verbs that
 * record relations between the axes of its inputs and outputs (see relations.ts).
 */
import { readTensor, tensorDims, toFloat64 } from "../../onnx/tensor.ts";
import { DataType, dataTypeInfo } from "../../onnx/dtypes.ts";
import type { Dim, Graph, Node } from "../../graph/graph.ts";
import { weightSource } from "../../graph/metrics.ts";
import type { ShapeMap } from "../../graph/shapes/infer.ts";
import type { KnownValue } from "../../graph/shapes/index.ts";
import type { MemberRole, RewriteKind } from "../types.ts";
import { Relations, type Reason, type SpaceId } from "./relations.ts";
import { traceEntry } from "./trace.ts";
import { attrInt } from "../../graph/attrs.ts";
import { foldValue } from "./fold.ts";

export class RuleError extends Error {
  constructor(readonly reason: Reason) {
    super(reason.text);
  }
}

/** A dim as a concrete number, NaN otherwise. */
export function dimSize(d: Dim): number {
  return typeof d === "number" && d >= 0 ? d : NaN;
}

export function normAxis(axis: number, rank: number): number {
  return axis < 0 ? axis + rank : axis;
}

export class RuleContext {
  readonly opset: number;
  constructor(
    readonly graph: Graph,
    readonly shapes: ShapeMap,
    readonly rel: Relations,
    readonly node: Node,
    /** MACs of the node (from the metrics), for the cost model. */
    readonly nodeMacs: number = 0,
  ) {
    this.opset = graph.opset(node.domain);
  }

  /** Records that the node's MACs scale with the kept fraction of each of these spaces. */
  macs(spaces: SpaceId[]): void {
    if (this.nodeMacs > 0) this.rel.macOps.push({ node: this.node.index, macs: this.nodeMacs, spaces });
  }

  get name(): string {
    return this.node.name;
  }

  get op(): string {
    return this.node.opType;
  }

  /** `Op 'name'` for reason texts. */
  get where(): string {
    return `${this.node.opType} '${this.node.name}'`;
  }

  has(i: number): boolean {
    return !!this.node.inputs[i];
  }

  get inputCount(): number {
    return this.node.inputs.length;
  }

  get outputCount(): number {
    return this.node.outputs.length;
  }

  hasOut(k: number): boolean {
    return !!this.node.outputs[k];
  }

  shapeOf(value: string): readonly Dim[] | undefined {
    const w = weightSource(this.graph, value);
    if (w) return tensorDims(this.graph.weight(w)!);
    return this.shapes.types.get(value)?.shape;
  }

  inShape(i: number): readonly Dim[] | undefined {
    const n = this.node.inputs[i];
    return n ? this.shapeOf(n) : undefined;
  }

  outShape(k: number): readonly Dim[] | undefined {
    const n = this.node.outputs[k];
    return n ? this.shapes.types.get(n)?.shape : undefined;
  }

  /** Rank of input i; throws (freezing the node) when unknown. */
  inRank(i: number): number {
    const s = this.inShape(i);
    if (!s) throw new RuleError({ kind: "unknown shape", text: `unknown shape of '${this.node.inputs[i]}' (input of ${this.where})` });
    return s.length;
  }

  outRank(k: number): number {
    const s = this.outShape(k);
    if (!s) throw new RuleError({ kind: "unknown shape", text: `unknown shape of '${this.node.outputs[k]}' (output of ${this.where})` });
    return s.length;
  }

  /** The value of input i when known at analysis time (shape tensors, axes, small constants). */
  value(i: number): KnownValue | undefined {
    const n = this.node.inputs[i];
    if (!n) return undefined;
    const v = this.shapes.values.get(n);
    if (v && v.values.every((x) => typeof x === "number")) return v;
    const src = weightSource(this.graph, n);
    return (src ? weightValue(this.graph, src) : foldValue(this.graph, this.shapes, n)) ?? v;
  }

  /** Integer values of input i when all known. */
  ints(i: number): number[] | undefined {
    const v = this.value(i);
    if (!v) return undefined;
    const out: number[] = [];
    for (const x of v.values) {
      if (typeof x !== "number") return undefined;
      out.push(x);
    }
    return out;
  }

  /** Input i is a stored weight (initializer or Constant, possibly through Identity nodes). */
  isWeight(i: number): boolean {
    const n = this.node.inputs[i];
    return !!n && weightSource(this.graph, n) !== undefined;
  }

  /** The space of input i's axis (negative axes count from the end). */
  in(i: number, axis: number): SpaceId {
    const name = this.node.inputs[i];
    if (!name) throw new Error(`${this.where}: input ${i} is absent`);
    return inputSpace(this.graph, this.shapes, this.rel, this.node, i, normAxis(axis, this.inRank(i)));
  }

  out(k: number, axis: number): SpaceId {
    const name = this.node.outputs[k];
    if (!name) throw new Error(`${this.where}: output ${k} is absent`);
    return valueSpace(this.graph, this.shapes, this.rel, name, normAxis(axis, this.outRank(k)));
  }

  /** A node-internal axis (e.g. the groups of a grouped Conv). */
  virtual(label: string, size: number): SpaceId {
    const node = this.node;
    return this.rel.space(`v\u0000${node.index}\u0000${label}`, () => ({ kind: "virtual", tensor: `${node.name}:${label}`, axis: 0, size, node: node.index }));
  }

  sizeOf(s: SpaceId): number {
    return this.rel.spaces[s]!.size;
  }

  same(a: SpaceId, b: SpaceId): void {
    this.rel.same(a, b);
  }

  link(a: SpaceId, b: SpaceId, ia: ArrayLike<number>, ib: ArrayLike<number>): void {
    this.rel.link(a, b, ia, ib);
  }

  linkRange(a: SpaceId, aStart: number, b: SpaceId, bStart: number, count: number, bStep = 1): void {
    this.rel.linkRange(a, aStart, b, bStart, count, bStep);
  }

  /**
   * flat ≡ parts (mixed radix, outermost first). Parts of size 1 are dropped; one part left is `same`.
   * Labels name the unit kind of each part's groups; "reshape" (default) lets the solver tell heads
   * (blocks of indices) from head-dims (strided single indices) by the producer's index pattern.
   */
  factor(flat: SpaceId, parts: SpaceId[], labels?: string[]): void {
    const keep: SpaceId[] = [];
    const keepLabels: string[] = [];
    parts.forEach((p, i) => {
      if (this.sizeOf(p) !== 1) {
        keep.push(p);
        keepLabels.push(labels?.[i] ?? "reshape");
      }
    });
    const flatSize = this.sizeOf(flat);
    const prod = keep.reduce((p, s) => p * this.sizeOf(s), 1);
    if (!(prod === flatSize)) {
      const r: Reason = { kind: "reshape", text: `${this.where} maps an axis of ${flatSize} onto axes of ${keep.map((s) => this.sizeOf(s)).join("×")}` };
      this.freeze(flat, r);
      for (const p of keep) this.freeze(p, r);
      return;
    }
    if (keep.length === 0) return;
    if (keep.length === 1) this.same(flat, keep[0]!);
    else this.rel.factor(flat, keep, keepLabels);
  }

  freeze(s: SpaceId, reason: Reason, indices?: readonly number[]): void {
    this.rel.freeze(s, reason, indices);
  }

  /** Freezes every axis of every input and output of the node. */
  freezeNode(reason: Reason): void {
    freezeNodeAxes(this.graph, this.shapes, this.rel, this.node, reason);
  }

  producer(s: SpaceId, role: MemberRole = "out"): void {
    this.rel.producer(s);
    this.rel.role(s, role);
  }

  role(s: SpaceId, role: MemberRole): void {
    this.rel.role(s, role);
  }

  /**
   * Marks input i's axis with a role, and when the input is a weight seen through Transpose /
   * DequantizeLinear / Cast / Identity, the weight's own axis too (so criteria find it).
   */
  weightRole(i: number, axis: number, role: MemberRole, producer = false): void {
    const s = this.in(i, axis);
    if (producer) this.producer(s, role);
    else this.role(s, role);
    // Walk back through the ops that only re-present a weight.
    let name = this.node.inputs[i]!;
    let ax = normAxis(axis, this.inRank(i));
    for (let hop = 0; hop < 8; hop++) {
      if (weightSource(this.graph, name)) return;
      const p = this.graph.producer(name);
      if (!p) return;
      if (p.opType === "Transpose") {
        const perm = permOf(p, this.shapes.types.get(name)?.shape?.length ?? 0);
        ax = perm[ax]!;
      } else if (!["DequantizeLinear", "QuantizeLinear", "Cast", "Identity"].includes(p.opType)) return;
      name = p.inputs[0]!;
      if (weightSource(this.graph, name)) {
        const ws = inputSpace(this.graph, this.shapes, this.rel, p, 0, ax);
        if (producer) this.producer(ws, role);
        else this.role(ws, role);
        return;
      }
    }
  }

  note(s: SpaceId, text: string): void {
    this.rel.note(s, text);
  }

  rewrite(kind: RewriteKind, spaces: SpaceId[], current: string, opts: { slot?: number; attribute?: string; entry?: number; target?: { node: number; slot: number; index: number }; extra?: Record<string, unknown> } = {}): void {
    this.rel.rewrites.push({ kind, node: this.node.index, spaces, current, ...opts });
  }

  /**
   * Entry `entry` of the shape tensor at input `slot` sets the size of `space`: find the constant to
   * rewrite, or couple with the run-time dim it is read from; freeze the axis when neither is possible.
   */
  shapeEntry(slot: number, entry: number, space: SpaceId, current: string): void {
    // A shape tensor that is a stored constant, or computed but static in this model, is written as a
    // new constant for this node (computed shapes lose their ties to the tensors they were read from).
    // Every entry of one shape input takes the same route, so their edits land in one tensor.
    const full = this.value(slot);
    const values = this.isWeight(slot) ? undefined : full && this.encodeShape(full.values);
    if (this.isWeight(slot) || values) {
      this.rewrite("shape-entry", [space], current, { slot, entry, target: { node: this.node.index, slot, index: entry }, extra: values ? { values } : undefined });
      return;
    }
    // Symbolic: find the constant inside the shape computation, or the run-time dim it reads.
    const src = traceEntry(this.graph, this.shapes, this.node, slot, entry);
    if (src?.kind === "const") {
      this.rewrite("shape-entry", [space], current, { slot, entry, target: { node: src.node, slot: src.slot, index: src.index } });
      return;
    }
    if (src?.kind === "dim") {
      this.same(valueSpace(this.graph, this.shapes, this.rel, src.value, src.axis), space);
      return;
    }
    this.freeze(space, { kind: "runtime shape", text: `${this.where}: shape entry ${entry} is computed at run time` });
  }

  /**
   * A computed shape as a constant this node accepts: numbers as they are; a symbolic entry (batch,
   * sequence) that equals the input's dim at that place becomes 0 (Reshape: copy) or 1 (Expand: keep).
   * undefined when some entry cannot be written so.
   */
  private encodeShape(vals: readonly Dim[]): number[] | undefined {
    const x = this.inShape(0);
    const out: number[] = [];
    for (let k = 0; k < vals.length; k++) {
      const v = vals[k];
      if (typeof v === "number") {
        out.push(v);
        continue;
      }
      if (v === undefined || !x) return undefined;
      if (this.op === "Reshape" && attrInt(this.node.proto, "allowzero", 0) === 0 && x[k] === v) out.push(0);
      else if (this.op === "Expand" && x[x.length - vals.length + k] === v) out.push(1);
      else return undefined;
    }
    return out;
  }

  /** Same rank, same dims: index i of every axis of input `i` is index i of output `k`'s axis. */
  sameAll(i: number, k = 0): void {
    const r = this.inRank(i);
    if (this.outRank(k) !== r) throw new RuleError({ kind: "rank", text: `${this.where}: input and output ranks differ` });
    for (let a = 0; a < r; a++) this.same(this.in(i, a), this.out(k, a));
  }

  /**
   * Numpy broadcasting of inputs onto output k: an input axis whose size equals the output's is the same
   * space; a size-1 axis broadcast to more is independent; anything undecidable freezes both.
   */
  broadcast(inputs: readonly number[], k = 0): void {
    const out = this.outShape(k);
    if (!out) throw new RuleError({ kind: "unknown shape", text: `unknown shape of '${this.node.outputs[k]}' (output of ${this.where})` });
    const R = out.length;
    for (const i of inputs) {
      if (!this.has(i)) continue;
      const s = this.inShape(i);
      if (!s) throw new RuleError({ kind: "unknown shape", text: `unknown shape of '${this.node.inputs[i]}' (input of ${this.where})` });
      const off = R - s.length;
      for (let a = 0; a < s.length; a++) {
        const di = s[a], dout = out[a + off];
        const si = this.in(i, a), so = this.out(k, a + off);
        if (di === dout && di !== undefined) this.same(si, so);
        else if (di === 1) continue;
        else if (typeof di === "number" && typeof dout === "number") {
          throw new RuleError({ kind: "shape conflict", text: `${this.where}: input dim ${di} does not broadcast to ${dout}` });
        } else {
          const r: Reason = { kind: "unknown shape", text: `${this.where}: cannot tell whether '${this.node.inputs[i]}' axis ${a} broadcasts` };
          this.freeze(si, r);
          this.freeze(so, r);
        }
      }
    }
  }
}

const weightValues = new WeakMap<Graph, Map<string, KnownValue | undefined>>();

/** A small integer/float weight's values (shape tensors, indices, axes); undefined for big tensors. */
export function weightValue(graph: Graph, name: string): KnownValue | undefined {
  let cache = weightValues.get(graph);
  if (!cache) weightValues.set(graph, (cache = new Map()));
  if (cache.has(name)) return cache.get(name);
  const t = graph.weight(name);
  let v: KnownValue | undefined;
  if (t && t.dataType !== DataType.STRING) {
    const dims = tensorDims(t);
    if (dims.reduce((a, b) => a * b, 1) <= 4096) {
      try {
        const td = readTensor(graph.model, t);
        const isFloat = dataTypeInfo(t.dataType)?.isFloat;
        v = { dataType: t.dataType, dims, values: isFloat ? Array.from(toFloat64(td)) : Array.from(td.data as ArrayLike<number | bigint>, Number) };
      } catch {
        v = undefined;
      }
    }
  }
  cache.set(name, v);
  return v;
}

export function permOf(node: Node, rank: number): number[] {
  const p = node.proto.attribute.find((a) => a.name === "perm");
  if (p) return p.ints.map(Number);
  return Array.from({ length: rank }, (_, i) => rank - 1 - i);
}

/** The space of an activation value's axis. */
export function valueSpace(graph: Graph, shapes: ShapeMap, rel: Relations, name: string, axis: number): SpaceId {
  const hit = rel.findActivation(name, axis);
  if (hit !== undefined) return hit;
  const shape = shapes.types.get(name)?.shape;
  return rel.addActivation(name, axis, { kind: "activation", tensor: name, axis, size: dimSize(shape?.[axis]), node: graph.producer(name)?.index ?? -1 });
}

/** The space of input i's axis: a weight use when the input is a stored weight, else the activation. */
export function inputSpace(graph: Graph, shapes: ShapeMap, rel: Relations, node: Node, i: number, axis: number): SpaceId {
  const hit = rel.findWeight(node.index, i, axis);
  if (hit !== undefined) return hit;
  const name = node.inputs[i]!;
  const src = weightSource(graph, name);
  if (!src) return valueSpace(graph, shapes, rel, name, axis);
  const t = graph.weight(src)!;
  const dims = tensorDims(t);
  return rel.addWeight(node.index, i, axis, { kind: "weight", tensor: src, alias: src !== name ? name : undefined, axis, size: dims[axis] ?? NaN, node: node.index, slot: i, dims, dataType: t.dataType });
}

export function freezeNodeAxes(graph: Graph, shapes: ShapeMap, rel: Relations, node: Node, reason: Reason): void {
  node.inputs.forEach((name, i) => {
    if (!name) return;
    const src = weightSource(graph, name);
    const rank = src ? tensorDims(graph.weight(src)!).length : shapes.types.get(name)?.shape?.length;
    for (let a = 0; a < (rank ?? 0); a++) rel.freeze(inputSpace(graph, shapes, rel, node, i, a), reason);
  });
  for (const name of node.outputs) {
    if (!name) continue;
    const rank = shapes.types.get(name)?.shape?.length;
    for (let a = 0; a < (rank ?? 0); a++) rel.freeze(valueSpace(graph, shapes, rel, name, a), reason);
  }
}
