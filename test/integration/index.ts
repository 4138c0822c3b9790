/**
 * The integration suite's entry (the `@vscode/test-electron` contract: a module exporting `run()`),
 * bundled to dist/test/integration.cjs and loaded by VS Code's extension host with the real `vscode` API.
 * Launchers: scripts/vscode-test/run-code-server.mjs (CI: code-server + headless Chromium) and
 * scripts/vscode-test/run-electron.mjs (desktops with VS Code).
 */
import Mocha from "mocha";
import { driver } from "./driver.ts";

export async function run(): Promise<void> {
  const mocha = new Mocha({ ui: "bdd", timeout: 60_000, color: false, reporter: "spec" });
  const grep = process.env.SCALPEL_TEST_GREP;
  if (grep) mocha.grep(grep);
  // Define describe/it/before... as globals, then evaluate the test modules (esbuild wraps dynamic imports,
  // so their bodies run here, after the globals exist).
  mocha.suite.emit("pre-require", globalThis, "integration", mocha);
  // A failed test leaves a screenshot of the workbench as it was (code-server launcher only).
  afterEach(async function () {
    if (this.currentTest?.state === "failed" && driver.available) {
      await driver.screenshot(`FAILED ${this.currentTest.fullTitle()}`.slice(0, 120)).catch(() => undefined);
    }
  });
  await import("./modelViewer.test.ts");
  await import("./codeLens.test.ts");
  await import("./prune.test.ts");
  await import("./ablation.test.ts");
  await import("./engineWorker.test.ts");
  const failures = await new Promise<number>((resolve) => mocha.run(resolve));
  if (failures > 0) throw new Error(`${failures} integration test(s) failed`);
}
