/**
 * Overlays resolved against an explorer index: generic per-node values, per-node group ids and
 * per-node diffs, aggregated per group (distributions, distinct groups, totals) once, so that a group
 * view's overlay answer is a lookup. Pure; runs on the host and in the standalone page.
 */
import type { ExplorerIndex } from "./explorerIndex.ts";
import { groupId, nodeId } from "./explorerIndex.ts";
import type {
  DependencyGroupInput,
  DiffEntryInput,
  DiffSummary,
  Distribution,
  ItemId,
  Legend,
  OverlayInfo,
  OverlayInput,
  OverlayItemValue,
  OverlayMatrix,
  OverlayMembers,
} from "./types.ts";

export const HIST_BINS = 10;

interface Acc {
  count: number;
  min: number;
  max: number;
  sum: number;
  hist: number[];
}

/** Name lookups shared by all overlays of a session. */
export class Resolver {
  readonly nodeByName = new Map<string, number>();
  readonly groupByModule = new Map<string, number>();

  constructor(readonly index: ExplorerIndex) {
    index.nodes.forEach((n, i) => {
      if (!this.nodeByName.has(n.name)) this.nodeByName.set(n.name, i);
    });
    index.groups.forEach((g, i) => {
      if (g.kind !== "scope") return;
      for (const m of [g.module, ...(g.aliases ?? [])]) if (m && !this.groupByModule.has(m)) this.groupByModule.set(m, i);
    });
  }

  /** "scope:layer1.0" → group; a node name → node; a module path without prefix → group. */
  resolve(key: string): { node?: number; group?: number } | undefined {
    if (key.startsWith("scope:")) {
      const g = this.groupByModule.get(key.slice(6));
      return g === undefined ? undefined : { group: g };
    }
    const n = this.nodeByName.get(key);
    if (n !== undefined) return { node: n };
    const g = this.groupByModule.get(key);
    return g === undefined ? undefined : { group: g };
  }

  /** Groups containing a node (its group and every ancestor), innermost first. */
  ancestorsOfNode(n: number): number[] {
    const out: number[] = [];
    for (let g = this.index.nodes[n]!.group; g >= 0; g = this.index.groups[g]!.parent) out.push(g);
    return out;
  }

  ancestorsOfGroup(g: number): number[] {
    const out: number[] = [];
    for (let p = this.index.groups[g]!.parent; p >= 0; p = this.index.groups[p]!.parent) out.push(p);
    return out;
  }

  /** Where a node is drawn: itself, or the consumer a folded weight producer is shown in. */
  drawn(n: number): number {
    const node = this.index.nodes[n]!;
    return node.folded && node.shownAs !== undefined ? node.shownAs : n;
  }
}

export class ResolvedOverlay {
  readonly info: OverlayInfo;
  private readonly nodeValue = new Map<number, number>();
  private readonly groupValue = new Map<number, number>();
  private readonly groupDist = new Map<number, Acc>();
  private readonly nodeGroups = new Map<number, string[]>();
  private readonly nodeFrozen = new Map<number, string[]>();
  private readonly groupKeys = new Map<number, Set<string>>();
  private readonly depGroups = new Map<string, DependencyGroupInput>();
  private readonly nodeDiff = new Map<number, DiffEntryInput>();
  private readonly groupDiff = new Map<number, DiffSummary>();
  private scale: [number, number] = [0, 1];

  constructor(
    readonly input: OverlayInput,
    private readonly r: Resolver,
  ) {
    let unmatched = 0;
    let legend: Legend;
    switch (input.kind) {
      case "values":
      case "matrix": {
        const entries: [string, number][] =
          input.kind === "values"
            ? Object.entries(input.values)
            : input.rows.flatMap((row, i): [string, number][] => {
                if (!row.key) return [];
                const v = input.rowValues?.[i] ?? mean(input.values[i] ?? []);
                return [[row.key, v]];
              });
        for (const [key, v] of entries) {
          if (!Number.isFinite(v)) continue;
          const hit = r.resolve(key);
          if (!hit) unmatched++;
          else if (hit.node !== undefined) this.nodeValue.set(hit.node, v);
          else this.groupValue.set(hit.group!, v);
        }
        const all = input.kind === "values" ? [...this.nodeValue.values(), ...this.groupValue.values()] : input.values.flat().filter(Number.isFinite);
        let [lo, hi] = input.domain ?? extent(all);
        const palette = input.palette ?? "sequential";
        if (palette === "diverging") {
          const c = input.center ?? 0;
          const m = Math.max(Math.abs(lo - c), Math.abs(hi - c)) || 1;
          [lo, hi] = [c - m, c + m];
        }
        if (hi === lo) hi = lo + 1;
        this.scale = [lo, hi];
        legend = { type: "scale", min: lo, max: hi, palette, center: palette === "diverging" ? (input.center ?? 0) : undefined, unit: input.unit };
        for (const [n, v] of this.nodeValue) for (const g of r.ancestorsOfNode(n)) this.add(g, v);
        break;
      }
      case "groups": {
        for (const dg of input.groups) {
          this.depGroups.set(dg.id, dg);
          let matched = false;
          for (const m of dg.members) {
            const hit = r.resolve(m.node);
            if (hit?.node === undefined) continue;
            matched = true;
            const n = r.drawn(hit.node);
            const list = this.nodeGroups.get(n) ?? [];
            if (!list.includes(dg.id)) list.push(dg.id);
            this.nodeGroups.set(n, list);
            for (const g of r.ancestorsOfNode(n)) {
              let s = this.groupKeys.get(g);
              if (!s) this.groupKeys.set(g, (s = new Set()));
              s.add(dg.id);
            }
          }
          for (const f of dg.frozen ?? []) {
            const hit = f.node ? r.resolve(f.node) : undefined;
            if (hit?.node === undefined) continue;
            const n = r.drawn(hit.node);
            const list = this.nodeFrozen.get(n) ?? [];
            list.push(f.reason);
            this.nodeFrozen.set(n, list);
          }
          if (!matched) unmatched++;
        }
        const entries = input.groups
          .map((g) => ({ key: g.id, label: g.label ?? g.id, size: g.size, members: g.members.length }))
          .sort((a, b) => b.members - a.members)
          .slice(0, 500);
        legend = { type: "categorical", count: input.groups.length, entries };
        break;
      }
      case "diff": {
        const tot: DiffSummary = emptyDiff();
        for (const [key, e] of Object.entries(input.nodes)) {
          const hit = r.resolve(key);
          if (hit?.node === undefined) {
            unmatched++;
            continue;
          }
          const n = r.drawn(hit.node);
          this.nodeDiff.set(n, e);
          addDiff(tot, e);
          for (const g of r.ancestorsOfNode(n)) {
            let s = this.groupDiff.get(g);
            if (!s) this.groupDiff.set(g, (s = emptyDiff()));
            addDiff(s, e);
          }
        }
        legend = { type: "diff", ...tot };
        break;
      }
    }
    this.info = { id: input.id, kind: input.kind, title: input.title, description: input.description, legend, unmatched };
  }

  private add(g: number, v: number): void {
    let a = this.groupDist.get(g);
    if (!a) this.groupDist.set(g, (a = { count: 0, min: Infinity, max: -Infinity, sum: 0, hist: new Array(HIST_BINS).fill(0) }));
    a.count++;
    a.min = Math.min(a.min, v);
    a.max = Math.max(a.max, v);
    a.sum += v;
    const [lo, hi] = this.scale;
    const b = Math.min(HIST_BINS - 1, Math.max(0, Math.floor(((v - lo) / (hi - lo)) * HIST_BINS)));
    a.hist[b]!++;
  }

  /** The overlay's answer for one item of a group view. */
  itemValue(id: ItemId, group: number | undefined, node: number | undefined): OverlayItemValue {
    const out: OverlayItemValue = { id };
    if (node !== undefined) {
      const v = this.nodeValue.get(node);
      if (v !== undefined) out.value = v;
      const gs = this.nodeGroups.get(node);
      if (gs) out.groups = gs;
      const fr = this.nodeFrozen.get(node);
      if (fr) out.frozen = fr;
      const d = this.nodeDiff.get(node);
      if (d) out.diff = d;
      const body = this.r.index.nodes[node]!.body;
      if (body !== undefined && group === undefined) group = body;
    }
    if (group !== undefined) {
      const v = this.groupValue.get(group);
      if (v !== undefined && out.value === undefined) out.value = v;
      const a = this.groupDist.get(group);
      if (a) out.dist = { count: a.count, min: a.min, max: a.max, mean: a.sum / a.count, hist: a.hist } satisfies Distribution;
      const ks = this.groupKeys.get(group);
      if (ks) out.groupCount = ks.size;
      const d = this.groupDiff.get(group);
      if (d) out.diffSummary = d;
    }
    return out;
  }

  members(key: string): OverlayMembers {
    const dg = this.depGroups.get(key);
    if (!dg) throw new Error(`overlay '${this.info.id}' has no group '${key}'`);
    const members: OverlayMembers["members"] = [];
    const containers = new Set<number>();
    for (const m of dg.members) {
      const hit = this.r.resolve(m.node);
      if (hit?.node === undefined) continue;
      const n = this.r.drawn(hit.node);
      members.push({ id: nodeId(n), role: m.role, tensor: m.tensor, axis: m.axis });
      for (const g of this.r.ancestorsOfNode(n)) containers.add(g);
    }
    const frozen = (dg.frozen ?? []).map((f) => {
      const hit = f.node ? this.r.resolve(f.node) : undefined;
      return { id: hit?.node !== undefined ? nodeId(this.r.drawn(hit.node)) : undefined, tensor: f.tensor, reason: f.reason };
    });
    return {
      overlay: this.info.id,
      key,
      label: dg.label ?? dg.id,
      size: dg.size,
      info: dg.info,
      members,
      containers: [...containers].map(groupId),
      frozen,
    };
  }

  matrix(): OverlayMatrix {
    const input = this.input;
    if (input.kind !== "matrix") throw new Error(`overlay '${this.info.id}' is not a matrix`);
    const [lo, hi] = extent(input.values.flat().filter(Number.isFinite));
    const palette = input.palette ?? "sequential";
    return {
      overlay: input.id,
      title: input.title,
      unit: input.unit,
      rows: input.rows.map((row) => {
        const hit = row.key ? this.r.resolve(row.key) : undefined;
        const id = hit?.node !== undefined ? nodeId(hit.node) : hit?.group !== undefined ? groupId(hit.group) : undefined;
        return { label: row.label, id };
      }),
      cols: input.cols,
      values: input.values,
      legend: { type: "scale", min: lo, max: hi === lo ? lo + 1 : hi, palette, center: input.center, unit: input.unit },
    };
  }
}

function extent(xs: readonly number[]): [number, number] {
  let lo = Infinity, hi = -Infinity;
  for (const x of xs) {
    if (x < lo) lo = x;
    if (x > hi) hi = x;
  }
  return lo === Infinity ? [0, 1] : [lo, hi];
}

function mean(xs: readonly number[]): number {
  const f = xs.filter(Number.isFinite);
  return f.length ? f.reduce((a, b) => a + b, 0) / f.length : NaN;
}

function emptyDiff(): DiffSummary {
  return { removed: 0, changed: 0, added: 0, paramsBefore: 0, paramsAfter: 0, macsBefore: 0, macsAfter: 0 };
}

function addDiff(s: DiffSummary, e: DiffEntryInput): void {
  if (e.status === "removed") s.removed++;
  else if (e.status === "changed") s.changed++;
  else if (e.status === "added") s.added++;
  s.paramsBefore += e.before?.params ?? 0;
  s.paramsAfter += e.after?.params ?? (e.status === "removed" ? 0 : (e.before?.params ?? 0));
  s.macsBefore += e.before?.macs ?? 0;
  s.macsAfter += e.after?.macs ?? (e.status === "removed" ? 0 : (e.before?.macs ?? 0));
}
