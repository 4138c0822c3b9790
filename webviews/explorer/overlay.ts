/**
 * The active overlay on the webview side: fetches the overlay's values for each group on screen (once
 * per group), turns them into decorations (fills, stripes, badges, mini histograms) and keeps the
 * highlighted dependency group. Works from the generic overlay answers only, so any producer of
 * per-node values, group ids or diffs plugs in without changes here.
 */
import type { ItemId, OverlayInfo, OverlayItemValue, OverlayMembers } from "../../analyzers/explorer/types.ts";
import { formatCount, formatNumber } from "../../analyzers/explorer/format.ts";
import { categorical, hashRank, inkOn, scaleColor } from "./palette.ts";
import type { Decoration } from "./render.ts";
import type { SceneItem } from "./scene.ts";
import type { Transport } from "./transport.ts";

export class OverlayController {
  active: OverlayInfo | null = null;
  /** Group id → item id → value, for the active overlay. */
  private values = new Map<ItemId, Map<ItemId, OverlayItemValue>>();
  private loading = new Map<ItemId, Promise<void>>();
  private rank = new Map<string, number>();
  highlight: OverlayMembers | null = null;
  private members = new Set<ItemId>();
  private containers = new Set<ItemId>();
  private frozenIds = new Set<ItemId>();

  constructor(private readonly transport: Transport) {}

  set(info: OverlayInfo | null): void {
    this.active = info;
    this.values = new Map();
    this.loading = new Map();
    this.rank = new Map();
    this.setHighlight(null);
    if (info?.legend.type === "categorical") info.legend.entries.forEach((e, i) => this.rank.set(e.key, i));
  }

  /** Fetches values for the given groups (views on screen); resolves when all are there. */
  async ensure(groups: readonly ItemId[]): Promise<boolean> {
    const info = this.active;
    if (!info) return false;
    const todo: Promise<void>[] = [];
    let fetched = false;
    for (const g of groups) {
      if (this.values.has(g)) continue;
      let p = this.loading.get(g);
      if (!p) {
        fetched = true;
        p = this.transport.request("overlayValues", { overlay: info.id, group: g }).then((r) => {
          if (this.active !== info) return;
          this.values.set(g, new Map(r.items.map((v) => [v.id, v])));
        });
        this.loading.set(g, p);
      }
      todo.push(p);
    }
    await Promise.all(todo);
    return fetched;
  }

  setHighlight(m: OverlayMembers | null): void {
    this.highlight = m;
    this.members = new Set(m?.members.map((x) => x.id) ?? []);
    this.containers = new Set(m?.containers ?? []);
    this.frozenIds = new Set((m?.frozen ?? []).map((f) => f.id).filter((x): x is string => !!x));
  }

  valueOf(si: SceneItem): OverlayItemValue | undefined {
    return this.values.get(si.parent)?.get(si.id);
  }

  colorOfGroup(key: string): string {
    return categorical(this.rank.get(key) ?? hashRank(key));
  }

  decorate(si: SceneItem): Decoration | undefined {
    const info = this.active;
    if (!info) return undefined;
    const v = this.valueOf(si);
    const hl = this.highlight ? this.highlightClass(si) : undefined;
    const out: Decoration = { cls: hl ? [hl] : [] };
    const legend = info.legend;
    if (legend.type === "scale") {
      const pal = legend.palette;
      const color = (x: number) => scaleColor(pal, legend.min, legend.max, x);
      const value = v?.value ?? v?.dist?.mean;
      if (value === undefined) {
        out.cls!.push("ov-none");
        return out;
      }
      out.fill = color(value);
      out.ink = inkOn(out.fill);
      out.cls!.push("ov-on");
      if (v?.dist && si.item.kind === "group") {
        const n = v.dist.hist.length;
        out.hist = { counts: v.dist.hist, colors: v.dist.hist.map((_, i) => color(legend.min + ((i + 0.5) / n) * (legend.max - legend.min))) };
        out.badge = v.value !== undefined ? formatNumber(v.value) : `μ ${formatNumber(v.dist.mean)}`;
        out.describe = `${info.title} mean ${formatNumber(v.dist.mean)} over ${v.dist.count} nodes, from ${formatNumber(v.dist.min)} to ${formatNumber(v.dist.max)}`;
      } else {
        out.badge = formatNumber(value);
        out.describe = `${info.title} ${formatNumber(value)}${legend.unit ? ` ${legend.unit}` : ""}`;
      }
      return out;
    }
    if (legend.type === "categorical") {
      if (v?.groups?.length) {
        out.fill = this.colorOfGroup(v.groups[0]!);
        out.ink = inkOn(out.fill);
        out.stripes = v.groups.slice(1, 4).map((k) => this.colorOfGroup(k));
        out.cls!.push("ov-on");
        out.describe = `in dependency group${v.groups.length > 1 ? "s" : ""} ${v.groups.join(", ")}`;
      } else if (v?.groupCount) {
        out.badge = `${v.groupCount} group${v.groupCount > 1 ? "s" : ""}`;
        out.cls!.push("ov-some");
        out.describe = `contains ${out.badge}`;
      } else out.cls!.push("ov-none");
      if (v?.frozen?.length || this.frozenIds.has(si.id)) {
        out.cls!.push("ov-frozen");
        out.badge = "frozen";
        out.describe = `${out.describe ?? ""}; frozen: ${(v?.frozen ?? []).join("; ")}`;
      }
      return out;
    }
    // diff
    if (v?.diff) {
      const d = v.diff;
      out.cls!.push(`diff-${d.status}`, "ov-on");
      const b = d.before?.channels, a = d.after?.channels;
      out.badge = b !== undefined && a !== undefined ? `${b}→${a}` : d.status;
      out.describe = `${d.status}${b !== undefined && a !== undefined ? ` from ${b} to ${a} channels` : ""}${d.note ? `, ${d.note}` : ""}`;
    } else if (v?.diffSummary && (v.diffSummary.removed || v.diffSummary.changed || v.diffSummary.added)) {
      const s = v.diffSummary;
      out.cls!.push("diff-some", "ov-on");
      const saved = s.paramsBefore > 0 ? (1 - s.paramsAfter / s.paramsBefore) * 100 : 0;
      out.badge = s.paramsBefore > 0 ? `−${saved.toFixed(saved < 10 ? 1 : 0)}% params` : `${s.changed + s.removed} changed`;
      out.describe = `${s.changed} changed, ${s.removed} removed; params ${formatCount(s.paramsBefore)} to ${formatCount(s.paramsAfter)}`;
    } else out.cls!.push("ov-none");
    return out;
  }

  private highlightClass(si: SceneItem): string {
    if (this.members.has(si.id)) return "hl-member";
    if (this.containers.has(si.id)) return "hl-container";
    return "hl-dim";
  }

  /** Fill for the minimap. */
  fillOf(si: SceneItem): string | undefined {
    const d = this.decorate(si);
    return d?.fill;
  }
}
