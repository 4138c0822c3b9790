/** Search box results: node names, op types, tensor names and modules; arrow keys, Enter to jump. */
import type { SearchHit, SearchResult } from "../../../analyzers/explorer/types.ts";
import { clear, h } from "./dom.ts";

export class SearchResults {
  private hits: SearchHit[] = [];
  private active = -1;

  constructor(
    readonly host: HTMLElement,
    private readonly jump: (hit: SearchHit) => void,
  ) {
    host.setAttribute("role", "listbox");
    host.setAttribute("aria-label", "Search results");
    host.hidden = true;
  }

  get open(): boolean {
    return !this.host.hidden;
  }

  show(r: SearchResult): void {
    clear(this.host);
    this.hits = r.hits;
    this.active = r.hits.length ? 0 : -1;
    this.host.hidden = false;
    if (!r.hits.length) {
      this.host.append(h("div", { class: "empty" }, `No node, op, tensor or module matches “${r.query}”`));
      return;
    }
    this.host.append(h("div", { class: "count", role: "status" }, r.total > r.hits.length ? `${r.hits.length} of ${r.total} matches` : `${r.total} match${r.total === 1 ? "" : "es"}`));
    r.hits.forEach((hit, i) => {
      const row = h(
        "div",
        { class: "hit", role: "option", id: `hit-${i}`, "data-id": hit.id, "aria-selected": String(i === this.active) },
        h("span", { class: `badge m-${hit.matched}` }, hit.op),
        h("span", { class: "hname", title: hit.name }, hit.tensor ? `${hit.tensor}` : hit.name),
        h("span", { class: "where" }, hit.tensor ? `${hit.matched} of ${hit.name}` : hit.where),
      );
      row.addEventListener("mousedown", (e) => e.preventDefault());
      row.addEventListener("click", () => this.pick(i));
      this.host.append(row);
    });
  }

  close(): void {
    this.host.hidden = true;
    clear(this.host);
    this.hits = [];
    this.active = -1;
  }

  /** Keyboard from the search field; returns true when handled. */
  key(ev: KeyboardEvent): boolean {
    if (!this.open) return false;
    if (ev.key === "ArrowDown" || ev.key === "ArrowUp") {
      if (!this.hits.length) return true;
      this.active = (this.active + (ev.key === "ArrowDown" ? 1 : -1) + this.hits.length) % this.hits.length;
      this.host.querySelectorAll<HTMLElement>(".hit").forEach((e, i) => e.setAttribute("aria-selected", String(i === this.active)));
      this.host.querySelector<HTMLElement>(`#hit-${this.active}`)?.scrollIntoView({ block: "nearest" });
      return true;
    }
    if (ev.key === "Enter") {
      if (this.active >= 0) this.pick(this.active);
      return true;
    }
    if (ev.key === "Escape") {
      this.close();
      return true;
    }
    return false;
  }

  activeId(): string | undefined {
    return this.active >= 0 ? `hit-${this.active}` : undefined;
  }

  private pick(i: number): void {
    const hit = this.hits[i];
    if (hit) this.jump(hit);
  }
}
