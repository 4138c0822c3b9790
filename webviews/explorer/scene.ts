/**
 * The scene: absolute positions of everything drawn, composed from cached per-group layouts and the
 * set of expanded items. An expanded item's box grows in place to hold its own layout; the rest of its
 * group is not laid out again but displaced: items below move down by the growth in height, items
 * beside it (same band) move sideways by half the growth in width, edges' bend points move with the
 * region they lie in. Applied from the innermost group outwards, so expanding never re-runs ELK on
 * anything but the expanded group. Pure (no DOM): unit-tested under Node.
 */
import type { GroupView, ItemId, ViewEdge, ViewItem } from "../../analyzers/explorer/types.ts";
import type { GroupLayout, Rect } from "./layout/elkGraph.ts";

/** Expanded container: title bar height and inner padding. */
export const HEADER = 26;
export const PAD = 14;

export interface SceneItem {
  id: ItemId;
  item: ViewItem;
  /** Absolute box (the container box when expanded). */
  rect: Rect;
  /** Group id of the view it belongs to. */
  parent: ItemId;
  depth: number;
  expanded: boolean;
}

export interface SceneEdge {
  /** `${group}:${edge id}` */
  key: string;
  group: ItemId;
  edge: ViewEdge;
  /** Absolute flat points. */
  points: number[];
  depth: number;
}

export interface Scene {
  items: SceneItem[];
  edges: SceneEdge[];
  byId: Map<ItemId, SceneItem>;
  bounds: Rect;
  /** Expanded items whose layout was not available (drawn collapsed). */
  pending: ItemId[];
}

export interface SceneInput {
  rootGroup: ItemId;
  expanded: ReadonlySet<ItemId>;
  /** Group views by group id. */
  views: ReadonlyMap<ItemId, GroupView>;
  /** Layouts by group id. */
  layouts: ReadonlyMap<ItemId, GroupLayout>;
  /** The narrowest an expanded item may be (its title bar's text); default 0. */
  minExpandedWidth?: (item: ViewItem) => number;
}

/** The group an item opens: its own id for groups, its body for expandable nodes. */
export function groupOf(item: ViewItem): ItemId | undefined {
  if (item.kind === "group") return item.id;
  return item.expandable ? item.body : undefined;
}

interface Local {
  w: number;
  h: number;
  items: { id: ItemId; item: ViewItem; rect: Rect; inner?: Local }[];
  edges: { edge: ViewEdge; points: number[] }[];
  group: ItemId;
}

export function composeScene(input: SceneInput): Scene {
  const pending: ItemId[] = [];
  const local = place(input.rootGroup, input, pending, new Set());
  const scene: Scene = { items: [], edges: [], byId: new Map(), bounds: { x: 0, y: 0, w: local?.w ?? 0, h: local?.h ?? 0 }, pending };
  if (local) flatten(local, 0, 0, 0, scene);
  return scene;
}

function place(groupId: ItemId, input: SceneInput, pending: ItemId[], visiting: Set<ItemId>): Local | undefined {
  const view = input.views.get(groupId);
  const layout = input.layouts.get(groupId);
  if (!view || !layout || visiting.has(groupId)) return undefined;
  visiting.add(groupId);
  const items: Local["items"] = view.items.map((item) => ({ id: item.id, item, rect: { ...(layout.items[item.id] ?? { x: 0, y: 0, w: 40, h: 20 }) } }));
  const byEdge = new Map(view.edges.map((e) => [e.id, e]));
  const edges: Local["edges"] = [];
  for (const le of layout.edges) {
    const edge = byEdge.get(le.id);
    if (edge) edges.push({ edge, points: le.points.slice() });
  }
  const borderIn = layout.inPoint ? [...layout.inPoint] : undefined;
  const borderOut = layout.outPoint ? [...layout.outPoint] : undefined;

  // Expand children top to bottom, each displacing the others as they stand now.
  const order = items
    .map((it, i) => ({ it, i }))
    .filter(({ it }) => input.expanded.has(it.id) && groupOf(it.item) !== undefined)
    .sort((a, b) => a.it.rect.y - b.it.rect.y || a.it.rect.x - b.it.rect.x);
  for (const { it } of order) {
    const inner = place(groupOf(it.item)!, input, pending, visiting);
    if (!inner) {
      pending.push(it.id);
      continue;
    }
    it.inner = inner;
    const b = it.rect;
    const w = Math.max(b.w, inner.w + 2 * PAD, input.minExpandedWidth?.(it.item) ?? 0);
    const h = Math.max(b.h, inner.h + HEADER + PAD);
    const dw = w - b.w, dh = h - b.h;
    const bottom = b.y + b.h, top = b.y, cx = b.x + b.w / 2;
    // Free points (bends, border points): below → down; in the box's band → sideways; above → stay.
    const movePoint = (x: number, y: number): [number, number] => {
      if (y >= bottom - 0.5) return [x, y + dh];
      if (y > top - 0.5) return [x + (x >= cx ? dw / 2 : -dw / 2), y];
      return [x, y];
    };
    const delta = new Map<ItemId, [number, number]>();
    for (const o of items) {
      if (o === it) continue;
      const r = o.rect;
      let dx = 0, dy = 0;
      if (r.y >= bottom - 0.5) dy = dh;
      else if (r.y + r.h > top + 0.5) dx = r.x + r.w / 2 >= cx ? dw / 2 : -dw / 2;
      r.x += dx;
      r.y += dy;
      delta.set(o.id, [dx, dy]);
    }
    for (const e of edges) {
      const p = e.points;
      const last = p.length - 2;
      for (let k = 0; k < p.length; k += 2) {
        const end = k === 0 ? e.edge.from : k === last ? e.edge.to : undefined;
        if (end === it.id) {
          // Leaving the expanded box from its bottom centre, arriving at its top centre.
          p[k] = cx;
          if (k === 0) p[k + 1] = p[k + 1]! + dh;
        } else if (end !== undefined && delta.has(end)) {
          const [dx, dy] = delta.get(end)!;
          p[k] = p[k]! + dx;
          p[k + 1] = p[k + 1]! + dy;
        } else [p[k], p[k + 1]] = movePoint(p[k]!, p[k + 1]!);
      }
    }
    if (borderIn) [borderIn[0], borderIn[1]] = movePoint(borderIn[0]!, borderIn[1]!);
    if (borderOut) [borderOut[0], borderOut[1]] = movePoint(borderOut[0]!, borderOut[1]!);
    b.x -= dw / 2;
    b.w = w;
    b.h = h;
  }

  // Border edges join the container's top / bottom centre (where the parent's edges arrive / leave).
  let minX = Infinity, minY = Infinity, maxX = -Infinity, maxY = -Infinity;
  const grow = (x: number, y: number) => {
    if (x < minX) minX = x;
    if (x > maxX) maxX = x;
    if (y < minY) minY = y;
    if (y > maxY) maxY = y;
  };
  for (const it of items) {
    grow(it.rect.x, it.rect.y);
    grow(it.rect.x + it.rect.w, it.rect.y + it.rect.h);
  }
  for (const e of edges) for (let k = 0; k < e.points.length; k += 2) grow(e.points[k]!, e.points[k + 1]!);
  if (borderIn) grow(borderIn[0]!, borderIn[1]!);
  if (borderOut) grow(borderOut[0]!, borderOut[1]!);
  if (minX === Infinity) minX = minY = maxX = maxY = 0;
  const w = maxX - minX, h = maxY - minY;
  for (const it of items) {
    it.rect.x -= minX;
    it.rect.y -= minY;
  }
  for (const e of edges) {
    for (let k = 0; k < e.points.length; k += 2) {
      e.points[k] -= minX;
      e.points[k + 1] -= minY;
    }
    const cx = w / 2;
    if (e.edge.from === "^in") e.points.unshift(cx, -HEADER);
    if (e.edge.to === "$out") e.points.push(cx, h + PAD);
  }
  visiting.delete(groupId);
  return { w, h, items, edges, group: groupId };
}

function flatten(local: Local, ox: number, oy: number, depth: number, scene: Scene): void {
  for (const it of local.items) {
    const rect = { x: it.rect.x + ox, y: it.rect.y + oy, w: it.rect.w, h: it.rect.h };
    const si: SceneItem = { id: it.id, item: it.item, rect, parent: local.group, depth, expanded: !!it.inner };
    scene.items.push(si);
    scene.byId.set(it.id, si);
  }
  for (const e of local.edges) {
    const pts = e.points.map((v, k) => v + (k % 2 ? oy : ox));
    scene.edges.push({ key: `${local.group}:${e.edge.id}`, group: local.group, edge: e.edge, points: pts, depth });
  }
  for (const it of local.items) {
    if (!it.inner) continue;
    const r = scene.byId.get(it.id)!.rect;
    // Centre the content horizontally in the (possibly wider) box.
    const cx = r.x + (r.w - it.inner.w) / 2;
    flatten(it.inner, cx, r.y + HEADER, depth + 1, scene);
  }
}

/** Every item and edge point inside `r`? Used by tests and for hit-testing containers. */
export function contains(r: Rect, x: number, y: number): boolean {
  return x >= r.x && x <= r.x + r.w && y >= r.y && y <= r.y + r.h;
}
