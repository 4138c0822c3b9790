/**
 * ExplorerSession answers the webview's questions (ExplorerApi) from an explorer index: one group's
 * view at a time (children, edges between them and across the border, skip connections), node details,
 * search, locating an item, overlays. Pure: the same code serves a VS Code webview from the extension
 * host and runs inside the standalone HTML report.
 */
import type { ExplorerIndex, IxNode, IxValue } from "./explorerIndex.ts";
import { groupId, nodeId, parseItemId } from "./explorerIndex.ts";
import { formatShape } from "./format.ts";
import { ResolvedOverlay, Resolver } from "./overlays.ts";
import {
  BOUNDARY_IN,
  BOUNDARY_OUT,
  type AttributeInfo,
  type ExplorerApi,
  type GroupView,
  type ItemId,
  type Location,
  type ModelInfo,
  type NodeDetails,
  type OverlayInfo,
  type OverlayInput,
  type OverlayMatrix,
  type OverlayMembers,
  type OverlayValues,
  type PathEntry,
  type SearchHit,
  type SearchResult,
  type TensorInfo,
  type TensorStats,
  type ViewEdge,
  type ViewItem,
} from "./types.ts";

/** `signal`: aborted when the webview cancels the request (a big tensor's statistics are then abandoned). */
export type StatsProvider = (tensor: string, bins: number, signal?: AbortSignal) => TensorStats | Promise<TensorStats>;

export interface SessionOptions {
  /** Computes statistics of stored weights (host side); absent: tensorStats fails with a clear message. */
  stats?: StatsProvider;
  overlays?: OverlayInput[];
  /** Attributes of a node when the index was built without them (host side, from the protos). */
  attributes?: (node: number) => AttributeInfo[];
}

const MAX_EDGE_TENSORS = 8;
const MAX_CONSUMERS = 32;

export class ExplorerSession implements ExplorerApi {
  private readonly r: Resolver;
  private readonly views = new Map<number, GroupView>();
  private overlays = new Map<string, ResolvedOverlay>();
  private readonly lowerNames: string[];
  private readonly lowerValues: string[];
  private stats: StatsProvider | undefined;
  private readonly attributes: ((node: number) => AttributeInfo[]) | undefined;

  constructor(
    readonly index: ExplorerIndex,
    opts: SessionOptions = {},
  ) {
    this.r = new Resolver(index);
    this.stats = opts.stats;
    this.attributes = opts.attributes;
    this.lowerNames = index.nodes.map((n) => n.name.toLowerCase());
    this.lowerValues = index.values.map((v) => v.name.toLowerCase());
    if (opts.overlays) this.setOverlays(opts.overlays);
  }

  /** Replaces the overlays (e.g. when a pruning plan is written); returns what the webview should know. */
  setOverlays(overlays: readonly OverlayInput[]): OverlayInfo[] {
    const next = new Map<string, ResolvedOverlay>();
    for (const o of overlays) next.set(o.id, new ResolvedOverlay(o, this.r));
    this.overlays = next;
    return this.overlayInfos();
  }

  overlayInfos(): OverlayInfo[] {
    return [...this.overlays.values()].map((o) => o.info);
  }

  model(p: { withRoot?: boolean } = {}): ModelInfo {
    const { info, groups } = this.index;
    const m: ModelInfo = {
      name: info.name,
      producer: info.producer,
      irVersion: info.irVersion,
      opsets: info.opsets,
      nodeCount: info.nodeCount,
      totalNodes: info.totalNodes,
      groupCount: groups.length,
      inputs: info.inputs.map((n) => this.tensorInfo(this.index.nodes[n]!.outputs[0]!)),
      outputs: info.outputs.map((n) => this.tensorInfo(this.index.nodes[n]!.inputs[0]!)),
      params: info.params,
      macs: info.macs,
      macsUnknown: info.macsUnknown,
      metricsApproximate: info.metricsApproximate,
      root: groupId(0),
      hierarchy: info.hierarchy,
      overlays: this.overlayInfos(),
      stats: !!this.stats,
    };
    if (p.withRoot) m.rootView = this.group({ id: m.root });
    return m;
  }

  // ---- group views --------------------------------------------------------------------------

  group(p: { id: ItemId }): GroupView {
    const g = this.groupIndexOf(p.id);
    let view = this.views.get(g);
    if (!view) {
      view = this.buildView(g);
      this.views.set(g, view);
    }
    return view;
  }

  /** A group id, or an expandable node's body. */
  private groupIndexOf(id: ItemId): number {
    const parsed = parseItemId(id);
    if (parsed?.group && parsed.index < this.index.groups.length) return parsed.index;
    if (parsed && !parsed.group) {
      const body = this.index.nodes[parsed.index]?.body;
      if (body !== undefined) return body;
      if (parsed.index < this.index.nodes.length) throw new Error(`node '${id}' (${this.index.nodes[parsed.index]!.name}) has no body to expand`);
    }
    throw new Error(`unknown group '${id}'`);
  }

  private buildView(gi: number): GroupView {
    const { nodes, values, groups } = this.index;
    const g = groups[gi]!;
    // Which child holds each displayed node of the subtree (bodies excluded: they are separate views).
    const childOf = new Map<number, number>();
    const collect = (grp: number, child: number): void => {
      for (const c of groups[grp]!.children) {
        const it = parseItemId(c)!;
        if (it.group) collect(it.index, child);
        else childOf.set(it.index, child);
      }
    };
    const items: ViewItem[] = g.children.map((c, i) => {
      const it = parseItemId(c)!;
      if (it.group) {
        collect(it.index, i);
        return this.groupItem(it.index);
      }
      childOf.set(it.index, i);
      return this.nodeItem(it.index);
    });

    const edges = new Map<string, { from: number; to: number; tensors: string[]; count: number; shape?: string }>();
    const addEdge = (from: number, to: number, v: IxValue) => {
      const key = `${from}>${to}`;
      let e = edges.get(key);
      if (!e) edges.set(key, (e = { from, to, tensors: [], count: 0, shape: v.shape ? formatShape(v.shape) : undefined }));
      if (e.tensors.includes(v.name)) return;
      e.count++;
      if (e.tensors.length < MAX_EDGE_TENSORS) e.tensors.push(v.name);
    };
    const IN = -1, OUT = -2;
    for (const [n, i] of childOf) {
      const node = nodes[n]!;
      if (node.folded) continue;
      for (const vId of node.outputs) {
        if (vId < 0) continue;
        const v = values[vId]!;
        let leaves = v.exits === true;
        for (const c of v.consumers) {
          // Folded readers (shape arithmetic) are not data flow.
          if (nodes[c]!.folded) continue;
          const j = childOf.get(c);
          if (j === undefined) leaves = true;
          else if (j !== i) addEdge(i, j, v);
        }
        if (leaves && gi !== 0) addEdge(i, OUT, v);
      }
      if (gi === 0) continue;
      for (const vId of [...node.inputs, ...(node.implicit ?? [])]) {
        if (vId < 0) continue;
        const v = values[vId]!;
        if (v.kind === "initializer") continue;
        if (v.producer >= 0 && (nodes[v.producer]!.folded || childOf.has(v.producer))) continue;
        addEdge(IN, i, v);
      }
    }
    // Boundary points take part as two extra items, so a block's residual input (border → Add) is a skip too.
    const n = items.length;
    const at = (i: number) => (i === IN ? n : i === OUT ? n + 1 : i);
    const skip = skipEdges(n + 2, [...edges.values()].map((e) => ({ from: at(e.from), to: at(e.to) })));
    const viewEdges: ViewEdge[] = [...edges.values()].map((e, k) => ({
      id: `e${k}`,
      from: e.from === IN ? BOUNDARY_IN : items[e.from]!.id,
      to: e.to === OUT ? BOUNDARY_OUT : items[e.to]!.id,
      tensors: e.tensors,
      count: e.count,
      shape: e.shape,
      skip: skip.has(`${at(e.from)}>${at(e.to)}`),
    }));
    return {
      id: groupId(gi),
      label: g.label,
      kind: g.kind,
      className: g.className,
      module: g.module,
      path: this.pathOfGroup(gi),
      summary: g.summary,
      items,
      edges: viewEdges,
    };
  }

  private groupItem(gi: number): ViewItem {
    const g = this.index.groups[gi]!;
    return { id: groupId(gi), kind: "group", label: g.label, className: g.className, summary: g.summary, expandable: true };
  }

  private nodeItem(n: number): ViewItem {
    const node = this.index.nodes[n]!;
    const firstOut = node.kind === "output" ? node.inputs[0] : node.outputs.find((v) => v >= 0);
    const shape = firstOut !== undefined && firstOut >= 0 ? this.index.values[firstOut]!.shape : null;
    const item: ViewItem = {
      id: nodeId(n),
      kind: node.kind,
      label: node.kind === "node" ? (node.label ?? shortLabel(node)) : node.name,
      op: node.op,
      detail: formatShape(shape) || undefined,
      expandable: node.body !== undefined,
    };
    if (node.params !== undefined) item.params = node.params;
    if (node.macs !== undefined) item.macs = node.macs;
    if (node.macsUnknown) item.macsUnknown = true;
    if (node.body !== undefined) item.body = groupId(node.body);
    if (node.body !== undefined) item.className = this.index.groups[node.body]!.className;
    return item;
  }

  /** Ancestors of a group as path entries, root first, excluding the group. */
  private pathOfGroup(gi: number): PathEntry[] {
    return this.r
      .ancestorsOfGroup(gi)
      .reverse()
      .map((a) => this.entry(a));
  }

  private entry(gi: number): PathEntry {
    const g = this.index.groups[gi]!;
    return g.owner !== undefined ? { id: nodeId(g.owner), label: g.label } : { id: groupId(gi), label: g.label };
  }

  // ---- details ------------------------------------------------------------------------------

  node(p: { id: ItemId }): NodeDetails {
    const parsed = parseItemId(p.id);
    const node = parsed && !parsed.group ? this.index.nodes[parsed.index] : undefined;
    if (!parsed || !node) throw new Error(`unknown node '${p.id}'`);
    const gi = node.group;
    return {
      id: p.id,
      name: node.name,
      op: node.op,
      domain: node.domain,
      kind: node.kind,
      group: this.entry(gi).id,
      path: [...this.pathOfGroup(gi), this.entry(gi)].slice(1),
      module: node.module,
      classes: node.classes,
      docString: node.doc,
      attributes: node.attrs.length || !this.attributes ? node.attrs : this.attributes(parsed.index),
      inputs: node.inputs.map((v) => this.tensorInfo(v)),
      outputs: node.outputs.map((v) => this.tensorInfo(v)),
      metadata: node.meta ?? [],
      params: node.params,
      macs: node.macs,
      macsUnknown: node.macsUnknown,
      folded: !!node.folded,
      foldedAs: node.foldedAs,
      shownAs: node.folded && node.shownAs !== undefined ? nodeId(node.shownAs) : undefined,
      body: node.body !== undefined ? groupId(node.body) : undefined,
    };
  }

  private tensorInfo(vId: number): TensorInfo {
    if (vId < 0) return { name: "", dataType: "", shape: null, kind: "omitted", hasData: false };
    const v = this.index.values[vId]!;
    const consumers = v.consumers.filter((c) => this.index.nodes[c]!.kind !== "output");
    const isOutput = consumers.length !== v.consumers.length;
    return {
      name: v.name,
      dataType: v.dataType,
      shape: v.shape,
      kind: isOutput ? "output" : v.kind,
      producer: v.producer >= 0 ? nodeId(v.producer) : undefined,
      consumers: consumers.slice(0, MAX_CONSUMERS).map(nodeId),
      consumerCount: consumers.length,
      hasData: !!v.hasData && !!this.stats,
    };
  }

  async tensorStats(p: { name: string; bins?: number }, signal?: AbortSignal): Promise<TensorStats> {
    if (!this.stats) throw new Error(`statistics of '${p.name}' are not available in this view (no weights on the host)`);
    const bins = Math.max(1, Math.min(512, Math.floor(p.bins ?? 40)));
    return this.stats(p.name, bins, signal);
  }

  // ---- search and locate --------------------------------------------------------------------

  search(p: { query: string; limit?: number }): SearchResult {
    const limit = Math.max(1, Math.min(1000, p.limit ?? 100));
    const raw = p.query.trim();
    if (!raw) return { query: p.query, hits: [], total: 0 };
    const m = /^(op|tensor|name|module):\s*(.*)$/i.exec(raw);
    const field = m ? m[1]!.toLowerCase() : undefined;
    const q = (m ? m[2]! : raw).toLowerCase();
    if (!q) return { query: p.query, hits: [], total: 0 };
    const scored: { score: number; order: number; hit: SearchHit }[] = [];
    const { nodes, values, groups } = this.index;
    if (!field || field === "name" || field === "op")
      nodes.forEach((n, i) => {
        let score = -1;
        let matched: SearchHit["matched"] = "name";
        if (field !== "op") {
          const name = this.lowerNames[i]!;
          if (name === q) score = 0;
          else if (name.endsWith("/" + q) || name.startsWith(q)) score = 2;
          else if (name.includes(q)) score = 4;
        }
        if (score < 0 && field !== "name" && n.op.toLowerCase() === q) {
          score = 1;
          matched = "op";
        }
        if (score >= 0) scored.push({ score, order: n.order, hit: this.hit(i, matched) });
      });
    if (!field || field === "tensor")
      values.forEach((v, i) => {
        const name = this.lowerValues[i]!;
        const score = name === q ? 3 : name.includes(q) ? 5 : -1;
        if (score < 0) return;
        const holder = v.producer >= 0 ? v.producer : v.consumers[0];
        if (holder === undefined) return;
        // Skip tensors whose holder is already a name hit for the same text.
        scored.push({ score, order: nodes[holder]!.order, hit: { ...this.hit(holder, "tensor"), tensor: v.name } });
      });
    if (!field || field === "module")
      groups.forEach((g, i) => {
        if (g.kind !== "scope") return;
        const mod = g.module.toLowerCase();
        const score = mod === q ? 0 : mod.includes(q) || g.label.toLowerCase().includes(q) ? 6 : -1;
        if (score < 0) return;
        scored.push({
          score,
          order: g.order,
          hit: { id: groupId(i), name: g.module || g.label, op: g.className ?? "module", matched: "module", where: this.whereText(g.parent) },
        });
      });
    scored.sort((a, b) => a.score - b.score || a.order - b.order);
    return { query: p.query, hits: scored.slice(0, limit).map((s) => s.hit), total: scored.length };
  }

  private hit(n: number, matched: SearchHit["matched"]): SearchHit {
    const node = this.index.nodes[n]!;
    return { id: nodeId(n), name: node.name, op: node.op, matched, where: this.whereText(node.group) };
  }

  private whereText(gi: number): string {
    if (gi < 0) return "";
    const chain = [gi, ...this.r.ancestorsOfGroup(gi)].reverse().slice(1);
    return chain.map((a) => this.index.groups[a]!.label).join(" › ");
  }

  locate(p: { id?: ItemId; name?: string; module?: string; tensor?: string }): Location {
    let target: { node?: number; group?: number } | undefined;
    if (p.id) {
      const parsed = parseItemId(p.id);
      if (parsed?.group && parsed.index < this.index.groups.length) target = { group: parsed.index };
      else if (parsed && !parsed.group && parsed.index < this.index.nodes.length) target = { node: parsed.index };
    } else if (p.name !== undefined) {
      const n = this.r.nodeByName.get(p.name);
      if (n !== undefined) target = { node: n };
    } else if (p.module !== undefined) {
      const g = this.r.groupByModule.get(p.module);
      if (g !== undefined) target = { group: g };
      else {
        // A module that became a single node (inlined scope): find a node of that module.
        const n = this.index.nodes.findIndex((x) => x.module === p.module && !x.folded);
        if (n >= 0) target = { node: n };
      }
    } else if (p.tensor !== undefined) {
      const v = this.index.values.find((x) => x.name === p.tensor);
      const holder = v ? (v.producer >= 0 ? v.producer : v.consumers[0]) : undefined;
      if (holder !== undefined) target = { node: holder };
    }
    const what = p.id ?? p.name ?? p.module ?? p.tensor ?? "";
    if (!target) throw new Error(`nothing named '${what}' in this model`);
    if (target.group !== undefined) {
      const gi = target.group;
      const g = this.index.groups[gi]!;
      const id = this.entry(gi).id;
      if (gi === 0) return { id, shownAs: id, ancestors: [] };
      return { id, shownAs: id, ancestors: this.expandChain(g.parent) };
    }
    const n = target.node!;
    const shown = this.r.drawn(n);
    return { id: nodeId(n), shownAs: nodeId(shown), ancestors: this.expandChain(this.index.nodes[shown]!.group) };
  }

  /** Items to expand so that group `gi`'s children are visible, root first. */
  private expandChain(gi: number): ItemId[] {
    return [gi, ...this.r.ancestorsOfGroup(gi)]
      .filter((g) => g !== 0)
      .reverse()
      .map((g) => this.entry(g).id);
  }

  // ---- overlays -----------------------------------------------------------------------------

  private overlay(id: string): ResolvedOverlay {
    const o = this.overlays.get(id);
    if (!o) throw new Error(`no overlay '${id}'`);
    return o;
  }

  overlayValues(p: { overlay: string; group: ItemId }): OverlayValues {
    const o = this.overlay(p.overlay);
    const view = this.group({ id: p.group });
    const items = view.items.map((it) => {
      const parsed = parseItemId(it.id)!;
      return parsed.group ? o.itemValue(it.id, parsed.index, undefined) : o.itemValue(it.id, undefined, parsed.index);
    });
    return { overlay: p.overlay, group: view.id, items };
  }

  overlayMembers(p: { overlay: string; key: string }): OverlayMembers {
    return this.overlay(p.overlay).members(p.key);
  }

  overlayMatrix(p: { overlay: string }): OverlayMatrix {
    return this.overlay(p.overlay).matrix();
  }
}

function shortLabel(node: IxNode): string {
  const base = node.name.slice(node.name.lastIndexOf("/") + 1) || node.name;
  const bare = node.op.includes("::") ? node.op.slice(node.op.indexOf("::") + 2) : node.op;
  if (base === bare || (base.startsWith(bare + "_") && /^\d+$/.test(base.slice(bare.length + 1)))) return node.op;
  return base;
}

/**
 * Edges a→b for which b is also reachable from a through other items: residual and skip connections
 * at this level. Reachability by DFS per item (groups have at most a few hundred items).
 */
function skipEdges(n: number, edges: readonly { from: number; to: number }[]): Set<string> {
  const out = new Set<string>();
  const succ: number[][] = Array.from({ length: n }, () => []);
  for (const e of edges) succ[e.from]!.push(e.to);
  const seen = new Int32Array(n).fill(-1);
  for (let a = 0; a < n; a++) {
    const direct = new Set(succ[a]);
    if (direct.size < 2) continue;
    // Everything reachable from a's successors by paths of length ≥ 1.
    const stack: number[] = [];
    for (const s of succ[a]!) for (const t of succ[s]!) stack.push(t);
    const reach = new Set<number>();
    while (stack.length) {
      const x = stack.pop()!;
      if (seen[x] === a) continue;
      seen[x] = a;
      reach.add(x);
      for (const y of succ[x]!) stack.push(y);
    }
    for (const b of direct) if (reach.has(b)) out.add(`${a}>${b}`);
  }
  return out;
}
