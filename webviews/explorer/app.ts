/**
 * The explorer app: asks the host for one group view at a time, lays it out in the worker (cached),
 * composes the scene from the expanded set, and wires the toolbar, search, details, overlays, keyboard
 * and saved state together. The host owns the model; this side only holds what is on screen.
 */
import type { GroupView, ItemId, Location, ModelInfo, OverlayInfo, OverlayItemValue, SearchHit, ViewItem } from "../../analyzers/explorer/types.ts";
import { formatCount, formatInt, formatMacs } from "../../analyzers/explorer/format.ts";
import type { HostEvent } from "../protocol.ts";
import type { GroupLayout, LayoutRequest } from "./layout/elkGraph.ts";
import { LayoutClient } from "./layout/client.ts";
import { quickLayout } from "./layout/quick.ts";
import { headerWidth, initFonts, itemSize } from "./measure.ts";
import { Minimap } from "./minimap.ts";
import { OverlayController } from "./overlay.ts";
import { Renderer, type View } from "./render.ts";
import { composeScene, groupOf, type Scene, type SceneItem } from "./scene.ts";
import { isCancelled, READY, type Transport } from "./transport.ts";
import { DetailsPane } from "./ui/details.ts";
import { h } from "./ui/dom.ts";
import { Legend } from "./ui/legend.ts";
import { SearchResults } from "./ui/search.ts";

interface SavedState {
  v: 1;
  model: string;
  expanded: ItemId[];
  view?: View;
  overlay?: string | null;
  selected?: ItemId | null;
  /** The details pane shown in a wide editor (default true) and in a narrow one (default false). */
  details?: boolean;
  detailsNarrow?: boolean;
  /** The view was a fit (of the whole scene, or of a rect) not moved since: fit again in the new size. */
  fit?: { r?: { x: number; y: number; w: number; h: number }; maxK: number } | null;
  highlight?: string | null;
  /** ELK layouts of the top level and the expanded groups (keys include the box sizes), older states. */
  layouts?: GroupLayout[];
  /**
   * The same as JSON text: one string is cheap to copy on every save (the state is cloned each time the
   * view moves), a tree of thousands of points is not.
   */
  layoutsJson?: string;
}

/** How long an expansion may wait for ELK before it draws the quick layout (the goal is 150 ms in all). */
const EXPAND_WAIT_MS = 50;

/**
 * Below this width of the explorer (an editor split beside a report), the details pane is hidden by
 * default and shown below the graph rather than beside it, so that the graph keeps the whole width.
 */
export const NARROW_PX = 720;

/** Saved layouts are capped so the state stays small (VS Code serialises it on every change). */
const MAX_SAVED_POINTS = 200_000;

export interface AppOptions {
  /** Lay out visible groups' children in idle time (default true). */
  prefetch?: boolean;
  nonce?: string;
}

export class ExplorerApp {
  model!: ModelInfo;
  private readonly views = new Map<ItemId, GroupView>();
  private readonly layouts = new Map<ItemId, GroupLayout>();
  private readonly expanded = new Set<ItemId>();
  private readonly expandOrder: ItemId[] = [];
  private scene: Scene | undefined;
  private readonly renderer: Renderer;
  private readonly minimap: Minimap;
  private readonly overlay: OverlayController;
  private readonly details: DetailsPane;
  private readonly legend: Legend;
  private readonly search: SearchResults;
  private readonly layoutClient: LayoutClient;
  private selected: ItemId | null = null;
  /** Narrow layout (see NARROW_PX), and whether the details pane is wanted in each layout. */
  private narrow = false;
  private detailsWide = true;
  private detailsNarrow = false;
  private focused: ItemId | null = null;
  private busy = 0;
  private idleWaiters: (() => void)[] = [];
  private saveTimer = 0;
  private searchTimer = 0;
  private searchSeq = 0;
  private searchAbort: AbortController | undefined;
  readonly timings: { firstPaint?: number; expand: { id: ItemId; ms: number; layoutMs: number; cached: boolean; quick: boolean }[] } = { expand: [] };
  private readonly els: {
    root: HTMLElement;
    stage: HTMLElement;
    canvasHost: HTMLElement;
    searchField: HTMLElement & { value: string };
    overlaySelect: HTMLElement & { value: string };
    detailsBtn: HTMLElement & { checked: boolean };
    aside: HTMLElement;
    status: HTMLElement;
    live: HTMLElement;
    tooltip: HTMLElement;
    banner: HTMLElement;
  };

  constructor(
    root: HTMLElement,
    private readonly transport: Transport,
    workerSource: string,
    private readonly opts: AppOptions = {},
  ) {
    initFonts(root);
    this.els = this.buildDom(root);
    this.layoutClient = new LayoutClient(workerSource, opts.nonce);
    this.overlay = new OverlayController(transport);
    this.renderer = new Renderer(this.els.canvasHost, {
      select: (id) => void this.select(id, true),
      toggle: (id) => void this.toggle(id),
      viewChanged: () => {
        this.minimap?.updateView();
        this.saveSoon();
      },
      hoverEdge: (e, x, y) => this.showEdgeTip(e, x, y),
    });
    this.renderer.setDecorator((si) => this.overlay.decorate(si));
    this.minimap = new Minimap(root.querySelector<HTMLElement>(".minimap")!, this.renderer, (si) => this.overlay.fillOf(si));
    this.details = new DetailsPane(this.els.aside, {
      reveal: (id) => void this.revealId(id),
      revealTensor: (name) => void this.revealBy({ tensor: name }),
      stats: (name, signal) => this.transport.request("tensorStats", { name, bins: 48 }, signal),
      highlightGroup: (key) => void this.highlightGroup(key),
    });
    this.legend = new Legend(root.querySelector<HTMLElement>(".legend")!, {
      highlightGroup: (key) => void this.highlightGroup(key),
      reveal: (id) => void this.revealId(id),
      colorOfGroup: (key) => this.overlay.colorOfGroup(key),
      matrix: (overlay) => this.transport.request("overlayMatrix", { overlay }),
    });
    this.search = new SearchResults(root.querySelector<HTMLElement>(".search-results")!, (hit) => void this.jump(hit));
    // The explorer's own width (not the window's: a host page may give it less) picks the layout.
    this.setNarrow(root.clientWidth > 0 && root.clientWidth < NARROW_PX);
    this.applyDetails();
    new ResizeObserver((entries) => {
      const w = entries[0]!.contentRect.width;
      if (w > 0) this.setNarrow(w < NARROW_PX);
    }).observe(root);
    transport.onEvent((e) => void this.onHostEvent(e));
    // VS Code switches themes by changing the body's classes: redraw what reads colours in script.
    new MutationObserver(() => {
      initFonts(root);
      if (this.scene) this.minimap.draw(this.scene);
    }).observe(document.body, { attributes: true, attributeFilter: ["class"] });
  }

  // ---- start ----------------------------------------------------------------------------------

  async start(): Promise<void> {
    this.track(1);
    try {
      performance.mark("scalpel-start");
      // The root's view comes with the model: one round trip before the first paint, not two.
      this.model = await this.transport.request("model", { withRoot: true });
      performance.mark("scalpel-model");
      if (this.model.rootView) {
        this.views.set(this.model.root, this.model.rootView);
        delete this.model.rootView;
        performance.mark("scalpel-root-view");
      }
      const saved = this.loadState();
      const savedLayouts = saved ? savedLayoutsOf(saved) : undefined;
      if (savedLayouts) this.layoutClient.seed(savedLayouts);
      this.fillOverlaySelect(this.model.overlays, saved?.overlay ?? null);
      this.setStatus();
      // A saved ELK layout of the top level, or the quick layout: ELK's worker is started only after the
      // first paint, so that parsing and initialising ELK (1.5 MB) does not compete with it for the CPU.
      await this.loadGroup(this.model.root, 0, 0);
      performance.mark("scalpel-root-laid-out");
      if (saved?.overlay) await this.applyOverlay(saved.overlay, false);
      this.compose(false);
      if (saved?.view) this.restoreView(saved);
      else this.renderer.fit(undefined, 1);
      await nextPaint();
      this.timings.firstPaint = performance.now();
      performance.mark("scalpel-first-paint");
      this.transport.notify({ type: "painted", ms: Math.round(performance.now()) });
      this.layoutClient.warmUp();
      if (saved) await this.restore(saved);
      else this.details.showModel(this.model);
      this.transport.notify(READY);
      if (this.opts.prefetch !== false) this.prefetchSoon();
    } catch (e) {
      this.fail(e);
    } finally {
      this.layoutClient.warmUp();
      this.track(-1);
    }
  }

  private async restore(s: SavedState): Promise<void> {
    for (const id of s.expanded) {
      const item = this.findItem(id);
      const gid = item && groupOf(item);
      if (!gid) continue;
      try {
        await this.loadGroup(gid, 0);
        this.expanded.add(id);
        this.expandOrder.push(id);
      } catch {
        // A group that no longer exists (the model changed) is simply not restored.
      }
    }
    if (s.highlight && this.overlay.active) await this.highlightGroup(s.highlight, false);
    this.compose(false);
    if (s.view) this.restoreView(s);
    this.detailsWide = s.details !== false;
    this.detailsNarrow = s.detailsNarrow === true;
    this.applyDetails();
    if (s.selected) await this.select(s.selected, false);
    else this.details.showModel(this.model);
  }

  /** A fitted view is fitted again (the editor may have another size now); a moved one is put back. */
  private restoreView(s: SavedState): void {
    if (s.fit) this.renderer.fit(s.fit.r, s.fit.maxK);
    else if (s.view) this.renderer.setView(s.view);
  }

  // ---- groups, layouts, scene -----------------------------------------------------------------

  /**
   * The group's view and layout. With `quickAfterMs`, a quick layout stands in when ELK has not answered
   * by then (ELK still starting, or a big group); ELK's layout replaces it when it arrives.
   */
  private async loadGroup(gid: ItemId, priority: number, quickAfterMs?: number): Promise<GroupLayout> {
    let view = this.views.get(gid);
    if (!view) {
      view = await this.transport.request("group", { id: gid });
      this.views.set(gid, view);
      if (gid === this.model.root) performance.mark("scalpel-root-view");
    }
    const existing = this.layouts.get(gid);
    if (existing) return existing;
    const req: LayoutRequest = { key: "", items: [], edges: view.edges.map((e) => ({ id: e.id, from: e.from, to: e.to })) };
    let hash = 0;
    for (const it of view.items) {
      const { w, h } = itemSize(it);
      req.items.push({ id: it.id, w, h });
      hash = (Math.imul(hash, 31) + w * 7 + h) | 0;
    }
    req.key = `${gid}|${hash}`;
    const hit = this.layoutClient.cached(req.key);
    if (hit) {
      this.layouts.set(gid, hit);
      return hit;
    }
    const predicted = this.layoutClient.predictMs(req.items.length);
    // When the quick layout will be drawn at once, ELK starts after that paint: on a busy machine its
    // worker would otherwise take CPU from the very frame the user waits for.
    const quickNow = quickAfterMs !== undefined && predicted > quickAfterMs;
    let elk: Promise<GroupLayout>;
    if (quickNow) {
      this.deferredElk.add(req.key);
      elk = nextPaint().then(() => {
        // Cancelled before it was even asked for (the group was closed in the meantime).
        if (!this.deferredElk.delete(req.key)) throw new DOMException("layout cancelled", "AbortError");
        return this.layoutClient.layout(req, priority);
      });
    } else elk = this.layoutClient.layout(req, priority);
    const tAsk = performance.now();
    if (gid === this.model.root) void elk.then(() => performance.mark("scalpel-root-elk")).catch(() => undefined);
    void elk.then((l) => this.elkReady.set(gid, { at: performance.now(), ms: performance.now() - tAsk, layoutMs: l.ms })).catch(() => undefined);
    if (quickAfterMs === undefined) {
      let layout: GroupLayout;
      try {
        layout = await elk;
      } catch {
        layout = quickLayout(req);
      }
      this.layouts.set(gid, layout);
      return layout;
    }
    // Wait for ELK only when it can plausibly answer in time (it is busy, or slow on this machine: don't);
    // otherwise the quick layout is drawn now and ELK's replaces it, animated, when it arrives.
    const wait = quickNow ? 0 : quickAfterMs;
    const first = await Promise.race([elk.catch(() => null), new Promise<null>((r) => setTimeout(() => r(null), wait))]);
    if (first) {
      this.layouts.set(gid, first);
      return first;
    }
    const quick = quickLayout(req);
    this.layouts.set(gid, quick);
    this.elkPending.set(gid, req.key);
    this.refining++;
    elk
      .then((l) => {
        if (this.layouts.get(gid) !== quick) return;
        this.layouts.set(gid, l);
        if (gid === this.model.root || this.isShown(gid)) this.compose(true);
      })
      .catch(() => undefined)
      .finally(() => {
        if (this.elkPending.get(gid) === req.key) this.elkPending.delete(gid);
        this.refining--;
        this.track(0);
      });
    return quick;
  }
  private refining = 0;
  /** Groups drawn with the quick layout while ELK's is on its way: the layout request's key. */
  private readonly elkPending = new Map<ItemId, string>();
  /** ELK requests waiting for the paint of their quick layout before they are sent to the worker. */
  private readonly deferredElk = new Set<string>();
  private layoutsCancelled = 0;

  /** The group was closed before ELK's layout came: cancel that layout (it is asked again on the next expansion). */
  private cancelLayout(gid: ItemId): void {
    const key = this.elkPending.get(gid);
    if (!key || !(this.deferredElk.delete(key) || this.layoutClient.cancel(key))) return;
    this.layoutsCancelled++;
    this.elkPending.delete(gid);
    if (this.layouts.get(gid)?.quick) this.layouts.delete(gid);
  }
  /** When each group's ELK layout arrived (benchmark). */
  readonly elkReady = new Map<ItemId, { at: number; ms: number; layoutMs: number }>();

  /** Resolves when the group's ELK layout is in (the quick stand-in replaced). */
  async elkLayoutOf(gid: ItemId): Promise<{ at: number; ms: number; layoutMs: number }> {
    for (;;) {
      const r = this.elkReady.get(gid);
      if (r) return r;
      await new Promise((res) => setTimeout(res, 10));
    }
  }

  /** Is a group's content on screen (the root, or an expanded item opening it)? */
  private isShown(gid: ItemId): boolean {
    return !!this.scene?.items.some((si) => si.expanded && groupOf(si.item) === gid);
  }

  private findItem(id: ItemId): ViewItem | undefined {
    for (const v of this.views.values()) for (const it of v.items) if (it.id === id) return it;
    return undefined;
  }

  private compose(animate: boolean, anchor?: { id: ItemId; before: SceneItem["rect"] | undefined }): void {
    const scene = composeScene({ rootGroup: this.model.root, expanded: this.expanded, views: this.views, layouts: this.layouts, minExpandedWidth: headerWidth });
    this.scene = scene;
    this.renderer.setScene(scene, animate);
    if (anchor) this.renderer.anchor(anchor.id, anchor.before);
    this.renderer.setSelected(this.sceneIdOf(this.selected));
    this.renderer.setFocused(this.focused);
    this.minimap.draw(scene);
    this.els.canvasHost.setAttribute("aria-label", `Graph of ${this.model.name}: ${scene.items.length} items shown, ${this.expanded.size} groups expanded`);
    void this.refreshOverlay();
    this.saveSoon();
  }

  private visibleGroups(): ItemId[] {
    const out = [this.model.root];
    for (const si of this.scene?.items ?? []) if (si.expanded) out.push(groupOf(si.item)!);
    return out;
  }

  private async refreshOverlay(): Promise<void> {
    if (!this.overlay.active) return;
    await this.overlay.ensure(this.visibleGroups());
    this.renderer.redecorate();
    if (this.scene) this.minimap.draw(this.scene);
  }

  /** Expands or collapses an item (group or expandable node). */
  async toggle(id: ItemId): Promise<void> {
    const si = this.scene?.byId.get(id);
    if (!si) return;
    if (this.expanded.has(id)) {
      this.expanded.delete(id);
      this.expandOrder.splice(this.expandOrder.indexOf(id), 1);
      const closed = groupOf(si.item);
      if (closed) this.cancelLayout(closed);
      this.compose(true, { id, before: si.rect });
      this.announce(`Collapsed ${si.item.label}`);
      return;
    }
    const gid = groupOf(si.item);
    if (!gid) return;
    const t0 = performance.now();
    const el = this.renderer.elementOf(id);
    el?.classList.add("loading");
    this.track(1);
    try {
      const cachedBefore = this.layouts.has(gid);
      const layout = await this.loadGroup(gid, 0, EXPAND_WAIT_MS);
      this.expanded.add(id);
      this.expandOrder.push(id);
      const before = this.scene?.byId.get(id)?.rect;
      this.compose(true, { id, before });
      await nextPaint();
      this.timings.expand.push({ id, ms: performance.now() - t0, layoutMs: layout.ms, cached: cachedBefore, quick: !!layout.quick });
      this.announce(`Expanded ${si.item.label}: ${this.views.get(gid)?.items.length ?? 0} items`);
      if (this.opts.prefetch !== false) this.prefetchSoon();
    } catch (e) {
      this.fail(e);
    } finally {
      el?.classList.remove("loading");
      this.track(-1);
    }
  }

  async expandLevel(): Promise<void> {
    const todo = (this.scene?.items ?? []).filter((si) => !si.expanded && groupOf(si.item) && si.item.kind === "group").slice(0, 24);
    this.track(1);
    try {
      await Promise.all(todo.map((si) => this.loadGroup(groupOf(si.item)!, 0)));
      for (const si of todo) {
        this.expanded.add(si.id);
        this.expandOrder.push(si.id);
      }
      this.compose(true);
    } finally {
      this.track(-1);
    }
  }

  /** Fits an item (an expanded group with its content) into the view. */
  fitTo(id: ItemId): void {
    const si = this.scene?.byId.get(id);
    if (si) this.renderer.fit(si.rect, 1.2);
  }

  collapseAll(): void {
    for (const gid of [...this.elkPending.keys()]) if (gid !== this.model.root) this.cancelLayout(gid);
    this.expanded.clear();
    this.expandOrder.length = 0;
    this.compose(true);
    this.renderer.fit(undefined, 1);
  }

  private prefetchTimer = 0;
  private prefetchSoon(): void {
    clearTimeout(this.prefetchTimer);
    this.prefetchTimer = window.setTimeout(() => {
      const idle = (cb: () => void) => ("requestIdleCallback" in window ? requestIdleCallback(cb, { timeout: 2000 }) : setTimeout(cb, 50));
      idle(() => {
        for (const si of this.scene?.items ?? []) {
          const gid = !si.expanded ? groupOf(si.item) : undefined;
          if (gid && !this.layouts.has(gid)) void this.loadGroup(gid, 1).catch(() => undefined);
        }
      });
    }, 300);
  }

  // ---- selection, reveal, search --------------------------------------------------------------

  private sceneIdOf(id: ItemId | null): ItemId | null {
    if (!id) return null;
    return this.scene?.byId.has(id) ? id : null;
  }

  async select(id: ItemId | null, fromUser: boolean, drawnAs?: ItemId): Promise<void> {
    this.selected = id;
    this.renderer.setSelected(drawnAs ?? this.sceneIdOf(id));
    if (id) this.setFocus(drawnAs ?? id, false);
    this.saveSoon();
    const token = (this.selectToken = (this.selectToken ?? 0) + 1);
    // A newer selection cancels what the previous one still waits for.
    this.selectAbort?.abort();
    const abort = (this.selectAbort = new AbortController());
    const signal = abort.signal;
    this.track(1);
    try {
      if (!id) {
        this.details.showModel(this.model);
        this.transport.notify({ type: "selected", id: null });
        return;
      }
      const info = this.overlay.active;
      if (id.startsWith("g")) {
        const v = this.views.get(id) ?? (await this.transport.request("group", { id }, signal));
        const ov = info ? { info, value: await this.overlayValueOf(info.id, id, v.path[v.path.length - 1]?.id, signal) } : undefined;
        if (token !== this.selectToken) return;
        this.details.showGroup(v, ov);
        this.transport.notify({ type: "selected", id, module: v.module || undefined });
      } else {
        const d = await this.transport.request("node", { id }, signal);
        const ov = info ? { info, value: await this.overlayValueOf(info.id, d.shownAs ?? id, d.group, signal) } : undefined;
        if (token !== this.selectToken) return;
        this.details.showNode(d, ov);
        this.transport.notify({ type: "selected", id, name: d.name, module: d.module || undefined });
        if (fromUser && ov?.value?.groups?.length && this.overlay.active?.legend.type === "categorical") await this.highlightGroup(ov.value.groups[0]!);
      }
      if (fromUser) this.setDetailsOpen(true);
    } catch (e) {
      if (!isCancelled(e)) this.fail(e);
    } finally {
      this.track(-1);
    }
  }
  private selectToken = 0;
  private selectAbort: AbortController | undefined;

  /** An item's overlay value, from the values on screen or asked for its group. */
  private async overlayValueOf(overlay: string, id: ItemId, group: ItemId | undefined, signal?: AbortSignal): Promise<OverlayItemValue | undefined> {
    const si = this.scene?.byId.get(id);
    const onScreen = si ? this.overlay.valueOf(si) : undefined;
    if (onScreen || !group) return onScreen;
    const r = await this.transport.request("overlayValues", { overlay, group }, signal);
    return r.items.find((x) => x.id === id);
  }

  async revealId(id: ItemId): Promise<void> {
    await this.revealBy({ id });
  }

  async revealBy(p: { id?: ItemId; name?: string; module?: string; tensor?: string }): Promise<void> {
    this.track(1);
    try {
      const loc = await this.transport.request("locate", p);
      await this.reveal(loc);
    } catch (e) {
      this.fail(e);
    } finally {
      this.track(-1);
    }
  }

  async reveal(loc: Location): Promise<void> {
    let changed = false;
    for (const a of loc.ancestors) {
      if (this.expanded.has(a)) continue;
      const item = this.findItem(a);
      const gid = item && groupOf(item);
      if (!gid) throw new Error(`cannot open '${a}' on the way to '${loc.id}'`);
      await this.loadGroup(gid, 0, EXPAND_WAIT_MS);
      this.expanded.add(a);
      this.expandOrder.push(a);
      changed = true;
    }
    if (changed) this.compose(true);
    // An expandable item asked for itself (a body link): open it.
    this.renderer.centerOn(loc.shownAs, 0.9);
    await this.select(loc.id, false, loc.shownAs);
    await nextPaint();
    this.renderer.flash(loc.shownAs);
    this.announce(`Showing ${this.scene?.byId.get(loc.shownAs)?.item.label ?? loc.id}`);
  }

  private async jump(hit: SearchHit): Promise<void> {
    this.search.close();
    await this.revealBy({ id: hit.id });
    this.els.canvasHost.focus();
  }

  private runSearch(q: string): void {
    clearTimeout(this.searchTimer);
    if (!q.trim()) {
      this.search.close();
      return;
    }
    const seq = ++this.searchSeq;
    // The query changed: the previous search's answer is stale.
    this.searchAbort?.abort();
    this.searchTimer = window.setTimeout(async () => {
      const abort = (this.searchAbort = new AbortController());
      this.track(1);
      try {
        const r = await this.transport.request("search", { query: q, limit: 100 }, abort.signal);
        if (seq === this.searchSeq) this.search.show(r);
      } catch (e) {
        if (!isCancelled(e)) this.fail(e);
      } finally {
        this.track(-1);
      }
    }, 120);
  }

  // ---- overlays -------------------------------------------------------------------------------

  private fillOverlaySelect(list: OverlayInfo[], active: string | null): void {
    const sel = this.els.overlaySelect;
    while (sel.firstChild) sel.firstChild.remove();
    sel.append(h("vscode-option", { value: "" }, "No overlay"));
    for (const o of list) sel.append(h("vscode-option", { value: o.id, description: o.description }, o.title));
    sel.toggleAttribute("disabled", list.length === 0);
    // The element's value setter re-renders its dropdown: skip it when nothing changes (the first paint).
    if (list.length || (sel.value || "") !== (active ?? "")) sel.value = active ?? "";
  }

  async applyOverlay(id: string | null, redraw = true): Promise<void> {
    const info = id ? (this.model.overlays.find((o) => o.id === id) ?? null) : null;
    this.overlay.set(info);
    this.els.root.classList.toggle("overlay-on", !!info);
    this.legend.show(info, null);
    if ((this.els.overlaySelect.value || null) !== (info?.id ?? null)) this.els.overlaySelect.value = info?.id ?? "";
    if (redraw) {
      this.renderer.redecorate();
      if (this.scene) this.minimap.draw(this.scene);
      await this.refreshOverlay();
      if (this.selected) await this.select(this.selected, false);
    }
    this.saveSoon();
  }

  async highlightGroup(key: string | null, redraw = true): Promise<void> {
    const info = this.overlay.active;
    if (!info || info.kind !== "groups") return;
    if (!key) this.overlay.setHighlight(null);
    else this.overlay.setHighlight(await this.transport.request("overlayMembers", { overlay: info.id, key }));
    this.legend.show(info, key, this.overlay.highlight);
    if (redraw) {
      this.renderer.redecorate();
      if (this.scene) this.minimap.draw(this.scene);
    }
    const m = this.overlay.highlight;
    if (m) this.announce(`Group ${m.label}: ${m.members.length} members${m.frozen.length ? `, ${m.frozen.length} frozen` : ""}`);
    this.saveSoon();
  }

  // ---- host events ----------------------------------------------------------------------------

  private async onHostEvent(e: HostEvent): Promise<void> {
    switch (e.type) {
      case "reveal":
        await this.revealBy({ id: e.id, name: e.name, module: e.module, tensor: e.tensor });
        break;
      case "overlays":
        this.model.overlays = e.overlays;
        this.fillOverlaySelect(e.overlays, e.show !== undefined ? e.show : (this.overlay.active?.id ?? null));
        await this.applyOverlay(e.show !== undefined ? e.show : (this.overlay.active?.id ?? null));
        break;
      case "showOverlay":
        await this.applyOverlay(e.id);
        break;
      case "reload":
        // Same ids may now mean other groups: drop everything, keep the saved state (restored by start).
        this.saveNow();
        this.views.clear();
        this.layouts.clear();
        this.layoutClient.clear();
        this.expanded.clear();
        this.expandOrder.length = 0;
        await this.start();
        break;
    }
  }

  // ---- keyboard -------------------------------------------------------------------------------

  private setFocus(id: ItemId | null, center: boolean): void {
    this.focused = id;
    this.renderer.setFocused(id);
    const host = this.els.canvasHost;
    if (id && center) {
      const si = this.scene?.byId.get(id);
      const vr = this.renderer.worldViewport();
      if (si && !(si.rect.x >= vr.x && si.rect.y >= vr.y && si.rect.x + si.rect.w <= vr.x + vr.w && si.rect.y + Math.min(si.rect.h, 80) <= vr.y + vr.h)) this.renderer.centerOn(id, this.renderer.view.k);
    }
    if (id) host.setAttribute("aria-activedescendant", `it-${id}`);
    else host.removeAttribute("aria-activedescendant");
    const si = id ? this.scene?.byId.get(id) : undefined;
    if (si && center) this.announce(this.renderer.elementOf(id!)?.getAttribute("aria-label") ?? si.item.label);
  }

  private onKey(ev: KeyboardEvent): void {
    const scene = this.scene;
    if (!scene) return;
    const cur = this.focused ? scene.byId.get(this.focused) : undefined;
    const siblings = (si: SceneItem) => scene.items.filter((x) => x.parent === si.parent);
    const go = (si: SceneItem | undefined) => {
      if (!si) return;
      ev.preventDefault();
      this.setFocus(si.id, true);
    };
    switch (ev.key) {
      case "ArrowRight":
      case "ArrowLeft": {
        if (!cur) return go(scene.items[0]);
        const sib = siblings(cur);
        const i = sib.indexOf(cur);
        return go(sib[(i + (ev.key === "ArrowRight" ? 1 : -1) + sib.length) % sib.length]);
      }
      case "ArrowDown":
      case "ArrowUp": {
        if (!cur) return go(scene.items[0]);
        const down = ev.key === "ArrowDown";
        if (down && cur.expanded) return go(scene.items.find((x) => x.parent === groupOf(cur.item)));
        const edge = scene.edges.find((e) => e.group === cur.parent && (down ? e.edge.from === cur.id : e.edge.to === cur.id) && !(down ? e.edge.to : e.edge.from).match(/^[\^$]/));
        if (edge) return go(scene.byId.get(down ? edge.edge.to : edge.edge.from));
        const sib = siblings(cur);
        return go(sib[sib.indexOf(cur) + (down ? 1 : -1)]);
      }
      case "Home":
      case "End": {
        const sib = cur ? siblings(cur) : scene.items;
        return go(ev.key === "Home" ? sib[0] : sib[sib.length - 1]);
      }
      case "Enter":
        if (cur && groupOf(cur.item)) {
          ev.preventDefault();
          void this.toggle(cur.id);
        } else if (cur) {
          ev.preventDefault();
          void this.select(cur.id, true);
        }
        return;
      case " ":
        if (cur) {
          ev.preventDefault();
          void this.select(cur.id, true);
        }
        return;
      case "Escape": {
        ev.preventDefault();
        if (cur && cur.parent !== this.model.root) {
          const parent = scene.items.find((x) => x.expanded && groupOf(x.item) === cur.parent);
          if (parent) return go(parent);
        }
        void this.select(null, true);
        return;
      }
      case "+":
      case "=":
        ev.preventDefault();
        this.renderer.zoomBy(1.25);
        return;
      case "-":
        ev.preventDefault();
        this.renderer.zoomBy(0.8);
        return;
      case "0":
      case "f":
        ev.preventDefault();
        this.renderer.fit(undefined, 1);
        return;
      case "/":
        ev.preventDefault();
        this.els.searchField.focus();
        return;
    }
  }

  // ---- DOM ------------------------------------------------------------------------------------

  private buildDom(root: HTMLElement) {
    root.classList.add("explorer");
    const btn = (icon: string, label: string, onclick: () => void, extra: Record<string, string | boolean> = {}) =>
      h("vscode-toolbar-button", { icon, label, title: label, "aria-label": label, ...extra, onclick });
    const searchField = h(
      "vscode-textfield",
      { class: "search", placeholder: "Search nodes, ops, tensors, modules", "aria-label": "Search nodes, op types, tensors and modules", type: "search" },
      h("vscode-icon", { slot: "content-before", name: "search", title: "search" }),
    ) as HTMLElement & { value: string };
    const overlaySelect = h("vscode-single-select", { class: "overlay-select", "aria-label": "Overlay", title: "Overlay" }) as HTMLElement & { value: string };
    // The button flips its own `checked` on a click, then says so with "change".
    const detailsBtn = btn("layout-sidebar-right", "Toggle details pane", () => undefined, { toggleable: true, checked: true, class: "details-toggle" }) as HTMLElement & { checked: boolean; icon: string };
    detailsBtn.addEventListener("change", () => this.setDetailsOpen(detailsBtn.checked));
    const toolbar = h(
      "header",
      { class: "toolbar", role: "toolbar", "aria-label": "Graph explorer" },
      h("div", { class: "search-wrap" }, searchField, h("div", { class: "search-results" })),
      h(
        "vscode-toolbar-container",
        { class: "actions" },
        btn("screen-full", "Fit to view (F)", () => this.renderer.fit(undefined, 1)),
        btn("zoom-in", "Zoom in (+)", () => this.renderer.zoomBy(1.25)),
        btn("zoom-out", "Zoom out (−)", () => this.renderer.zoomBy(0.8)),
        btn("expand-all", "Expand one level", () => void this.expandLevel()),
        btn("collapse-all", "Collapse all", () => this.collapseAll()),
      ),
      h("label", { class: "overlay-label" }, h("vscode-icon", { name: "color-mode", "aria-hidden": "true" }), overlaySelect),
      detailsBtn,
    );
    const canvasHost = h("div", {
      class: "canvas-host",
      tabindex: 0,
      role: "application",
      "aria-roledescription": "graph",
      "aria-label": "Graph",
      "aria-describedby": "kbd-help",
    });
    const stage = h(
      "main",
      { class: "stage" },
      canvasHost,
      h("div", { class: "minimap", title: "Minimap: click or drag to move the view" }),
      h("div", { class: "legend", hidden: true, role: "region", "aria-label": "Overlay legend" }),
      h("div", { class: "status" }),
      h("div", { class: "tooltip", role: "tooltip", hidden: true }),
      h("div", { class: "banner", role: "alert", hidden: true }),
      h("div", { id: "kbd-help", class: "sr-only" }, "Arrow keys move between nodes: up and down follow edges, left and right move between siblings. Enter expands or collapses a group, Space shows details, Escape goes to the enclosing group, F fits, plus and minus zoom, slash searches."),
      h("div", { class: "sr-only", "aria-live": "polite", role: "status" }),
    );
    const aside = h("aside", { id: "scalpel-details", class: "details", "aria-label": "Details", tabindex: -1 });
    root.append(toolbar, h("div", { class: "body" }, stage, aside));

    searchField.addEventListener("input", () => this.runSearch(searchField.value));
    searchField.addEventListener("keydown", (ev) => {
      if (this.search.key(ev)) {
        ev.preventDefault();
        const a = this.search.activeId();
        if (a) searchField.setAttribute("aria-activedescendant", a);
      }
    });
    searchField.addEventListener("blur", () => setTimeout(() => this.search.close(), 150));
    overlaySelect.addEventListener("change", () => void this.applyOverlay(overlaySelect.value || null));
    canvasHost.addEventListener("keydown", (ev) => this.onKey(ev));
    canvasHost.addEventListener("focus", () => {
      // From the keyboard (Tab), the first item is brought into view; a click into the graph must not
      // move the view away from what was clicked.
      if (!this.focused && this.scene?.items.length) this.setFocus(this.sceneIdOf(this.selected) ?? this.scene.items[0]!.id, canvasHost.matches(":focus-visible"));
    });
    window.addEventListener("keydown", (ev) => {
      if ((ev.ctrlKey || ev.metaKey) && ev.key.toLowerCase() === "f") {
        ev.preventDefault();
        searchField.focus();
      }
    });
    return {
      root,
      stage,
      canvasHost,
      searchField,
      overlaySelect,
      detailsBtn,
      aside,
      status: stage.querySelector<HTMLElement>(".status")!,
      live: stage.querySelector<HTMLElement>("[aria-live]")!,
      tooltip: stage.querySelector<HTMLElement>(".tooltip")!,
      banner: stage.querySelector<HTMLElement>(".banner")!,
    };
  }

  /** Shows or hides the details pane in the current layout (narrow and wide remember their own choice). */
  private setDetailsOpen(open: boolean): void {
    if (this.narrow) this.detailsNarrow = open;
    else this.detailsWide = open;
    this.applyDetails();
    this.saveSoon();
  }

  private applyDetails(): void {
    const open = this.narrow ? this.detailsNarrow : this.detailsWide;
    const btn = this.els.detailsBtn as HTMLElement & { checked: boolean; icon: string };
    if (btn.checked !== open) btn.checked = open;
    btn.setAttribute("aria-expanded", String(open));
    // Beside the graph in a wide editor, below it in a narrow one.
    const icon = this.narrow ? "layout-panel" : "layout-sidebar-right";
    if (btn.icon !== icon) btn.icon = icon;
    this.els.root.classList.toggle("details-closed", !open);
  }

  private setNarrow(narrow: boolean): void {
    if (narrow === this.narrow && this.els.root.classList.contains("narrow") === narrow) return;
    this.narrow = narrow;
    this.els.root.classList.toggle("narrow", narrow);
    this.applyDetails();
    // The minimap is smaller in a narrow editor: draw it again at its new size.
    if (this.scene) this.minimap.draw(this.scene);
  }

  /** The layout chosen for the explorer's width, and whether the details pane is shown (tests). */
  layoutMode(): { narrow: boolean; details: boolean } {
    return { narrow: this.narrow, details: this.narrow ? this.detailsNarrow : this.detailsWide };
  }

  private setStatus(): void {
    const m = this.model;
    this.els.status.textContent = `${m.name} · ${formatInt(m.nodeCount)} nodes${m.totalNodes > m.nodeCount ? ` (${formatInt(m.totalNodes - m.nodeCount)} folded)` : ""} · ${m.params !== undefined ? `${formatCount(m.params)} params · ${formatMacs(m.macs, m.macsUnknown)} MACs` : "metrics unavailable"}`;
  }

  private showEdgeTip(e: Scene["edges"][number] | null, x: number, y: number): void {
    const tip = this.els.tooltip;
    if (!e) {
      tip.hidden = true;
      return;
    }
    const ed = e.edge;
    tip.textContent = "";
    tip.append(
      h("div", { class: "tip-title" }, ed.count > 1 ? `${ed.count} tensors` : (ed.tensors[0] ?? "")),
      ed.shape ? h("div", { class: "mono" }, ed.shape) : "",
      ed.count > 1 ? h("div", { class: "dim" }, ed.tensors.join(", ") + (ed.count > ed.tensors.length ? ", …" : "")) : "",
      ed.skip ? h("div", { class: "dim" }, "skip connection") : "",
    );
    const r = this.els.stage.getBoundingClientRect();
    tip.style.left = `${x - r.left + 12}px`;
    tip.style.top = `${y - r.top + 12}px`;
    tip.hidden = false;
  }

  private announce(text: string): void {
    this.els.live.textContent = text;
  }

  private fail(e: unknown): void {
    const msg = e instanceof Error ? e.message : String(e);
    const b = this.els.banner;
    b.textContent = msg;
    b.hidden = false;
    setTimeout(() => (b.hidden = true), 8000);
    this.transport.notify({ type: "error", message: msg });
  }

  // ---- state ----------------------------------------------------------------------------------

  private loadState(): SavedState | undefined {
    const s = this.transport.getState() as SavedState | undefined;
    return s && s.v === 1 && s.model === this.model.name ? s : undefined;
  }

  private saveSoon(): void {
    clearTimeout(this.saveTimer);
    this.saveTimer = window.setTimeout(() => this.saveNow(), 250);
  }

  saveNow(): void {
    if (!this.model) return;
    const s: SavedState = {
      v: 1,
      model: this.model.name,
      expanded: this.expandOrder.filter((id) => this.expanded.has(id)),
      view: this.renderer.view,
      overlay: this.overlay.active?.id ?? null,
      selected: this.selected,
      details: this.detailsWide,
      detailsNarrow: this.detailsNarrow,
      fit: this.renderer.fitted ?? null,
      highlight: this.overlay.highlight?.key ?? null,
    };
    const chosen: GroupLayout[] = [];
    let points = 0;
    const open = this.expandOrder.filter((id) => this.expanded.has(id)).map((id) => {
      const it = this.findItem(id);
      return it ? groupOf(it) : undefined;
    });
    for (const gid of [this.model.root, ...open]) {
      const l = gid ? this.layouts.get(gid) : undefined;
      if (!l || l.quick) continue;
      points += Object.keys(l.items).length * 4 + l.edges.reduce((a, e) => a + e.points.length, 0);
      if (points > MAX_SAVED_POINTS) break;
      chosen.push(l);
    }
    // Serialised again only when the set of layouts changed (not when the view merely moved).
    if (chosen.length !== this.savedLayouts.list.length || chosen.some((l, i) => l !== this.savedLayouts.list[i])) this.savedLayouts = { list: chosen, json: JSON.stringify(chosen) };
    s.layoutsJson = this.savedLayouts.json;
    this.transport.setState(s);
  }
  private savedLayouts: { list: GroupLayout[]; json: string } = { list: [], json: "[]" };

  // ---- test and benchmark hooks ---------------------------------------------------------------

  private track(d: number): void {
    this.busy += d;
    if (this.busy === 0 && this.refining === 0) {
      const w = this.idleWaiters;
      this.idleWaiters = [];
      requestAnimationFrame(() => requestAnimationFrame(() => w.forEach((f) => f())));
    }
  }

  /** Resolves when no request, layout or animation is pending. */
  whenIdle(): Promise<void> {
    // The renderer may still be creating elements over a few frames (it budgets each frame).
    const settle = async () => {
      for (let i = 0; i < 300 && !this.renderer.settled; i++) await nextPaint();
    };
    if (this.busy === 0 && this.refining === 0) return nextPaint().then(settle).then(() => new Promise((r) => setTimeout(r, 260)));
    return new Promise((r) => this.idleWaiters.push(() => void settle().then(() => setTimeout(r, 260))));
  }

  getScene(): Scene | undefined {
    return this.scene;
  }

  getRenderer(): Renderer {
    return this.renderer;
  }

  layoutStats(): { mode: string; count: number; totalMs: number; cancelled: number } {
    return { mode: this.layoutClient.mode, count: this.layoutClient.count, totalMs: this.layoutClient.totalMs, cancelled: this.layoutsCancelled };
  }

  isExpanded(id: ItemId): boolean {
    return this.expanded.has(id);
  }
}

function savedLayoutsOf(s: SavedState): GroupLayout[] | undefined {
  if (s.layoutsJson) {
    try {
      return JSON.parse(s.layoutsJson) as GroupLayout[];
    } catch {
      return undefined;
    }
  }
  return s.layouts;
}

function nextPaint(): Promise<void> {
  return new Promise((r) => requestAnimationFrame(() => setTimeout(r, 0)));
}
