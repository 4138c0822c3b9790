#!/usr/bin/env node
/**
 * Bundles the webviews with esbuild into dist/webviews/:
 *   explorer.js   the explorer app (IIFE), with the layout worker's bundle inlined as a string so the
 *                 page can start it from a Blob URL (no extra file for the webview's CSP to allow)
 *   explorer.css  its stylesheet
 *   codicon.css, codicon.ttf   the icon font (@vscode/codicons) used by @vscode-elements/elements
 * Usage: node scripts/build-webviews.mjs [--dev] [--watch]
 */
import * as esbuild from "esbuild";
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const out = path.join(root, "dist", "webviews");
const dev = process.argv.includes("--dev");
const watch = process.argv.includes("--watch");
fs.mkdirSync(out, { recursive: true });

async function workerSource() {
  const r = await esbuild.build({
    entryPoints: [path.join(root, "webviews/explorer/layout/worker.ts")],
    bundle: true,
    format: "iife",
    platform: "browser",
    target: "es2022",
    minify: !dev,
    write: false,
    logLevel: "warning",
  });
  return r.outputFiles[0].text;
}

const workerPlugin = {
  name: "layout-worker-source",
  setup(build) {
    build.onResolve({ filter: /^layout-worker-source$/ }, () => ({ path: "layout-worker-source", namespace: "worker-src" }));
    build.onLoad({ filter: /.*/, namespace: "worker-src" }, async () => ({ contents: await workerSource(), loader: "text" }));
  },
};

const options = {
  entryPoints: [path.join(root, "webviews/explorer/main.ts")],
  bundle: true,
  format: "iife",
  platform: "browser",
  target: "es2022",
  minify: !dev,
  sourcemap: dev ? "inline" : false,
  outfile: path.join(out, "explorer.js"),
  plugins: [workerPlugin],
  logLevel: "warning",
  legalComments: "none",
};

function copyAssets() {
  const css = fs.readFileSync(path.join(root, "webviews/explorer/explorer.css"), "utf8");
  fs.writeFileSync(path.join(out, "explorer.css"), css);
  const codicons = path.join(root, "node_modules/@vscode/codicons/dist");
  for (const f of ["codicon.css", "codicon.ttf"]) fs.copyFileSync(path.join(codicons, f), path.join(out, f));
}

const t0 = Date.now();
if (watch) {
  const ctx = await esbuild.context(options);
  copyAssets();
  await ctx.watch();
  console.log("watching webviews…");
} else {
  await esbuild.build(options);
  copyAssets();
  const kb = (f) => (fs.statSync(path.join(out, f)).size / 1024).toFixed(0);
  console.log(`webviews built in ${Date.now() - t0} ms: explorer.js ${kb("explorer.js")} KiB, explorer.css ${kb("explorer.css")} KiB`);
}
