/** Number and size formatting for headers, status bar and tree (presentation only). */

/** 10138 → "10.1 K", 1.82e9 → "1.82 G". */
export function formatCount(n: number): string {
  const abs = Math.abs(n);
  const units: [number, string][] = [
    [1e12, "T"],
    [1e9, "G"],
    [1e6, "M"],
    [1e3, "K"],
  ];
  for (const [v, u] of units) if (abs >= v) return `${trim(n / v)} ${u}`;
  return String(n);
}

/** Bytes with binary units: 40552 → "39.6 KiB". */
export function formatBytes(n: number): string {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let i = 0;
  let v = n;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return i === 0 ? `${n} B` : `${trim(v)} ${units[i]}`;
}

/** Three significant digits, no trailing zeros. */
function trim(v: number): string {
  return Number(v.toPrecision(3)).toString();
}

/** ["batch", 3, 32, 32] → "batch×3×32×32"; undefined → "?" (rank unknown); null dims → "?". */
export function formatShape(shape: readonly (number | string | null)[] | undefined): string {
  if (!shape) return "?";
  if (shape.length === 0) return "scalar";
  return shape.map((d) => (d === null ? "?" : String(d))).join("×");
}

export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]!);
}
