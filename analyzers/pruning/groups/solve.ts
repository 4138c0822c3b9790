/**
 * Turns recorded relations into groups.
 *
 * 1. Spaces joined by `same` form classes (one union-find over spaces); a class shares one set of
 *    indices ("elements").
 * 2. Elements are joined by `link` (a second union-find), and `factor` gives an element a *term*: the
 *    tuple of digit elements it is made of (flat index h·64+d of a projection = (head h, dim d)).
 *    Joining two elements that both have terms joins their digits pairwise (unification), so Q's and
 *    K's heads meet through Q·Kᵀ without ever coupling a head with a dim.
 * 3. A *unit* is a root element without a term (a leaf). An index of any space resolves to the leaves
 *    it is made of; removing any of them removes the index.
 * 4. Units are grouped where they sit side by side in one producer's output or one factor's digit,
 *    which keeps concatenated producers apart (each its own group) and splits heads from head-dims.
 *    Only groups that reach a producer are groups.
 * 5. Frozen marks resolve to units; a unit that alone covers a whole axis is frozen too (removing it
 *    would leave the axis empty).
 */
import type { Graph } from "../../graph/graph.ts";
import { weightSource, type Metrics } from "../../graph/metrics.ts";
import { DataType } from "../../onnx/dtypes.ts";
import { tensorDims } from "../../onnx/tensor.ts";
import type {
  AxisRef,
  CostModel,
  FrozenChannels,
  Group,
  GroupAnalysis,
  IndexMap,
  Member,
  MemberRole,
  ModelFingerprint,
  Rewrite,
  UnitKind,
} from "../types.ts";
import type { Reason, Relations, SpaceId } from "./relations.ts";

const FLOAT_TYPES = new Set<number>([DataType.FLOAT, DataType.DOUBLE, DataType.FLOAT16, DataType.BFLOAT16]);

class UnionFind {
  readonly parent: Int32Array;
  private readonly rank: Uint8Array;
  constructor(n: number) {
    this.parent = new Int32Array(n);
    for (let i = 0; i < n; i++) this.parent[i] = i;
    this.rank = new Uint8Array(n);
  }
  find(x: number): number {
    const p = this.parent;
    let r = x;
    while (p[r] !== r) r = p[r]!;
    while (p[x] !== r) {
      const n = p[x]!;
      p[x] = r;
      x = n;
    }
    return r;
  }
  /** Returns the new root (or -1 when already joined). */
  union(a: number, b: number): number {
    let ra = this.find(a), rb = this.find(b);
    if (ra === rb) return -1;
    if (this.rank[ra]! < this.rank[rb]!) [ra, rb] = [rb, ra];
    this.parent[rb] = ra;
    if (this.rank[ra] === this.rank[rb]) this.rank[ra]!++;
    return ra;
  }
}

export interface SolveInput {
  rel: Relations;
  graph: Graph;
  metrics: Metrics;
  fingerprint: ModelFingerprint;
  started: number;
}

export function solve({ rel, graph, metrics, fingerprint, started }: SolveInput): GroupAnalysis {
  const spaces = rel.spaces;
  const S = spaces.length;
  const extraFreezes: { space: SpaceId; reason: Reason }[] = [];

  // ---- 1. classes of spaces ------------------------------------------------------------------
  const uf1 = new UnionFind(S);
  for (let k = 0; k < rel.sames.length; k += 2) {
    const a = rel.sames[k]!, b = rel.sames[k + 1]!;
    const sa = spaces[a]!.size, sb = spaces[b]!.size;
    if (sa === sb || (Number.isNaN(sa) && Number.isNaN(sb))) uf1.union(a, b);
    else {
      const reason: Reason = Number.isNaN(sa) || Number.isNaN(sb)
        ? { kind: "unknown shape", text: `'${spaces[Number.isNaN(sa) ? a : b]!.tensor}' has an unknown size where '${spaces[Number.isNaN(sa) ? b : a]!.tensor}' has ${Number.isNaN(sa) ? sb : sa}` }
        : { kind: "shape conflict", text: `'${spaces[a]!.tensor}' axis ${spaces[a]!.axis} (${sa}) meets '${spaces[b]!.tensor}' axis ${spaces[b]!.axis} (${sb})` };
      extraFreezes.push({ space: a, reason }, { space: b, reason });
    }
  }
  const cls = new Int32Array(S);
  for (let s = 0; s < S; s++) cls[s] = uf1.find(s);
  const classSize = (c: number) => spaces[c]!.size;

  // ---- 2. which classes need elements ----------------------------------------------------------
  const relevant = new Uint8Array(S);
  const mark = (s: SpaceId) => {
    const c = cls[s]!;
    if (Number.isFinite(classSize(c)) && classSize(c) > 0) relevant[c] = 1;
  };
  for (let s = 0; s < S; s++) if (spaces[s]!.kind !== "activation") mark(s);
  for (const p of rel.producers) mark(p);
  for (const l of rel.links) mark(l.a), mark(l.b);
  for (const f of rel.factors) {
    mark(f.flat);
    for (const p of f.parts) mark(p);
  }
  const base = new Int32Array(S).fill(-1);
  const classes: number[] = [];
  let total = 0;
  for (let c = 0; c < S; c++) {
    if (cls[c] !== c || !relevant[c]) continue;
    base[c] = total;
    classes.push(c);
    total += classSize(c);
  }
  const elem = (s: SpaceId, i: number) => base[cls[s]!]! + i;
  const hasElems = (s: SpaceId) => base[cls[s]!]! >= 0;

  // ---- 3. elements: links and terms ------------------------------------------------------------
  const uf = new UnionFind(total);
  const terms = new Map<number, Int32Array>();
  const conflicts: [number, number][] = [];
  const work: number[] = [];
  const drain = () => {
    while (work.length) {
      const y = work.pop()!, x = work.pop()!;
      const rx = uf.find(x), ry = uf.find(y);
      if (rx === ry) continue;
      const tx = terms.get(rx), ty = terms.get(ry);
      const r = uf.union(rx, ry);
      const other = r === rx ? ry : rx;
      terms.delete(other);
      if (tx && ty) {
        terms.set(r, tx);
        if (tx.length === ty.length) for (let k = 0; k < tx.length; k++) work.push(tx[k]!, ty[k]!);
        else conflicts.push([x, y]);
      } else if (tx || ty) terms.set(r, (tx ?? ty)!);
    }
  };
  const partLabel = new Map<number, string>();
  /** Unit-kind label of the factor part each element came from (resolved per root after unification). */
  const elemLabel = new Map<number, string>();
  for (const f of rel.factors) {
    if (!hasElems(f.flat) || f.parts.some((p) => !hasElems(p))) continue;
    const radices = f.parts.map((p) => spaces[p]!.size);
    const n = spaces[f.flat]!.size;
    f.parts.forEach((p, k) => {
      if (!partLabel.has(cls[p]!)) partLabel.set(cls[p]!, f.labels[k]!);
    });
    const digits = new Array<number>(radices.length);
    for (let i = 0; i < n; i++) {
      let rem = i;
      for (let d = radices.length - 1; d >= 0; d--) {
        digits[d] = rem % radices[d]!;
        rem = Math.floor(rem / radices[d]!);
      }
      const t = new Int32Array(radices.length);
      for (let d = 0; d < radices.length; d++) {
        t[d] = elem(f.parts[d]!, digits[d]!);
        if (!elemLabel.has(t[d]!)) elemLabel.set(t[d]!, f.labels[d]!);
      }
      const x = elem(f.flat, i);
      const rx = uf.find(x);
      const tx = terms.get(rx);
      if (!tx) terms.set(rx, t);
      else if (tx.length === t.length) {
        for (let k = 0; k < t.length; k++) work.push(tx[k]!, t[k]!);
        drain();
      } else conflicts.push([x, x]);
    }
  }
  for (const l of rel.links) {
    if (!hasElems(l.a) || !hasElems(l.b)) continue;
    const na = spaces[l.a]!.size, nb = spaces[l.b]!.size;
    for (let k = 0; k < l.ia.length; k++) {
      const i = l.ia[k]!, j = l.ib[k]!;
      if (i < 0 || i >= na || j < 0 || j >= nb) continue;
      work.push(elem(l.a, i), elem(l.b, j));
    }
    drain();
  }

  // ---- 4. resolution: element → leaves ---------------------------------------------------------
  const rootOf = new Int32Array(total);
  for (let e = 0; e < total; e++) rootOf[e] = uf.find(e);
  const hasTerm = new Uint8Array(total);
  for (const r of terms.keys()) hasTerm[r] = 1;
  // Leaves of composite roots, memoised by position (no Map on the hot path).
  const memoAt = new Int32Array(total);
  const memoList: Int32Array[] = [];
  const cyclic = new Set<number>();
  const resolving = new Set<number>();
  /** Leaves of a root that has a term (composite index). */
  const expand = (r: number): Int32Array => {
    const at = memoAt[r]!;
    if (at) return memoList[at - 1]!;
    let out: Int32Array;
    if (resolving.has(r)) {
      cyclic.add(r);
      out = Int32Array.of(r);
    } else {
      resolving.add(r);
      const parts: number[] = [];
      for (const c of terms.get(r)!) {
        const rc = rootOf[c]!;
        if (!hasTerm[rc]) parts.push(rc);
        else for (const l of expand(rc)) parts.push(l);
      }
      resolving.delete(r);
      out = Int32Array.from(parts);
    }
    memoAt[r] = memoList.push(out);
    return out;
  };
  /** Calls f for every leaf of element e. */
  const eachLeaf = (e: number, f: (leaf: number) => void) => {
    const r = rootOf[e]!;
    if (!hasTerm[r]) f(r);
    else for (const l of expand(r)) f(l);
  };

  const rootLabel = new Map<number, string>();
  for (const [e, l] of elemLabel) {
    const r = rootOf[e]!;
    const cur = rootLabel.get(r);
    if (cur === undefined || cur === "channel" || (cur === "reshape" && l !== "channel")) rootLabel.set(r, l);
  }

  // ---- 5. frozen units -------------------------------------------------------------------------
  const reasons: Reason[] = [];
  const frozenOf = new Int32Array(total).fill(-1);
  const freezeElem = (e: number, ri: number) => {
    const r = rootOf[e]!;
    if (!hasTerm[r]) {
      if (frozenOf[r]! < 0) frozenOf[r] = ri;
    } else for (const l of expand(r)) if (frozenOf[l]! < 0) frozenOf[l] = ri;
  };
  for (const f of [...rel.freezes, ...extraFreezes] as { space: SpaceId; reason: Reason; indices?: readonly number[] }[]) {
    if (!hasElems(f.space)) continue;
    const ri = reasons.push(f.reason) - 1;
    const n = spaces[f.space]!.size;
    const b = base[cls[f.space]!]!;
    if (f.indices) {
      for (const i of f.indices) if (i >= 0 && i < n) freezeElem(b + i, ri);
    } else for (let i = 0; i < n; i++) freezeElem(b + i, ri);
  }
  if (conflicts.length) {
    const ri = reasons.push({ kind: "reshape", text: "incompatible reshapes of the same channels" }) - 1;
    for (const [x, y] of conflicts) freezeElem(x, ri), freezeElem(y, ri);
  }
  if (cyclic.size) {
    const ri = reasons.push({ kind: "reshape", text: "a reshape maps channels onto themselves" }) - 1;
    for (const r of cyclic) frozenOf[r] = ri;
  }
  const firstSpace = new Map<number, SpaceId>();
  for (let s = 0; s < S; s++) if (hasElems(s) && !firstSpace.has(cls[s]!)) firstSpace.set(cls[s]!, s);
  // A unit present in every index of an axis would empty it.
  for (const c of classes) {
    const n = classSize(c), b = base[c]!;
    const cand: number[] = [];
    eachLeaf(b, (l) => cand.push(l));
    for (const l of cand) {
      let all = true;
      for (let i = 1; i < n && all; i++) {
        const r = rootOf[b + i]!;
        all = !hasTerm[r] ? r === l : expand(r).includes(l);
      }
      if (!all || frozenOf[l]! >= 0) continue;
      const s = firstSpace.get(c)!;
      frozenOf[l] = reasons.push({ kind: "whole axis", text: `removing it would leave '${spaces[s]!.tensor}' axis ${spaces[s]!.axis} empty` }) - 1;
    }
  }

  // ---- 6. groups of units ----------------------------------------------------------------------
  const producerClass = new Set<number>();
  for (const p of rel.producers) if (hasElems(p)) producerClass.add(cls[p]!);
  const rootInProducer = new Set<number>();
  for (const c of producerClass) for (let i = 0; i < classSize(c); i++) {
    const r = rootOf[base[c]! + i]!;
    if (!hasTerm[r]) rootInProducer.add(r);
  }
  const guf = new UnionFind(total);
  for (const c of classes) {
    // Units meet in a group where they sit side by side in one producer's output, or in one digit of a
    // factorisation (heads, conv groups); a plain channel axis that only carries others' channels
    // (a concat output) does not merge its producers.
    if (!producerClass.has(c) && !(partLabel.has(c) && partLabel.get(c) !== "channel")) continue;
    let first = -1;
    const b = base[c]!;
    for (let i = 0; i < classSize(c); i++) {
      const r = rootOf[b + i]!;
      if (hasTerm[r]) continue;
      if (first < 0) first = r;
      else guf.union(first, r);
    }
  }
  interface G {
    root: number;
    units: number[];
    producer: SpaceId;
  }
  const groupList: G[] = [];
  const groupOfRoot = new Map<number, number>();
  const groupOfLeaf = new Int32Array(total).fill(-1);
  const unitOfLeaf = new Int32Array(total).fill(-1);
  /** Group index of a leaf (assigning it a unit); creates the group for a producer, -1 when it has none. */
  const assign = (l: number, producer: SpaceId | -1): number => {
    let gi = groupOfLeaf[l]!;
    if (gi >= 0) return gi;
    const gr = guf.find(l);
    const found = groupOfRoot.get(gr);
    if (found === undefined) {
      if (producer < 0) return -1;
      gi = groupList.push({ root: gr, units: [], producer }) - 1;
      groupOfRoot.set(gr, gi);
    } else gi = found;
    groupOfLeaf[l] = gi;
    unitOfLeaf[l] = groupList[gi]!.units.push(l) - 1;
    return gi;
  };
  const producers = [...rel.producers].filter(hasElems).sort((a, b) => a - b);
  const seenProducerClass = new Set<number>();
  for (const p of producers) {
    const c = cls[p]!;
    if (seenProducerClass.has(c)) continue;
    seenProducerClass.add(c);
    const b = base[c]!;
    for (let i = 0, n = classSize(c); i < n; i++) {
      const r = rootOf[b + i]!;
      if (!hasTerm[r]) assign(r, p);
      else for (const l of expand(r)) assign(l, p);
    }
  }

  // ---- 7. index maps, per class (every space of a class has the same indices) ------------------
  /** class → group index → [unit, index] pairs. */
  const classPairs = new Map<number, Map<number, number[]>>();
  const pairsOf = (s: SpaceId): Map<number, number[]> | undefined => {
    if (!hasElems(s)) return undefined;
    const c = cls[s]!;
    let m = classPairs.get(c);
    if (m) return m;
    m = new Map();
    const b = base[c]!;
    let lastGi = -1;
    let lastArr: number[] | undefined;
    const add = (l: number, i: number) => {
      const gi = assign(l, -1);
      if (gi < 0) return;
      if (gi !== lastGi) {
        lastArr = m!.get(gi);
        if (!lastArr) m!.set(gi, (lastArr = []));
        lastGi = gi;
      }
      lastArr!.push(unitOfLeaf[l]!, i);
    };
    for (let i = 0, n = classSize(c); i < n; i++) {
      const r = rootOf[b + i]!;
      if (!hasTerm[r]) add(r, i);
      else for (const l of expand(r)) add(l, i);
    }
    classPairs.set(c, m);
    return m;
  };
  const weightSpaces: SpaceId[] = [];
  for (let s = 0; s < S; s++) if (spaces[s]!.kind === "weight" && hasElems(s)) weightSpaces.push(s);
  for (const s of weightSpaces) pairsOf(s);
  for (const r of rel.rewrites) for (const s of r.spaces) pairsOf(s);
  for (const op of rel.macOps) for (const s of op.spaces) pairsOf(s);
  const touched = (s: SpaceId) => (hasElems(s) ? (classPairs.get(cls[s]!)?.size ?? 0) > 0 : false);
  // Pairs → IndexMap, once units are final.
  const mapCache = new Map<string, IndexMap>();
  const indexMap = (s: SpaceId, gi: number): IndexMap | undefined => {
    const c = cls[s]!;
    const key = `${c}:${gi}`;
    const hit = mapCache.get(key);
    if (hit) return hit;
    const pairs = classPairs.get(c)?.get(gi);
    if (!pairs) return undefined;
    const units = groupList[gi]!.units.length;
    const counts = new Int32Array(units + 1);
    for (let k = 0; k < pairs.length; k += 2) counts[pairs[k]! + 1]!++;
    let single = true;
    for (let u = 1; u <= units; u++) if (counts[u] !== 1) single = false;
    for (let u = 1; u <= units; u++) counts[u]! += counts[u - 1]!;
    const flat = new Array<number>(pairs.length / 2);
    const fill = counts.slice();
    for (let k = 0; k < pairs.length; k += 2) flat[fill[pairs[k]!]!++] = pairs[k + 1]!;
    // Indices of a unit ascend already (classes are scanned in index order).
    const map: IndexMap = single ? { flat } : { flat, offsets: Array.from(counts) };
    mapCache.set(key, map);
    return map;
  };
  const unitSizes = (map: IndexMap, units: number) => (u: number) => (map.offsets ? map.offsets[u + 1]! - map.offsets[u]! : u < units ? 1 : 0);

  // ---- 8. axis refs ------------------------------------------------------------------------------
  const axes: AxisRef[] = [];
  const axisOf = new Map<SpaceId, number>();
  const axisId = (s: SpaceId): number => {
    let id = axisOf.get(s);
    if (id !== undefined) return id;
    const sp = spaces[s]!;
    id = axes.length;
    const nodeName = sp.node >= 0 ? graph.nodes[sp.node]!.name : "";
    const ref: AxisRef = { id, kind: sp.kind, tensor: sp.tensor, axis: sp.axis, size: sp.size, node: nodeName };
    if (sp.alias) ref.alias = sp.alias;
    if (sp.slot !== undefined) ref.slot = sp.slot;
    axes.push(ref);
    axisOf.set(s, id);
    return id;
  };

  // ---- 9. cost model ---------------------------------------------------------------------------
  const cost: CostModel = { weights: [], ops: [] };
  for (const node of graph.nodes) {
    if (node.opType === "Identity") continue;
    const seen = new Set<string>();
    node.inputs.forEach((name, slot) => {
      if (!name) return;
      const src = weightSource(graph, name);
      if (!src || seen.has(src)) return;
      seen.add(src);
      const t = graph.weight(src)!;
      const dims = tensorDims(t);
      if (!FLOAT_TYPES.has(t.dataType) || dims.reduce((a, b) => a * b, 1) < 2) return;
      const ax = dims.map((_, d) => {
        const s = rel.lookupWeight(node.index, slot, d);
        return s !== undefined && touched(s) ? axisId(s) : -1;
      });
      cost.weights.push({ tensor: src, dims, axes: ax });
    });
  }
  // Shape-derived float values apply writes as constants (one per reader): parameters of the pruned model.
  let folded = 0;
  for (const r of rel.rewrites) {
    const n = r.kind === "fold-value" ? (r.extra as { values: number[] }).values.length : 0;
    if (n >= 2) folded += n;
  }
  if (folded) cost.foldedParams = folded;
  // A MAC factor is read from a weight member of the same class when there is one (same indices).
  const weightOfClass = new Map<number, SpaceId>();
  for (const s of weightSpaces) if (!weightOfClass.has(cls[s]!) && touched(s)) weightOfClass.set(cls[s]!, s);
  const repr = (s: SpaceId) => (hasElems(s) ? (weightOfClass.get(cls[s]!) ?? s) : s);
  const macSpaces = new Map<number, SpaceId[]>();
  for (const op of rel.macOps) macSpaces.set(op.node, (op.spaces = op.spaces.map(repr)));
  graph.nodes.forEach((node, i) => {
    const macs = metrics.perNode[i]?.macs ?? 0;
    if (macs <= 0) return;
    // Each factor counts, even when two factors are the same axis (a conv whose input and output channels are one residual stream).
    const sp = (macSpaces.get(i) ?? []).filter(touched);
    cost.ops.push({ node: node.name, macs, axes: sp.map(axisId) });
  });

  // ---- 10. JSON groups ----------------------------------------------------------------------------
  const G = groupList.length;
  const members: Member[][] = groupList.map(() => []);
  const unitParams = groupList.map((g) => new Float64Array(g.units.length));
  const unitMacs = groupList.map((g) => new Float64Array(g.units.length));
  for (const s of weightSpaces) {
    const m = classPairs.get(cls[s]!);
    if (!m || !m.size) continue;
    const sp = spaces[s]!;
    const node = graph.nodes[sp.node]!;
    const role: MemberRole = rel.roles.get(s) ?? "other";
    const per = sp.dims && FLOAT_TYPES.has(sp.dataType ?? 0) ? sp.dims.reduce((a, b) => a * b, 1) / sp.size : 0;
    for (const gi of m.keys()) {
      const map = indexMap(s, gi)!;
      members[gi]!.push({ axis: axisId(s), tensor: sp.tensor, node: node.name, op: node.opType, dim: sp.axis, role, indices: map });
      if (per) {
        const size = unitSizes(map, groupList[gi]!.units.length);
        const up = unitParams[gi]!;
        for (let u = 0; u < up.length; u++) up[u]! += size(u) * per;
      }
    }
  }
  const macBySpace = new Map<SpaceId, number>();
  for (const op of rel.macOps) for (const s of op.spaces) macBySpace.set(s, (macBySpace.get(s) ?? 0) + (metrics.perNode[op.node]?.macs ?? 0));
  const extraAxes: { axis: number; indices: IndexMap }[][] = groupList.map(() => []);
  const listed: Set<number>[] = groupList.map(() => new Set());
  for (let gi = 0; gi < G; gi++) for (const m of members[gi]!) listed[gi]!.add(m.axis);
  const rewriteOut: Rewrite[] = [];
  const groupRewrites: Group["rewrites"][] = groupList.map(() => []);
  for (const r of rel.rewrites) {
    if (!r.spaces.some(touched) && r.kind !== "fold-value") continue;
    const node = graph.nodes[r.node]!;
    const out: Rewrite = { id: rewriteOut.length, kind: r.kind, node: node.name, op: node.opType, axes: r.spaces.map(axisId), current: r.current };
    if (r.slot !== undefined) out.slot = r.slot;
    if (r.attribute !== undefined) out.attribute = r.attribute;
    if (r.entry !== undefined) out.entry = r.entry;
    if (r.target) out.target = { node: graph.nodes[r.target.node]!.name, slot: r.target.slot, index: r.target.index };
    if (r.extra) out.extra = r.extra;
    rewriteOut.push(out);
    for (const s of r.spaces) {
      const m = pairsOf(s);
      if (!m) continue;
      for (const gi of m.keys()) {
        groupRewrites[gi]!.push({ rewrite: out.id, axis: axisId(s), indices: indexMap(s, gi)! });
        listed[gi]!.add(axisId(s));
      }
    }
  }
  for (const [s, macs] of macBySpace) {
    const m = pairsOf(s);
    if (!m) continue;
    const size = spaces[s]!.size;
    for (const gi of m.keys()) {
      const map = indexMap(s, gi)!;
      const us = unitSizes(map, groupList[gi]!.units.length);
      const um = unitMacs[gi]!;
      for (let u = 0; u < um.length; u++) um[u]! += (macs * us(u)) / size;
      const id = axisId(s);
      if (!listed[gi]!.has(id)) {
        listed[gi]!.add(id);
        extraAxes[gi]!.push({ axis: id, indices: map });
      }
    }
  }
  const noteTexts: Set<string>[] = groupList.map(() => new Set());
  for (const nt of rel.notes) {
    const m = pairsOf(nt.space);
    if (m) for (const gi of m.keys()) noteTexts[gi]!.add(nt.text);
  }

  const out: Group[] = [];
  const keys = new Set<string>();
  const frozenReasons: Record<string, number> = {};
  let prunableParams = 0;
  // Stable order: by the producer that seeded the group.
  const order = groupList.map((_, i) => i).sort((a, b) => groupList[a]!.producer - groupList[b]!.producer || a - b);
  const idOf = new Int32Array(G);
  order.forEach((gi, id) => (idOf[gi] = id));
  for (const gi of order) {
    const g = groupList[gi]!;
    const units = g.units.length;
    const frozenUnits: number[] = [];
    const reasonCount = new Map<string, number>();
    g.units.forEach((leaf, u) => {
      const ri = frozenOf[leaf]!;
      if (ri < 0) return;
      const r = reasons[ri]!;
      frozenUnits.push(u);
      reasonCount.set(r.text, (reasonCount.get(r.text) ?? 0) + 1);
      frozenReasons[r.kind] = (frozenReasons[r.kind] ?? 0) + 1;
    });
    const producerSpace = spaces[g.producer]!;
    const producerNode = graph.nodes[producerSpace.node]!;
    let kind = unitKindOf(g.units[0]!);
    if ((kind as string) === "reshape") {
      // Blocks of consecutive indices on the producer are heads; single strided indices are head-dims.
      const pm = members[gi]!.find((m) => m.role === "out") ?? members[gi]![0];
      const idx = pm ? (pm.indices.offsets ? pm.indices.flat.slice(pm.indices.offsets[0], pm.indices.offsets[1]) : [pm.indices.flat[0]!]) : [];
      kind = idx.some((v, k) => k > 0 && v === idx[k - 1]! + 1) ? "head" : "head-dim";
    }
    const stem = `${producerSpace.tensor}:${producerSpace.axis}${kind === "channel" ? "" : `:${kind}`}`;
    let key = stem;
    for (let n = 2; keys.has(key); n++) key = `${stem}#${n}`;
    keys.add(key);
    const up = Array.from(unitParams[gi]!, Math.round), um = Array.from(unitMacs[gi]!, Math.round);
    const group: Group = {
      id: idOf[gi]!,
      key,
      units,
      unitKind: kind,
      members: members[gi]!,
      rewrites: groupRewrites[gi]!,
      params: sum(up),
      macs: sum(um),
      unitParams: up,
      unitMacs: um,
      scope: producerNode.scope.module,
    };
    if (extraAxes[gi]!.length) group.extraAxes = extraAxes[gi]!;
    if (frozenUnits.length) {
      const top = [...reasonCount.entries()].sort((a, b) => b[1] - a[1])[0]![0];
      group.frozen = frozenUnits.length === units ? { reason: top } : { reason: top, units: frozenUnits };
    }
    if (noteTexts[gi]!.size) group.notes = [...noteTexts[gi]!];
    const fz = new Set(frozenUnits);
    for (let u = 0; u < units; u++) if (!fz.has(u)) prunableParams += up[u]!;
    out.push(group);
  }

  // Frozen channels per producing axis.
  const frozenList: FrozenChannels[] = [];
  // Per class once (every producer space of a class has the same indices).
  const frozenOfClass = new Map<number, { count: number; reason?: Reason; gid?: number }>();
  const single = new Int32Array(1);
  for (const p of producers) {
    const sp = spaces[p]!;
    const c = cls[p]!;
    let fc0 = frozenOfClass.get(c);
    if (!fc0) {
      const b = base[c]!;
      fc0 = { count: 0 };
      for (let i = 0; i < sp.size; i++) {
        let removable = false;
        const r = rootOf[b + i]!;
        let ls: Int32Array;
        if (hasTerm[r]) ls = expand(r);
        else {
          single[0] = r;
          ls = single;
        }
        for (const l of ls) {
          const gi = groupOfLeaf[l]!;
          if (gi >= 0 && fc0.gid === undefined) fc0.gid = idOf[gi];
          const ri = frozenOf[l]!;
          if (ri < 0 && gi >= 0) removable = true;
          else if (ri >= 0) fc0.reason ??= reasons[ri];
        }
        if (!removable) fc0.count++;
      }
      frozenOfClass.set(c, fc0);
    }
    const { count, reason, gid } = fc0;
    if (count === 0) continue;
    const node = graph.nodes[sp.node]!;
    const fc: FrozenChannels = { tensor: sp.tensor, node: node.name, op: node.opType, dim: sp.axis, channels: count, reason: reason?.text ?? "not in any group" };
    if (gid !== undefined) fc.group = gid;
    frozenList.push(fc);
  }
  out.sort((a, b) => a.id - b.id);

  const frozenUnitCount = out.reduce((n, g) => n + (g.frozen ? (g.frozen.units?.length ?? g.units) : 0), 0);
  const unitTotal = out.reduce((n, g) => n + g.units, 0);
  return {
    version: 1,
    model: fingerprint,
    axes,
    rewrites: rewriteOut,
    groups: out,
    frozen: frozenList,
    cost,
    summary: {
      groups: out.length,
      prunableGroups: out.filter((g) => !g.frozen || g.frozen.units).length,
      frozenGroups: out.filter((g) => g.frozen && !g.frozen.units).length,
      units: unitTotal,
      prunableUnits: unitTotal - frozenUnitCount,
      frozenUnits: frozenUnitCount,
      params: metrics.params,
      macs: metrics.macs,
      prunableParams: Math.round(prunableParams),
      unsupportedOps: [...rel.unsupported.keys()].sort(),
      frozenReasons,
      millis: Math.round(performance.now() - started),
    },
  };

  function unitKindOf(leaf: number): UnitKind {
    // A unit is a channel when a producer's own index is it; else it is named by the factor digit it is.
    if (rootInProducer.has(leaf)) return "channel";
    return (rootLabel.get(leaf) as UnitKind | undefined) ?? "channel";
  }
}

function sum(a: number[]): number {
  let s = 0;
  for (const x of a) s += x;
  return Math.round(s);
}
