/**
 * The standalone explorer report: one HTML file with the bundle, styles, icon font and the explorer
 * index embedded, plus statistics of the weights so the details pane works without a host. This is
 * what the CLI's `--html` writes; the browser tests and the benchmark load it too.
 */
import fs from "node:fs";
import zlib from "node:zlib";
import path from "node:path";
import { fileURLToPath } from "node:url";
import type { Graph } from "../graph/graph.ts";
import { computeMetrics, type Metrics } from "../graph/metrics.ts";
import { inferShapes, type ShapeMap } from "../graph/shapes/index.ts";
import { ScalpelError } from "../onnx/errors.ts";
import { elementCount, tensorDims } from "../onnx/tensor.ts";
import { buildExplorerIndex, type BuildOptions } from "./build.ts";
import { standalonePageHtml } from "./page.ts";
import { ExplorerSession } from "./session.ts";
import { weightStats } from "./stats.ts";
import type { OverlayInput, TensorStats } from "./types.ts";

export interface HtmlOptions {
  shapes?: ShapeMap;
  metrics?: Metrics;
  build?: BuildOptions;
  /** Embed weight statistics while the weights total at most this many elements (default 200M); 0: none. */
  statsLimit?: number;
  theme?: "dark" | "light" | "auto";
  /** Folder with explorer.js, explorer.css, codicon.css, codicon.ttf (default: dist/webviews of this checkout). */
  assetsDir?: string;
}

export function explorerAssetsDir(): string {
  return path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../dist/webviews");
}

export interface ExplorerAssets {
  script: string;
  css: string;
  codiconCss: string;
  codiconFont: Buffer;
}

export function readExplorerAssets(dir = explorerAssetsDir()): ExplorerAssets {
  const read = (f: string) => {
    const p = path.join(dir, f);
    if (!fs.existsSync(p)) throw new ScalpelError(p, "is missing: build the webviews first (npm run build:webviews)");
    return fs.readFileSync(p);
  };
  return { script: read("explorer.js").toString("utf8"), css: read("explorer.css").toString("utf8"), codiconCss: read("codicon.css").toString("utf8"), codiconFont: read("codicon.ttf") };
}

/** Renders the explorer for a graph as one self-contained HTML page. */
export function renderExplorerHtml(graph: Graph, overlays?: OverlayInput[], opts: HtmlOptions = {}): string {
  const assets = readExplorerAssets(opts.assetsDir);
  const shapes = opts.shapes ?? inferShapes(graph);
  const metrics = opts.metrics ?? computeMetrics(graph, shapes);
  const index = buildExplorerIndex(graph, { shapes: shapes.types, metrics, ...opts.build });
  const stats: Record<string, TensorStats> = {};
  let budget = opts.statsLimit ?? 200_000_000;
  for (const v of index.values) {
    if (!v.hasData) continue;
    const w = graph.weight(v.source ?? v.name);
    if (!w) continue;
    const n = elementCount(tensorDims(w));
    if (n > budget) continue;
    try {
      stats[v.name] = weightStats(graph, v.name, 48);
      budget -= n;
    } catch {
      // Strings and unreadable tensors simply get no statistics.
    }
  }
  if (Object.keys(stats).length === 0) for (const v of index.values) v.hasData = false;
  else for (const v of index.values) if (v.hasData && !stats[v.name]) v.hasData = false;
  const codiconCss = assets.codiconCss.replace(/url\(["']?\.\/codicon\.ttf[^)]*\)/g, `url(data:font/ttf;base64,${assets.codiconFont.toString("base64")})`);
  const hasStats = Object.keys(stats).length > 0;
  // What the first paint needs (the model and its top level), answered here so that the page can paint
  // before it decodes and parses the whole index (megabytes for a 20k-node graph).
  const session = new ExplorerSession(index, { overlays, stats: hasStats ? () => Promise.reject(new Error("not on this side")) : undefined });
  const boot = { model: session.model({ withRoot: true }) };
  return standalonePageHtml({
    title: `${index.info.name} — graph explorer`,
    script: assets.script,
    css: assets.css,
    codiconCss,
    bootJson: JSON.stringify(boot),
    dataGzipBase64: zlib.gzipSync(JSON.stringify({ index, overlays, stats: hasStats ? stats : undefined }), { level: 6 }).toString("base64"),
    theme: opts.theme,
  });
}
