// Shared by both launchers: a fresh temp workspace filled with the fixtures, and a fresh user-data folder.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { cacheRoot, ensureExtensionFixtures } from "../../test/fixtures/extension/ensure.mjs";

export const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
export const artifactsDir = path.join(root, "test", "artifacts");

/** User settings for a quiet, deterministic workbench (no trust prompt, no welcome page, no tips). */
export const userSettings = {
  "security.workspace.trust.enabled": false,
  "workbench.startupEditor": "none",
  "workbench.tips.enabled": false,
  "workbench.enableExperiments": false,
  "workbench.welcomePage.walkthroughs.openOnInstall": false,
  "extensions.autoCheckUpdates": false,
  "extensions.autoUpdate": false,
  "extensions.ignoreRecommendations": true,
  "telemetry.telemetryLevel": "off",
  "update.mode": "none",
  "git.enabled": false,
  "chat.commandCenter.enabled": false,
  "workbench.colorTheme": "Default Dark Modern",
  "window.zoomLevel": 0,
};

const ARITH_FILES = ["arith-opset14.onnx", "tokenizer.json", "vocab.json", "reference.json"];

/** Folder of the arithmetic-transformer fixtures ($SCALPEL_ARITH_DIR or <cache>/arith), if they are built. */
export function arithFixtureDir() {
  const dir = process.env.SCALPEL_ARITH_DIR || path.join(cacheRoot(), "arith");
  return ["arith-opset14.onnx", "reference.json"].every((f) => fs.existsSync(path.join(dir, f))) ? dir : undefined;
}

/** Creates { tmp, workspace, userData, extensionsDir, arith } under one temp folder. */
export function makeTestDirs() {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "scalpel-vscode-test-"));
  const workspace = path.join(tmp, "workspace");
  const userData = path.join(tmp, "user-data");
  const extensionsDir = path.join(tmp, "extensions");
  for (const d of [workspace, path.join(userData, "User"), extensionsDir]) fs.mkdirSync(d, { recursive: true });
  fs.writeFileSync(path.join(userData, "User", "settings.json"), JSON.stringify(userSettings, null, 2));
  const fixtures = ensureExtensionFixtures();
  for (const f of fs.readdirSync(fixtures)) fs.copyFileSync(path.join(fixtures, f), path.join(workspace, f));
  fs.copyFileSync(path.join(root, "test", "fixtures", "extension", "tiny_cnn.py"), path.join(workspace, "tiny_cnn.py"));
  // The trained arithmetic transformer and its PyTorch reference (test/fixtures/arith), when built.
  const arith = arithFixtureDir();
  if (arith) {
    fs.mkdirSync(path.join(workspace, "arith"));
    for (const f of ARITH_FILES) if (fs.existsSync(path.join(arith, f))) fs.copyFileSync(path.join(arith, f), path.join(workspace, "arith", f));
  }
  return { tmp, workspace, userData, extensionsDir, arith };
}
