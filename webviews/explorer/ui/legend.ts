/** Legend of the active overlay: value scale, dependency-group list, diff totals, or a heatmap. */
import type { ItemId, OverlayInfo, OverlayMatrix, OverlayMembers } from "../../../analyzers/explorer/types.ts";
import { formatCount, formatNumber } from "../../../analyzers/explorer/format.ts";
import { scaleColor, scaleGradient } from "../palette.ts";
import { clear, h } from "./dom.ts";

export interface LegendActions {
  highlightGroup(key: string | null): void;
  reveal(id: ItemId): void;
  colorOfGroup(key: string): string;
  matrix(overlay: string): Promise<OverlayMatrix>;
}

export class Legend {
  /** Bumped by every show(): a heatmap whose matrix arrives after the legend changed is dropped. */
  private generation = 0;

  constructor(
    readonly host: HTMLElement,
    private readonly actions: LegendActions,
  ) {}

  show(info: OverlayInfo | null, highlighted: string | null, members?: OverlayMembers | null): void {
    const generation = ++this.generation;
    clear(this.host);
    this.host.hidden = !info;
    if (!info) return;
    const lg = info.legend;
    this.host.append(h("div", { class: "legend-title" }, info.title), info.description ? h("div", { class: "dim small" }, info.description) : "");
    if (info.unmatched) this.host.append(h("div", { class: "warn small", role: "note" }, `${info.unmatched} entr${info.unmatched > 1 ? "ies" : "y"} matched no node or module`));
    if (lg.type === "scale") {
      const bar = h("div", { class: "scale-bar", role: "img", "aria-label": `colour scale from ${formatNumber(lg.min)} to ${formatNumber(lg.max)}${lg.unit ? ` ${lg.unit}` : ""}` });
      bar.style.background = scaleGradient(lg.palette);
      const mid = lg.palette === "diverging" ? (lg.center ?? (lg.min + lg.max) / 2) : (lg.min + lg.max) / 2;
      this.host.append(
        bar,
        h("div", { class: "scale-ticks" }, h("span", {}, formatNumber(lg.min)), h("span", {}, formatNumber(mid)), h("span", {}, `${formatNumber(lg.max)}${lg.unit ? ` ${lg.unit}` : ""}`)),
      );
      if (info.kind === "matrix") void this.heatmap(info, generation);
    } else if (lg.type === "categorical") {
      this.host.append(h("div", { class: "dim small" }, `${lg.count} group${lg.count === 1 ? "" : "s"} · click one to highlight its members`));
      const list = h("ul", { class: "groups", role: "listbox", "aria-label": "Dependency groups" });
      for (const e of lg.entries.slice(0, 200)) {
        const sw = h("span", { class: "swatch" });
        sw.style.background = this.actions.colorOfGroup(e.key);
        const li = h(
          "li",
          { role: "option", tabindex: 0, "data-key": e.key, "aria-selected": String(highlighted === e.key), class: highlighted === e.key ? "on" : "" },
          sw,
          h("span", { class: "glabel" }, e.label),
          h("span", { class: "dim" }, `${e.members} nodes${e.size !== undefined ? ` · ${e.size} ch` : ""}`),
        );
        const pick = () => this.actions.highlightGroup(highlighted === e.key ? null : e.key);
        li.addEventListener("click", pick);
        li.addEventListener("keydown", (ev) => {
          if (ev.key === "Enter" || ev.key === " ") {
            ev.preventDefault();
            pick();
          }
        });
        list.append(li);
      }
      // The highlighted group first: its size, figures and frozen channels with their reasons.
      if (members && members.key === highlighted) {
        const figures = Object.entries(members.info ?? {}).map(([k, v]) => `${k} ${typeof v === "number" ? formatNumber(v) : v}`);
        const box = h(
          "div",
          { class: "group-detail", role: "status" },
          h("div", { class: "legend-title" }, members.label),
          h("div", { class: "small" }, `${members.members.length} member nodes${members.size !== undefined ? ` · ${members.size} channels` : ""}${figures.length ? ` · ${figures.join(" · ")}` : ""}`),
        );
        if (members.frozen.length) {
          const ul = h("ul", { class: "frozen" });
          for (const f of members.frozen.slice(0, 50)) {
            const where = f.id ? h("a", { href: "#", onclick: (e: Event) => (e.preventDefault(), this.actions.reveal(f.id!)) }, f.tensor ?? f.id) : h("span", {}, f.tensor ?? "");
            ul.append(h("li", {}, h("span", { class: "warn" }, "frozen "), where, `: ${f.reason}`));
          }
          box.append(ul);
        }
        this.host.append(box);
      }
      this.host.append(list);
    } else {
      const pct = (a: number | undefined, b: number | undefined) => (a && b !== undefined ? ` (−${((1 - b / a) * 100).toFixed(1)}%)` : "");
      this.host.append(
        h(
          "div",
          { class: "diff-legend" },
          h("div", {}, h("span", { class: "swatch diff-removed" }), `${lg.removed} removed`),
          h("div", {}, h("span", { class: "swatch diff-changed" }), `${lg.changed} changed`),
          h("div", {}, h("span", { class: "swatch diff-added" }), `${lg.added} added`),
          lg.paramsBefore !== undefined ? h("div", {}, `params ${formatCount(lg.paramsBefore)} → ${formatCount(lg.paramsAfter)}${pct(lg.paramsBefore, lg.paramsAfter)}`) : "",
          lg.macsBefore !== undefined ? h("div", {}, `MACs ${formatCount(lg.macsBefore)} → ${formatCount(lg.macsAfter)}${pct(lg.macsBefore, lg.macsAfter)}`) : "",
        ),
      );
    }
  }

  private async heatmap(info: OverlayInfo, generation: number): Promise<void> {
    const m = await this.actions.matrix(info.id);
    // Another overlay (or this one again) was shown meanwhile: its own call draws the legend.
    if (generation !== this.generation) return;
    const lg = m.legend;
    if (lg.type !== "scale") return;
    const rows = m.rows.length, cols = m.cols.length;
    const cell = Math.max(3, Math.min(16, Math.floor(220 / Math.max(1, cols))));
    const canvas = h("canvas", { class: "heatmap", role: "img", "aria-label": `${m.title}: ${rows} rows by ${cols} columns` });
    canvas.width = cols * cell;
    canvas.height = rows * cell;
    const g = canvas.getContext("2d");
    if (g)
      m.values.forEach((row, r) =>
        row.forEach((v, c) => {
          g.fillStyle = Number.isFinite(v) ? scaleColor(lg.palette, lg.min, lg.max, v) : "transparent";
          g.fillRect(c * cell, r * cell, cell, cell);
        }),
      );
    const labels = h("div", { class: "heat-rows" });
    labels.style.lineHeight = `${cell}px`;
    m.rows.forEach((row) => {
      const a = row.id ? h("a", { href: "#", onclick: (e: Event) => (e.preventDefault(), this.actions.reveal(row.id!)) }, row.label) : h("span", {}, row.label);
      a.style.height = `${cell}px`;
      labels.append(a);
    });
    this.host.append(h("div", { class: "heat" }, labels, canvas), h("div", { class: "dim small" }, `columns: ${m.cols[0] ?? ""} … ${m.cols[cols - 1] ?? ""}`));
  }
}
