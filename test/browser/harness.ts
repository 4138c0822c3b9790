/**
 * Drives the explorer in Debian's headless Chromium through playwright-core: serves a model with the
 * Node-side session (same protocol and CSP as the VS Code webview) or opens the standalone report.
 */
import fs from "node:fs";
import path from "node:path";
import { chromium, type Browser, type Page } from "playwright-core";
import { buildGraph, type Graph } from "../../analyzers/graph/graph.ts";
import { loadModel } from "../../analyzers/onnx/index.ts";
import { createExplorerSession, type ExplorerSession } from "../../analyzers/explorer/index.ts";
import { serveExplorer, type ServedExplorer } from "../../analyzers/explorer/serve.ts";

export const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
export const CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run"];
export const ARTIFACTS = path.resolve("test/artifacts");

export async function launch(extraArgs: string[] = []): Promise<Browser> {
  if (!fs.existsSync(CHROMIUM)) throw new Error(`Chromium not found at ${CHROMIUM}: apt-get install chromium (or set CHROMIUM_PATH)`);
  return chromium.launch({ executablePath: CHROMIUM, args: [...CHROMIUM_ARGS, ...extraArgs] });
}

export interface Opened {
  page: Page;
  errors: string[];
  cspViolations: string[];
}

/** Opens a URL, recording page errors and CSP violations, and waits for the first paint. */
export async function open(browser: Browser, url: string, opts: { width?: number; height?: number; colorScheme?: "dark" | "light" } = {}): Promise<Opened> {
  const page = await browser.newPage({ viewport: { width: opts.width ?? 1400, height: opts.height ?? 900 }, colorScheme: opts.colorScheme ?? "dark" });
  const errors: string[] = [];
  const cspViolations: string[] = [];
  page.on("pageerror", (e) => errors.push(e.message));
  page.on("console", (m) => {
    if (m.type() === "error") errors.push(m.text());
  });
  await page.exposeFunction("__reportCsp", (v: string) => cspViolations.push(v));
  await page.addInitScript(() => {
    document.addEventListener("securitypolicyviolation", (e) => (window as unknown as { __reportCsp(v: string): void }).__reportCsp(`${e.violatedDirective} ${e.blockedURI}`));
  });
  await page.goto(url);
  await ready(page);
  return { page, errors, cspViolations };
}

export async function ready(page: Page): Promise<void> {
  await page.waitForFunction(() => !!(window as unknown as { __scalpel?: unknown }).__scalpel);
  await page.evaluate(() => (window as unknown as { __scalpel: { ready: Promise<void> } }).__scalpel.ready);
  await idle(page);
}

/** Waits until no request, layout (ELK included) or animation is pending. */
export async function idle(page: Page): Promise<void> {
  await page.evaluate(() => (window as unknown as { __scalpel: { app: { whenIdle(): Promise<void> } } }).__scalpel.app.whenIdle());
}

/** Runs a method of the app in the page (expand, reveal, overlays) and waits for it to settle. */
export async function app<T>(page: Page, fn: string, ...args: unknown[]): Promise<T> {
  const r = await page.evaluate(
    ([fn, args]) => (window as unknown as { __scalpel: { app: Record<string, (...a: unknown[]) => unknown> } }).__scalpel.app[fn as string]!(...(args as unknown[])),
    [fn, args] as const,
  );
  await idle(page);
  return r as T;
}

/** Fits the whole scene into the viewport, so every item is drawn (the renderer culls what is off screen). */
export async function fitAll(page: Page): Promise<void> {
  await page.evaluate(() => (window as unknown as { __scalpel: { app: { getRenderer(): { fit(r?: unknown, k?: number): void } } } }).__scalpel.app.getRenderer().fit(undefined, 1));
  await idle(page);
}

export interface Served {
  graph: Graph;
  session: ExplorerSession;
  server: ServedExplorer;
}

const loaded = new Map<string, Graph>();

export function graphOf(file: string): Graph {
  let g = loaded.get(file);
  if (!g) loaded.set(file, (g = buildGraph(loadModel(file))));
  return g;
}

export async function serve(file: string, opts: { noWorkers?: boolean } = {}): Promise<Served> {
  const graph = graphOf(file);
  const session = createExplorerSession(graph);
  const server = await serveExplorer(session, { title: path.basename(file), ...opts });
  return { graph, session, server };
}

/** Items drawn for one group view (by data-parent), as the DOM has them. */
export async function drawnChildren(page: Page, group: string): Promise<{ id: string; kind: string; label: string | null }[]> {
  return page.$$eval(`[data-parent="${group}"]`, (els) =>
    els.map((e) => ({ id: e.getAttribute("data-id")!, kind: e.getAttribute("data-kind")!, label: e.getAttribute("aria-label") })),
  );
}

export async function screenshot(page: Page, name: string): Promise<string> {
  fs.mkdirSync(ARTIFACTS, { recursive: true });
  const file = path.join(ARTIFACTS, `${name}.png`);
  await page.screenshot({ path: file });
  return file;
}
