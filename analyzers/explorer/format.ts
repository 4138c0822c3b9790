/** Formatting shared by the host and the webview (pure, no DOM, no Node). */
import type { JsonDim } from "./types.ts";

/** [1, 64, "batch", null] → "1×64×batch×?"; scalars "scalar"; unknown rank "". */
export function formatShape(shape: readonly JsonDim[] | null | undefined): string {
  if (!shape) return "";
  if (shape.length === 0) return "scalar";
  return shape.map((d) => (d === null || d === undefined ? "?" : String(d))).join("×");
}

/** 11689512 → "11.7M"; 1.8e9 → "1.8G"; 512 → "512". */
export function formatCount(n: number | undefined): string {
  if (n === undefined || !Number.isFinite(n)) return "—";
  const a = Math.abs(n);
  const units: [number, string][] = [
    [1e12, "T"],
    [1e9, "G"],
    [1e6, "M"],
    [1e3, "k"],
  ];
  for (const [v, u] of units) if (a >= v) return `${trim((n / v).toFixed(a / v >= 100 ? 0 : a / v >= 10 ? 1 : 2))}${u}`;
  return String(Math.round(n * 100) / 100);
}

/**
 * MACs with a marker when some could not be computed (unknown shapes): "≥1.8G" for a partial sum, "?"
 * when nothing could be counted, so a collapsed group never passes a partial sum off as complete.
 */
export function formatMacs(macs: number | undefined, unknown?: number | boolean): string {
  if (!unknown || macs === undefined) return formatCount(macs);
  return macs > 0 ? `≥${formatCount(macs)}` : "?";
}

/** "MACs of 3 nodes unknown (shapes not inferred)", or "" when all are known. */
export function unknownMacsNote(unknown: number | boolean | undefined): string {
  if (!unknown) return "";
  const n = unknown === true ? 1 : unknown;
  return unknown === true ? "MACs unknown (shapes not inferred)" : `MACs of ${n} node${n === 1 ? "" : "s"} unknown (shapes not inferred)`;
}

/**
 * 1234567 → "1,234,567". By hand: the first toLocaleString() in a page loads the locale data (tens to
 * hundreds of ms of the first paint).
 */
export function formatInt(n: number): string {
  if (!Number.isFinite(n)) return String(n);
  const s = String(Math.round(Math.abs(n)));
  let out = "";
  for (let i = 0; i < s.length; i++) out += (i && (s.length - i) % 3 === 0 ? "," : "") + s[i];
  return n < 0 ? "-" + out : out;
}

function trim(s: string): string {
  return s.includes(".") ? s.replace(/\.?0+$/, "") : s;
}

/** A number for a table cell: up to 4 significant digits, exponent for tiny/huge values. */
export function formatNumber(x: number): string {
  if (Number.isNaN(x)) return "NaN";
  if (!Number.isFinite(x)) return x > 0 ? "∞" : "−∞";
  if (x === 0) return "0";
  const a = Math.abs(x);
  if (a >= 1e6 || a < 1e-3) return x.toExponential(3).replace(/\.?0+e/, "e");
  return trim(x.toPrecision(4));
}
