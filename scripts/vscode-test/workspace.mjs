// Shared by both launchers: a fresh temp workspace filled with the fixtures, and a fresh user-data folder.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { ensureExtensionFixtures } from "../../test/fixtures/extension/ensure.mjs";

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

/** Creates { tmp, workspace, userData, extensionsDir } under one temp folder. */
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
  return { tmp, workspace, userData, extensionsDir };
}
