/**
 * Graph → explorer index: the group hierarchy (module scopes, model-local function and control-flow
 * bodies, automatic slices of large flat groups), folded weight producers, per-group summaries and the
 * value table with shapes. Runs on the host (Node); the result is plain JSON.
 */
import type { FunctionProto, GraphProto, NodeProto } from "onnx-buf";
import { dataTypeName } from "../onnx/dtypes.ts";
import { tensorDims } from "../onnx/tensor.ts";
import { implicitInputsOf, typeProtoToTensorType, type Graph, type Node, type TensorType } from "../graph/graph.ts";
import { ruleFor } from "../graph/shapes/registry.ts";
import type { KnownValue } from "../graph/shapes/values.ts";
import { DataType } from "../onnx/dtypes.ts";
import { weightSource } from "../graph/metrics.ts";
import { modulePathOf, scopeOf } from "../graph/scopes.ts";
import { formatAttribute } from "./attributes.ts";
import type { ExplorerIndex, IxGroup, IxNode, IxValue } from "./explorerIndex.ts";
import { groupId, nodeId } from "./explorerIndex.ts";
import { planChunks, type SplitOptions } from "./split.ts";
import type { GroupKind, JsonDim } from "./types.ts";

export interface BuildOptions {
  /** Value types, e.g. `inferShapes(graph).types`; default: the model's declared types and weight dims. */
  shapes?: ReadonlyMap<string, TensorType>;
  /** Per-node metrics indexed like graph.nodes, e.g. `computeMetrics(graph, shapes)`. */
  metrics?: {
    perNode: readonly { params: number; macs: number; macsUnknown?: boolean }[];
    params?: number;
    macs?: number;
    approximate?: boolean;
    macsUnknown?: number;
  };
  split?: SplitOptions;
  /**
   * Fold shape arithmetic (Shape → Gather → Unsqueeze → Concat feeding a Reshape's shape input) into
   * the node it parametrises, as exporters emit dozens of such nodes per block (default true).
   */
  foldShapeComputations?: boolean;
  /** Format every node's attributes into the index (for the standalone report); default: leave them to `attributesOf`. */
  eagerAttributes?: boolean;
}

export interface ExplorerData {
  index: ExplorerIndex;
  /** Node protos by index-node id (undefined for graph inputs/outputs): for attributes on demand. */
  protos: (NodeProto | undefined)[];
}

/** Ops that must stay visible even without activation inputs. */
const NEVER_FOLD = new Set(["RandomNormal", "RandomUniform", "RandomNormalLike", "RandomUniformLike", "Multinomial", "Bernoulli"]);
const MAX_BODY_DEPTH = 8;

/** Input slots that carry shapes, axes, sizes or pads rather than data. */
const SHAPE_SLOTS: Record<string, number[]> = {
  Reshape: [1],
  Expand: [1],
  Tile: [1],
  Slice: [1, 2, 3, 4],
  Pad: [1, 2, 3],
  ConstantOfShape: [0],
  Range: [0, 1, 2],
  Unsqueeze: [1],
  Squeeze: [1],
  Split: [1],
  TopK: [1],
  OneHot: [1],
  Resize: [1, 2, 3],
  Upsample: [1],
  CumSum: [1],
  Trilu: [1],
  ReduceSum: [1],
  ReduceMean: [1],
  ReduceMax: [1],
  ReduceMin: [1],
  ReduceProd: [1],
  ReduceL1: [1],
  ReduceL2: [1],
  ReduceLogSumExp: [1],
  ReduceSumSquare: [1],
  ReduceLogSum: [1],
};

/** A group while the tree is being shaped; frozen into IxGroup at the end. */
interface TGroup {
  label: string;
  kind: GroupKind;
  module: string;
  aliases: string[];
  className?: string;
  parent: TGroup | undefined;
  groups: TGroup[];
  /** Node ids held directly (displayed and folded). */
  nodes: number[];
  owner?: number;
  id: number;
}

export function buildExplorerIndex(graph: Graph, opts: BuildOptions = {}): ExplorerIndex {
  return buildExplorerData(graph, { eagerAttributes: true, ...opts }).index;
}

export function buildExplorerData(graph: Graph, opts: BuildOptions = {}): ExplorerData {
  const b = new IndexBuilder(graph, opts);
  const index = b.build();
  return { index, protos: b.protos };
}

class IndexBuilder {
  readonly nodes: IxNode[] = [];
  readonly values: IxValue[] = [];
  readonly tgroups: TGroup[] = [];
  readonly protos: (NodeProto | undefined)[] = [];
  private readonly bodies: { node: number; protos: { label: string; graph?: GraphProto; fn?: FunctionProto }[]; depth: number; scope: Map<string, number>[] }[] = [];
  private readonly functions = new Map<string, FunctionProto>();
  /** Types of values by value id (main graph from the shape inference; bodies inferred here). */
  private readonly valueTypes = new Map<number, TensorType>();
  /** Small values known in bodies (Constant outputs, folded shape arithmetic), for their shape rules. */
  private readonly knownValues = new Map<number, KnownValue>();

  constructor(
    readonly graph: Graph,
    readonly opts: BuildOptions,
  ) {
    for (const f of graph.model.proto.functions) this.functions.set(`${f.domain}::${f.name}::${f.overload}`, f);
  }

  build(): ExplorerIndex {
    const g = this.graph;
    const shapes = this.opts.shapes;
    const typeOf = (name: string): TensorType | undefined => shapes?.get(name) ?? g.declaredTypes.get(name) ?? weightType(g, name);

    // Values of the main graph.
    const vid = new Map<string, number>();
    const addValue = (name: string, v: Omit<IxValue, "name" | "dataType" | "shape" | "consumers">, t: TensorType | undefined): number => {
      const id = this.values.length;
      this.values.push({ name, dataType: t ? dataTypeName(t.dataType) : "", shape: jsonShape(t), consumers: [], ...v });
      if (t) this.valueTypes.set(id, t);
      vid.set(name, id);
      return id;
    };
    for (const name of g.inputs) addValue(name, { kind: "input", producer: -1 }, typeOf(name));
    for (const name of g.initializers.keys()) addValue(name, { kind: "initializer", producer: -1, hasData: true }, typeOf(name));

    // Nodes: graph inputs, the graph's nodes, graph outputs.
    const root = this.newGroup({ label: g.name.replace(/^.*[\\/]/, "") || "model", kind: "root", module: "", parent: undefined });
    const inputIds = g.inputs.map((name, k) => {
      const id = this.pushNode({ name, op: "Input", domain: "", kind: "input", group: root.id, inputs: [], outputs: [vid.get(name)!], order: -g.inputs.length + k, attrs: [], module: "" });
      this.values[vid.get(name)!]!.producer = id;
      root.nodes.push(id);
      return id;
    });
    const base = this.nodes.length;
    for (const node of g.nodes) {
      for (const o of node.outputs)
        if (o) addValue(o, { kind: g.constants.has(o) ? "constant" : "intermediate", producer: base + node.index }, typeOf(o));
    }
    const metrics = this.opts.metrics;
    const folded = new Set<number>();
    const isWeight = (name: string): boolean => {
      const v = this.values[vid.get(name)!];
      return !!v && (v.kind === "initializer" || (v.producer >= 0 && folded.has(v.producer)));
    };
    const outputSet = new Set(g.outputs);
    for (const node of g.nodes) {
      const id = base + node.index;
      const scope = node.scope;
      const hasBody = node.proto.attribute.some((a) => a.g || a.graphs.length) || this.functionOf(node.proto) !== undefined;
      const foldable =
        !hasBody &&
        !NEVER_FOLD.has(node.opType) &&
        node.inputs.every((i) => !i || isWeight(i)) &&
        node.implicitInputs.length === 0 &&
        !node.outputs.some((o) => outputSet.has(o));
      if (foldable) folded.add(id);
      const m = metrics?.perNode[node.index];
      const meta = node.proto.metadataProps.map((e): [string, string] => [e.key, e.value]);
      this.pushNode({
        name: node.name,
        op: node.domain ? `${node.domain}::${node.opType}` : node.opType,
        domain: node.domain,
        kind: "node",
        group: root.id,
        inputs: node.inputs.map((i) => (i ? vid.get(i)! : -1)),
        outputs: node.outputs.map((o) => (o ? vid.get(o)! : -1)),
        implicit: node.implicitInputs.length ? node.implicitInputs.map((i) => vid.get(i)!).filter((x) => x !== undefined) : undefined,
        order: node.index,
        folded: foldable || undefined,
        foldedAs: foldable ? "weight" : undefined,
        params: m?.params,
        macs: m?.macs,
        macsUnknown: m?.macsUnknown || undefined,
        attrs: this.attrs(node.proto),
        meta: meta.length ? meta : undefined,
        module: scope.module,
        classes: scope.classes?.length ? [...scope.classes] : undefined,
        doc: node.proto.docString || undefined,
      }, node.proto);
    }
    const outputIds = g.outputs.map((name, k) => {
      const v = vid.get(name)!;
      const id = this.pushNode({ name, op: "Output", domain: "", kind: "output", group: root.id, inputs: [v], outputs: [], order: g.nodes.length + k, attrs: [], module: "" });
      return id;
    });
    // Consumers, weight sources.
    for (let id = 0; id < this.nodes.length; id++) {
      const n = this.nodes[id]!;
      for (const v of n.inputs) if (v >= 0) this.values[v]!.consumers.push(id);
      for (const v of n.implicit ?? []) this.values[v]!.consumers.push(id);
    }
    for (const v of this.values) {
      if (v.kind === "initializer") continue;
      const src = weightSource(g, v.name);
      if (src) {
        v.hasData = true;
        if (src !== v.name) v.source = src;
      }
    }
    if (this.opts.foldShapeComputations !== false) this.foldShapeComputations(base, g.nodes.length, folded);
    for (const id of folded) this.nodes[id]!.shownAs = this.displayedConsumer(id, folded);

    // Scope tree.
    const byPath = new Map<string, TGroup>();
    let scoped = false;
    for (const node of g.nodes) {
      const id = base + node.index;
      let cur = root;
      const path: string[] = [];
      node.scope.path.forEach((comp, depth) => {
        path.push(comp);
        const key = path.join("\u0000");
        let next = byPath.get(key);
        if (!next) {
          next = this.newGroup({ label: comp, kind: "scope", module: modulePathOf(path), parent: cur });
          cur.groups.push(next);
          byPath.set(key, next);
        }
        const cls = node.scope.classes?.[depth];
        if (cls && !next.className) next.className = cls;
        cur = next;
        scoped = true;
      });
      cur.nodes.push(id);
      this.nodes[id]!.group = cur.id;
    }
    for (const id of outputIds) root.nodes.push(id);
    this.shape(root);

    // Bodies of control flow and local-function calls (appended, so main ids stay stable).
    const scope = [vid];
    for (const node of g.nodes) this.queueBody(base + node.index, node.proto, 0, scope);
    for (let i = 0; i < this.bodies.length; i++) this.buildBody(this.bodies[i]!);

    const groups = this.freeze();
    const displayed = this.nodes.filter((n, i) => i < base + g.nodes.length && i >= base && !n.folded).length;
    return {
      v: 1,
      info: {
        name: g.name.replace(/^.*[\\/]/, ""),
        producer: [g.model.proto.producerName, g.model.proto.producerVersion].filter(Boolean).join(" "),
        irVersion: Number(g.model.proto.irVersion),
        opsets: g.model.proto.opsetImport.map((o) => ({ domain: o.domain || "ai.onnx", version: Number(o.version) })),
        nodeCount: displayed,
        totalNodes: g.nodes.length,
        params: metrics?.params,
        macs: metrics?.macs,
        metricsApproximate: metrics?.approximate,
        macsUnknown: metrics?.macsUnknown || undefined,
        hierarchy: scoped ? "scopes" : "auto",
        inputs: inputIds,
        outputs: outputIds,
      },
      nodes: this.nodes,
      values: this.values,
      groups,
    };
  }

  private pushNode(n: IxNode, proto?: NodeProto): number {
    this.nodes.push(n);
    this.protos.push(proto);
    return this.nodes.length - 1;
  }

  private attrs(p: NodeProto) {
    return this.opts.eagerAttributes ? p.attribute.map((a) => formatAttribute(a, this.graph.model)) : [];
  }

  private newGroup(g: { label: string; kind: GroupKind; module: string; parent: TGroup | undefined; owner?: number }): TGroup {
    const t: TGroup = { ...g, aliases: [], groups: [], nodes: [], id: this.tgroups.length };
    this.tgroups.push(t);
    return t;
  }

  private functionOf(p: NodeProto): FunctionProto | undefined {
    return this.functions.get(`${p.domain}::${p.opType}::${p.overload}`);
  }

  /**
   * Marks nodes whose results only parametrise other ops (shapes, axes, pads, sizes) as folded, in
   * reverse topological order so whole chains fold.
   */
  private foldShapeComputations(base: number, count: number, folded: Set<number>): void {
    for (let id = base + count - 1; id >= base; id--) {
      if (folded.has(id)) continue;
      const n = this.nodes[id]!;
      if (NEVER_FOLD.has(n.op) || this.hasBody(id)) continue;
      let uses = 0;
      let ok = true;
      for (const v of n.outputs) {
        if (v < 0) continue;
        for (const c of this.values[v]!.consumers) {
          uses++;
          if (folded.has(c)) continue;
          const cn = this.nodes[c]!;
          if (cn.kind !== "node") {
            ok = false;
            break;
          }
          const slots = SHAPE_SLOTS[cn.op];
          cn.inputs.forEach((x, slot) => {
            if (x === v && !slots?.includes(slot)) ok = false;
          });
          if ((cn.implicit ?? []).includes(v)) ok = false;
          if (!ok) break;
        }
        if (!ok) break;
      }
      if (ok && uses > 0) {
        folded.add(id);
        n.folded = true;
        n.foldedAs = "shape";
      }
    }
  }

  private hasBody(id: number): boolean {
    const p = this.protos[id];
    return !!p && (p.attribute.some((a) => a.g || a.graphs.length) || this.functionOf(p) !== undefined);
  }

  /** The first displayed node reading a folded node's outputs (through other folded nodes). */
  private displayedConsumer(id: number, folded: Set<number>): number | undefined {
    const seen = new Set<number>();
    const stack = [id];
    while (stack.length) {
      const cur = stack.pop()!;
      if (seen.has(cur)) continue;
      seen.add(cur);
      for (const v of this.nodes[cur]!.outputs) {
        if (v < 0) continue;
        for (const c of this.values[v]!.consumers) {
          if (!folded.has(c)) return c;
          stack.push(c);
        }
      }
    }
    return undefined;
  }

  // ---- shaping the tree -------------------------------------------------------------------

  private isShown(id: number): boolean {
    return !this.nodes[id]!.folded;
  }

  private shownCount(g: TGroup): number {
    let n = 0;
    for (const id of g.nodes) if (this.isShown(id)) n++;
    for (const c of g.groups) n += this.shownCount(c);
    return n;
  }

  /** Inlines single-node scopes, merges single-child chains, dissolves empty scopes, slices big groups. */
  private shape(g: TGroup): void {
    for (const c of g.groups) this.shape(c);
    const kept: TGroup[] = [];
    for (const c of g.groups) {
      const shown = this.shownCount(c);
      if (shown <= 1 && c.kind === "scope") {
        // Dissolve into g: the lone node (if any) takes the scope's name.
        const all = this.collectNodes(c);
        for (const id of all) {
          const n = this.nodes[id]!;
          n.group = g.id;
          if (!n.folded) n.label = n.label ? `${c.label}/${n.label}` : c.label;
          g.nodes.push(id);
        }
        continue;
      }
      kept.push(c);
    }
    g.groups = kept;
    // A scope holding nothing but one scope: merge the child into it.
    if (g.kind === "scope" && g.groups.length === 1 && !g.nodes.some((id) => this.isShown(id))) {
      const h = g.groups[0]!;
      g.aliases.push(g.module, ...h.aliases);
      g.label = `${g.label}/${h.label}`;
      g.module = h.module;
      g.className = h.className ?? g.className;
      g.groups = h.groups;
      for (const c of g.groups) c.parent = g;
      for (const id of h.nodes) this.nodes[id]!.group = g.id;
      g.nodes.push(...h.nodes);
      h.id = -1; // dropped
    }
    this.slice(g);
  }

  private collectNodes(g: TGroup, out: number[] = []): number[] {
    out.push(...g.nodes);
    for (const c of g.groups) this.collectNodes(c, out);
    return out;
  }

  private orderOf(g: TGroup): number {
    let o = Infinity;
    for (const id of g.nodes) if (this.isShown(id)) o = Math.min(o, this.nodes[id]!.order);
    for (const c of g.groups) o = Math.min(o, this.orderOf(c));
    return o;
  }

  /** Cuts a group with too many children into automatic slices where few tensors cross. */
  private slice(g: TGroup): void {
    type Item = { group?: TGroup; node?: number; order: number };
    const items: Item[] = [
      ...g.groups.map((c) => ({ group: c, order: this.orderOf(c) })),
      ...g.nodes.filter((id) => this.isShown(id) && this.nodes[id]!.kind === "node").map((id) => ({ node: id, order: this.nodes[id]!.order })),
    ].sort((a, b) => a.order - b.order);
    const max = this.opts.split?.maxChildren ?? 120;
    if (items.length <= max) return;
    const pos = new Map<number, number>();
    items.forEach((it, i) => {
      if (it.node !== undefined) pos.set(it.node, i);
      else for (const id of this.collectNodes(it.group!)) pos.set(id, i);
    });
    const spans: [number, number][] = [];
    for (const [id, p] of pos) {
      if (!this.isShown(id)) continue;
      for (const v of this.nodes[id]!.outputs) {
        if (v < 0) continue;
        let q = p;
        for (const c of this.values[v]!.consumers) {
          if (!this.isShown(c)) continue;
          const qc = pos.get(c);
          if (qc !== undefined && qc > q) q = qc;
        }
        if (q > p) spans.push([p, q]);
      }
    }
    const chunks = planChunks(items.length, spans, this.opts.split);
    if (!chunks) return;
    const labelOf = (it: Item) => (it.group ? it.group.label : this.shortLabel(it.node!));
    const make = (parent: TGroup, ch: { start: number; end: number; children?: typeof chunks }): void => {
      const sub = this.newGroup({
        label: `${labelOf(items[ch.start]!)} … ${labelOf(items[ch.end - 1]!)}`,
        kind: "auto",
        module: "",
        parent,
      });
      parent.groups.push(sub);
      if (ch.children) for (const c of ch.children) make(sub, c);
      else
        for (let i = ch.start; i < ch.end; i++) {
          const it = items[i]!;
          if (it.group) {
            it.group.parent = sub;
            sub.groups.push(it.group);
          } else {
            this.nodes[it.node!]!.group = sub.id;
            sub.nodes.push(it.node!);
          }
        }
    };
    // Keep folded nodes where they are; move every displayed item into a slice.
    g.groups = [];
    g.nodes = g.nodes.filter((id) => !this.isShown(id) || this.nodes[id]!.kind !== "node");
    for (const ch of chunks) make(g, ch);
  }

  shortLabel(id: number): string {
    const n = this.nodes[id]!;
    return n.label ?? shortName(n.name, n.op);
  }

  // ---- bodies ------------------------------------------------------------------------------

  private queueBody(id: number, p: NodeProto, depth: number, scope: Map<string, number>[]): void {
    if (depth >= MAX_BODY_DEPTH) return;
    const protos: { label: string; graph?: GraphProto; fn?: FunctionProto }[] = [];
    for (const a of p.attribute) {
      if (a.g) protos.push({ label: a.name, graph: a.g });
      a.graphs.forEach((sg, i) => protos.push({ label: `${a.name}[${i}]`, graph: sg }));
    }
    const fn = this.functionOf(p);
    if (fn) protos.push({ label: fn.name, fn });
    if (protos.length) this.bodies.push({ node: id, protos, depth, scope });
  }

  private buildBody(b: { node: number; protos: { label: string; graph?: GraphProto; fn?: FunctionProto }[]; depth: number; scope: Map<string, number>[] }): void {
    const owner = this.nodes[b.node]!;
    const ownerGroup = this.tgroups[owner.group]!;
    const kind: GroupKind = b.protos.some((x) => x.fn) ? "function" : "subgraph";
    const top = this.newGroup({ label: owner.label ?? shortName(owner.name, owner.op), kind, module: "", parent: ownerGroup, owner: b.node });
    if (kind === "function") top.className = b.protos[0]!.label;
    owner.body = top.id;
    const containers =
      b.protos.length === 1
        ? [top]
        : b.protos.map((x) => {
            const c = this.newGroup({ label: x.label, kind, module: "", parent: top });
            top.groups.push(c);
            return c;
          });
    b.protos.forEach((x, i) => this.fillBody(containers[i]!, x, b));
    this.shape(top);
  }

  private fillBody(into: TGroup, x: { label: string; graph?: GraphProto; fn?: FunctionProto }, b: { node: number; depth: number; scope: Map<string, number>[] }): void {
    const local = new Map<string, number>();
    const scope = [local, ...b.scope];
    // Values of this body; outer values do not list inner readers (the call node stands for them).
    const firstLocal = this.values.length;
    const lookup = (name: string): number => {
      for (const m of scope) {
        const v = m.get(name);
        if (v !== undefined) return v;
      }
      // A name nothing defines (malformed body): give it a value so the view still shows the node.
      return define(name, "input", undefined);
    };
    const define = (name: string, kind: IxValue["kind"], t: TensorType | undefined, producer = -1): number => {
      const id = this.values.length;
      this.values.push({ name, dataType: t ? dataTypeName(t.dataType) : "", shape: jsonShape(t), kind, producer, consumers: [] });
      if (t) this.valueTypes.set(id, t);
      local.set(name, id);
      return id;
    };
    // Formal inputs the body does not type itself get them from the call (see bodyInputType).
    const owner = this.nodes[b.node]!;
    const ownerProto = this.protos[b.node];
    const inputType = (k: number, count: number): TensorType | undefined => bodyInputType(owner.op, ownerProto, x.label, k, count, (i) => this.valueTypes.get(owner.inputs[i] ?? -1));
    const types = new Map<string, TensorType>();
    let protos: readonly NodeProto[];
    let outputs: string[];
    if (x.graph) {
      for (const vi of [...x.graph.input, ...x.graph.valueInfo, ...x.graph.output]) {
        const t = typeProtoToTensorType(vi.type);
        if (t) types.set(vi.name, t);
      }
      for (const init of x.graph.initializer) define(init.name, "initializer", { dataType: init.dataType, shape: tensorDims(init) });
      x.graph.input.forEach((i, k) => {
        if (!local.has(i.name)) define(i.name, "input", mergeTypes(types.get(i.name), inputType(k, x.graph!.input.length)));
      });
      protos = x.graph.node;
      outputs = x.graph.output.map((o) => o.name);
    } else {
      for (const vi of x.fn!.valueInfo) {
        const t = typeProtoToTensorType(vi.type);
        if (t) types.set(vi.name, t);
      }
      x.fn!.input.forEach((i, k) => define(i, "input", mergeTypes(types.get(i), inputType(k, x.fn!.input.length))));
      protos = x.fn!.node;
      outputs = x.fn!.output;
    }
    const byPath = new Map<string, TGroup>();
    protos.forEach((p, k) => {
      const id = this.nodes.length;
      const inputs = p.input.map((i) => (i ? lookup(i) : -1));
      const implicit = implicitInputsOf(p).map(lookup);
      const s = scopeOf(p);
      let cur = into;
      const path: string[] = [];
      for (const comp of s.path) {
        path.push(comp);
        const key = path.join("\u0000");
        let next = byPath.get(key);
        if (!next) {
          next = this.newGroup({ label: comp, kind: "scope", module: modulePathOf(path), parent: cur });
          cur.groups.push(next);
          byPath.set(key, next);
        }
        cur = next;
      }
      const node: IxNode = {
        name: p.name || `${p.opType}_${k}`,
        op: p.domain && p.domain !== "ai.onnx" ? `${p.domain}::${p.opType}` : p.opType,
        domain: p.domain === "ai.onnx" ? "" : p.domain,
        kind: "node",
        group: cur.id,
        inputs,
        outputs: [],
        implicit: implicit.length ? implicit : undefined,
        order: k,
        attrs: this.attrs(p),
        module: s.module,
        doc: p.docString || undefined,
      };
      this.pushNode(node, p);
      // Exporters rarely declare the types inside bodies: infer them with the same rules as the main graph.
      const inferred = this.inferBodyNode(p, inputs);
      node.outputs = p.output.map((o, i) => {
        if (!o) return -1;
        const v = define(o, "intermediate", mergeTypes(types.get(o), inferred.types[i]), id);
        const known = inferred.values?.[i];
        if (known) this.knownValues.set(v, known);
        return v;
      });
      for (const v of [...inputs, ...implicit]) if (v >= firstLocal) this.values[v]!.consumers.push(id);
      cur.nodes.push(id);
      this.queueBody(id, p, b.depth + 1, scope);
    });
    for (const o of outputs) {
      const v = local.get(o) ?? lookup(o);
      this.values[v]!.exits = true;
    }
  }

  /** Output types of one body node from the shape rules, its inputs' types known so far. */
  private inferBodyNode(p: NodeProto, inputs: number[]): { types: (TensorType | undefined)[]; values?: (KnownValue | undefined)[] } {
    const rule = ruleFor(p.domain === "ai.onnx" ? "" : p.domain, p.opType);
    if (!rule) return { types: [] };
    const type = (i: number) => (inputs[i] !== undefined && inputs[i]! >= 0 ? this.valueTypes.get(inputs[i]!) : undefined);
    // The rules read a node's op type, inputs and outputs; a body node is not in the Graph, so a stand-in.
    const node = { index: -1, name: p.name, opType: p.opType, domain: p.domain, inputs: p.input, outputs: p.output, proto: p, implicitInputs: [] } as unknown as Node;
    try {
      return rule({
        node,
        proto: p,
        opset: this.graph.opset(p.domain === "ai.onnx" ? "" : p.domain),
        inputCount: p.input.length,
        has: (i) => !!p.input[i],
        type,
        shape: (i) => type(i)?.shape,
        dtype: (i) => type(i)?.dataType,
        value: (i) => (inputs[i] !== undefined && inputs[i]! >= 0 ? this.knownValues.get(inputs[i]!) : undefined),
      });
    } catch {
      // Inconsistent shapes in a body: leave them unknown, as the main graph's inference would.
      return { types: [] };
    }
  }

  // ---- freezing ----------------------------------------------------------------------------

  private freeze(): IxGroup[] {
    // Live groups in preorder from the root (bodies under their owner's group): parents before children.
    const live: TGroup[] = [];
    const visit = (t: TGroup): void => {
      live.push(t);
      for (const c of t.groups) visit(c);
      for (const id of t.nodes) {
        const body = this.nodes[id]!.body;
        if (body !== undefined) visit(this.tgroups[body]!);
      }
    };
    visit(this.tgroups[0]!);
    const newId = new Map<TGroup, number>();
    live.forEach((t, i) => newId.set(t, i));
    const remap = new Map<number, number>();
    for (const t of live) remap.set(t.id, newId.get(t)!);
    for (const n of this.nodes) n.group = remap.get(n.group) ?? 0;
    const out: IxGroup[] = live.map((t) => ({
      label: t.label,
      kind: t.kind,
      parent: t.parent ? newId.get(t.parent)! : -1,
      owner: t.owner,
      module: t.module,
      aliases: t.aliases.length ? t.aliases : undefined,
      className: t.className,
      children: [],
      summary: { nodes: 0, folded: 0, ops: [] },
      order: 0,
    }));
    for (const n of this.nodes) if (n.body !== undefined) n.body = remap.get(n.body);
    // Children in topological order; summaries bottom-up (children are created after parents).
    const hasMetrics = !!this.opts.metrics;
    const opCounts: Map<string, number>[] = out.map(() => new Map());
    for (let i = live.length - 1; i >= 0; i--) {
      const t = live[i]!;
      const g = out[i]!;
      const items: { id: string; order: number }[] = [];
      for (const c of t.groups) {
        const ci = newId.get(c)!;
        items.push({ id: groupId(ci), order: out[ci]!.order });
      }
      let order = Infinity;
      const ops = opCounts[i]!;
      let params = 0, macs = 0, unknown = 0;
      for (const id of t.nodes) {
        const n = this.nodes[id]!;
        if (n.folded) {
          g.summary.folded++;
          continue;
        }
        items.push({ id: nodeId(id), order: n.order });
        order = Math.min(order, n.order);
        if (n.kind !== "node") continue;
        g.summary.nodes++;
        ops.set(n.op, (ops.get(n.op) ?? 0) + 1);
        params += n.params ?? 0;
        macs += n.macs ?? 0;
        if (n.macsUnknown) unknown++;
      }
      for (const c of t.groups) {
        const ci = newId.get(c)!;
        const cs = out[ci]!.summary;
        g.summary.nodes += cs.nodes;
        g.summary.folded += cs.folded;
        params += cs.params ?? 0;
        macs += cs.macs ?? 0;
        unknown += cs.macsUnknown ?? 0;
        for (const [op, k] of opCounts[ci]!) ops.set(op, (ops.get(op) ?? 0) + k);
        order = Math.min(order, out[ci]!.order);
      }
      items.sort((a, b) => a.order - b.order);
      g.children = items.map((x) => x.id);
      g.order = order;
      g.summary.ops = [...ops].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1));
      if (hasMetrics && t.kind !== "function" && t.kind !== "subgraph") {
        g.summary.params = params;
        g.summary.macs = macs;
        if (unknown) g.summary.macsUnknown = unknown;
      }
    }
    return out;
  }
}

/** A node's name without its scope, or undefined when it only repeats the op ("Conv", "Conv_12"). */
export function shortName(name: string, op: string): string {
  const base = name.slice(name.lastIndexOf("/") + 1) || name;
  const bare = op.includes("::") ? op.slice(op.indexOf("::") + 2) : op;
  if (base === bare || new RegExp(`^${bare}_\\d+$`).test(base)) return op;
  return base;
}

/**
 * The type of a body's k-th formal input (of `count`) as the calling node implies it: a function's
 * inputs are the call's; a Loop body gets (iteration int64 scalar, condition bool scalar, the loop-carried
 * values); a Scan body gets its state values, then one slice of each scanned input (the scan axis dropped).
 */
function bodyInputType(op: string, proto: NodeProto | undefined, attr: string, k: number, count: number, callInput: (i: number) => TensorType | undefined): TensorType | undefined {
  if (op === "Loop" && attr === "body") {
    if (k === 0) return { dataType: DataType.INT64, shape: [] };
    if (k === 1) return { dataType: DataType.BOOL, shape: [] };
    return callInput(k);
  }
  if (op === "Scan" && attr === "body" && proto) {
    const m = Number(proto.attribute.find((a) => a.name === "num_scan_inputs")?.i ?? 0);
    const n = count - m;
    if (k < n) return callInput(k);
    const t = callInput(k);
    if (!t?.shape) return t ? { dataType: t.dataType, shape: undefined } : undefined;
    const axes = proto.attribute.find((a) => a.name === "scan_input_axes")?.ints.map(Number) ?? [];
    const axis = axes[k - n] ?? 0;
    const ax = axis < 0 ? axis + t.shape.length : axis;
    return { dataType: t.dataType, shape: t.shape.filter((_, i) => i !== ax) };
  }
  if (op === "If") return undefined;
  // A local function call: formal input k is the call's input k.
  return proto && !proto.attribute.some((a) => a.g || a.graphs.length) ? callInput(k) : undefined;
}

/** Declared and inferred views of one type: known dims win, numbers beat symbols. */
function mergeTypes(a: TensorType | undefined, b: TensorType | undefined): TensorType | undefined {
  if (!a) return b;
  if (!b) return a;
  if (!a.shape) return { dataType: a.dataType || b.dataType, shape: b.shape };
  if (!b.shape || b.shape.length !== a.shape.length) return { dataType: a.dataType || b.dataType, shape: a.shape };
  return { dataType: a.dataType || b.dataType, shape: a.shape.map((d, i) => (typeof d === "number" ? d : typeof b.shape![i] === "number" ? b.shape![i] : (d ?? b.shape![i]))) };
}

function jsonShape(t: TensorType | undefined): JsonDim[] | null {
  if (!t?.shape) return null;
  return t.shape.map((d) => (d === undefined ? null : d));
}

function weightType(g: Graph, name: string): TensorType | undefined {
  const w = g.weight(name);
  return w ? { dataType: w.dataType, shape: tensorDims(w) } : undefined;
}
