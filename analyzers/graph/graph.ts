/**
 * The graph IR: nodes in topological order, values with their producer and consumers, weights
 * (initializers and Constant nodes), declared types, and module scopes. Built once from a loaded model;
 * methods read it, pruning writes the model and rebuilds.
 */
import { create } from "@bufbuild/protobuf";
import {
  TensorProtoSchema,
  TensorProto_DataType as DT,
  type GraphProto,
  type NodeProto,
  type TensorProto,
  type TypeProto,
  type ValueInfoProto,
} from "onnx-buf";
import { ScalpelError } from "../onnx/errors.ts";
import type { Model } from "../onnx/model.ts";
import { attr } from "./attrs.ts";
import { scopeOf, type NodeScope } from "./scopes.ts";

/** A dimension: a number, a symbolic name ("batch"), or undefined when unknown. */
export type Dim = number | string | undefined;

export interface TensorType {
  readonly dataType: number;
  /** undefined: rank unknown. */
  readonly shape: readonly Dim[] | undefined;
}

export interface Node {
  /** Position in topological order (also the index in Graph.nodes). */
  readonly index: number;
  /** The node's name, or a generated `OpType_<index>` when the model has none. */
  readonly name: string;
  readonly opType: string;
  /** "" for the default ai.onnx domain. */
  readonly domain: string;
  /** Input names; "" marks an omitted optional input. */
  readonly inputs: readonly string[];
  readonly outputs: readonly string[];
  readonly proto: NodeProto;
  readonly scope: NodeScope;
  /** Outer-scope values read by this node's subgraphs (If/Loop/Scan). */
  readonly implicitInputs: readonly string[];
}

export interface Use {
  readonly node: Node;
  /** Input slot; -1 for an implicit use inside a subgraph. */
  readonly slot: number;
}

export type ValueKind = "input" | "initializer" | "constant" | "intermediate";

export interface Value {
  readonly name: string;
  readonly kind: ValueKind;
  readonly producer: Node | undefined;
  readonly consumers: Use[];
  readonly isOutput: boolean;
}

export class Graph {
  constructor(
    readonly model: Model,
    readonly proto: GraphProto,
    /** Nodes in topological order. */
    readonly nodes: readonly Node[],
    readonly values: ReadonlyMap<string, Value>,
    /** Initializers by name. */
    readonly initializers: ReadonlyMap<string, TensorProto>,
    /** Outputs of Constant nodes by name (the node's own TensorProto for `value`, synthesised for value_*). */
    readonly constants: ReadonlyMap<string, TensorProto>,
    /** Graph inputs that are not initializers: what a caller must feed. */
    readonly inputs: readonly string[],
    readonly outputs: readonly string[],
    /** Declared types from graph inputs, outputs and value_info. */
    readonly declaredTypes: ReadonlyMap<string, TensorType>,
  ) {}

  get name(): string {
    return this.model.name;
  }

  value(name: string): Value | undefined {
    return this.values.get(name);
  }

  producer(name: string): Node | undefined {
    return this.values.get(name)?.producer;
  }

  consumers(name: string): readonly Use[] {
    return this.values.get(name)?.consumers ?? [];
  }

  /** Weight data behind a name: an initializer or a Constant node's value. */
  weight(name: string): TensorProto | undefined {
    return this.initializers.get(name) ?? this.constants.get(name);
  }

  /** Opset version imported for a domain ("" = ai.onnx). */
  opset(domain = ""): number {
    for (const o of this.model.proto.opsetImport) if ((o.domain === "ai.onnx" ? "" : o.domain) === domain) return Number(o.version);
    return 0;
  }
}

/** Builds the IR of the model's main graph. Throws a ScalpelError for cycles and dangling inputs. */
export function buildGraph(model: Model): Graph {
  const g = model.proto.graph;
  if (!g) throw new ScalpelError(model.name, "has no graph");
  const initializers = new Map<string, TensorProto>();
  for (const t of g.initializer) initializers.set(t.name, t);
  for (const s of g.sparseInitializer) if (s.values) initializers.set(s.values.name, s.values);

  const declaredTypes = new Map<string, TensorType>();
  for (const vi of [...g.input, ...g.valueInfo, ...g.output]) {
    const t = tensorTypeOf(vi);
    if (t) declaredTypes.set(vi.name, t);
  }
  const graphInputs = g.input.map((i) => i.name);
  const inputs = graphInputs.filter((n) => !initializers.has(n));
  const outputs = g.output.map((o) => o.name);

  const protos = g.node;
  const order = topologicalOrder(protos, new Set([...graphInputs, ...initializers.keys()]), model.name);
  const nodes: Node[] = [];
  const constants = new Map<string, TensorProto>();
  const usedNames = new Set<string>();
  for (const p of protos) if (p.name) usedNames.add(p.name);
  for (let i = 0; i < order.length; i++) {
    const p = protos[order[i]!]!;
    let name = p.name;
    if (!name) {
      name = `${p.opType}_${i}`;
      while (usedNames.has(name)) name += "_";
      usedNames.add(name);
    }
    nodes.push({
      index: i,
      name,
      opType: p.opType,
      domain: p.domain === "ai.onnx" ? "" : p.domain,
      inputs: p.input,
      outputs: p.output,
      proto: p,
      scope: scopeOf(p),
      implicitInputs: implicitInputsOf(p),
    });
    if (p.opType === "Constant" && (p.domain === "" || p.domain === "ai.onnx") && p.output[0]) {
      const t = constantTensor(p);
      if (t) constants.set(p.output[0], t);
    }
  }

  const values = new Map<string, Value>();
  const outputSet = new Set(outputs);
  const mk = (name: string, kind: ValueKind, producer?: Node): Value => {
    const v: Value = { name, kind, producer, consumers: [], isOutput: outputSet.has(name) };
    values.set(name, v);
    return v;
  };
  for (const n of inputs) mk(n, "input");
  for (const n of initializers.keys()) mk(n, "initializer");
  for (const node of nodes)
    for (const o of node.outputs) if (o) mk(o, constants.has(o) ? "constant" : "intermediate", node);
  for (const node of nodes) {
    node.inputs.forEach((name, slot) => {
      if (name) values.get(name)!.consumers.push({ node, slot });
    });
    for (const name of node.implicitInputs) values.get(name)?.consumers.push({ node, slot: -1 });
  }
  for (const o of outputs)
    if (!values.has(o)) throw new ScalpelError(model.name, `graph output '${o}' is not produced by any node, input or initializer`);

  return new Graph(model, g, nodes, values, initializers, constants, inputs, outputs, declaredTypes);
}

/**
 * Kahn's algorithm, keeping the file's order where it is already valid. Reports a dangling input
 * (a name nothing defines) or a cycle with the nodes involved.
 */
function topologicalOrder(protos: readonly NodeProto[], available: Set<string>, modelName: string): number[] {
  const producerOf = new Map<string, number>();
  protos.forEach((p, i) => {
    for (const o of p.output) {
      if (!o) continue;
      if (producerOf.has(o) || available.has(o))
        throw new ScalpelError(modelName, `value '${o}' is defined twice (node '${p.name || p.opType}' and another definition)`);
      producerOf.set(o, i);
    }
  });
  const pending = new Array<number>(protos.length).fill(0);
  const dependents: number[][] = protos.map(() => []);
  protos.forEach((p, i) => {
    const deps = new Set<string>();
    for (const name of [...p.input, ...implicitInputsOf(p)]) if (name) deps.add(name);
    for (const name of deps) {
      if (available.has(name)) continue;
      const j = producerOf.get(name);
      if (j === undefined)
        throw new ScalpelError(modelName, `node '${p.name || p.opType}' (${p.opType}) reads '${name}', which no node, graph input or initializer defines (dangling input)`);
      pending[i]!++;
      dependents[j]!.push(i);
    }
  });
  // A min-heap on the original index keeps sorted files in their order.
  const ready: number[] = [];
  const push = (i: number) => {
    ready.push(i);
    let c = ready.length - 1;
    while (c > 0) {
      const parent = (c - 1) >> 1;
      if (ready[parent]! <= ready[c]!) break;
      [ready[parent], ready[c]] = [ready[c]!, ready[parent]!];
      c = parent;
    }
  };
  const pop = (): number => {
    const top = ready[0]!;
    const last = ready.pop()!;
    if (ready.length) {
      ready[0] = last;
      let c = 0;
      for (;;) {
        const l = 2 * c + 1, r = l + 1;
        let m = c;
        if (l < ready.length && ready[l]! < ready[m]!) m = l;
        if (r < ready.length && ready[r]! < ready[m]!) m = r;
        if (m === c) break;
        [ready[m], ready[c]] = [ready[c]!, ready[m]!];
        c = m;
      }
    }
    return top;
  };
  pending.forEach((n, i) => n === 0 && push(i));
  const order: number[] = [];
  while (ready.length) {
    const i = pop();
    order.push(i);
    for (const d of dependents[i]!) if (--pending[d]! === 0) push(d);
  }
  if (order.length !== protos.length) {
    // Every unplaced node waits on another unplaced one; walking those waits must revisit a node: a cycle.
    const placed = new Set(order);
    const waitsOn = (i: number) => {
      for (const name of [...protos[i]!.input, ...implicitInputsOf(protos[i]!)]) {
        const j = name ? producerOf.get(name) : undefined;
        if (j !== undefined && !placed.has(j)) return j;
      }
      return undefined;
    };
    const seen = new Map<number, number>();
    const path: number[] = [];
    let cur: number | undefined = pending.findIndex((n) => n > 0);
    while (cur !== undefined && !seen.has(cur)) {
      seen.set(cur, path.length);
      path.push(cur);
      cur = waitsOn(cur);
    }
    const cycle = (cur === undefined ? path : path.slice(seen.get(cur))).reverse();
    const label = (i: number) => protos[i]!.name || `${protos[i]!.opType}#${i}`;
    throw new ScalpelError(modelName, `the graph has a cycle: ${cycle.map(label).join(" → ")} → ${label(cycle[0]!)}`);
  }
  return order;
}

/** Names a node's subgraphs read from enclosing scopes. */
export function implicitInputsOf(node: NodeProto): string[] {
  const out = new Set<string>();
  for (const a of node.attribute) {
    if (a.g) collectOuterRefs(a.g, new Set(), out);
    for (const sg of a.graphs) collectOuterRefs(sg, new Set(), out);
  }
  return [...out];
}

function collectOuterRefs(g: GraphProto, outerDefined: Set<string>, out: Set<string>): void {
  const defined = new Set(outerDefined);
  for (const i of g.input) defined.add(i.name);
  for (const t of g.initializer) defined.add(t.name);
  for (const s of g.sparseInitializer) if (s.values) defined.add(s.values.name);
  for (const n of g.node) for (const o of n.output) defined.add(o);
  for (const n of g.node) {
    for (const i of n.input) if (i && !defined.has(i)) out.add(i);
    for (const a of n.attribute) {
      const inner = new Set<string>();
      if (a.g) collectOuterRefs(a.g, defined, inner);
      for (const sg of a.graphs) collectOuterRefs(sg, defined, inner);
      for (const i of inner) if (!defined.has(i)) out.add(i);
    }
  }
  for (const o of g.output) if (!defined.has(o.name)) out.add(o.name);
}

function tensorTypeOf(vi: ValueInfoProto): TensorType | undefined {
  return typeProtoToTensorType(vi.type);
}

export function typeProtoToTensorType(tp: TypeProto | undefined): TensorType | undefined {
  if (!tp || tp.value.case !== "tensorType") return undefined;
  const t = tp.value.value;
  const shape = t.shape
    ? t.shape.dim.map((d): Dim => (d.value.case === "dimValue" ? Number(d.value.value) : d.value.case === "dimParam" ? d.value.value : undefined))
    : undefined;
  return { dataType: t.elemType, shape };
}

/** The tensor a Constant node outputs; value_* attributes are turned into a tensor (not part of the model). */
export function constantTensor(p: NodeProto): TensorProto | undefined {
  const v = attr(p, "value");
  if (v?.t) return v.t;
  const mk = (dataType: number, dims: number[], init: { floatData?: number[]; int64Data?: bigint[]; stringData?: Uint8Array<ArrayBuffer>[] }) =>
    create(TensorProtoSchema, { name: p.output[0], dataType, dims: dims.map(BigInt), ...init });
  const vf = attr(p, "value_float");
  if (vf) return mk(DT.FLOAT, [], { floatData: [vf.f] });
  const vfs = attr(p, "value_floats");
  if (vfs) return mk(DT.FLOAT, [vfs.floats.length], { floatData: vfs.floats });
  const vi = attr(p, "value_int");
  if (vi) return mk(DT.INT64, [], { int64Data: [vi.i] });
  const vis = attr(p, "value_ints");
  if (vis) return mk(DT.INT64, [vis.ints.length], { int64Data: vis.ints });
  const vs = attr(p, "value_string");
  if (vs) return mk(DT.STRING, [], { stringData: [vs.s] });
  const vss = attr(p, "value_strings");
  if (vss) return mk(DT.STRING, [vss.strings.length], { stringData: vss.strings });
  return undefined;
}
