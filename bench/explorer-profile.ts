/**
 * Where the explorer's first paint goes (npm run profile:explorer -- MODEL [--trace out.json] [--cpu out.cpuprofile]):
 * the page's own marks (model request, root view, layout, first paint), navigation timing, and optionally a
 * Chrome trace (playwright tracing / CDP Tracing) and a CPU profile of the renderer's main thread, to open
 * in Chrome DevTools' Performance panel. MODEL: a torchvision arch name (swin_t, vit_b_16, …), "synthetic"
 * (the 20,000-node transformer) or a path to an .onnx file; --report profiles the standalone report instead;
 * --expand profiles the benchmark's cold expansion (its ancestors opened first) instead of the first paint;
 * --pan profiles panning and zooming with N groups open (--pan 30).
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { buildGraph } from "../analyzers/graph/graph.ts";
import { computeMetrics } from "../analyzers/graph/metrics.ts";
import { inferShapes } from "../analyzers/graph/shapes/index.ts";
import { loadModel } from "../analyzers/onnx/index.ts";
import { createExplorerSession } from "../analyzers/explorer/index.ts";
import { renderExplorerHtml } from "../analyzers/explorer/html.ts";
import { serveExplorer } from "../analyzers/explorer/serve.ts";
import { requireTorchvisionModel } from "../test/fixtures/paths.ts";
import { layersForNodes, syntheticTransformerBytes } from "../test/fixtures/syntheticTransformer.ts";
import { launch } from "../test/browser/harness.ts";
import { panAndZoom } from "./panZoom.ts";
import { expansionTarget } from "./expansionTarget.ts";

type App = Record<string, (...a: unknown[]) => Promise<unknown>>;
const call = (page: import("playwright-core").Page, fn: string, ...a: unknown[]) =>
  page.evaluate(([fn, a]) => (window as unknown as { __scalpel: { app: App } }).__scalpel.app[fn as string]!(...(a as unknown[])), [fn, a] as const);

const args = process.argv.slice(2);
const opt = (name: string) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
};
const which = args.find((a) => !a.startsWith("--") && !args[args.indexOf(a) - 1]?.startsWith("--")) ?? "vit_b_16";
const src: string | Uint8Array = which === "synthetic" ? syntheticTransformerBytes({ layers: layersForNodes(20_000) }) : which.endsWith(".onnx") ? which : requireTorchvisionModel(which);
const graph = buildGraph(loadModel(src, typeof src === "string" ? {} : { name: which }));
const shapes = inferShapes(graph);
const session = createExplorerSession(graph, { shapes, metrics: computeMetrics(graph, shapes) });
const report = args.includes("--report");
let url: string, close: () => Promise<void>;
if (report) {
  const file = path.join(os.tmpdir(), `scalpel-profile-${process.pid}.html`);
  fs.writeFileSync(file, renderExplorerHtml(graph, undefined, { statsLimit: 0 }));
  url = `file://${file}`;
  close = async () => fs.rmSync(file, { force: true });
} else {
  const server = await serveExplorer(session, { title: which });
  url = server.url + (args.includes("--no-prefetch") ? "?prefetch=0" : "");
  close = () => server.close();
}
const browser = await launch();
const ctx = await browser.newContext({ viewport: { width: 1400, height: 900 } });
const page = await ctx.newPage();
const cdp = await ctx.newCDPSession(page);
const trace = opt("--trace"), cpu = opt("--cpu");
const expand = args.includes("--expand"), pan = opt("--pan");
let target: ReturnType<typeof expansionTarget> | undefined;
if (expand || pan) {
  await page.goto(url + (url.includes("?") ? "&" : "?") + "prefetch=0");
  await page.waitForFunction(() => !!(window as unknown as { __scalpel?: unknown }).__scalpel, undefined, { timeout: 120_000 });
  await page.evaluate(() => (window as unknown as { __scalpel: { ready: Promise<void> } }).__scalpel.ready);
  await call(page, "whenIdle");
  if (expand) {
    target = expansionTarget(session);
    for (const id of target.chain) await call(page, "toggle", id);
    await call(page, "whenIdle");
    await call(page, "fitTo", target.chain[target.chain.length - 1] ?? target.view.id);
  } else {
    const queue = session.group({ id: "g0" }).items.filter((i) => i.kind === "group").map((i) => i.id);
    for (let opened = 0; queue.length && opened < Number(pan); opened++) {
      const id = queue.shift()!;
      await call(page, "toggle", id);
      for (const it of session.group({ id }).items) if (it.kind === "group") queue.push(it.id);
    }
  }
  await call(page, "whenIdle");
}
if (trace) await browser.startTracing(page, { path: trace, screenshots: false, categories: ["devtools.timeline", "disabled-by-default-devtools.timeline", "v8.execute", "blink.user_timing", "disabled-by-default-v8.cpu_profiler"] });
if (cpu) {
  await cdp.send("Profiler.enable");
  await cdp.send("Profiler.setSamplingInterval", { interval: 200 });
  await cdp.send("Profiler.start");
}
if (target) {
  const t = await page.evaluate(async (id) => {
    const t0 = performance.now();
    await (window as unknown as { __scalpel: { app: App } }).__scalpel.app.toggle!(id);
    return performance.now() - t0;
  }, target.view.id);
  console.log(`expanded ${target.view.label} (${target.view.items.length} items) in ${t.toFixed(0)} ms`);
} else if (pan) {
  await page.evaluate(`(() => {
    window.__long = [];
    new PerformanceObserver((l) => l.getEntries().forEach((e) => window.__long.push(Math.round(e.duration)))).observe({ type: "longtask" });
  })()`);
  await panAndZoom(page);
  console.log("long tasks (ms):", await page.evaluate(() => (window as unknown as { __long: number[] }).__long.join(" ")));
} else {
  await page.goto(url);
  await page.waitForFunction(() => !!(window as unknown as { __scalpel?: unknown }).__scalpel, undefined, { timeout: 120_000 });
  await page.evaluate(() => (window as unknown as { __scalpel: { ready: Promise<void> } }).__scalpel.ready);
}
await page.waitForTimeout(Number(opt("--wait") ?? 300));
if (cpu) {
  const { profile } = (await cdp.send("Profiler.stop")) as { profile: { nodes: { id: number; callFrame: { functionName: string; url: string; lineNumber: number }; hitCount?: number }[]; samples: number[]; timeDeltas: number[] } };
  fs.writeFileSync(cpu, JSON.stringify(profile));
  // Self time by function, top 25.
  const self = new Map<number, number>();
  profile.samples.forEach((s, i) => self.set(s, (self.get(s) ?? 0) + (profile.timeDeltas[i] ?? 0)));
  const byName = new Map<string, number>();
  for (const n of profile.nodes) {
    const t = self.get(n.id) ?? 0;
    const k = `${n.callFrame.functionName || "(anon)"} ${path.basename(n.callFrame.url)}:${n.callFrame.lineNumber}`;
    byName.set(k, (byName.get(k) ?? 0) + t / 1000);
  }
  console.log("self time (ms), top 25:");
  for (const [k, v] of [...byName].sort((a, b) => b[1] - a[1]).slice(0, 25)) console.log(`  ${v.toFixed(1).padStart(8)}  ${k}`);
}
if (trace) await browser.stopTracing();
const marks = await page.evaluate(() => {
  const nav = performance.getEntriesByType("navigation")[0] as PerformanceNavigationTiming | undefined;
  const out: Record<string, number> = {};
  if (nav) Object.assign(out, { responseEnd: nav.responseEnd, domInteractive: nav.domInteractive, domContentLoaded: nav.domContentLoadedEventEnd });
  for (const m of performance.getEntriesByType("mark")) out[m.name] = m.startTime;
  for (const m of performance.getEntriesByType("measure")) out[`measure ${m.name}`] = m.duration;
  return out;
});
console.log(`${which}${report ? " (report)" : ""}: load ${os.loadavg()[0]!.toFixed(1)}`);
for (const [k, v] of Object.entries(marks).sort((a, b) => a[1] - b[1])) console.log(`  ${k.padEnd(28)} ${v.toFixed(0)} ms`);
await browser.close();
await close();
