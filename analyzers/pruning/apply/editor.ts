/**
 * Copy-on-write editing of a model: the copy shares every untouched node and tensor with the original
 * (which is never modified); a node or tensor is cloned the first time it is changed.
 */
import { clone, create } from "@bufbuild/protobuf";
import {
  AttributeProtoSchema,
  AttributeProto_AttributeType,
  GraphProtoSchema,
  ModelProtoSchema,
  NodeProtoSchema,
  type NodeProto,
  type TensorProto,
} from "onnx-buf";
import { buildGraph, type Graph } from "../../graph/graph.ts";
import type { Model } from "../../onnx/model.ts";
import { makeTensor, readTensor, type TensorData } from "../../onnx/tensor.ts";

export class ModelEditor {
  readonly proto;
  readonly model: Model;
  /** The original model's graph IR (node names as the analysis knows them). */
  readonly source: Graph;
  private readonly nodeIndex = new Map<string, number>();
  private readonly cloned = new Set<NodeProto>();
  private readonly names = new Set<string>();
  /** Nodes to drop at the end (by position in the node list). */
  private readonly dropped = new Set<number>();

  constructor(original: Model) {
    this.source = buildGraph(original);
    const g = original.proto.graph!;
    const graph = create(GraphProtoSchema, { ...g, node: [...g.node], initializer: [...g.initializer], valueInfo: [...g.valueInfo], output: [...g.output] });
    this.proto = create(ModelProtoSchema, { ...original.proto, graph });
    this.model = { ...original, proto: this.proto };
    const pos = new Map<NodeProto, number>();
    g.node.forEach((n, i) => pos.set(n, i));
    for (const n of this.source.nodes) this.nodeIndex.set(n.name, pos.get(n.proto)!);
    for (const t of g.initializer) this.names.add(t.name);
    for (const n of g.node) for (const o of n.output) this.names.add(o);
    for (const i of g.input) this.names.add(i.name);
  }

  get graph() {
    return this.proto.graph!;
  }

  /** The copy's node (read-only use). */
  node(name: string): NodeProto {
    const i = this.nodeIndex.get(name);
    if (i === undefined) throw new Error(`apply: no node '${name}'`);
    return this.graph.node[i]!;
  }

  /** The copy's node, cloned on first write. */
  editNode(name: string): NodeProto {
    const i = this.nodeIndex.get(name);
    if (i === undefined) throw new Error(`apply: no node '${name}'`);
    let n = this.graph.node[i]!;
    if (!this.cloned.has(n)) {
      n = clone(NodeProtoSchema, n);
      this.graph.node[i] = n;
      this.cloned.add(n);
    }
    return n;
  }

  dropNode(name: string): void {
    const i = this.nodeIndex.get(name);
    if (i !== undefined) this.dropped.add(i);
  }

  /** Replaces a node by another (same position). */
  replaceNode(name: string, node: NodeProto): void {
    const i = this.nodeIndex.get(name)!;
    this.graph.node[i] = node;
    this.cloned.add(node);
  }

  uniqueName(base: string): string {
    let n = base;
    for (let k = 2; this.names.has(n); k++) n = `${base}_${k}`;
    this.names.add(n);
    return n;
  }

  /** A stored tensor of the copy: initializer or Constant-node value. */
  tensor(name: string): TensorProto | undefined {
    const init = this.graph.initializer.find((t) => t.name === name);
    if (init) return init;
    const p = this.source.producer(name);
    if (p && p.opType === "Constant") {
      const n = this.node(p.name);
      const v = n.attribute.find((a) => a.name === "value");
      if (v?.t) return v.t;
      return this.source.constants.get(name);
    }
    return undefined;
  }

  read(name: string): TensorData {
    const t = this.tensor(name);
    if (!t) throw new Error(`apply: no stored tensor '${name}'`);
    return readTensor(this.model, t);
  }

  /** Replaces the data of a stored tensor in the copy (initializer or Constant node), keeping its name. */
  write(name: string, td: TensorData): TensorProto {
    const t = makeTensor(name, td);
    const k = this.graph.initializer.findIndex((x) => x.name === name);
    if (k >= 0) {
      this.graph.initializer[k] = t;
      return t;
    }
    const p = this.source.producer(name);
    if (p && p.opType === "Constant") {
      const n = this.editNode(p.name);
      n.attribute = [create(AttributeProtoSchema, { name: "value", type: AttributeProto_AttributeType.TENSOR, t })];
      return t;
    }
    throw new Error(`apply: '${name}' is not a stored tensor`);
  }

  /** Tensor data of the copy, cloned so the caller may change it in place and write it back. */
  writable(name: string): TensorProto {
    const td = this.read(name);
    const copy: TensorData = { ...td, data: Array.isArray(td.data) ? [...td.data] : (td.data as Float32Array).slice() };
    return this.write(name, copy);
  }

  addInitializer(base: string, td: TensorData): string {
    const name = this.uniqueName(base);
    this.graph.initializer.push(makeTensor(name, td));
    return name;
  }

  setInput(nodeName: string, slot: number, value: string): void {
    const n = this.editNode(nodeName);
    while (n.input.length <= slot) n.input.push("");
    n.input[slot] = value;
  }

  setIntAttr(nodeName: string, attr: string, value: number): void {
    const n = this.editNode(nodeName);
    const a = n.attribute.find((x) => x.name === attr);
    if (a) a.i = BigInt(value);
    else n.attribute.push(create(AttributeProtoSchema, { name: attr, type: AttributeProto_AttributeType.INT, i: BigInt(value) }));
  }

  setFloatAttr(nodeName: string, attr: string, value: number): void {
    const n = this.editNode(nodeName);
    const a = n.attribute.find((x) => x.name === attr);
    if (a) a.f = value;
    else n.attribute.push(create(AttributeProtoSchema, { name: attr, type: AttributeProto_AttributeType.FLOAT, f: value }));
  }

  setIntsAttr(nodeName: string, attr: string, values: number[]): void {
    const n = this.editNode(nodeName);
    const a = n.attribute.find((x) => x.name === attr);
    if (a) a.ints = values.map(BigInt);
    else n.attribute.push(create(AttributeProtoSchema, { name: attr, type: AttributeProto_AttributeType.INTS, ints: values.map(BigInt) }));
  }

  removeAttr(nodeName: string, attr: string): void {
    const n = this.editNode(nodeName);
    n.attribute = n.attribute.filter((a) => a.name !== attr);
  }

  /**
   * Drops dropped nodes, then Identity/Constant nodes and initializers nothing reads any more — only
   * among `candidates` (what the edits disconnected), so unrelated unused tensors of the input stay.
   */
  finish(candidates: Set<string>): void {
    const g = this.graph;
    if (this.dropped.size) g.node = g.node.filter((_, i) => !this.dropped.has(i));
    for (;;) {
      const used = new Set<string>();
      for (const n of g.node) for (const i of n.input) if (i) used.add(i);
      for (const o of g.output) used.add(o.name);
      let changed = false;
      // A node is dropped when nothing reads any of its outputs and one of them was disconnected by the
      // edits (a shape computation whose result was replaced by a constant, a shared weight's Identity).
      const keepNode = (n: NodeProto) => {
        if (n.output.some((o) => candidates.has(o)) && n.output.every((o) => !o || !used.has(o)) && !n.attribute.some((a) => a.g || a.graphs.length)) {
          for (const i of n.input) if (i) candidates.add(i);
          changed = true;
          return false;
        }
        return true;
      };
      g.node = g.node.filter(keepNode);
      const gone = new Set<string>();
      g.initializer = g.initializer.filter((t) => {
        const drop = candidates.has(t.name) && !used.has(t.name);
        if (drop) gone.add(t.name);
        return !drop;
      });
      // Old IR versions also list initializers as graph inputs.
      if (gone.size) g.input = g.input.filter((i) => !gone.has(i.name));
      if (!changed) break;
    }
  }
}
