// Runs the same integration suite (dist/test/integration.cjs) in desktop VS Code via @vscode/test-electron,
// for machines that have VS Code or can download it (not the offline CI: that uses run-code-server.mjs).
// VS Code: --vscode PATH or $VSCODE_EXECUTABLE (an installed VS Code binary), else @vscode/test-electron
// downloads $VSCODE_VERSION (default: stable) into .vscode-test/. Options: --no-build, --grep PATTERN.
// Without the code-server driver the suite skips its DOM checks and screenshots; the API checks all run.
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { runTests } from "@vscode/test-electron";
import { makeTestDirs, root } from "./workspace.mjs";

const args = process.argv.slice(2);
const option = (name) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
};
if (!args.includes("--no-build")) {
  const b = spawnSync(process.execPath, [path.join(root, "scripts/build.mjs")], { stdio: "inherit" });
  if (b.status !== 0) process.exit(1);
}
const dirs = makeTestDirs();
const vscodeExecutablePath = option("--vscode") ?? process.env.VSCODE_EXECUTABLE;
let code = 1;
try {
  await runTests({
    ...(vscodeExecutablePath ? { vscodeExecutablePath } : { version: process.env.VSCODE_VERSION ?? "stable" }),
    extensionDevelopmentPath: root,
    extensionTestsPath: path.join(root, "dist/test/integration.cjs"),
    extensionTestsEnv: { SCALPEL_TEST_GREP: option("--grep") ?? "" },
    launchArgs: [
      dirs.workspace,
      "--disable-extensions",
      "--disable-workspace-trust",
      "--skip-welcome",
      "--skip-release-notes",
      "--user-data-dir", dirs.userData,
      "--extensions-dir", dirs.extensionsDir,
    ],
  });
  code = 0;
} catch (e) {
  console.error(`integration suite failed: ${e instanceof Error ? e.message : e}`);
} finally {
  fs.rmSync(dirs.tmp, { recursive: true, force: true });
}
process.exit(code);
