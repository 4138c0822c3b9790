import assert from "node:assert/strict";
import { composeScene, HEADER, PAD } from "../../../webviews/explorer/scene.ts";
import { quickLayout } from "../../../webviews/explorer/layout/quick.ts";
import type { GroupLayout, LayoutRequest, Rect } from "../../../webviews/explorer/layout/elkGraph.ts";
import type { GroupView, ViewItem } from "../../../analyzers/explorer/types.ts";

const item = (id: string, kind: ViewItem["kind"] = "node"): ViewItem => ({ id, kind, label: id, expandable: kind === "group", summary: kind === "group" ? { nodes: 2, folded: 0, ops: [] } : undefined });
const view = (id: string, items: ViewItem[], edges: [string, string][]): GroupView => ({
  id,
  label: id,
  kind: id === "g0" ? "root" : "scope",
  module: "",
  path: [],
  summary: { nodes: 0, folded: 0, ops: [] },
  items,
  edges: edges.map(([from, to], i) => ({ id: `e${i}`, from, to, tensors: [], count: 1, skip: false })),
});

function overlaps(a: Rect, b: Rect): boolean {
  return a.x < b.x + b.w - 0.01 && b.x < a.x + a.w - 0.01 && a.y < b.y + b.h - 0.01 && b.y < a.y + a.h - 0.01;
}

describe("explorer scene", () => {
  // Root: a → G → c, with b beside G (same band) and G expanding into three stacked nodes.
  const root = view("g0", [item("a"), item("g1", "group"), item("b"), item("c")], [["a", "g1"], ["g1", "c"], ["a", "b"]]);
  const inner = view("g1", [item("x"), item("y"), item("z")], [["^in", "x"], ["x", "y"], ["y", "z"], ["z", "$out"]]);
  const rootLayout: GroupLayout = {
    key: "r",
    width: 400,
    height: 220,
    ms: 0,
    items: { a: { x: 150, y: 0, w: 100, h: 40 }, g1: { x: 100, y: 80, w: 150, h: 60 }, b: { x: 280, y: 80, w: 100, h: 40 }, c: { x: 150, y: 180, w: 100, h: 40 } },
    edges: [
      { id: "e0", points: [200, 40, 175, 80] },
      { id: "e1", points: [175, 140, 200, 180] },
      { id: "e2", points: [200, 40, 330, 80] },
    ],
  };
  const innerLayout: GroupLayout = {
    key: "i",
    width: 300,
    height: 200,
    ms: 0,
    items: { x: { x: 0, y: 20, w: 300, h: 40 }, y: { x: 100, y: 90, w: 100, h: 40 }, z: { x: 100, y: 160, w: 100, h: 40 } },
    edges: [
      { id: "e0", points: [150, 10, 150, 20] },
      { id: "e1", points: [150, 60, 150, 90] },
      { id: "e2", points: [150, 130, 150, 160] },
      { id: "e3", points: [150, 200, 150, 210] },
    ],
    inPoint: [150, 4],
    outPoint: [150, 212],
  };
  const views = new Map([["g0", root], ["g1", inner]]);
  const layouts = new Map([["g0", rootLayout], ["g1", innerLayout]]);

  it("draws collapsed groups at their laid-out place", () => {
    const s = composeScene({ rootGroup: "g0", expanded: new Set(), views, layouts });
    assert.deepEqual(s.items.map((i) => i.id), ["a", "g1", "b", "c"]);
    assert.equal(s.byId.get("g1")!.rect.w, 150);
    assert.equal(s.edges.length, 3);
  });

  it("grows an expanded group in place: below moves down, the same band moves aside, nothing overlaps", () => {
    const before = composeScene({ rootGroup: "g0", expanded: new Set(), views, layouts });
    const s = composeScene({ rootGroup: "g0", expanded: new Set(["g1"]), views, layouts });
    const g = s.byId.get("g1")!;
    assert.ok(g.expanded);
    const innerW = 300 + 0, innerH = 208; // content bounds: items and border points
    assert.ok(g.rect.w >= innerW + 2 * PAD - 1, `width ${g.rect.w}`);
    assert.ok(g.rect.h >= innerH + HEADER + PAD - 1, `height ${g.rect.h}`);
    const a0 = before.byId.get("a")!.rect, c0 = before.byId.get("c")!.rect, b0 = before.byId.get("b")!.rect, g0 = before.byId.get("g1")!.rect;
    const a = s.byId.get("a")!.rect, c = s.byId.get("c")!.rect, b = s.byId.get("b")!.rect;
    const dh = g.rect.h - g0.h, dw = g.rect.w - g0.w;
    // Relative placement kept: a above (unchanged), c below by exactly the growth, b pushed right by half.
    assert.equal(c.y - a.y, c0.y - a0.y + dh);
    assert.equal(c.x - a.x, c0.x - a0.x);
    assert.equal(b.x - a.x, b0.x - a0.x + dw / 2);
    assert.equal(g.rect.x + g.rect.w / 2 - (a.x + a.w / 2), g0.x + g0.w / 2 - (a0.x + a0.w / 2), "the group stays centred where it was");
    const top = s.items.filter((i) => i.parent === "g0").map((i) => i.rect);
    for (let i = 0; i < top.length; i++) for (let j = i + 1; j < top.length; j++) assert.ok(!overlaps(top[i]!, top[j]!), `items ${i} and ${j} overlap`);
    // Children sit inside the container, below its header.
    for (const id of ["x", "y", "z"]) {
      const r = s.byId.get(id)!.rect;
      assert.ok(r.x >= g.rect.x && r.x + r.w <= g.rect.x + g.rect.w + 0.01 && r.y >= g.rect.y + HEADER && r.y + r.h <= g.rect.y + g.rect.h + 0.01, `${id} outside`);
    }
    // The edge into the group ends at its top centre; the edge out starts at its bottom centre.
    const into = s.edges.find((e) => e.group === "g0" && e.edge.to === "g1")!.points;
    assert.deepEqual(into.slice(-2), [g.rect.x + g.rect.w / 2, g.rect.y]);
    const out = s.edges.find((e) => e.group === "g0" && e.edge.from === "g1")!.points;
    assert.deepEqual(out.slice(0, 2), [g.rect.x + g.rect.w / 2, g.rect.y + g.rect.h]);
    // Border edges inside start at the container's top centre.
    const fromBorder = s.edges.find((e) => e.group === "g1" && e.edge.from === "^in")!.points;
    assert.ok(Math.abs(fromBorder[0]! - (g.rect.x + g.rect.w / 2)) < 0.01 && Math.abs(fromBorder[1]! - g.rect.y) < 0.01);
  });

  it("draws an expanded group collapsed until its layout is there", () => {
    const s = composeScene({ rootGroup: "g0", expanded: new Set(["g1"]), views, layouts: new Map([["g0", rootLayout]]) });
    assert.deepEqual(s.pending, ["g1"]);
    assert.ok(!s.byId.get("g1")!.expanded);
  });

  it("quick layout puts every edge's target below its source", () => {
    const req: LayoutRequest = {
      key: "q",
      items: ["a", "b", "c", "d", "e"].map((id) => ({ id, w: 80, h: 40 })),
      edges: [["^in", "a"], ["a", "b"], ["b", "c"], ["a", "c"], ["c", "d"], ["a", "e"], ["d", "$out"], ["e", "$out"]].map(([from, to], i) => ({ id: `e${i}`, from: from!, to: to! })),
    };
    const l = quickLayout(req);
    for (const e of req.edges) {
      if (e.from.startsWith("^") || e.to.startsWith("$")) continue;
      assert.ok(l.items[e.to]!.y > l.items[e.from]!.y, `${e.from} → ${e.to}`);
    }
    const rects = Object.values(l.items);
    for (let i = 0; i < rects.length; i++) for (let j = i + 1; j < rects.length; j++) assert.ok(!overlaps(rects[i]!, rects[j]!));
    assert.equal(l.edges.length, req.edges.length);
  });
});
