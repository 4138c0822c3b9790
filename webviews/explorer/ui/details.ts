/**
 * The details pane: the selected node (op, attributes, inputs/outputs with dtypes and shapes, weights
 * with statistics fetched on demand), the selected group (summary, op counts), or the model.
 */
import type { GroupView, ItemId, ModelInfo, NodeDetails, OverlayInfo, OverlayItemValue, TensorInfo, TensorStats } from "../../../analyzers/explorer/types.ts";
import { formatCount, formatMacs, formatNumber, formatShape, unknownMacsNote } from "../../../analyzers/explorer/format.ts";
import { clear, h, type Child } from "./dom.ts";

export interface DetailsActions {
  reveal(id: ItemId): void;
  revealTensor(name: string): void;
  /** `signal` is aborted when the pane moves on (another tensor or item): the host drops the work. */
  stats(name: string, signal: AbortSignal): Promise<TensorStats>;
  highlightGroup(key: string): void;
}

export class DetailsPane {
  private token = 0;
  /** The statistics request in flight, cancelled when the pane shows something else. */
  private statsAbort: AbortController | undefined;

  constructor(
    readonly host: HTMLElement,
    private readonly actions: DetailsActions,
  ) {}

  showModel(m: ModelInfo): void {
    this.render(
      h("h2", {}, m.name),
      h("div", { class: "sub" }, [m.producer, `IR ${m.irVersion}`, m.opsets.map((o) => `${o.domain} ${o.version}`).join(", ")].filter(Boolean).join(" · ")),
      table([
        ["Nodes", `${m.nodeCount} shown · ${m.totalNodes} in the graph`],
        ["Groups", m.groupCount],
        ["Hierarchy", m.hierarchy === "scopes" ? "module scopes" : "automatic (no scopes in node names)"],
        ["Parameters", m.params !== undefined ? formatCount(m.params) : "—"],
        ["MACs", m.macs !== undefined ? `${formatMacs(m.macs, m.macsUnknown)}${m.macsUnknown ? ` · ${unknownMacsNote(m.macsUnknown)}` : m.metricsApproximate ? " (approximate)" : ""}` : "—"],
      ]),
      section("Inputs", tensorTable(m.inputs, this.actions, false)),
      section("Outputs", tensorTable(m.outputs, this.actions, false)),
    );
  }

  showGroup(v: GroupView, ov?: { info: OverlayInfo; value?: OverlayItemValue }): void {
    const s = v.summary;
    this.render(
      h("h2", {}, v.label, v.className ? h("span", { class: "cls" }, ` ${v.className}`) : null),
      breadcrumbs(v.path, this.actions),
      table([
        ["Kind", { root: "model", scope: "module scope", function: "local function", subgraph: "control-flow body", auto: "automatic slice" }[v.kind]],
        v.module ? ["Module", h("code", {}, v.module)] : null,
        ["Nodes", `${s.nodes}${s.folded ? ` (+${s.folded} folded: weights, shape arithmetic)` : ""}`],
        ["Parameters", s.params !== undefined ? formatCount(s.params) : "—"],
        ["MACs", s.macs !== undefined ? `${formatMacs(s.macs, s.macsUnknown)}${s.macsUnknown ? ` · ${unknownMacsNote(s.macsUnknown)}` : ""}` : "—"],
      ]),
      ov ? overlaySection(ov.info, ov.value, this.actions) : null,
      section("Operators", table(s.ops.slice(0, 40).map(([op, n]) => [op, n]))),
    );
  }

  showNode(d: NodeDetails, ov?: { info: OverlayInfo; value?: OverlayItemValue }): void {
    const token = ++this.token;
    const body: Child[] = [
      h("h2", {}, h("span", { class: "op" }, d.op), " ", h("span", { class: "cls" }, d.kind === "node" ? "" : d.kind)),
      h("div", { class: "name", title: d.name }, d.name),
      breadcrumbs(d.path, this.actions),
      table([
        d.module ? ["Module", h("code", {}, d.module)] : null,
        d.classes?.length ? ["Classes", d.classes.join(" › ")] : null,
        d.domain ? ["Domain", d.domain] : null,
        d.params !== undefined ? ["Parameters", formatCount(d.params)] : null,
        d.macsUnknown ? ["MACs", unknownMacsNote(true)] : d.macs !== undefined ? ["MACs", formatCount(d.macs)] : null,
        d.folded ? ["Shown in", h("a", { href: "#", onclick: (e: Event) => (e.preventDefault(), d.shownAs && this.actions.reveal(d.shownAs)) }, d.foldedAs === "shape" ? "its consumer (shape arithmetic)" : "its consumer (weight)")] : null,
        d.body ? ["Body", h("a", { href: "#", onclick: (e: Event) => (e.preventDefault(), this.actions.reveal(d.id)) }, "expand to see it")] : null,
      ]),
      ov ? overlaySection(ov.info, ov.value, this.actions) : null,
      d.attributes.length ? section("Attributes", table(d.attributes.map((a) => [a.name, h("code", { title: a.type }, a.value)]))) : null,
      section("Inputs", tensorTable(d.inputs, this.actions, true, (name) => this.loadStats(name, token))),
      section("Outputs", tensorTable(d.outputs, this.actions, true)),
      d.metadata.length ? section("Metadata", table(d.metadata.map(([k, v]) => [k, h("code", {}, v)]))) : null,
      d.docString ? section("Documentation", h("pre", {}, d.docString)) : null,
      h("div", { class: "stats-host" }),
    ];
    this.render(...body);
  }

  private async loadStats(name: string, token: number): Promise<void> {
    const host = this.host.querySelector<HTMLElement>(".stats-host");
    if (!host) return;
    clear(host);
    host.append(h("vscode-progress-ring", { "aria-label": `Computing statistics of ${name}` }));
    this.statsAbort?.abort();
    const abort = (this.statsAbort = new AbortController());
    try {
      const s = await this.actions.stats(name, abort.signal);
      if (token !== this.token) return;
      clear(host);
      host.append(statsView(s));
    } catch (e) {
      if (token !== this.token || abort.signal.aborted) return;
      clear(host);
      host.append(h("div", { class: "error", role: "alert" }, e instanceof Error ? e.message : String(e)));
    }
  }

  private render(...children: Child[]): void {
    this.statsAbort?.abort();
    this.statsAbort = undefined;
    clear(this.host);
    for (const c of children) if (c) this.host.append(typeof c === "object" ? c : String(c));
    this.host.scrollTop = 0;
  }
}

function table(rows: ([string, Child] | null)[]): HTMLTableElement {
  return h("table", { class: "kv" }, ...rows.filter((r): r is [string, Child] => !!r).map(([k, v]) => h("tr", {}, h("th", { scope: "row" }, k), h("td", {}, v))));
}

function section(title: string, content: Child): HTMLElement {
  return h("vscode-collapsible", { title, open: true, class: "section" }, h("div", { class: "section-body" }, content));
}

function breadcrumbs(path: { id: ItemId; label: string }[], actions: DetailsActions): HTMLElement {
  const nav = h("nav", { class: "crumbs", "aria-label": "Location" });
  path.forEach((p, i) => {
    if (i) nav.append(h("span", { class: "sep", "aria-hidden": "true" }, "›"));
    nav.append(h("a", { href: "#", onclick: (e: Event) => (e.preventDefault(), actions.reveal(p.id)) }, p.label));
  });
  return nav;
}

function tensorTable(ts: TensorInfo[], actions: DetailsActions, showKind: boolean, onStats?: (name: string) => void): HTMLElement {
  const rows = ts.map((t) => {
    if (t.kind === "omitted") return h("tr", {}, h("td", { class: "dim", colspan: 4 }, "(omitted)"));
    const name = h("a", { href: "#", title: t.name, onclick: (e: Event) => (e.preventDefault(), actions.revealTensor(t.name)) }, t.name);
    const stats =
      t.hasData && onStats
        ? h("vscode-icon", { name: "graph", "action-icon": true, class: "stats-btn", label: `Statistics of ${t.name}`, title: `Statistics of ${t.name}`, onclick: () => onStats(t.name) })
        : null;
    const tag = showKind ? ({ initializer: "weight", constant: "const", input: "input", output: "output" } as Record<string, string>)[t.kind] : undefined;
    return h(
      "tr",
      { "data-tensor": t.name },
      h("td", { class: "tname", title: `${t.name} (${t.kind})` }, name),
      h("td", { class: "dtype" }, t.dataType || "?"),
      h("td", { class: "shape" }, h("code", {}, formatShape(t.shape) || "?")),
      h("td", { class: "kind" }, tag ? h("span", { class: "tag" }, tag) : "", stats),
    );
  });
  return h("table", { class: "tensors" }, h("thead", {}, h("tr", {}, h("th", {}, "name"), h("th", {}, "dtype"), h("th", {}, "shape"), h("th", {}, ""))), h("tbody", {}, ...rows));
}

function overlaySection(info: OverlayInfo, v: OverlayItemValue | undefined, actions: DetailsActions): HTMLElement {
  const rows: ([string, Child] | null)[] = [];
  if (v?.value !== undefined) rows.push(["Value", formatNumber(v.value)]);
  if (v?.dist) rows.push(["Members", `${v.dist.count} · mean ${formatNumber(v.dist.mean)} · ${formatNumber(v.dist.min)} … ${formatNumber(v.dist.max)}`]);
  if (v?.groups?.length)
    rows.push([
      "Groups",
      h("span", {}, ...v.groups.map((k) => h("a", { href: "#", class: "dg", onclick: (e: Event) => (e.preventDefault(), actions.highlightGroup(k)) }, k, " "))),
    ]);
  if (v?.groupCount) rows.push(["Groups inside", v.groupCount]);
  if (v?.frozen?.length) rows.push(["Frozen", v.frozen.join("; ")]);
  if (v?.diff) {
    const d = v.diff;
    rows.push(["Change", d.status]);
    if (d.before?.channels !== undefined || d.after?.channels !== undefined) rows.push(["Channels", `${d.before?.channels ?? "?"} → ${d.after?.channels ?? "?"}`]);
    if (d.before?.params !== undefined) rows.push(["Params", `${formatCount(d.before.params)} → ${formatCount(d.after?.params ?? 0)}`]);
    if (d.note) rows.push(["Note", d.note]);
  }
  if (v?.diffSummary) {
    const s = v.diffSummary;
    rows.push(["Changed", `${s.changed} changed, ${s.removed} removed, ${s.added} added`]);
    rows.push(["Params", `${formatCount(s.paramsBefore)} → ${formatCount(s.paramsAfter)}`]);
    rows.push(["MACs", `${formatCount(s.macsBefore)} → ${formatCount(s.macsAfter)}`]);
  }
  if (!rows.length) rows.push(["", "no value"]);
  return section(`Overlay: ${info.title}`, table(rows));
}

function statsView(s: TensorStats): HTMLElement {
  const W = 260, H = 70;
  const counts = s.histogram.counts;
  const max = Math.max(1, ...counts);
  const bw = W / counts.length;
  const svg = document.createElementNS("http://www.w3.org/2000/svg", "svg");
  svg.setAttribute("viewBox", `0 0 ${W} ${H + 14}`);
  svg.setAttribute("class", "hist");
  svg.setAttribute("role", "img");
  svg.setAttribute("aria-label", `Histogram of ${s.name} from ${formatNumber(s.histogram.min)} to ${formatNumber(s.histogram.max)}`);
  counts.forEach((c, i) => {
    if (!c) return;
    const r = document.createElementNS("http://www.w3.org/2000/svg", "rect");
    const bh = Math.max(1, (Math.log1p(c) / Math.log1p(max)) * H);
    r.setAttribute("x", String(i * bw));
    r.setAttribute("y", String(H - bh));
    r.setAttribute("width", String(Math.max(0.5, bw - 0.5)));
    r.setAttribute("height", String(bh));
    const t = document.createElementNS("http://www.w3.org/2000/svg", "title");
    t.textContent = `${c}`;
    r.append(t);
    svg.append(r);
  });
  for (const [x, v, anchor] of [
    [0, s.histogram.min, "start"],
    [W, s.histogram.max, "end"],
  ] as const) {
    const t = document.createElementNS("http://www.w3.org/2000/svg", "text");
    t.setAttribute("x", String(x));
    t.setAttribute("y", String(H + 12));
    t.setAttribute("text-anchor", anchor);
    t.textContent = formatNumber(v);
    svg.append(t);
  }
  return h(
    "div",
    { class: "stats", "data-tensor": s.name },
    h("h3", {}, `Statistics · ${s.name}`),
    table([
      ["Shape", `${s.dataType}[${formatShape(s.dims)}] · ${formatCount(s.count)} values`],
      ["Min / max", `${formatNumber(s.min)} / ${formatNumber(s.max)}`],
      ["Mean ± std", `${formatNumber(s.mean)} ± ${formatNumber(s.std)}`],
      ["Sparsity", `${(s.sparsity * 100).toFixed(2)}% zeros (${s.zeros})`],
      s.nonFinite ? ["Non-finite", s.nonFinite] : null,
    ]),
    svg,
    h("div", { class: "dim small" }, "histogram, log count scale"),
  );
}
