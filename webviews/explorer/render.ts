/**
 * SVG renderer with viewport culling and level of detail: only items and edges near the viewport are
 * in the DOM (a uniform grid finds them), new elements are created within a per-frame budget, text is
 * hidden when zoomed far out. Pan and zoom change one transform; expand/collapse animates the items
 * that move (transforms) and fades in what appears, without laying anything out again.
 */
import type { ItemId } from "../../analyzers/explorer/types.ts";
import type { Rect } from "./layout/elkGraph.ts";
import { fit, fitList, GROUP_H, itemText, textWidth } from "./measure.ts";
import { opCategory } from "./palette.ts";
import { unknownMacsNote } from "../../analyzers/explorer/format.ts";
import { HEADER, type Scene, type SceneEdge, type SceneItem } from "./scene.ts";

const SVG = "http://www.w3.org/2000/svg";
const CELL = 512;
/**
 * Elements are created for at most this many ms of script per frame (at least MIN_CREATE items): their
 * style, layout and paint cost grows with them, so a frame that creates hundreds (zooming out over an
 * expanded model) would be a long task; the rest follow in the next frames, nearest the centre first.
 */
const CREATE_MS = 8;
const MIN_CREATE = 24;
const ANIM_MS = 220;

export interface View {
  x: number;
  y: number;
  k: number;
}

export interface Decoration {
  fill?: string;
  ink?: string;
  stripes?: string[];
  cls?: string[];
  badge?: string;
  hist?: { counts: number[]; colors: string[] };
  /** Extra words for the accessible label (the overlay's value). */
  describe?: string;
}

export interface RendererEvents {
  select(id: ItemId | null, additive: boolean): void;
  toggle(id: ItemId): void;
  viewChanged(v: View): void;
  hoverEdge(e: SceneEdge | null, clientX: number, clientY: number): void;
}

interface ItemEl {
  g: SVGGElement;
  si: SceneItem;
  /** The translate last written (to skip unchanged writes). */
  x?: number;
  y?: number;
}

const el = <K extends keyof SVGElementTagNameMap>(tag: K, attrs: Record<string, string | number> = {}, parent?: Element): SVGElementTagNameMap[K] => {
  const e = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, String(v));
  parent?.appendChild(e);
  return e;
};

export class Renderer {
  readonly svg: SVGSVGElement;
  private readonly vp: SVGGElement;
  private readonly layerContainers: SVGGElement;
  private readonly layerEdges: SVGGElement;
  private readonly layerItems: SVGGElement;
  private scene: Scene | undefined;
  private grid = new Map<string, { items: SceneItem[]; edges: SceneEdge[] }>();
  private edgeByKey = new Map<string, SceneEdge>();
  private readonly itemEls = new Map<ItemId, ItemEl>();
  /** Edge paths by key, with the scene edge last drawn (its path is rewritten only when it moved). */
  private readonly edgeEls = new Map<string, { p: SVGPathElement; se: SceneEdge; d: string }>();
  private readonly containerEls = new Map<ItemId, SVGGElement>();
  private readonly containerRects = new Map<ItemId, string>();
  view: View = { x: 0, y: 0, k: 1 };
  private frame = 0;
  private anim: { from: Map<ItemId, Rect>; start: number } | undefined;
  private decorate: (si: SceneItem) => Decoration | undefined = () => undefined;
  private selected: ItemId | null = null;
  private focused: ItemId | null = null;
  private lod = "";
  /** Items still to create after a budget-limited frame. */
  private backlog = false;
  private readonly reduceMotion = matchMedia("(prefers-reduced-motion: reduce)").matches;

  constructor(
    readonly host: HTMLElement,
    private readonly events: RendererEvents,
  ) {
    this.svg = el("svg", { class: "canvas", role: "presentation" });
    const defs = el("defs", {}, this.svg);
    const marker = el("marker", { id: "arrow", viewBox: "0 0 8 8", refX: 7, refY: 4, markerWidth: 7, markerHeight: 7, orient: "auto-start-reverse" }, defs);
    el("path", { d: "M0,0 L8,4 L0,8 z", class: "arrowhead" }, marker);
    this.vp = el("g", { class: "vp" }, this.svg);
    this.layerContainers = el("g", { class: "containers" }, this.vp);
    this.layerEdges = el("g", { class: "edges" }, this.vp);
    this.layerItems = el("g", { class: "items" }, this.vp);
    host.appendChild(this.svg);
    this.bindPointer();
    // The host's size, kept by a ResizeObserver: reading clientWidth per frame would force a layout.
    this.hostSize = { w: host.clientWidth || 800, h: host.clientHeight || 600 };
    new ResizeObserver((entries) => {
      const r = entries[0]!.contentRect;
      // A hidden host (an editor tab in the background) has no size: keep the last one.
      if (r.width && r.height && (r.width !== this.hostSize.w || r.height !== this.hostSize.h)) this.resized(this.hostSize, { w: r.width, h: r.height });
      this.schedule();
    }).observe(host);
  }

  private hostSize: { w: number; h: number };
  /**
   * The last fit while the view has not moved since (the whole scene when `r` is undefined): a resize
   * fits it again. Any other change of the view (pan, zoom, centring, anchoring) clears it.
   */
  private lastFit: { r?: Rect; maxK: number } | undefined;

  /** The fit the view still shows, if it has not moved since (saved with the state). */
  get fitted(): { r?: Rect; maxK: number } | undefined {
    return this.lastFit;
  }

  /**
   * The graph area changed size (the editor was split, the details pane opened below, the toolbar
   * wrapped): fit again if the view is still a fit; otherwise keep the world point at the centre where
   * it was, and keep the selected item in view if it was.
   */
  private resized(old: { w: number; h: number }, now: { w: number; h: number }): void {
    this.hostSize = now;
    if (!this.scene) return;
    if (this.lastFit) {
      this.fit(this.lastFit.r, this.lastFit.maxK);
      return;
    }
    const sel = this.selected ? this.scene.byId.get(this.selected) : undefined;
    const box = (size: { w: number; h: number }, v: View) => {
      if (!sel) return undefined;
      const r = sel.rect;
      const s = { x: v.x + r.x * v.k, y: v.y + r.y * v.k, w: r.w * v.k, h: Math.min(r.h, GROUP_H) * v.k };
      return { s, inside: s.x >= 0 && s.y >= 0 && s.x + s.w <= size.w && s.y + s.h <= size.h };
    };
    const before = box(old, this.view);
    const v = { k: this.view.k, x: this.view.x + (now.w - old.w) / 2, y: this.view.y + (now.h - old.h) / 2 };
    const after = box(now, v);
    if (before?.inside && after && !after.inside) {
      // Clear of the edges and of what lies over them (the status line, the minimap's top).
      const mx = Math.min(48, now.w / 6), my = Math.min(48, now.h / 6);
      const { s } = after;
      if (s.x < mx) v.x += mx - s.x;
      else if (s.x + s.w > now.w - mx) v.x -= Math.min(s.x - mx, s.x + s.w - (now.w - mx));
      if (s.y < my) v.y += my - s.y;
      else if (s.y + s.h > now.h - my) v.y -= Math.min(s.y - my, s.y + s.h - (now.h - my));
    }
    this.setView(v);
  }

  get size(): { w: number; h: number } {
    return this.hostSize;
  }

  getScene(): Scene | undefined {
    return this.scene;
  }

  /** No frame pending, nothing left to create, no animation running. */
  get settled(): boolean {
    return !this.frame && !this.backlog && !this.anim;
  }

  setDecorator(fn: (si: SceneItem) => Decoration | undefined): void {
    this.decorate = fn;
    this.redecorate();
  }

  /** Re-applies decorations to every live element (overlay or highlight changed). */
  redecorate(): void {
    for (const { g, si } of this.itemEls.values()) this.applyDecoration(g, si);
    for (const [id, g] of this.containerEls) {
      const si = this.scene?.byId.get(id);
      if (si) this.applyDecoration(g, si);
    }
  }

  setScene(scene: Scene, animate: boolean): void {
    const old = this.scene;
    this.scene = scene;
    this.grid = buildGrid(scene);
    this.edgeByKey = new Map(scene.edges.map((e) => [e.key, e]));
    if (animate && old && !this.reduceMotion) {
      const from = new Map<ItemId, Rect>();
      for (const si of old.items) from.set(si.id, si.rect);
      this.anim = { from, start: performance.now() };
      this.svg.classList.add("animating");
    } else this.anim = undefined;
    // Elements whose kind changed (collapsed ↔ expanded) are rebuilt.
    for (const [id, e] of this.itemEls) {
      const si = scene.byId.get(id);
      if (!si || si.expanded || si.item !== e.si.item) {
        e.g.remove();
        this.itemEls.delete(id);
      } else e.si = si;
    }
    for (const [id, g] of this.containerEls) {
      const si = scene.byId.get(id);
      if (!si || !si.expanded) {
        g.remove();
        this.containerEls.delete(id);
      }
      this.containerRects.delete(id);
    }
    // Edges stay (hidden while the scene animates) and are updated, not rebuilt, when it settles.
    this.schedule();
  }

  setView(v: View): void {
    this.lastFit = undefined;
    this.view = { x: v.x, y: v.y, k: Math.min(4, Math.max(0.02, v.k)) };
    this.events.viewChanged(this.view);
    this.schedule();
  }

  /** Fits the whole scene (or a rect) into the viewport. */
  fit(r?: Rect, maxK = 1.5): void {
    const b = r ?? this.scene?.bounds;
    if (!b) return;
    const { w, h } = this.size;
    const m = 24;
    const k = Math.min(maxK, Math.max(0.02, Math.min((w - 2 * m) / Math.max(1, b.w), (h - 2 * m) / Math.max(1, b.h))));
    this.setView({ k, x: (w - b.w * k) / 2 - b.x * k, y: Math.max(m, (h - b.h * k) / 2) - b.y * k });
    this.lastFit = { r: r ? { ...r } : undefined, maxK };
  }

  /** Centres an item, zooming in to at least `minK`. */
  centerOn(id: ItemId, minK = 0.8): boolean {
    const si = this.scene?.byId.get(id);
    if (!si) return false;
    const { w, h } = this.size;
    const k = Math.max(this.view.k, minK);
    const cx = si.rect.x + si.rect.w / 2, cy = si.rect.y + Math.min(si.rect.h, GROUP_H) / 2;
    this.setView({ k, x: w / 2 - cx * k, y: h / 2 - cy * k });
    return true;
  }

  /** Keeps an item's screen position when the scene changes under it (expand/collapse). */
  anchor(id: ItemId, before: Rect | undefined): void {
    const si = this.scene?.byId.get(id);
    if (!si || !before) return;
    const k = this.view.k;
    const dx = (si.rect.x + si.rect.w / 2 - (before.x + before.w / 2)) * k;
    const dy = (si.rect.y - before.y) * k;
    this.setView({ k, x: this.view.x - dx, y: this.view.y - dy });
  }

  zoomBy(f: number, cx?: number, cy?: number): void {
    const { w, h } = this.size;
    const px = cx ?? w / 2, py = cy ?? h / 2;
    const k = Math.min(4, Math.max(0.02, this.view.k * f));
    const wx = (px - this.view.x) / this.view.k, wy = (py - this.view.y) / this.view.k;
    this.setView({ k, x: px - wx * k, y: py - wy * k });
  }

  panBy(dx: number, dy: number): void {
    this.setView({ k: this.view.k, x: this.view.x + dx, y: this.view.y + dy });
  }

  setSelected(id: ItemId | null): void {
    this.mark(this.selected, "selected", false);
    this.selected = id;
    this.mark(id, "selected", true);
  }

  setFocused(id: ItemId | null): void {
    this.mark(this.focused, "focused", false);
    this.focused = id;
    this.mark(id, "focused", true);
  }

  /** Briefly pulses an item (search jump). */
  flash(id: ItemId): void {
    const e = this.itemEls.get(id)?.g ?? this.containerEls.get(id);
    if (!e) return;
    e.classList.remove("flash");
    void e.getBoundingClientRect();
    e.classList.add("flash");
  }

  elementOf(id: ItemId): SVGGElement | undefined {
    return this.itemEls.get(id)?.g ?? this.containerEls.get(id);
  }

  /** The visible world rectangle. */
  worldViewport(margin = 0): Rect {
    const { w, h } = this.size;
    const k = this.view.k;
    return { x: -this.view.x / k - margin / k, y: -this.view.y / k - margin / k, w: w / k + (2 * margin) / k, h: h / k + (2 * margin) / k };
  }

  schedule(): void {
    if (this.frame) return;
    this.frame = requestAnimationFrame(() => {
      this.frame = 0;
      this.draw();
    });
  }

  private mark(id: ItemId | null, cls: string, on: boolean): void {
    if (!id) return;
    this.elementOf(id)?.classList.toggle(cls, on);
  }

  // ---- drawing --------------------------------------------------------------------------------

  private draw(): void {
    const scene = this.scene;
    if (!scene) return;
    const { x, y, k } = this.view;
    this.vp.setAttribute("transform", `translate(${x},${y}) scale(${k})`);
    const lod = k < 0.18 ? "far" : k < 0.42 ? "mid" : "near";
    if (lod !== this.lod) {
      this.svg.classList.remove(`lod-${this.lod}`);
      this.svg.classList.add(`lod-${lod}`);
      this.lod = lod;
    }
    let t = 1;
    if (this.anim) {
      t = Math.min(1, (performance.now() - this.anim.start) / ANIM_MS);
      t = 1 - (1 - t) * (1 - t);
    }
    const vr = this.worldViewport(Math.max(this.size.w, this.size.h) * 0.25);
    const wanted = new Set<SceneItem>();
    const wantedEdges = new Set<SceneEdge>();
    // Cells of the viewport within the scene's bounds; when zoomed far out, testing every item is cheaper.
    const b = scene.bounds;
    const c0 = Math.floor(Math.max(vr.x, b.x) / CELL), c1 = Math.floor(Math.min(vr.x + vr.w, b.x + b.w) / CELL);
    const r0 = Math.floor(Math.max(vr.y, b.y) / CELL), r1 = Math.floor(Math.min(vr.y + vr.h, b.y + b.h) / CELL);
    const cells = Math.max(0, c1 - c0 + 1) * Math.max(0, r1 - r0 + 1);
    if (cells > this.grid.size) {
      for (const si of scene.items) if (!si.expanded && intersects(si.rect, vr)) wanted.add(si);
      if (!this.anim) for (const e of scene.edges) if (intersects(edgeBox(e), vr)) wantedEdges.add(e);
    } else
      for (let cx = c0; cx <= c1; cx++)
        for (let cy = r0; cy <= r1; cy++) {
          const cell = this.grid.get(`${cx},${cy}`);
          if (!cell) continue;
          for (const si of cell.items) wanted.add(si);
          if (!this.anim) for (const e of cell.edges) wantedEdges.add(e);
        }
    // Items animating in from outside the view are drawn too.
    if (this.anim)
      for (const si of scene.items) {
        const from = this.anim.from.get(si.id);
        if (from && intersects(from, vr)) wanted.add(si);
      }

    // Containers (expanded groups) are few: always drawn.
    for (const si of scene.items) if (si.expanded) this.drawContainer(si, t);
    let created = 0;
    const deadline = performance.now() + CREATE_MS;
    const budgetLeft = () => created < MIN_CREATE || performance.now() < deadline;
    this.backlog = false;
    const wantedIds = new Set<ItemId>();
    // When not everything can be created this frame, what is nearest the view's centre comes first.
    let order: Iterable<SceneItem> = wanted;
    let missing = 0;
    for (const si of wanted) if (!si.expanded && !this.itemEls.has(si.id)) missing++;
    if (missing > MIN_CREATE) {
      const cx = vr.x + vr.w / 2, cy = vr.y + vr.h / 2;
      const d = (si: SceneItem) => Math.abs(si.rect.x + si.rect.w / 2 - cx) + Math.abs(si.rect.y + si.rect.h / 2 - cy);
      order = [...wanted].sort((a, b) => d(a) - d(b));
    }
    for (const si of order) {
      if (si.expanded) continue;
      wantedIds.add(si.id);
      let e = this.itemEls.get(si.id);
      if (!e) {
        if (!budgetLeft()) {
          this.backlog = true;
          continue;
        }
        created++;
        e = { g: this.createItem(si), si };
        this.itemEls.set(si.id, e);
        if (this.anim && !this.anim.from.has(si.id)) e.g.classList.add("appear");
      }
      const r = this.animRect(si, t);
      if (e.x !== r.x || e.y !== r.y) {
        e.g.setAttribute("transform", `translate(${r.x},${r.y})`);
        e.x = r.x;
        e.y = r.y;
      }
    }
    for (const [id, e] of this.itemEls)
      if (!wantedIds.has(id)) {
        e.g.remove();
        this.itemEls.delete(id);
      }
    if (!this.anim) {
      const wantedKeys = new Set<string>();
      for (const se of wantedEdges) {
        const e = this.edgeEls.get(se.key);
        if (e) {
          wantedKeys.add(se.key);
          if (e.se !== se) this.updateEdge(e, se);
          continue;
        }
        if (!budgetLeft()) {
          this.backlog = true;
          continue;
        }
        created++;
        wantedKeys.add(se.key);
        const d = pathOf(se.points);
        this.edgeEls.set(se.key, { p: this.createEdge(se, d), se, d });
      }
      for (const [key, e] of this.edgeEls)
        if (!wantedKeys.has(key)) {
          e.p.remove();
          this.edgeEls.delete(key);
        }
    }
    if (this.anim && t >= 1) {
      this.anim = undefined;
      this.svg.classList.remove("animating");
      for (const e of this.itemEls.values()) e.g.classList.remove("appear");
      this.schedule();
    } else if (this.anim || this.backlog) this.schedule();
  }

  private animRect(si: SceneItem, t: number): Rect {
    const from = this.anim?.from.get(si.id);
    if (!from || t >= 1) return si.rect;
    const r = si.rect;
    return { x: from.x + (r.x - from.x) * t, y: from.y + (r.y - from.y) * t, w: from.w + (r.w - from.w) * t, h: from.h + (r.h - from.h) * t };
  }

  private createItem(si: SceneItem): SVGGElement {
    const it = si.item;
    const { w, h } = si.rect;
    const cat = it.kind === "group" ? "group" : opCategory(it.op ?? "");
    const g = el("g", {
      class: `it ${it.kind} cat-${cat}`,
      id: `it-${si.id}`,
      "data-id": si.id,
      "data-parent": si.parent,
      "data-kind": it.kind,
      role: "button",
      "aria-roledescription": it.kind === "group" ? "group" : it.kind === "node" ? "node" : `graph ${it.kind}`,
    });
    if (it.kind === "group" || it.expandable) g.setAttribute("aria-expanded", "false");
    const text = itemText(it);
    if (it.kind === "group") {
      el("rect", { class: "stack", x: 4, y: 4, width: w, height: h, rx: 6 }, g);
      el("rect", { class: "box", width: w, height: h, rx: 6 }, g);
      el("text", { class: "t1", x: 12, y: 19 }, g).textContent = fit(text.title, "title", w - 48);
      if (text.sub) {
        const t = el("text", { class: "t2 cls", x: w - 28, y: 19, "text-anchor": "end" }, g);
        t.textContent = fit(text.sub, "sub", Math.max(0, w - 60 - Math.min(w - 48, text.title.length * 7)));
      }
      el("text", { class: "t2", x: 12, y: 36 }, g).textContent = fitList(text.opsParts!, "sub", w - 22);
      const stat = el("text", { class: `t2 stat-line${it.summary?.macsUnknown ? " macs-unknown" : ""}`, x: 12, y: 52 }, g);
      stat.textContent = fit(text.stats!, "sub", w - 20);
      // A partial sum is marked ("≥") and says why on hover.
      if (it.summary?.macsUnknown) el("title", {}, stat).textContent = unknownMacsNote(it.summary.macsUnknown);
      this.toggleGlyph(g, w - 20, 6, false);
    } else {
      const rx = it.kind === "node" ? 4 : h / 2;
      el("rect", { class: "box", width: w, height: h, rx }, g);
      if (it.kind === "node") el("rect", { class: "bar", width: 4, height: h - 2, x: 1, y: 1, rx: 2 }, g);
      const pad = it.kind === "node" ? 12 : 14;
      el("text", { class: "t1", x: pad, y: 17 }, g).textContent = fit(text.title, "title", w - pad - (it.expandable ? 22 : 8));
      if (text.sub) el("text", { class: "t2 mono", x: pad, y: 32 }, g).textContent = fit(text.sub, "mono", w - pad - 8);
      if (it.expandable) this.toggleGlyph(g, w - 20, 4, false);
    }
    g.setAttribute("aria-label", this.describe(si));
    this.applyDecoration(g, si);
    if (si.id === this.selected) g.classList.add("selected");
    if (si.id === this.focused) g.classList.add("focused");
    this.layerItems.appendChild(g);
    return g;
  }

  private toggleGlyph(g: SVGGElement, x: number, y: number, expanded: boolean): void {
    const t = el("g", { class: "toggle", transform: `translate(${x},${y})`, "data-toggle": "1" }, g);
    el("rect", { width: 14, height: 14, rx: 3 }, t);
    el("path", { d: expanded ? "M3.5,7 H10.5" : "M3.5,7 H10.5 M7,3.5 V10.5" }, t);
  }

  private describe(si: SceneItem): string {
    const it = si.item;
    const t = itemText(it);
    const dec = this.decorate(si);
    const extra = dec?.describe ? `, ${dec.describe}` : "";
    if (it.kind === "group") return `${si.expanded ? "Expanded" : "Collapsed"} group ${t.title}${t.sub ? ` (${t.sub})` : ""}, ${t.ops}, ${t.stats}${it.summary?.macsUnknown ? `, ${unknownMacsNote(it.summary.macsUnknown)}` : ""}${extra}`;
    if (it.kind === "input") return `Graph input ${t.title} ${t.sub}${extra}`;
    if (it.kind === "output") return `Graph output ${t.title} ${t.sub}${extra}`;
    return `${it.op} node ${it.label !== it.op ? it.label : ""} ${it.detail ? `output ${it.detail}` : ""}${extra}`;
  }

  private drawContainer(si: SceneItem, t: number): void {
    let g = this.containerEls.get(si.id);
    const r = this.animRect(si, t);
    if (!g) {
      g = el("g", { class: `ct depth-${si.depth % 4}`, id: `it-${si.id}`, "data-id": si.id, "data-parent": si.parent, "data-kind": "container", role: "button", "aria-roledescription": "expanded group", "aria-expanded": "true" });
      el("rect", { class: "frame", rx: 8 }, g);
      el("rect", { class: "head", height: HEADER, rx: 8 }, g);
      const text = itemText(si.item);
      el("text", { class: "t1", x: 12, y: 17 }, g).textContent = text.title + (text.sub ? `  ·  ${text.sub}` : "");
      el("text", { class: "t2 meta", y: 17, "text-anchor": "end" }, g).textContent = text.stats ?? "";
      this.toggleGlyph(g, 0, 6, true);
      g.setAttribute("aria-label", this.describe(si));
      this.applyDecoration(g, si);
      if (si.id === this.selected) g.classList.add("selected");
      if (si.id === this.focused) g.classList.add("focused");
      this.layerContainers.appendChild(g);
      this.containerEls.set(si.id, g);
    }
    const key = `${r.x},${r.y},${r.w},${r.h}`;
    if (this.containerRects.get(si.id) === key) return;
    this.containerRects.set(si.id, key);
    g.setAttribute("transform", `translate(${r.x},${r.y})`);
    const frame = g.children[0] as SVGRectElement, head = g.children[1] as SVGRectElement;
    frame.setAttribute("width", String(r.w));
    frame.setAttribute("height", String(r.h));
    head.setAttribute("width", String(r.w));
    (g.children[3] as SVGTextElement).setAttribute("x", String(r.w - 28));
    (g.children[4] as SVGGElement).setAttribute("transform", `translate(${r.w - 20},6)`);
  }

  private createEdge(se: SceneEdge, d: string): SVGPathElement {
    const p = el("path", { d, class: edgeClass(se), "data-key": se.key, "marker-end": "url(#arrow)" });
    this.layerEdges.appendChild(p);
    return p;
  }

  private updateEdge(e: { p: SVGPathElement; se: SceneEdge; d: string }, se: SceneEdge): void {
    const d = pathOf(se.points);
    if (d !== e.d) e.p.setAttribute("d", (e.d = d));
    const cls = edgeClass(se);
    if (cls !== edgeClass(e.se)) e.p.setAttribute("class", cls);
    e.se = se;
  }

  private applyDecoration(g: SVGGElement, si: SceneItem): void {
    const d = this.decorate(si);
    const box = g.querySelector<SVGRectElement>(":scope > rect.box, :scope > rect.frame");
    const prev = g.getAttribute("data-ov-cls");
    if (prev) for (const c of prev.split(" ")) if (c) g.classList.remove(c);
    g.querySelector(":scope > g.ov")?.remove();
    g.removeAttribute("data-ov-fill");
    if (box) {
      box.style.fill = d?.fill ?? "";
      g.style.setProperty("--ink", d?.ink ?? "");
    }
    if (!d) {
      g.removeAttribute("data-ov-cls");
      return;
    }
    if (d.fill) g.setAttribute("data-ov-fill", d.fill);
    if (d.cls?.length) {
      for (const c of d.cls) g.classList.add(c);
      g.setAttribute("data-ov-cls", d.cls.join(" "));
    } else g.removeAttribute("data-ov-cls");
    const w = si.expanded ? si.rect.w : Number(box?.getAttribute("width") ?? si.rect.w);
    const h = si.expanded ? HEADER : Number(box?.getAttribute("height") ?? si.rect.h);
    if (d.stripes?.length || d.badge || d.hist) {
      const ov = el("g", { class: "ov" }, g);
      d.stripes?.forEach((c, i) => {
        const s = el("rect", { class: "stripe", x: w - 6 - i * 5, y: 3, width: 4, height: h - 6, rx: 1 }, ov);
        s.style.fill = c;
      });
      if (d.hist) {
        const n = d.hist.counts.length;
        const max = Math.max(1, ...d.hist.counts);
        const bw = Math.min(10, (w - 24) / n);
        const x0 = w - 12 - bw * n;
        d.hist.counts.forEach((c, i) => {
          if (!c) return;
          const bh = Math.max(1.5, (c / max) * 12);
          const r = el("rect", { class: "hbar", x: x0 + i * bw, y: h - 4 - bh, width: Math.max(1, bw - 1), height: bh }, ov);
          r.style.fill = d.hist!.colors[i]!;
        });
      }
      if (d.badge) {
        // Collapsed: above the box's top-right corner; expanded: in the title bar after the title.
        const title = itemText(si.item);
        const bx = si.expanded ? 12 + textWidth(title.title + (title.sub ? `  ·  ${title.sub}` : ""), "title") + 14 : w - 4;
        const t = el("text", { class: "badge", x: bx, y: si.expanded ? 17 : -4, "text-anchor": si.expanded ? "start" : "end" }, ov);
        t.textContent = d.badge;
      }
    }
  }

  // ---- input ----------------------------------------------------------------------------------

  private bindPointer(): void {
    let drag: { x: number; y: number; vx: number; vy: number; moved: boolean; id: number } | undefined;
    this.svg.addEventListener("pointerdown", (ev) => {
      if (ev.button !== 0) return;
      drag = { x: ev.clientX, y: ev.clientY, vx: this.view.x, vy: this.view.y, moved: false, id: ev.pointerId };
    });
    this.svg.addEventListener("pointermove", (ev) => {
      if (drag && drag.id === ev.pointerId) {
        const dx = ev.clientX - drag.x, dy = ev.clientY - drag.y;
        if (!drag.moved && Math.hypot(dx, dy) > 4) {
          drag.moved = true;
          this.svg.setPointerCapture(ev.pointerId);
          this.svg.classList.add("panning");
        }
        if (drag.moved) this.setView({ k: this.view.k, x: drag.vx + dx, y: drag.vy + dy });
        return;
      }
      const target = ev.target as Element;
      if (target instanceof SVGPathElement && target.classList.contains("edge")) {
        const key = target.getAttribute("data-key")!;
        const se = this.edgeByKey.get(key) ?? null;
        this.events.hoverEdge(se, ev.clientX, ev.clientY);
      } else this.events.hoverEdge(null, 0, 0);
    });
    const end = (ev: PointerEvent) => {
      if (!drag || drag.id !== ev.pointerId) return;
      const wasDrag = drag.moved;
      drag = undefined;
      this.svg.classList.remove("panning");
      if (wasDrag) return;
      const target = ev.target as Element;
      const g = target.closest<SVGGElement>("[data-id]");
      if (target.closest("[data-toggle]") && g) {
        this.events.toggle(g.getAttribute("data-id")!);
        return;
      }
      this.events.select(g ? g.getAttribute("data-id") : null, ev.shiftKey || ev.metaKey || ev.ctrlKey);
    };
    this.svg.addEventListener("pointerup", end);
    this.svg.addEventListener("pointercancel", () => {
      drag = undefined;
      this.svg.classList.remove("panning");
    });
    this.svg.addEventListener("dblclick", (ev) => {
      const target = ev.target as Element;
      const g = target.closest<SVGGElement>("[data-id]");
      if (!g || target.closest("[data-toggle]")) return;
      // An expanded group collapses from its title bar only, not from a double click inside it.
      if (g.getAttribute("data-kind") === "container" && !target.classList.contains("head")) return;
      this.events.toggle(g.getAttribute("data-id")!);
    });
    this.svg.addEventListener(
      "wheel",
      (ev) => {
        ev.preventDefault();
        const rect = this.svg.getBoundingClientRect();
        if (ev.ctrlKey || ev.metaKey) this.zoomBy(Math.exp(-ev.deltaY * 0.0025), ev.clientX - rect.left, ev.clientY - rect.top);
        else if (ev.altKey) this.zoomBy(Math.exp(-ev.deltaY * 0.002), ev.clientX - rect.left, ev.clientY - rect.top);
        else this.panBy(-ev.deltaX, -ev.deltaY);
      },
      { passive: false },
    );
  }
}

const edgeClass = (se: SceneEdge) => `edge${se.edge.skip ? " skip" : ""}${se.edge.count > 1 ? " multi" : ""}`;

const boxes = new WeakMap<SceneEdge, Rect>();
function edgeBox(e: SceneEdge): Rect {
  let r = boxes.get(e);
  if (!r) {
    let x0 = Infinity, y0 = Infinity, x1 = -Infinity, y1 = -Infinity;
    for (let k = 0; k < e.points.length; k += 2) {
      x0 = Math.min(x0, e.points[k]!);
      x1 = Math.max(x1, e.points[k]!);
      y0 = Math.min(y0, e.points[k + 1]!);
      y1 = Math.max(y1, e.points[k + 1]!);
    }
    boxes.set(e, (r = { x: x0, y: y0, w: x1 - x0, h: y1 - y0 }));
  }
  return r;
}

function intersects(a: Rect, b: Rect): boolean {
  return a.x <= b.x + b.w && a.x + a.w >= b.x && a.y <= b.y + b.h && a.y + a.h >= b.y;
}

function buildGrid(scene: Scene): Map<string, { items: SceneItem[]; edges: SceneEdge[] }> {
  const grid = new Map<string, { items: SceneItem[]; edges: SceneEdge[] }>();
  const cell = (cx: number, cy: number) => {
    const key = `${cx},${cy}`;
    let c = grid.get(key);
    if (!c) grid.set(key, (c = { items: [], edges: [] }));
    return c;
  };
  for (const si of scene.items) {
    if (si.expanded) continue;
    const r = si.rect;
    for (let cx = Math.floor(r.x / CELL); cx <= Math.floor((r.x + r.w) / CELL); cx++)
      for (let cy = Math.floor(r.y / CELL); cy <= Math.floor((r.y + r.h) / CELL); cy++) cell(cx, cy).items.push(si);
  }
  for (const se of scene.edges) {
    const seen = new Set<string>();
    const p = se.points;
    for (let k = 0; k + 3 < p.length; k += 2) {
      const x0 = Math.min(p[k]!, p[k + 2]!), x1 = Math.max(p[k]!, p[k + 2]!);
      const y0 = Math.min(p[k + 1]!, p[k + 3]!), y1 = Math.max(p[k + 1]!, p[k + 3]!);
      for (let cx = Math.floor(x0 / CELL); cx <= Math.floor(x1 / CELL); cx++)
        for (let cy = Math.floor(y0 / CELL); cy <= Math.floor(y1 / CELL); cy++) {
          const key = `${cx},${cy}`;
          if (seen.has(key)) continue;
          seen.add(key);
          cell(cx, cy).edges.push(se);
        }
    }
  }
  return grid;
}

/** A polyline with rounded bends (quadratic curves through the bend points). */
export function pathOf(p: readonly number[]): string {
  const n = p.length / 2;
  if (n < 2) return "";
  let d = `M${r1(p[0]!)},${r1(p[1]!)}`;
  if (n === 2) return d + `L${r1(p[2]!)},${r1(p[3]!)}`;
  for (let i = 1; i < n - 1; i++) {
    const x = p[2 * i]!, y = p[2 * i + 1]!;
    const px = p[2 * i - 2]!, py = p[2 * i - 1]!, nx = p[2 * i + 2]!, ny = p[2 * i + 3]!;
    const ax = (px + x) / 2, ay = (py + y) / 2, bx = (x + nx) / 2, by = (y + ny) / 2;
    d += `${i === 1 ? "L" : "L"}${r1(i === 1 ? px + (x - px) * 0.5 : ax)},${r1(i === 1 ? py + (y - py) * 0.5 : ay)}Q${r1(x)},${r1(y)} ${r1(bx)},${r1(by)}`;
  }
  return d + `L${r1(p[2 * n - 2]!)},${r1(p[2 * n - 1]!)}`;
}

const r1 = (v: number) => Math.round(v * 10) / 10;
