#!/usr/bin/env node
// Runs the bundled CLI (dist/cli.mjs, plain Node) when it is built and not older than the engine's sources;
// otherwise the TypeScript sources through tsx, so a stale bundle never hides an edit.
import { existsSync, readdirSync, statSync } from "node:fs";
import { fileURLToPath, pathToFileURL } from "node:url";
import path from "node:path";

const root = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
const bundled = path.join(root, "dist", "cli.mjs");
const sources = path.join(root, "analyzers");

/** Newest modification time of the engine's .ts files (0 when the sources are not shipped). */
function newestSource(dir) {
  if (!existsSync(dir)) return 0;
  let newest = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) newest = Math.max(newest, newestSource(p));
    else if (e.name.endsWith(".ts")) newest = Math.max(newest, statSync(p).mtimeMs);
  }
  return newest;
}

let mod;
if (existsSync(bundled) && statSync(bundled).mtimeMs >= newestSource(sources)) mod = await import(pathToFileURL(bundled).href);
else {
  const { register } = await import("tsx/esm/api");
  register();
  mod = await import(pathToFileURL(path.join(sources, "cli.ts")).href);
}
// Exit once stdout has flushed: process.exit right after a large write to a pipe truncates it at 64 KiB.
const code = await mod.main(process.argv.slice(2));
process.exitCode = code;
process.stdout.write("", () => process.exit(code));
