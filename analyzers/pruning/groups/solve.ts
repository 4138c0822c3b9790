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
  /** Class of an element (classes are in increasing base order). */
  const classOfElem = (e: number): number => {
    let lo = 0, hi = classes.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (base[classes[mid]!]! <= e) lo = mid;
      else hi = mid - 1;
    }
    return classes[lo]!;
  };

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
      for (let d = 0; d < radices.length; d++) t[d] = elem(f.parts[d]!, digits[d]!);
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
  const memo = new Map<number, Int32Array>();
  const cyclic = new Set<number>();
  const resolving = new Set<number>();
  const leaves = (e: number): Int32Array => {
    const r = uf.find(e);
    const m = memo.get(r);
    if (m) return m;
    const t = terms.get(r);
    let out: Int32Array;
    if (!t) out = Int32Array.of(r);
    else if (resolving.has(r)) {
      cyclic.add(r);
      out = Int32Array.of(r);
    } else {
      resolving.add(r);
      const parts: number[] = [];
      for (const c of t) for (const l of leaves(c)) parts.push(l);
      resolving.delete(r);
      out = Int32Array.from(parts);
    }
    memo.set(r, out);
    return out;
  };

  // ---- 5. frozen units -------------------------------------------------------------------------
  const frozen = new Map<number, Reason>();
  const freezeElem = (e: number, reason: Reason) => {
    for (const l of leaves(e)) if (!frozen.has(l)) frozen.set(l, reason);
  };
  for (const f of [...rel.freezes, ...extraFreezes] as { space: SpaceId; reason: Reason; indices?: readonly number[] }[]) {
    if (!hasElems(f.space)) continue;
    const n = spaces[f.space]!.size;
    if (f.indices) {
      for (const i of f.indices) if (i >= 0 && i < n) freezeElem(elem(f.space, i), f.reason);
    } else for (let i = 0; i < n; i++) freezeElem(elem(f.space, i), f.reason);
  }
  for (const [x, y] of conflicts) {
    const reason = { kind: "reshape", text: "incompatible reshapes of the same channels" };
    freezeElem(x, reason);
    freezeElem(y, reason);
  }
  for (const r of cyclic) frozen.set(r, { kind: "reshape", text: "a reshape maps channels onto themselves" });
  // A unit present in every index of an axis would empty it.
  const classSpaces = new Map<number, SpaceId[]>();
  for (let s = 0; s < S; s++) {
    if (!hasElems(s)) continue;
    const l = classSpaces.get(cls[s]!);
    if (l) l.push(s);
    else classSpaces.set(cls[s]!, [s]);
  }
  for (const c of classes) {
    const n = classSize(c);
    let common = new Set(leaves(base[c]!));
    for (let i = 1; i < n && common.size; i++) {
      const li = leaves(base[c]! + i);
      const next = new Set<number>();
      for (const l of li) if (common.has(l)) next.add(l);
      common = next;
    }
    if (!common.size) continue;
    const s = classSpaces.get(c)![0]!;
    const reason = { kind: "whole axis", text: `removing it would leave '${spaces[s]!.tensor}' axis ${spaces[s]!.axis} empty` };
    for (const l of common) if (!frozen.has(l)) frozen.set(l, reason);
  }

  // ---- 6. groups of units ----------------------------------------------------------------------
  const producerClass = new Set<number>();
  for (const p of rel.producers) if (hasElems(p)) producerClass.add(cls[p]!);
  const guf = new UnionFind(total);
  for (const c of classes) {
    if (!producerClass.has(c) && !partLabel.has(c)) continue;
    let first = -1;
    for (let i = 0; i < classSize(c); i++) {
      const r = uf.find(base[c]! + i);
      if (terms.has(r)) continue;
      if (first < 0) first = r;
      else guf.union(first, r);
    }
  }
  interface G {
    root: number;
    units: number[];
    unitOf: Map<number, number>;
    producer: SpaceId;
  }
  const groups = new Map<number, G>();
  const unitRef = (leaf: number, create: SpaceId | -1): [G, number] | undefined => {
    const gr = guf.find(leaf);
    let g = groups.get(gr);
    if (!g) {
      if (create < 0) return undefined;
      g = { root: gr, units: [], unitOf: new Map(), producer: create };
      groups.set(gr, g);
    }
    let u = g.unitOf.get(leaf);
    if (u === undefined) {
      u = g.units.length;
      g.units.push(leaf);
      g.unitOf.set(leaf, u);
    }
    return [g, u];
  };
  const producers = [...rel.producers].filter(hasElems).sort((a, b) => a - b);
  for (const p of producers) {
    const n = spaces[p]!.size;
    for (let i = 0; i < n; i++) for (const l of leaves(elem(p, i))) unitRef(l, p);
  }

  // ---- 7. index maps of every space a group touches ---------------------------------------------
  /** space → group root → unit → indices. */
  const maps = new Map<SpaceId, Map<number, number[][]>>();
  const touch = (s: SpaceId) => {
    if (maps.has(s) || !hasElems(s)) return maps.get(s);
    const m = new Map<number, number[][]>();
    const n = spaces[s]!.size;
    for (let i = 0; i < n; i++) {
      for (const l of leaves(elem(s, i))) {
        const ref = unitRef(l, -1);
        if (!ref) continue;
        const [g, u] = ref;
        let arr = m.get(g.root);
        if (!arr) m.set(g.root, (arr = []));
        (arr[u] ??= []).push(i);
      }
    }
    maps.set(s, m);
    return m;
  };
  const weightSpaces: SpaceId[] = [];
  for (let s = 0; s < S; s++) if (spaces[s]!.kind === "weight" && hasElems(s)) weightSpaces.push(s);
  for (const s of weightSpaces) touch(s);
  for (const r of rel.rewrites) for (const s of r.spaces) touch(s);
  for (const op of rel.macOps) for (const s of op.spaces) touch(s);
  const touched = (s: SpaceId) => (maps.get(s)?.size ?? 0) > 0;

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
        const s = rel.lookup(`w\u0000${node.index}\u0000${slot}\u0000${d}`);
        return s !== undefined && touched(s) ? axisId(s) : -1;
      });
      cost.weights.push({ tensor: src, dims, axes: ax });
    });
  }
  // A MAC factor is read from a weight member of the same class when there is one (same indices).
  const weightOfClass = new Map<number, SpaceId>();
  for (const s of weightSpaces) if (!weightOfClass.has(cls[s]!) && touched(s)) weightOfClass.set(cls[s]!, s);
  const repr = (s: SpaceId) => weightOfClass.get(cls[s]!) ?? s;
  for (const op of rel.macOps) op.spaces = op.spaces.map(repr);
  const macSpaces = new Map<number, SpaceId[]>();
  for (const op of rel.macOps) macSpaces.set(op.node, op.spaces);
  graph.nodes.forEach((node, i) => {
    const macs = metrics.perNode[i]?.macs ?? 0;
    if (macs <= 0) return;
    const sp = (macSpaces.get(i) ?? []).filter(touched);
    cost.ops.push({ node: node.name, macs, axes: sp.map(axisId) });
  });

  // ---- 10. JSON groups ----------------------------------------------------------------------------
  const rewriteOut: Rewrite[] = [];
  const rewriteIds = new Map<number, number>();
  rel.rewrites.forEach((r, k) => {
    if (!r.spaces.some(touched)) return;
    const node = graph.nodes[r.node]!;
    const out: Rewrite = { id: rewriteOut.length, kind: r.kind, node: node.name, op: node.opType, axes: r.spaces.map(axisId), current: r.current };
    if (r.slot !== undefined) out.slot = r.slot;
    if (r.attribute !== undefined) out.attribute = r.attribute;
    if (r.entry !== undefined) out.entry = r.entry;
    if (r.target) out.target = { node: graph.nodes[r.target.node]!.name, slot: r.target.slot, index: r.target.index };
    if (r.extra) out.extra = r.extra;
    rewriteIds.set(k, out.id);
    rewriteOut.push(out);
  });

  const noteTexts = new Map<number, Set<string>>();
  for (const nt of rel.notes) {
    const m = touch(nt.space);
    if (!m) continue;
    for (const gr of m.keys()) {
      let set = noteTexts.get(gr);
      if (!set) noteTexts.set(gr, (set = new Set()));
      set.add(nt.text);
    }
  }

  const toIndexMap = (arr: number[][] | undefined, units: number): IndexMap => {
    let single = true;
    for (let u = 0; u < units; u++) if ((arr?.[u]?.length ?? 0) !== 1) single = false;
    if (single) return { flat: Array.from({ length: units }, (_, u) => arr![u]![0]!) };
    const flat: number[] = [], offsets = [0];
    for (let u = 0; u < units; u++) {
      for (const i of arr?.[u] ?? []) flat.push(i);
      offsets.push(flat.length);
    }
    return { flat, offsets };
  };

  const macOpsBySpace = new Map<SpaceId, { macs: number }[]>();
  for (const op of rel.macOps) for (const s of op.spaces) (macOpsBySpace.get(s) ?? macOpsBySpace.set(s, []).get(s)!).push({ macs: metrics.perNode[op.node]?.macs ?? 0 });

  const out: Group[] = [];
  const keys = new Set<string>();
  const frozenList: FrozenChannels[] = [];
  const ordered = [...groups.values()].sort((a, b) => a.producer - b.producer || a.root - b.root);
  const groupIdOf = new Map<number, number>();
  ordered.forEach((g, i) => groupIdOf.set(g.root, i));
  const frozenReasons: Record<string, number> = {};
  let prunableParams = 0;
  for (const g of ordered) {
    const id = groupIdOf.get(g.root)!;
    const units = g.units.length;
    const members: Member[] = [];
    const unitParams = new Array<number>(units).fill(0);
    const unitMacs = new Array<number>(units).fill(0);
    for (const s of weightSpaces) {
      const arr = maps.get(s)?.get(g.root);
      if (!arr) continue;
      const sp = spaces[s]!;
      const node = graph.nodes[sp.node]!;
      const role: MemberRole = rel.roles.get(s) ?? "other";
      const map = toIndexMap(arr, units);
      members.push({ axis: axisId(s), tensor: sp.tensor, node: node.name, op: node.opType, dim: sp.axis, role, indices: map });
      if (sp.dims && FLOAT_TYPES.has(sp.dataType ?? 0)) {
        const per = sp.dims.reduce((a, b) => a * b, 1) / sp.size;
        for (let u = 0; u < units; u++) unitParams[u]! += (arr[u]?.length ?? 0) * per;
      }
    }
    for (const [s, ops] of macOpsBySpace) {
      const arr = maps.get(s)?.get(g.root);
      if (!arr) continue;
      const size = spaces[s]!.size;
      for (const op of ops) for (let u = 0; u < units; u++) unitMacs[u]! += (op.macs * (arr[u]?.length ?? 0)) / size;
    }
    const rewrites: Group["rewrites"] = [];
    rel.rewrites.forEach((r, k) => {
      const rid = rewriteIds.get(k);
      if (rid === undefined) return;
      for (const s of r.spaces) {
        const arr = maps.get(s)?.get(g.root);
        if (arr) rewrites.push({ rewrite: rid, axis: axisId(s), indices: toIndexMap(arr, units) });
      }
    });
    // Axes the cost model reads that are neither members nor rewrite axes.
    const listed = new Set<number>([...members.map((m) => m.axis), ...rewrites.map((r) => r.axis)]);
    const extraAxes: { axis: number; indices: IndexMap }[] = [];
    for (const s of macOpsBySpace.keys()) {
      const arr = maps.get(s)?.get(g.root);
      if (!arr || listed.has(axisId(s))) continue;
      listed.add(axisId(s));
      extraAxes.push({ axis: axisId(s), indices: toIndexMap(arr, units) });
    }
    // Frozen units and their reasons.
    const frozenUnits: number[] = [];
    const reasonCount = new Map<string, number>();
    g.units.forEach((leaf, u) => {
      const r = frozen.get(leaf);
      if (!r) return;
      frozenUnits.push(u);
      reasonCount.set(r.text, (reasonCount.get(r.text) ?? 0) + 1);
      frozenReasons[r.kind] = (frozenReasons[r.kind] ?? 0) + 1;
    });
    const producerSpace = spaces[g.producer]!;
    const producerNode = graph.nodes[producerSpace.node]!;
    const kind = unitKindOf(g.units[0]!);
    let key = `${producerSpace.tensor}:${producerSpace.axis}${kind === "channel" ? "" : `:${kind}`}`;
    for (let n = 2; keys.has(key); n++) key = `${producerSpace.tensor}:${producerSpace.axis}${kind === "channel" ? "" : `:${kind}`}#${n}`;
    keys.add(key);
    const group: Group = {
      id,
      key,
      units,
      unitKind: kind,
      members,
      rewrites,
      params: sum(unitParams),
      macs: sum(unitMacs),
      unitParams: unitParams.map(round),
      unitMacs: unitMacs.map(round),
      scope: producerNode.scope.module,
    };
    if (extraAxes.length) group.extraAxes = extraAxes;
    if (frozenUnits.length) {
      const top = [...reasonCount.entries()].sort((a, b) => b[1] - a[1])[0]![0];
      group.frozen = frozenUnits.length === units ? { reason: top } : { reason: top, units: frozenUnits };
    }
    const nt = noteTexts.get(g.root);
    if (nt) group.notes = [...nt];
    const frozenSet = new Set(frozenUnits);
    for (let u = 0; u < units; u++) if (!frozenSet.has(u)) prunableParams += unitParams[u]!;
    out.push(group);
  }

  // Frozen channels per producing axis.
  for (const p of producers) {
    const sp = spaces[p]!;
    let count = 0;
    let reason: Reason | undefined;
    let gid: number | undefined;
    for (let i = 0; i < sp.size; i++) {
      let removable = false;
      for (const l of leaves(elem(p, i))) {
        const ref = unitRef(l, -1);
        if (ref && gid === undefined) gid = groupIdOf.get(ref[0].root);
        const r = frozen.get(l);
        if (!r) removable = true;
        else reason ??= r;
      }
      if (!removable) count++;
    }
    if (count === 0) continue;
    const node = graph.nodes[sp.node]!;
    const fc: FrozenChannels = { tensor: sp.tensor, node: node.name, op: node.opType, dim: sp.axis, channels: count, reason: reason?.text ?? "not in any group" };
    if (gid !== undefined) fc.group = gid;
    frozenList.push(fc);
  }

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
    const c = classOfElem(leaf);
    if (producerClass.has(c)) return "channel";
    return (partLabel.get(c) as UnitKind | undefined) ?? "channel";
  }
}

function sum(a: number[]): number {
  let s = 0;
  for (const x of a) s += x;
  return Math.round(s);
}

function round(x: number): number {
  return Math.round(x);
}
