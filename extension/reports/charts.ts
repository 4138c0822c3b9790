/**
 * Charts for report webviews as static SVG strings (no script needed to see them). Colours come from the
 * theme through CSS variables and classes (media/report.css); the PNG export inlines the computed styles.
 * Pure: no `vscode` import.
 */
import { escapeHtml as h } from "../format.ts";

export interface Series {
  readonly name: string;
  /** CSS class of the line (series-0, series-1…). */
  readonly cls: string;
  readonly points: readonly { readonly x: number; readonly y: number }[];
}

export interface LineChartOptions {
  readonly title: string;
  readonly xLabel: string;
  readonly yLabel: string;
  /** y range (default [0, 1]). */
  readonly yMin?: number;
  readonly yMax?: number;
  /** A horizontal reference line (e.g. τ). */
  readonly hLine?: { readonly y: number; readonly label: string };
  /** Vertical markers (e.g. the chosen L_wait). */
  readonly vLines?: readonly { readonly x: number; readonly label: string }[];
  readonly yFormat?: (y: number) => string;
  readonly width?: number;
  readonly height?: number;
}

const pct = (y: number) => `${Math.round(y * 100)}%`;

export function lineChartSvg(series: readonly Series[], o: LineChartOptions): string {
  const W = o.width ?? 560, H = o.height ?? 320;
  const m = { l: 52, r: 16, t: 48, b: 42 };
  const xs = series.flatMap((s) => s.points.map((p) => p.x));
  const xMin = Math.min(...xs), xMax = Math.max(...xs);
  const yMin = o.yMin ?? 0, yMax = o.yMax ?? 1;
  const fmt = o.yFormat ?? pct;
  const X = (x: number) => m.l + (xMax === xMin ? 0.5 : (x - xMin) / (xMax - xMin)) * (W - m.l - m.r);
  const Y = (y: number) => H - m.b - ((y - yMin) / (yMax - yMin || 1)) * (H - m.t - m.b);
  const parts: string[] = [];
  parts.push(`<text class="chart-title" x="${m.l}" y="18">${h(o.title)}</text>`);
  // axes, y grid
  for (let i = 0; i <= 4; i++) {
    const y = yMin + ((yMax - yMin) * i) / 4;
    parts.push(`<line class="grid" x1="${m.l}" x2="${W - m.r}" y1="${Y(y)}" y2="${Y(y)}"/>`);
    parts.push(`<text class="tick" x="${m.l - 6}" y="${Y(y) + 4}" text-anchor="end">${h(fmt(y))}</text>`);
  }
  const xTicks = [...new Set(xs)].sort((a, b) => a - b);
  const step = Math.max(1, Math.ceil(xTicks.length / 12));
  xTicks.forEach((x, i) => {
    if (i % step === 0 || i === xTicks.length - 1) parts.push(`<text class="tick" x="${X(x)}" y="${H - m.b + 16}" text-anchor="middle">${x}</text>`);
  });
  parts.push(`<line class="axis" x1="${m.l}" x2="${W - m.r}" y1="${H - m.b}" y2="${H - m.b}"/>`);
  parts.push(`<line class="axis" x1="${m.l}" x2="${m.l}" y1="${m.t}" y2="${H - m.b}"/>`);
  parts.push(`<text class="axis-label" x="${(m.l + W - m.r) / 2}" y="${H - 6}" text-anchor="middle">${h(o.xLabel)}</text>`);
  parts.push(`<text class="axis-label" x="12" y="${(m.t + H - m.b) / 2}" text-anchor="middle" transform="rotate(-90 12 ${(m.t + H - m.b) / 2})">${h(o.yLabel)}</text>`);
  if (o.hLine) {
    parts.push(`<line class="ref" x1="${m.l}" x2="${W - m.r}" y1="${Y(o.hLine.y)}" y2="${Y(o.hLine.y)}"/>`);
    parts.push(`<text class="ref-label" x="${W - m.r}" y="${Y(o.hLine.y) - 4}" text-anchor="end">${h(o.hLine.label)}</text>`);
  }
  for (const v of o.vLines ?? []) {
    parts.push(`<line class="marker" x1="${X(v.x)}" x2="${X(v.x)}" y1="${m.t}" y2="${H - m.b}"/>`);
    parts.push(`<text class="marker-label" x="${X(v.x) + 4}" y="${m.t + 10}">${h(v.label)}</text>`);
  }
  series.forEach((s, i) => {
    const d = s.points.map((p, j) => `${j ? "L" : "M"}${X(p.x).toFixed(1)},${Y(p.y).toFixed(1)}`).join("");
    parts.push(`<path class="line ${s.cls}" d="${d}"/>`);
    for (const p of s.points) parts.push(`<circle class="dot ${s.cls}" cx="${X(p.x).toFixed(1)}" cy="${Y(p.y).toFixed(1)}" r="3"><title>${h(`${s.name}, ${o.xLabel} ${p.x}: ${fmt(p.y)}`)}</title></circle>`);
    const lx = m.l + i * 120;
    parts.push(`<line class="line ${s.cls}" x1="${lx}" x2="${lx + 18}" y1="32" y2="32"/><text class="legend" x="${lx + 22}" y="36">${h(s.name)}</text>`);
  });
  return `<svg class="chart" xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" role="img" aria-label="${h(o.title)}">${parts.join("")}</svg>`;
}

/** Value in [0, 1] → a perceptually ordered colour (a short viridis table, interpolated). */
export function heatColor(v: number): string {
  const stops = [
    [68, 1, 84],
    [59, 82, 139],
    [33, 145, 140],
    [94, 201, 98],
    [253, 231, 37],
  ];
  const t = Math.min(1, Math.max(0, Number.isFinite(v) ? v : 0)) * (stops.length - 1);
  const i = Math.min(stops.length - 2, Math.floor(t));
  const f = t - i;
  const c = stops[i]!.map((a, k) => Math.round(a + (stops[i + 1]![k]! - a) * f));
  return `rgb(${c[0]},${c[1]},${c[2]})`;
}

export interface HeatmapOptions {
  readonly title: string;
  readonly rowLabel: string;
  readonly colLabel: string;
  readonly rows: readonly string[];
  readonly cols: readonly string[];
  readonly valueName: string;
}

/** rows × cols grid of values in [0, 1], with a legend. */
export function heatmapSvg(values: readonly (readonly number[])[], o: HeatmapOptions): string {
  const cell = Math.max(14, Math.min(36, Math.floor(520 / Math.max(1, o.cols.length))));
  const m = { l: 60, t: 34, r: 90, b: 70 };
  // Wide enough for the title (about 8.5 px per character of bold 13 px text).
  const W = Math.max(m.l + cell * o.cols.length + m.r, Math.ceil(o.title.length * 8.5) + m.l), H = m.t + cell * o.rows.length + m.b;
  const parts: string[] = [`<text class="chart-title" x="${m.l}" y="18">${h(o.title)}</text>`];
  values.forEach((row, r) =>
    row.forEach((v, c) => {
      parts.push(
        `<rect class="cell" x="${m.l + c * cell}" y="${m.t + r * cell}" width="${cell - 1}" height="${cell - 1}" fill="${heatColor(v)}" data-row="${r}" data-col="${c}" data-value="${v}"><title>${h(`${o.rowLabel} ${o.rows[r]}, ${o.colLabel} ${o.cols[c]}: ${o.valueName} ${pct(v)}`)}</title></rect>`,
      );
    }),
  );
  o.rows.forEach((label, r) => parts.push(`<text class="tick" x="${m.l - 6}" y="${m.t + r * cell + cell / 2 + 4}" text-anchor="end">${h(label)}</text>`));
  o.cols.forEach((label, c) => {
    const x = m.l + c * cell + cell / 2, y = m.t + o.rows.length * cell + 8;
    parts.push(`<text class="tick" x="${x}" y="${y}" text-anchor="end" transform="rotate(-60 ${x} ${y})">${h(label)}</text>`);
  });
  parts.push(`<text class="axis-label" x="14" y="${m.t + (o.rows.length * cell) / 2}" text-anchor="middle" transform="rotate(-90 14 ${m.t + (o.rows.length * cell) / 2})">${h(o.rowLabel)}</text>`);
  parts.push(`<text class="axis-label" x="${m.l + (o.cols.length * cell) / 2}" y="${H - 4}" text-anchor="middle">${h(o.colLabel)}</text>`);
  // legend
  const lx = m.l + o.cols.length * cell + 24, lh = Math.max(60, o.rows.length * cell);
  for (let i = 0; i < 20; i++) parts.push(`<rect x="${lx}" y="${m.t + (lh * i) / 20}" width="14" height="${lh / 20 + 0.5}" fill="${heatColor(1 - i / 19)}"/>`);
  parts.push(`<text class="tick" x="${lx + 18}" y="${m.t + 8}">100%</text><text class="tick" x="${lx + 18}" y="${m.t + lh}">0%</text>`);
  parts.push(`<text class="tick" x="${lx}" y="${m.t - 6}">${h(o.valueName)}</text>`);
  return `<svg class="chart heatmap" xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" role="img" aria-label="${h(o.title)}">${parts.join("")}</svg>`;
}

/** Rows as CSV (RFC 4180 quoting). */
export function toCsv(header: readonly string[], rows: readonly (readonly (string | number | null | undefined)[])[]): string {
  const q = (v: string | number | null | undefined) => {
    const s = v === null || v === undefined ? "" : String(v);
    return /[",\n\r]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
  };
  return [header, ...rows].map((r) => r.map(q).join(",")).join("\r\n") + "\r\n";
}

/** Horizontal bars: each measure after pruning as a share of before (100% = unchanged). */
export function ratioBarsSvg(title: string, bars: readonly { readonly label: string; readonly before: number; readonly after: number; readonly detail: string }[]): string {
  const W = 560, row = 30, m = { l: 120, r: 170, t: 34, b: 24 };
  const H = m.t + row * bars.length + m.b;
  const X = (f: number) => m.l + Math.max(0, Math.min(1.2, f)) * ((W - m.l - m.r) / 1.2);
  const parts = [`<text class="chart-title" x="${m.l}" y="18">${h(title)}</text>`];
  parts.push(`<line class="ref" x1="${X(1)}" x2="${X(1)}" y1="${m.t - 6}" y2="${H - m.b + 4}"/><text class="ref-label" x="${X(1)}" y="${H - 6}" text-anchor="middle">100% = before</text>`);
  bars.forEach((b, i) => {
    const f = b.before > 0 ? b.after / b.before : 1;
    const y = m.t + i * row;
    parts.push(`<text class="tick" x="${m.l - 8}" y="${y + 15}" text-anchor="end">${h(b.label)}</text>`);
    parts.push(`<rect class="bar series-0" x="${m.l}" y="${y + 3}" width="${(X(f) - m.l).toFixed(1)}" height="${row - 10}" data-label="${h(b.label)}" data-ratio="${f}"><title>${h(`${b.label}: ${b.detail}`)}</title></rect>`);
    parts.push(`<text class="legend" x="${X(f) + 6}" y="${y + 15}">${h(`${(f * 100).toFixed(1)}% · ${b.detail}`)}</text>`);
  });
  return `<svg class="chart bars" xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" role="img" aria-label="${h(title)}">${parts.join("")}</svg>`;
}
