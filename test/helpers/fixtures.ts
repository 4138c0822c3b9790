/** Where generated fixtures live: a cache shared by checkouts, rebuilt by `npm run fixtures` when absent. */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";

export function cacheDir(): string {
  return process.env.SCALPEL_CACHE ?? path.join(os.homedir(), ".cache", "onnx-scalpel");
}

/** Absolute path of a cached fixture; throws a clear error telling how to build it when missing. */
export function fixturePath(relative: string): string {
  const p = path.join(cacheDir(), relative);
  if (!fs.existsSync(p)) throw new Error(`fixture ${p} is missing: run \`npm run fixtures\` first`);
  return p;
}
