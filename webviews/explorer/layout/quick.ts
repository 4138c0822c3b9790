/**
 * A quick layered layout (longest-path layers in model order, one barycentre sweep, centred rows,
 * long edges routed beside the rows) computed on the main thread in well under a millisecond per node.
 * It stands in while ELK is still starting or busy, so the first paint and an expansion never wait on
 * ELK; the ELK layout replaces it (animated) when it arrives. Also the fallback if ELK fails.
 */
import { IN, OUT, type GroupLayout, type LayoutRequest, type Rect } from "./elkGraph.ts";

const LAYER_GAP = 30, NODE_GAP = 18, BORDER_H = 8;

export function quickLayout(req: LayoutRequest): GroupLayout {
  const t0 = performance.now();
  const ids = req.items.map((i) => i.id);
  const index = new Map(ids.map((id, i) => [id, i]));
  const n = ids.length;
  const preds: number[][] = Array.from({ length: n }, () => []);
  const layer = new Array<number>(n).fill(0);
  const edges = req.edges.map((e) => ({ e, s: index.get(e.from), t: index.get(e.to) }));
  for (const { s, t } of edges) if (s !== undefined && t !== undefined && s < t) preds[t]!.push(s);
  const hasIn = edges.some((x) => x.e.from === IN);
  for (let i = 0; i < n; i++) for (const p of preds[i]!) layer[i] = Math.max(layer[i]!, layer[p]! + 1);
  // Items fed from the border start one row down so the border point sits above them.
  const shift = hasIn ? 1 : 0;
  const rows: number[][] = [];
  for (let i = 0; i < n; i++) (rows[layer[i]! + shift] ??= []).push(i);
  for (let r = 0; r < rows.length; r++) rows[r] ??= [];
  // One barycentre sweep downwards (model order breaks ties).
  const pos = new Array<number>(n).fill(0);
  rows.forEach((row) => {
    const key = (i: number) => (preds[i]!.length ? preds[i]!.reduce((a, p) => a + pos[p]!, 0) / preds[i]!.length : i / n);
    row.sort((a, b) => key(a) - key(b) || a - b);
    row.forEach((i, k) => (pos[i] = k));
  });
  const items: Record<string, Rect> = {};
  let y = 4;
  let width = 0;
  const rowTop: number[] = [];
  const rowBottom: number[] = [];
  const rowRight: number[] = [];
  for (const row of rows) {
    const h = row.length ? Math.max(...row.map((i) => req.items[i]!.h)) : BORDER_H;
    const w = row.reduce((a, i) => a + req.items[i]!.w, 0) + NODE_GAP * Math.max(0, row.length - 1);
    let x = -w / 2;
    for (const i of row) {
      const it = req.items[i]!;
      items[it.id] = { x, y: y + (h - it.h) / 2, w: it.w, h: it.h };
      x += it.w + NODE_GAP;
    }
    rowTop.push(y);
    rowBottom.push(y + h);
    rowRight.push(w / 2);
    width = Math.max(width, w);
    y += h + LAYER_GAP;
  }
  const height = y - LAYER_GAP + 4;
  const inPoint: [number, number] | undefined = hasIn ? [0, 4 + BORDER_H / 2] : undefined;
  const outPoint: [number, number] | undefined = edges.some((x) => x.e.to === OUT) ? [0, height + LAYER_GAP / 2] : undefined;
  const rowOf = (id: string) => (id === IN ? 0 : layer[index.get(id)!]! + shift);
  const out: GroupLayout["edges"] = [];
  for (const { e } of edges) {
    const a = e.from === IN ? { x: inPoint![0] - 1, y: inPoint![1] - 1, w: 2, h: 2 } : items[e.from];
    const b = e.to === OUT ? { x: outPoint![0] - 1, y: outPoint![1] - 1, w: 2, h: 2 } : items[e.to];
    if (!a || !b) continue;
    const x0 = a.x + a.w / 2, y0 = a.y + a.h, x1 = b.x + b.w / 2, y1 = b.y;
    const r0 = rowOf(e.from), r1 = e.to === OUT ? rows.length : rowOf(e.to);
    if (r1 - r0 <= 1 || y1 <= y0) {
      out.push({ id: e.id, points: [x0, y0, x1, y1] });
      continue;
    }
    // Around the rows in between, on the right.
    let side = 0;
    for (let r = r0 + 1; r < r1; r++) side = Math.max(side, rowRight[r]!);
    side += 16;
    const ya = rowBottom[r0]! + LAYER_GAP / 2, yb = (rowTop[r1] ?? y1) - LAYER_GAP / 2;
    out.push({ id: e.id, points: [x0, y0, x0, ya, side, ya + 8, side, yb - 8, x1, yb, x1, y1] });
  }
  // Shift to positive coordinates.
  let minX = Infinity, maxX = -Infinity;
  for (const r of Object.values(items)) {
    minX = Math.min(minX, r.x);
    maxX = Math.max(maxX, r.x + r.w);
  }
  for (const e of out) for (let k = 0; k < e.points.length; k += 2) maxX = Math.max(maxX, e.points[k]!);
  if (minX === Infinity) minX = maxX = 0;
  const dx = 4 - minX;
  for (const r of Object.values(items)) r.x += dx;
  for (const e of out) for (let k = 0; k < e.points.length; k += 2) e.points[k] += dx;
  if (inPoint) inPoint[0] += dx;
  if (outPoint) outPoint[0] += dx;
  return { key: req.key, width: maxX - minX + 8, height, items, edges: out, inPoint, outPoint, ms: performance.now() - t0, quick: true };
}
