// Runs the integration suite (dist/test/integration.cjs, exporting run()) inside the real VS Code that
// code-server bundles, driven by headless Chromium through playwright-core. See docs/real-vscode-in-ci.md.
//   1. installs code-server into the cache if needed (install-code-server.sh), builds the bundles
//   2. starts code-server on a free loopback port with a fresh user-data dir and a temp fixture workspace
//   3. opens the workbench with extensionDevelopmentPath/extensionTestsPath in the URL payload
//   4. relays codeAutomationLog, answers the suite's driver requests (screenshots, DOM texts, clicks)
//   5. exits with the suite's code (codeAutomationExit); always kills code-server
// Options: --no-build, --grep PATTERN, --keep (keep the temp folder), --timeout SECONDS, --vsix FILE
// (install a packaged .vsix with `code-server --install-extension` and test that instead of the source tree).
import { spawn, spawnSync } from "node:child_process";
import fs from "node:fs";
import net from "node:net";
import path from "node:path";
import { format } from "node:util";
import { artifactsDir, makeTestDirs, root } from "./workspace.mjs";

const args = process.argv.slice(2);
const flag = (name) => args.includes(name);
const option = (name) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
};
const timeoutS = Number(option("--timeout") ?? 600);
const t0 = performance.now();
const elapsed = () => `${((performance.now() - t0) / 1000).toFixed(1)} s`;
const say = (m) => process.stdout.write(`[vscode-test ${elapsed()}] ${m}\n`);

// 1. code-server and bundles
const install = spawnSync("bash", [path.join(root, "scripts/vscode-test/install-code-server.sh")], { stdio: ["ignore", "pipe", "inherit"], encoding: "utf8" });
if (install.status !== 0) {
  console.error("code-server install failed");
  process.exit(1);
}
const codeServerHome = install.stdout.trim().split("\n").pop();
const entry = path.join(codeServerHome, "node_modules/code-server/out/node/entry.js");
say(`code-server in ${codeServerHome}`);
if (!flag("--no-build")) {
  const b = spawnSync(process.execPath, [path.join(root, "scripts/build.mjs")], { stdio: "inherit", cwd: root });
  if (b.status !== 0) process.exit(1);
}
const testsPath = path.join(root, "dist/test/integration.cjs");
if (!fs.existsSync(testsPath)) {
  console.error(`${testsPath} missing: run npm run build`);
  process.exit(1);
}

const dirs = makeTestDirs();
say(dirs.arith ? `arithmetic transformer fixtures from ${dirs.arith}` : "no arithmetic transformer fixtures (test/fixtures/arith not built): the ablation tests will skip");
const driverDir = path.join(dirs.tmp, "driver");
fs.mkdirSync(driverDir);
fs.mkdirSync(artifactsDir, { recursive: true });
// Screenshots of this run only.
for (const f of fs.readdirSync(artifactsDir)) if (f.endsWith(".png")) fs.rmSync(path.join(artifactsDir, f));
const logFile = path.join(artifactsDir, "vscode-test.log");
const logStream = fs.createWriteStream(logFile);

let extensionPath = root;
const vsix = option("--vsix");
if (vsix) {
  // Install the package like a user would; the tests then load the installed copy.
  const r = spawnSync(process.execPath, [entry, "--user-data-dir", dirs.userData, "--extensions-dir", dirs.extensionsDir, "--install-extension", path.resolve(vsix)], { encoding: "utf8" });
  process.stdout.write(r.stdout + r.stderr);
  if (r.status !== 0) process.exit(1);
  const installed = fs.readdirSync(dirs.extensionsDir).find((d) => d.startsWith("onnx-scalpel.onnx-scalpel-"));
  if (!installed) {
    console.error("the .vsix did not install an onnx-scalpel.onnx-scalpel folder");
    process.exit(1);
  }
  extensionPath = path.join(dirs.extensionsDir, installed);
  say(`installed ${path.basename(vsix)} into ${extensionPath}`);
}

function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.on("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

let server;
let browser;
let exitCode = 1;
let finished = false;

async function cleanup() {
  if (browser) await browser.close().catch(() => undefined);
  if (server && server.exitCode === null) {
    // code-server runs in its own process group (detached): kill the group, extension hosts included.
    try {
      process.kill(-server.pid, "SIGTERM");
    } catch {}
    const gone = await Promise.race([new Promise((r) => server.once("exit", () => r(true))), new Promise((r) => setTimeout(() => r(false), 3000))]);
    if (!gone) {
      try {
        process.kill(-server.pid, "SIGKILL");
      } catch {}
    }
  }
  logStream.end();
  if (!flag("--keep")) fs.rmSync(dirs.tmp, { recursive: true, force: true });
  else say(`kept ${dirs.tmp}`);
}

for (const sig of ["SIGINT", "SIGTERM"]) {
  process.on(sig, () => {
    say(`${sig}: stopping`);
    void cleanup().finally(() => process.exit(130));
  });
}

try {
  const port = await freePort();
  const configFile = path.join(dirs.tmp, "code-server.yaml");
  fs.writeFileSync(configFile, "");
  server = spawn(
    process.execPath,
    [
      entry,
      "--config", configFile,
      "--auth", "none",
      "--bind-addr", `127.0.0.1:${port}`,
      "--user-data-dir", dirs.userData,
      "--extensions-dir", dirs.extensionsDir,
      "--disable-telemetry",
      "--disable-update-check",
      "--disable-workspace-trust",
      "--disable-getting-started-override",
      "--ignore-last-opened",
      dirs.workspace,
    ],
    {
      detached: true,
      stdio: ["ignore", "pipe", "pipe"],
      env: { ...process.env, SCALPEL_DRIVER_DIR: driverDir, SCALPEL_LOG_CONSOLE: "1", SCALPEL_ARTIFACTS_DIR: artifactsDir, SCALPEL_TEST_GREP: option("--grep") ?? "", VSCODE_PROXY_URI: "" },
    },
  );
  const ready = new Promise((resolve, reject) => {
    const onData = (d) => {
      const text = d.toString();
      logStream.write(`[code-server] ${text}`);
      if (/HTTP server listening/.test(text)) resolve();
    };
    server.stdout.on("data", onData);
    server.stderr.on("data", onData);
    server.once("exit", (code) => reject(new Error(`code-server exited early (${code}); see ${logFile}`)));
    setTimeout(() => reject(new Error("code-server did not start within 60 s")), 60_000);
  });
  await ready;
  say(`code-server listening on 127.0.0.1:${port}`);

  const { chromium } = await import("playwright-core");
  browser = await chromium.launch({
    executablePath: process.env.CHROMIUM_PATH || "/usr/bin/chromium",
    headless: true,
    args: ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run"],
  });
  const page = await browser.newPage({ viewport: { width: 1440, height: 900 } });
  page.on("pageerror", (e) => logStream.write(`[page error] ${e.message}\n`));
  page.on("console", (m) => {
    if (m.type() === "error") logStream.write(`[console] ${m.text()}\n`);
  });

  const exited = new Promise((resolve) => {
    void page.exposeFunction("codeAutomationExit", (code) => resolve(Number(code)));
  });
  await page.exposeFunction("codeAutomationLog", (type, args) => {
    // The extension host's console calls, printf-style ("%s) %s:" ...), as the workbench forwards them.
    const text = Array.isArray(args) ? format(...args) : String(args);
    logStream.write(`${text}\n`);
    process.stdout.write(`${text}\n`);
  });

  const remote = (p) => `vscode-remote://127.0.0.1:${port}${p}`;
  const payload = [
    ["extensionDevelopmentPath", remote(extensionPath)],
    ["extensionTestsPath", remote(testsPath)],
  ];
  const url = `http://127.0.0.1:${port}/?folder=${encodeURIComponent(dirs.workspace)}&payload=${encodeURIComponent(JSON.stringify(payload))}`;
  await page.goto(url);
  say("workbench opened; running the suite");

  const driving = serveDriver(page, driverDir);
  const timedOut = new Promise((resolve) => setTimeout(() => resolve("timeout"), timeoutS * 1000));
  const result = await Promise.race([exited, timedOut]);
  finished = true;
  await driving;
  if (result === "timeout") {
    say(`the suite did not finish within ${timeoutS} s`);
    await page.screenshot({ path: path.join(artifactsDir, "timeout.png") }).catch(() => undefined);
    exitCode = 1;
  } else {
    exitCode = result;
    say(`suite finished with exit code ${exitCode}`);
  }
} catch (e) {
  console.error(e);
  exitCode = 1;
} finally {
  finished = true;
  await cleanup();
}
say(`log: ${path.relative(root, logFile)}, screenshots: ${path.relative(root, artifactsDir)}/`);
process.exit(exitCode);

/** Answers the suite's requests (test/integration/driver.ts) until the suite ends. */
async function serveDriver(page, dir) {
  while (!finished) {
    const reqs = fs.readdirSync(dir).filter((f) => f.startsWith("req-") && f.endsWith(".json"));
    for (const f of reqs) {
      const id = f.slice(4, -5);
      const req = JSON.parse(fs.readFileSync(path.join(dir, f), "utf8"));
      fs.rmSync(path.join(dir, f));
      let res;
      try {
        res = { ok: true, value: await handle(page, req) };
      } catch (e) {
        res = { ok: false, error: e instanceof Error ? e.message : String(e) };
      }
      fs.writeFileSync(path.join(dir, `res-${id}.json.tmp`), JSON.stringify(res));
      fs.renameSync(path.join(dir, `res-${id}.json.tmp`), path.join(dir, `res-${id}.json`));
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Frames to search: the workbench page itself, or every webview iframe (webviews nest an inner frame). */
function framesOf(page, where) {
  return where === "webview" ? page.frames().filter((f) => f !== page.mainFrame()) : [page.mainFrame()];
}

async function handle(page, req) {
  if (req.op === "screenshot") {
    const file = path.join(artifactsDir, `${req.name.replace(/[^\w.-]/g, "_")}.png`);
    await page.screenshot({ path: file });
    say(`screenshot ${path.relative(root, file)}`);
    return file;
  }
  if (req.op === "press") {
    await page.keyboard.press(req.key);
    return null;
  }
  if (req.op === "type") {
    await page.keyboard.type(req.text, { delay: 10 });
    return null;
  }
  const deadline = Date.now() + (req.timeoutMs ?? 10_000);
  for (;;) {
    for (const frame of framesOf(page, req.where)) {
      let texts;
      try {
        // A <select> reads as its selected option.
        texts = await frame.$$eval(req.selector, (els) =>
          els.map((e) => ((e instanceof HTMLSelectElement ? e.selectedOptions[0]?.textContent : e.textContent) ?? "").trim()),
        );
      } catch {
        continue; // frame detached or navigating
      }
      if (!texts.length) continue;
      if (req.contains && !texts.some((t) => t.includes(req.contains))) continue;
      if (req.op === "texts") return texts;
      if (req.op === "click") {
        const handles = await frame.$$(req.selector);
        for (const h of handles) {
          const t = ((await h.textContent()) ?? "").trim();
          if (!req.contains || t.includes(req.contains)) {
            // A hover left by the previous click (a quick-pick row's tooltip) can cover the target: move away first.
            await page.mouse.move(0, 0);
            await h.click();
            return null;
          }
        }
      }
    }
    if (Date.now() > deadline) throw new Error(`nothing matches ${req.selector}${req.contains ? ` containing "${req.contains}"` : ""} in the ${req.where}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
