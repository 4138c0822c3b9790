#!/usr/bin/env node
// Runs the bundled CLI when built (dist/cli.mjs, plain Node), else the TypeScript sources through tsx.
import { existsSync } from "node:fs";
import { fileURLToPath, pathToFileURL } from "node:url";
import path from "node:path";

const root = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
const bundled = path.join(root, "dist", "cli.mjs");
let mod;
if (existsSync(bundled)) mod = await import(pathToFileURL(bundled).href);
else {
  const { register } = await import("tsx/esm/api");
  register();
  mod = await import(pathToFileURL(path.join(root, "analyzers", "cli.ts")).href);
}
// Exit once stdout has flushed: process.exit right after a large write to a pipe truncates it at 64 KiB.
const code = await mod.main(process.argv.slice(2));
process.exitCode = code;
process.stdout.write("", () => process.exit(code));
