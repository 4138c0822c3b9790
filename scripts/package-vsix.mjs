// Packages the extension as a platform-specific .vsix: a production build, then onnxruntime-node (kept
// external by esbuild: native binaries) staged into dist/node_modules with only the target's binaries, then
// `vsce package --no-dependencies --target T`. Usage: node scripts/package-vsix.mjs [--target linux-x64 | --all]
// Targets are the platforms onnxruntime-node ships CPU binaries for. Output: out/onnx-scalpel-T-VERSION.vsix.
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const TARGETS = { "linux-x64": ["linux", "x64"], "linux-arm64": ["linux", "arm64"], "darwin-arm64": ["darwin", "arm64"], "win32-x64": ["win32", "x64"], "win32-arm64": ["win32", "arm64"] };
const args = process.argv.slice(2);
const ti = args.indexOf("--target");
const targets = args.includes("--all") ? Object.keys(TARGETS) : [ti >= 0 ? args[ti + 1] : `${process.platform}-${process.arch}`];
for (const t of targets) if (!TARGETS[t]) throw new Error(`unknown target ${t}; one of ${Object.keys(TARGETS).join(", ")}`);

const run = (cmd, argv) => {
  const r = spawnSync(cmd, argv, { cwd: root, stdio: "inherit" });
  if (r.status !== 0) process.exit(r.status ?? 1);
};
const copy = (from, to) => fs.cpSync(from, to, { recursive: true, filter: (src) => !src.endsWith(".map") && !src.endsWith(".d.ts") });

run(process.execPath, ["scripts/build.mjs", "--production"]);
// Sourcemaps of earlier development builds have no place in the package.
for (const f of fs.readdirSync(path.join(root, "dist"), { recursive: true })) if (String(f).endsWith(".map")) fs.rmSync(path.join(root, "dist", String(f)));
const version = JSON.parse(fs.readFileSync(path.join(root, "package.json"), "utf8")).version;
const staged = path.join(root, "dist", "node_modules");
const nm = path.join(root, "node_modules");
fs.mkdirSync(path.join(root, "out"), { recursive: true });
try {
  for (const target of targets) {
    const [platform, arch] = TARGETS[target];
    fs.rmSync(staged, { recursive: true, force: true });
    const ortNode = path.join(staged, "onnxruntime-node");
    for (const f of ["package.json", "LICENSE", "README.md", "dist"]) {
      if (fs.existsSync(path.join(nm, "onnxruntime-node", f))) copy(path.join(nm, "onnxruntime-node", f), path.join(ortNode, f));
    }
    const bin = path.join("bin", "napi-v6", platform, arch);
    if (!fs.existsSync(path.join(nm, "onnxruntime-node", bin))) throw new Error(`onnxruntime-node has no binaries for ${target}`);
    copy(path.join(nm, "onnxruntime-node", bin), path.join(ortNode, bin));
    const common = path.join(staged, "onnxruntime-common");
    for (const f of ["package.json", "LICENSE", "README.md", path.join("dist", "cjs")]) {
      if (fs.existsSync(path.join(nm, "onnxruntime-common", f))) copy(path.join(nm, "onnxruntime-common", f), path.join(common, f));
    }
    const out = path.join("out", `onnx-scalpel-${target}-${version}.vsix`);
    run(process.execPath, [
      path.join(nm, "@vscode", "vsce", "vsce"),
      "package",
      "--no-dependencies",
      "--target", target,
      "--out", out,
      "--skip-license",
      "--allow-missing-repository",
    ]);
    console.log(`package: ${out} (${(fs.statSync(path.join(root, out)).size / 1048576).toFixed(1)} MiB)`);
  }
} finally {
  // dist/node_modules would shadow the project's onnxruntime-node in development runs.
  fs.rmSync(staged, { recursive: true, force: true });
}
