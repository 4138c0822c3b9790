// Bundles the extension host code with esbuild. The engine (analyzers/) is ESM TypeScript and onnx-buf is
// ESM-only; the extension host loads CommonJS, so everything is bundled to .cjs.
//   dist/extension.cjs        extension host entry (package.json "main"); imports no engine code at runtime
//   dist/cli.mjs              the CLI (bin/scalpel.js), plain Node
//   dist/worker.cjs           engine worker (worker_threads): loads models, runs the engine
//   dist/test/integration.cjs the integration suite (exports run()), for real VS Code
//   dist/webviews/*.js        webview scripts (browser IIFE)
// onnxruntime-node stays external (native binaries): node_modules in development, shipped in the .vsix
// by scripts/package-vsix.mjs. Flags: --production (minify, no sourcemaps), --watch, --dev-webviews
// (unminified explorer bundle with sourcemaps).
import * as esbuild from "esbuild";
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const production = process.argv.includes("--production");
const watch = process.argv.includes("--watch");

/** @type {esbuild.BuildOptions} */
const common = {
  absWorkingDir: root,
  bundle: true,
  platform: "node",
  format: "cjs",
  target: "node20",
  external: ["vscode", "onnxruntime-node"],
  sourcemap: production ? false : "linked",
  minify: production,
  keepNames: true,
  logLevel: "warning",
  legalComments: "none",
};

const builds = [
  { ...common, entryPoints: { extension: "extension/extension.ts", worker: "extension/worker/worker.ts" }, outdir: "dist", outExtension: { ".js": ".cjs" } },
  // mocha's parallel mode (unused here) require.resolve()s files esbuild cannot see; harmless.
  { ...common, entryPoints: { integration: "test/integration/index.ts" }, outdir: "dist/test", outExtension: { ".js": ".cjs" }, logOverride: { "require-resolve-not-external": "silent" } },
];

// The CLI for plain Node (bin/scalpel.js prefers it to running the TypeScript through tsx): ESM, since
// onnx-buf is ESM-only; `require` is provided for the CommonJS dependencies esbuild inlines.
builds.push({
  ...common,
  format: "esm",
  entryPoints: { cli: "analyzers/cli.ts" },
  outdir: "dist",
  outExtension: { ".js": ".mjs" },
  banner: { js: "import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);" },
});

// Webview scripts: browser bundles, loaded with the page's CSP nonce.
builds.push({
  absWorkingDir: root,
  bundle: true,
  platform: "browser",
  format: "iife",
  target: "chrome120",
  entryPoints: { report: "webviews/report/main.ts" },
  outdir: "dist/webviews",
  sourcemap: production ? false : "linked",
  minify: production,
  logLevel: "warning",
});

const start = performance.now();
// The graph explorer's bundles (explorer.js/.css, codicons) come from its own script.
const { spawnSync } = await import("node:child_process");
// Minified even in development builds: the dev bundle (inline sourcemap, ~10 MB) takes seconds to parse.
const wv = spawnSync(process.execPath, [path.join(root, "scripts/build-webviews.mjs"), ...(process.argv.includes("--dev-webviews") ? ["--dev"] : [])], { stdio: "inherit" });
if (wv.status !== 0) process.exit(wv.status ?? 1);
if (watch) {
  for (const b of builds) await (await esbuild.context(b)).watch();
  console.log("esbuild: watching");
} else {
  await Promise.all(builds.map((b) => esbuild.build(b)));
  const sizes = ["extension.cjs", "worker.cjs", "cli.mjs", "test/integration.cjs", "webviews/explorer.js", "webviews/report.js"]
    .map((f) => `${f} ${(fs.statSync(path.join(root, "dist", f)).size / 1024).toFixed(0)} KiB`)
    .join(", ");
  console.log(`build: ${sizes} in ${(performance.now() - start).toFixed(0)} ms${production ? " (production)" : ""}`);
}
