/**
 * One group's layout problem and its answer, as plain data (no DOM, no ELK import): the main thread
 * builds a LayoutRequest from a group view and the measured box sizes, the worker turns it into an
 * ELK graph, runs the layered algorithm, and sends back a GroupLayout.
 */
import type { ElkExtendedEdge, ElkNode } from "elkjs/lib/elk-api.js";

export const IN = "^in";
export const OUT = "$out";

export interface LayoutRequest {
  /** Cache key: group id + a hash of the sizes. */
  key: string;
  items: { id: string; w: number; h: number }[];
  /** from/to: item ids or IN / OUT (the group's border). */
  edges: { id: string; from: string; to: string }[];
}

export interface Rect {
  x: number;
  y: number;
  w: number;
  h: number;
}

export interface LaidEdge {
  id: string;
  /** Flat [x0, y0, x1, y1, …] from the source's border to the target's border. */
  points: number[];
}

export interface GroupLayout {
  key: string;
  width: number;
  height: number;
  items: Record<string, Rect>;
  edges: LaidEdge[];
  /** Where the border's incoming / outgoing edges start / end (centres of the virtual border nodes). */
  inPoint?: [number, number];
  outPoint?: [number, number];
  /** Milliseconds the layout took (for the benchmark). */
  ms: number;
  /** Made by the quick stand-in layout, not ELK (yet). */
  quick?: boolean;
}

const BORDER_W = 24, BORDER_H = 8;

/** Options for speed on big groups: model order kept (topological), light crossing minimisation. */
export function layoutOptions(nodeCount: number): Record<string, string> {
  return {
    "elk.algorithm": "layered",
    "elk.direction": "DOWN",
    "elk.edgeRouting": "POLYLINE",
    "elk.layered.considerModelOrder.strategy": "NODES_AND_EDGES",
    "elk.layered.cycleBreaking.strategy": "MODEL_ORDER",
    "elk.layered.crossingMinimization.strategy": "LAYER_SWEEP",
    "elk.layered.thoroughness": nodeCount > 150 ? "1" : nodeCount > 60 ? "3" : "7",
    "elk.layered.nodePlacement.strategy": nodeCount > 150 ? "SIMPLE" : "BRANDES_KOEPF",
    "elk.layered.nodePlacement.bk.fixedAlignment": "BALANCED",
    "elk.layered.spacing.nodeNodeBetweenLayers": "30",
    "elk.spacing.nodeNode": "18",
    "elk.layered.spacing.edgeNodeBetweenLayers": "12",
    "elk.layered.spacing.edgeEdgeBetweenLayers": "8",
    "elk.spacing.edgeNode": "10",
    "elk.layered.mergeEdges": "false",
    "elk.separateConnectedComponents": "false",
    "elk.padding": "[top=4,left=4,bottom=4,right=4]",
  };
}

export function toElk(req: LayoutRequest): ElkNode {
  const children: ElkNode[] = req.items.map((it) => ({ id: it.id, width: it.w, height: it.h }));
  const hasIn = req.edges.some((e) => e.from === IN);
  const hasOut = req.edges.some((e) => e.to === OUT);
  if (hasIn)
    children.unshift({ id: IN, width: BORDER_W, height: BORDER_H, layoutOptions: { "elk.layered.layering.layerConstraint": "FIRST_SEPARATE" } });
  if (hasOut) children.push({ id: OUT, width: BORDER_W, height: BORDER_H, layoutOptions: { "elk.layered.layering.layerConstraint": "LAST_SEPARATE" } });
  const edges: ElkExtendedEdge[] = req.edges.map((e) => ({ id: e.id, sources: [e.from], targets: [e.to] }));
  return { id: "root", layoutOptions: layoutOptions(req.items.length), children, edges };
}

export function fromElk(req: LayoutRequest, g: ElkNode, ms: number): GroupLayout {
  const items: Record<string, Rect> = {};
  let inPoint: [number, number] | undefined, outPoint: [number, number] | undefined;
  for (const c of g.children ?? []) {
    const r = { x: c.x ?? 0, y: c.y ?? 0, w: c.width ?? 0, h: c.height ?? 0 };
    if (c.id === IN) inPoint = [r.x + r.w / 2, r.y + r.h / 2];
    else if (c.id === OUT) outPoint = [r.x + r.w / 2, r.y + r.h / 2];
    else items[c.id] = r;
  }
  const edges: LaidEdge[] = [];
  for (const e of (g.edges ?? []) as ElkExtendedEdge[]) {
    const s = e.sections?.[0];
    if (!s) continue;
    const pts = [s.startPoint.x, s.startPoint.y];
    for (const b of s.bendPoints ?? []) pts.push(b.x, b.y);
    pts.push(s.endPoint.x, s.endPoint.y);
    edges.push({ id: e.id, points: pts });
  }
  return { key: req.key, width: g.width ?? 0, height: g.height ?? 0, items, edges, inPoint, outPoint, ms };
}
