/**
 * Box sizes and text fitting, measured once per string with a canvas in the webview's own fonts, so
 * ELK gets the sizes the renderer will draw.
 */
import type { ViewItem } from "../../analyzers/explorer/types.ts";
import { formatCount, formatMacs } from "../../analyzers/explorer/format.ts";

export const NODE_H = 40;
export const GROUP_H = 64;
export const PORT_H = 28;
const NODE_MIN_W = 56, NODE_MAX_W = 240;
const GROUP_MIN_W = 150, GROUP_MAX_W = 300;

export interface ItemText {
  title: string;
  sub: string;
  /** Groups: the op summary line, and its parts for fitting at word boundaries. */
  ops?: string;
  opsParts?: string[];
  /** Groups: params/MACs line. */
  stats?: string;
}

let ctx: CanvasRenderingContext2D | null = null;
let fonts = { title: "600 12px sans-serif", sub: "11px sans-serif", mono: "11px monospace" };
const widthCache = new Map<string, number>();

/** Reads the fonts the stylesheet gives (VS Code's font family) before measuring. */
export function initFonts(root: HTMLElement): void {
  const cs = getComputedStyle(root);
  const family = cs.getPropertyValue("--vscode-font-family").trim() || cs.fontFamily || "sans-serif";
  const mono = cs.getPropertyValue("--vscode-editor-font-family").trim() || "monospace";
  fonts = { title: `600 12px ${family}`, sub: `11px ${family}`, mono: `11px ${mono}` };
  widthCache.clear();
}

export function textWidth(text: string, font: keyof typeof fonts): number {
  const key = font + "\u0000" + text;
  let w = widthCache.get(key);
  if (w === undefined) {
    if (!ctx) ctx = document.createElement("canvas").getContext("2d");
    if (ctx) {
      ctx.font = fonts[font];
      w = ctx.measureText(text).width;
    } else w = text.length * 7;
    widthCache.set(key, w);
  }
  return w;
}

/** Shortens `text` with an ellipsis in the middle (keeps both ends of long names) to fit `max` px. */
export function fit(text: string, font: keyof typeof fonts, max: number): string {
  if (textWidth(text, font) <= max) return text;
  let lo = 0, hi = text.length;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    const head = Math.ceil(mid / 2), tail = mid - head;
    const s = text.slice(0, head) + "…" + (tail ? text.slice(text.length - tail) : "");
    if (textWidth(s, font) <= max) lo = mid;
    else hi = mid - 1;
  }
  const head = Math.ceil(lo / 2), tail = lo - head;
  return text.slice(0, head) + "…" + (tail ? text.slice(text.length - tail) : "");
}

/** Joins as many parts as fit in `max` px, then "…". */
export function fitList(parts: readonly string[], font: keyof typeof fonts, max: number): string {
  let out = "";
  for (let i = 0; i < parts.length; i++) {
    const next = out ? `${out} ${parts[i]}` : parts[i]!;
    const tail = i < parts.length - 1 ? " …" : "";
    if (textWidth(next + tail, font) > max) return out ? `${out} …` : fit(parts[i]!, font, max);
    out = next;
  }
  return out;
}

export function itemText(it: ViewItem): ItemText {
  if (it.kind === "group") {
    const s = it.summary!;
    const parts = [`${s.nodes} node${s.nodes === 1 ? "" : "s"} ·`, ...s.ops.map(([op, n]) => (n > 1 ? `${op}×${n}` : op))];
    const ops = parts.slice(0, 4).join(" ") + (parts.length > 4 ? " …" : "");
    const stats =
      s.params !== undefined
        ? `${formatCount(s.params)} params · ${formatMacs(s.macs, s.macsUnknown)} MACs`
        : s.folded
          ? `+${s.folded} folded (weights, shapes)`
          : "no weights";
    return { title: it.label, sub: it.className ?? "", ops, opsParts: parts, stats };
  }
  if (it.kind === "input" || it.kind === "output") return { title: it.label, sub: it.detail ?? "" };
  const op = it.op ?? "";
  if (it.label && it.label !== op) return { title: it.label, sub: [op, it.detail].filter(Boolean).join(" · ") };
  return { title: op, sub: it.detail ?? "" };
}

/** Width an expanded item's title bar needs: title, class, stats and the collapse button. */
export function headerWidth(it: ViewItem): number {
  const t = itemText(it);
  return textWidth(t.title + (t.sub ? `  ·  ${t.sub}` : ""), "title") + textWidth(t.stats ?? "", "sub") + 64;
}

export function itemSize(it: ViewItem): { w: number; h: number } {
  const t = itemText(it);
  if (it.kind === "group") {
    const w = Math.max(textWidth(t.title, "title") + (t.sub ? textWidth(t.sub, "sub") + 8 : 0) + 22, textWidth(t.ops!, "sub"), textWidth(t.stats!, "sub")) + 28;
    return { w: Math.round(Math.min(GROUP_MAX_W, Math.max(GROUP_MIN_W, w))), h: GROUP_H };
  }
  if (it.kind === "input" || it.kind === "output") {
    const w = Math.max(textWidth(t.title, "title"), textWidth(t.sub, "mono")) + 32;
    return { w: Math.round(Math.min(NODE_MAX_W, Math.max(NODE_MIN_W, w))), h: NODE_H };
  }
  const w = Math.max(textWidth(t.title, "title") + (it.expandable ? 16 : 0), textWidth(t.sub, "mono")) + 24;
  return { w: Math.round(Math.min(NODE_MAX_W, Math.max(NODE_MIN_W, w))), h: NODE_H };
}
