/**
 * The graph explorer in a real browser (headless Chromium), against real torchvision exports served by
 * the Node-side session under the VS Code webview's CSP, and as the standalone report.
 */
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import type { Browser, Page } from "playwright-core";
import { renderExplorerHtml } from "../../analyzers/explorer/html.ts";
import { explorerWebviewHtml } from "../../analyzers/explorer/page.ts";
import { formatNumber } from "../../analyzers/explorer/format.ts";
import type { GroupView, OverlayInput } from "../../analyzers/explorer/types.ts";
import { scaleColor } from "../../webviews/explorer/palette.ts";
import os from "node:os";
import { ModelProtoSchema } from "onnx-buf";
import { encodeBytes } from "../../analyzers/onnx/encode.ts";
import { requireTorchvisionModel } from "../fixtures/paths.ts";
import { functionAndIfModel } from "../helpers/explorer.ts";
import { groupsOverlay } from "../../analyzers/explorer/pruningOverlays.ts";
import { findGroups } from "../../analyzers/pruning/groups/index.ts";
import { inferShapes } from "../../analyzers/graph/shapes/index.ts";
import { computeMetrics } from "../../analyzers/graph/metrics.ts";
import { app, ARTIFACTS, drawnChildren, fitAll, graphOf, idle, launch, open, screenshot, serve, type Opened, type Served } from "./harness.ts";

const rgb = (s: string) => s.replace(/\s+/g, "");

describe("graph explorer in Chromium: ResNet-18", function () {
  let browser: Browser;
  let served: Served;
  let o: Opened;
  let page: Page;
  const byLabel = (v: GroupView, label: string) => v.items.find((i) => i.label === label)!;

  before(async function () {
    served = await serve(requireTorchvisionModel("resnet18"));
    browser = await launch();
    o = await open(browser, served.server.url);
    page = o.page;
  });

  after(async function () {
    await browser?.close();
    await served?.server.close();
  });

  it("draws the top level: one element per item of the root view, with accessible labels", async () => {
    const root = served.session.group({ id: "g0" });
    const drawn = await drawnChildren(page, "g0");
    assert.deepEqual(drawn.map((d) => d.id).sort(), root.items.map((i) => i.id).sort());
    for (const d of drawn) assert.ok(d.label && d.label.length > 3, `${d.id} has no accessible label`);
    const layer1 = drawn.find((d) => d.id === byLabel(root, "layer1").id)!;
    assert.match(layer1.label!, /Collapsed group layer1, 14 nodes/);
    assert.equal(await page.$$eval("path.edge", (e) => e.length), root.edges.length);
    const stats = await page.evaluate(() => (window as unknown as { __scalpel: { app: { layoutStats(): { mode: string } } } }).__scalpel.app.layoutStats());
    assert.equal(stats.mode, "worker", "ELK runs in the Blob-URL worker under the webview CSP");
    await screenshot(page, "resnet18-top");
  });

  it("expands and collapses a group in place (toggle clicks), keeping the rest where it was", async () => {
    const root = served.session.group({ id: "g0" });
    const l1 = byLabel(root, "layer1").id;
    const fc = byLabel(root, "fc").id;
    const before = await page.evaluate((id) => document.getElementById(`it-${id}`)!.getBoundingClientRect().toJSON(), byLabel(root, "conv1").id);
    const fcBefore = await page.evaluate((id) => document.getElementById(`it-${id}`)!.getBoundingClientRect().toJSON(), fc);
    await page.click(`#it-${l1} [data-toggle]`);
    await idle(page);
    const kids = served.session.group({ id: l1 }).items;
    assert.deepEqual((await drawnChildren(page, l1)).map((d) => d.id).sort(), kids.map((k) => k.id).sort());
    assert.equal(await page.getAttribute(`#it-${l1}`, "data-kind"), "container");
    // Items above the expanded group stay put on screen; items below move down.
    const after = await page.evaluate((id) => document.getElementById(`it-${id}`)!.getBoundingClientRect().toJSON(), byLabel(root, "conv1").id);
    assert.ok(Math.abs(after.y - before.y) < 1 && Math.abs(after.x + after.width / 2 - (before.x + before.width / 2)) < 1, "conv1 moved");
    const fcAfter = await page.evaluate((id) => document.getElementById(`it-${id}`)?.getBoundingClientRect().toJSON() ?? null, fc);
    assert.ok(!fcAfter || fcAfter.y > fcBefore.y + 50, "fc should have moved down");
    // Expand a block inside, then collapse the stage: its children disappear.
    await page.click(`#it-${kids[0]!.id} [data-toggle]`);
    await idle(page);
    assert.equal((await drawnChildren(page, kids[0]!.id)).length, served.session.group({ id: kids[0]!.id }).items.length);
    await screenshot(page, "resnet18-expanded-layer1.0");
    await page.click(`#it-${l1} [data-toggle]`);
    await idle(page);
    assert.equal((await drawnChildren(page, l1)).length, 0);
    assert.equal(await page.getAttribute(`#it-${l1}`, "data-kind"), "group");
  });

  it("search finds a node by name, opens its ancestors, centres and selects it; details show its shapes", async () => {
    const field = page.locator("vscode-textfield.search input");
    await field.fill("layer3.1/conv2");
    await page.waitForSelector(".search-results .hit");
    const first = await page.textContent(".search-results .hit .hname");
    assert.equal(first, "/layer3/layer3.1/conv2/Conv");
    await field.press("Enter");
    await idle(page);
    const loc = served.session.locate({ name: "/layer3/layer3.1/conv2/Conv" });
    const el = await page.$(`#it-${loc.shownAs}`);
    assert.ok(el, "the node is drawn");
    assert.ok(await el.evaluate((e) => e.classList.contains("selected")));
    const box = (await el.boundingBox())!;
    const stage = (await (await page.$(".canvas-host"))!.boundingBox())!;
    assert.ok(Math.abs(box.x + box.width / 2 - (stage.x + stage.width / 2)) < stage.width * 0.1, "centred horizontally");
    assert.ok(Math.abs(box.y + box.height / 2 - (stage.y + stage.height / 2)) < stage.height * 0.1, "centred vertically");
    const details = await page.textContent(".details");
    assert.match(details!, /Conv/);
    assert.match(details!, /layer3\.1\.conv2/);
    assert.ok(details!.includes("1×256×14×14"), "activation shape");
    assert.ok(details!.includes("256×256×3×3"), "weight shape");
    assert.match(details!, /kernel_shape\s*\[3, 3\]/);
    // Statistics of the weight, computed on the host on demand.
    await page.click('tr[data-tensor="layer3.1.conv2.weight"] .stats-btn');
    await page.waitForSelector('.stats[data-tensor="layer3.1.conv2.weight"]');
    const st = await served.session.tensorStats({ name: "layer3.1.conv2.weight", bins: 48 });
    const text = await page.textContent(".stats");
    assert.ok(text!.includes(`${formatNumber(st.min)} / ${formatNumber(st.max)}`), text!);
    assert.ok(text!.includes(`${formatNumber(st.mean)} ± ${formatNumber(st.std)}`));
    assert.equal(await page.$$eval(".stats svg.hist rect", (r) => r.length), st.histogram.counts.filter((c) => c > 0).length);
  });

  it("keyboard: arrows move along edges and between siblings, Enter expands, Escape goes to the enclosing group", async () => {
    await app(page, "collapseAll");
    await page.focus(".canvas-host");
    await page.keyboard.press("Home");
    const root = served.session.group({ id: "g0" });
    const focused = () => page.$eval(".canvas-host", (e) => e.getAttribute("aria-activedescendant"));
    assert.equal(await focused(), `it-${root.items[0]!.id}`);
    await page.keyboard.press("ArrowDown");
    assert.equal(await focused(), `it-${root.edges.find((e) => e.from === root.items[0]!.id)!.to}`);
    for (let i = 0; i < 5; i++) await page.keyboard.press("ArrowRight");
    assert.equal(await focused(), `it-${root.items[6]!.id}`);
    assert.equal(root.items[6]!.label, "layer2");
    await page.keyboard.press("Enter");
    await idle(page);
    assert.equal(await page.getAttribute(`#it-${root.items[6]!.id}`, "data-kind"), "container");
    await page.keyboard.press("ArrowDown");
    const inner = served.session.group({ id: root.items[6]!.id });
    assert.equal(await focused(), `it-${inner.items[0]!.id}`);
    await page.keyboard.press("Escape");
    assert.equal(await focused(), `it-${root.items[6]!.id}`);
    const live = await page.textContent("[aria-live]");
    assert.ok(live && live.length > 0, "focus changes are announced");
  });

  it("overlays colour the right nodes: values, dependency groups (a residual group of ResNet-18), pruning diff, ablation heatmap", async () => {
    const graph = served.graph;
    const convs = graph.nodes.filter((n) => n.opType === "Conv");
    const values = Object.fromEntries(convs.map((n, i) => [n.name, i / (convs.length - 1)]));
    // The real dependency groups (the pruning engine), as the extension shows them.
    const shapes = inferShapes(graph);
    const dg = groupsOverlay(findGroups(graph, shapes, { metrics: computeMetrics(graph, shapes) }));
    const outOf = (g: (typeof dg.groups)[number], node: string) => g.members.some((m) => m.node === node && m.role === "out");
    // The residual stream of stage 1: the stem conv and both blocks' second convs write the same channels.
    const stage1 = dg.groups.find((g) => outOf(g, "/layer1/layer1.0/conv2/Conv"))!;
    assert.ok(stage1 && outOf(stage1, "/conv1/Conv") && outOf(stage1, "/layer1/layer1.1/conv2/Conv"), JSON.stringify(stage1?.members));
    const fcGroup = dg.groups.find((g) => outOf(g, "/fc/Gemm"))!;
    assert.ok(fcGroup.frozen?.length, "the classifier's outputs reach the graph output: frozen");
    const overlays: OverlayInput[] = [
      { kind: "values", id: "imp", title: "Importance (L1)", values },
      dg,
      {
        kind: "diff",
        id: "plan",
        title: "Pruning plan",
        nodes: {
          "/layer1/layer1.0/conv1/Conv": { status: "changed", before: { channels: 64, params: 36864 }, after: { channels: 32, params: 18432 } },
          "/layer1/layer1.0/bn1/BatchNormalization": { status: "changed", before: { channels: 64 }, after: { channels: 32 } },
        },
      },
      { kind: "matrix", id: "abl", title: "Ablation effect", rows: ["layer1", "layer2", "layer3", "layer4"].map((l) => ({ label: l, key: `scope:${l}` })), cols: ["t0", "t1", "t2"], values: [[0.1, 0.2, 0.3], [0.5, 0.5, 0.5], [0.9, 0.7, 0.8], [0.2, 0.1, 0]] },
    ];
    const infos = served.session.setOverlays(overlays);
    await app(page, "collapseAll");
    served.server.push({ type: "overlays", overlays: infos, show: "imp" });
    await page.waitForFunction(() => document.querySelector(".legend:not([hidden]) .scale-bar"));
    await idle(page);
    const root = served.session.group({ id: "g0" });
    const legend = infos.find((i) => i.id === "imp")!.legend as { min: number; max: number };
    const conv1 = byLabel(root, "conv1").id;
    const fill = await page.$eval(`#it-${conv1} > rect.box`, (r) => (r as SVGRectElement).style.fill);
    assert.equal(rgb(fill), rgb(scaleColor("sequential", legend.min, legend.max, values["/conv1/Conv"]!)));
    // A node without a value is dimmed; a group is coloured by the mean of its members and shows their histogram.
    assert.ok(await page.$eval(`#it-${byLabel(root, "relu").id}`, (e) => e.classList.contains("ov-none")));
    const l2 = byLabel(root, "layer2").id;
    const l2convs = convs.filter((n) => n.scope.path[0] === "layer2").map((n) => values[n.name]!);
    const mean = l2convs.reduce((a, b) => a + b, 0) / l2convs.length;
    assert.equal(rgb(await page.$eval(`#it-${l2} > rect.box`, (r) => (r as SVGRectElement).style.fill)), rgb(scaleColor("sequential", legend.min, legend.max, mean)));
    assert.ok((await page.$$(`#it-${l2} .hbar`)).length > 0);
    await screenshot(page, "resnet18-overlay-importance");

    // Dependency groups: pick the stage-1 residual group in the legend; every member is highlighted.
    await app(page, "applyOverlay", dg.id);
    for (const l of ["layer1", "layer2"]) await app(page, "toggle", byLabel(root, l).id);
    const layer1 = served.session.group({ id: byLabel(root, "layer1").id });
    for (const b of layer1.items) await app(page, "toggle", b.id);
    await page.click(`.legend li[data-key="${stage1.id}"]`);
    await fitAll(page);
    const members = served.session.overlayMembers({ overlay: dg.id, key: stage1.id });
    assert.ok(members.members.length >= 10);
    let checked = 0;
    for (const m of members.members) {
      const loc = served.session.locate({ id: m.id });
      const visibleAncestor = [...loc.ancestors].reverse().find(() => true);
      const el = await page.$(`#it-${m.id}`);
      if (el) {
        assert.ok(await el.evaluate((e) => e.classList.contains("hl-member")), `${m.id} (${served.session.node({ id: m.id }).name}) not highlighted`);
        checked++;
      } else {
        // Inside a collapsed group: that group is marked as holding members.
        const expanded = await page.evaluate(() => [...document.querySelectorAll('[data-kind="container"]')].map((e) => e.getAttribute("data-id")));
        const holder = loc.ancestors.find((a) => !expanded.includes(a));
        assert.ok(holder, `${m.id} neither drawn nor inside a collapsed group (${visibleAncestor})`);
        assert.ok(await page.$eval(`#it-${holder}`, (e) => e.classList.contains("hl-container")));
      }
    }
    assert.ok(checked >= 10, `only ${checked} members drawn`);
    assert.ok(await page.$eval(`#it-${byLabel(root, "layer1").id}`, (e) => e.classList.contains("hl-container")));
    assert.ok(await page.$eval(`#it-${byLabel(root, "fc").id}`, (e) => e.classList.contains("hl-dim")), "non-members are dimmed");
    await screenshot(page, "resnet18-overlay-residual-group");
    // Frozen channels: the classifier's group; its node is marked, and the legend gives the engine's reason.
    await page.click(`.legend li[data-key="${fcGroup.id}"]`);
    await idle(page);
    const fz = served.session.locate({ name: "/fc/Gemm" }).shownAs;
    assert.ok(await page.$eval(`#it-${fz}`, (e) => e.classList.contains("ov-frozen")));
    assert.ok(await page.$eval(`#it-${fz}`, (e) => e.classList.contains("hl-member")));
    const detail = (await page.textContent(".legend .group-detail"))!;
    for (const f of fcGroup.frozen!) assert.ok(detail.includes(f.reason), `'${f.reason}' not in the legend: ${detail}`);

    // Pruning diff: the changed conv is marked and shows its channels.
    await app(page, "applyOverlay", "plan");
    const c1 = served.session.locate({ name: "/layer1/layer1.0/conv1/Conv" }).id;
    assert.ok(await page.$eval(`#it-${c1}`, (e) => e.classList.contains("diff-changed")));
    assert.equal(await page.$eval(`#it-${c1} .badge`, (e) => e.textContent), "64→32");
    assert.ok(await page.$eval(`#it-${byLabel(root, "layer1").id}`, (e) => e.classList.contains("diff-some")));
    const legendText = await page.textContent(".legend");
    assert.match(legendText!, /2 changed/);
    assert.match(legendText!, /params 36\.9k → 18\.4k/);

    // Ablation heatmap: rows coloured on the graph by their mean, matrix drawn in the legend.
    await app(page, "applyOverlay", "abl");
    await page.waitForSelector(".legend canvas.heatmap");
    const ml = infos.find((i) => i.id === "abl")!.legend as { min: number; max: number };
    assert.equal(rgb(await page.$eval(`#it-${l2} > rect.box, #it-${l2} > rect.frame`, (r) => (r as SVGRectElement).style.fill)), rgb(scaleColor("sequential", ml.min, ml.max, 0.5)));
    assert.equal(await page.$$eval(".legend .heat-rows > *", (e) => e.length), 4);
    // Shown twice before the first matrix arrives (a host's overlays event right after another): one heatmap, not two.
    await page.evaluate(() => {
      const a = (window as unknown as { __scalpel: { app: { applyOverlay(id: string | null): Promise<void> } } }).__scalpel.app;
      void a.applyOverlay("abl");
      void a.applyOverlay("abl");
    });
    await idle(page);
    await page.waitForTimeout(500); // room for the first show's matrix to arrive late
    assert.equal(await page.$$eval(".legend canvas.heatmap", (e) => e.length), 1);
    assert.equal(await page.$$eval(".legend .heat-rows > *", (e) => e.length), 4);
    await app(page, "applyOverlay", null);
    assert.equal(await page.$$eval(".ov-on, .hl-dim", (e) => e.length), 0);
  });

  it("keeps its state (expanded groups, overlay, view) when the page is reloaded", async () => {
    const root = served.session.group({ id: "g0" });
    await app(page, "collapseAll");
    await app(page, "applyOverlay", "imp");
    await app(page, "toggle", byLabel(root, "layer3").id);
    await page.evaluate(() => (window as unknown as { __scalpel: { app: { saveNow(): void } } }).__scalpel.app.saveNow());
    const view = await page.evaluate(() => (window as unknown as { __scalpel: { app: { getRenderer(): { view: unknown } } } }).__scalpel.app.getRenderer().view);
    // Layouts travel with the state, so a restored tab needs no ELK run for what was open.
    const saved = await page.evaluate(() => (JSON.parse((history.state as { scalpel: { layoutsJson: string } }).scalpel.layoutsJson) as { key: string }[]).map((l) => l.key.split("|")[0]));
    assert.ok(saved.includes("g0") && saved.includes(byLabel(root, "layer3").id), saved.join(","));
    await page.reload();
    await page.waitForFunction(() => !!(window as unknown as { __scalpel?: unknown }).__scalpel);
    await page.evaluate(() => (window as unknown as { __scalpel: { ready: Promise<void> } }).__scalpel.ready);
    await idle(page);
    assert.equal(await page.getAttribute(`#it-${byLabel(root, "layer3").id}`, "data-kind"), "container");
    assert.equal(await page.$eval("vscode-single-select.overlay-select", (e) => (e as unknown as { value: string }).value), "imp");
    assert.deepEqual(await page.evaluate(() => (window as unknown as { __scalpel: { app: { getRenderer(): { view: unknown } } } }).__scalpel.app.getRenderer().view), view);
  });

  it("follows the light and high-contrast themes (VS Code's body classes and variables)", async () => {
    await app(page, "collapseAll");
    await app(page, "applyOverlay", null);
    const conv1 = byLabel(served.session.group({ id: "g0" }), "conv1").id;
    const look = () =>
      page.evaluate((id) => {
        const box = document.querySelector(`#it-${id} > rect.box`)!;
        const cs = getComputedStyle(box);
        return { bg: getComputedStyle(document.querySelector(".explorer")!).backgroundColor, stroke: cs.stroke, width: cs.strokeWidth };
      }, conv1);
    await page.evaluate(() => document.body.classList.add("vscode-light"));
    assert.equal((await look()).bg, "rgb(255, 255, 255)");
    await screenshot(page, "resnet18-top-light");
    await page.evaluate(() => document.body.classList.replace("vscode-light", "vscode-high-contrast"));
    const hc = await look();
    assert.equal(hc.bg, "rgb(0, 0, 0)");
    assert.equal(hc.stroke, "rgb(111, 195, 223)", "boxes use the contrast border");
    assert.equal(hc.width, "1.5px");
    await screenshot(page, "resnet18-top-high-contrast");
    await page.evaluate(() => document.body.classList.remove("vscode-high-contrast"));
  });

  it("ran without page errors or CSP violations", () => {
    assert.deepEqual(o.errors, []);
    assert.deepEqual(o.cspViolations, []);
  });
});

describe("graph explorer in Chromium: a CSP that refuses workers", function () {
  it("lays out on the main thread instead, through a nonce'd script", async () => {
    const served = await serve(requireTorchvisionModel("resnet18"), { noWorkers: true });
    const browser = await launch();
    try {
      const o = await open(browser, served.server.url);
      const stats = await o.page.evaluate(() => (window as unknown as { __scalpel: { app: { layoutStats(): { mode: string; count: number } } } }).__scalpel.app.layoutStats());
      assert.equal(stats.mode, "main thread");
      assert.ok(stats.count >= 1, "ELK laid out at least the top level");
      assert.equal((await drawnChildren(o.page, "g0")).length, served.session.group({ id: "g0" }).items.length);
      assert.deepEqual(o.errors.filter((e) => !/worker|Content Security Policy/i.test(e)), []);
      assert.ok(o.cspViolations.every((v) => v.startsWith("worker-src") || v.startsWith("script-src-elem blob")), o.cspViolations.join("; "));
    } finally {
      await browser.close();
      await served.server.close();
    }
  });
});

describe("graph explorer in Chromium: bodies", function () {
  it("expands a local-function call and an If node into their bodies", async () => {
    const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "scalpel-explorer-")), "bodies.onnx");
    fs.writeFileSync(file, encodeBytes(ModelProtoSchema, functionAndIfModel()));
    const served = await serve(file);
    const browser = await launch();
    try {
      const o = await open(browser, served.server.url);
      const root = served.session.group({ id: "g0" });
      const call = root.items.find((i) => i.label === "call_block")!;
      const branch = root.items.find((i) => i.label === "branch")!;
      assert.ok(call.expandable && branch.expandable);
      await o.page.click(`#it-${call.id} [data-toggle]`);
      await idle(o.page);
      assert.deepEqual((await drawnChildren(o.page, call.body!)).map((d) => d.id).sort(), served.session.group({ id: call.body! }).items.map((i) => i.id).sort());
      // Shapes inside the body (inferred from the call's inputs) are in the details pane.
      const relu = served.session.group({ id: call.body! }).items.find((i) => i.op === "Relu")!;
      await app(o.page, "select", relu.id, true);
      const details = (await o.page.textContent(".details"))!;
      assert.match(details, /Relu/);
      assert.ok(details.includes("1×4"), `no shape in the body's details: ${details}`);
      await app(o.page, "toggle", branch.id);
      const branches = served.session.group({ id: branch.body! }).items;
      assert.deepEqual(branches.map((b) => b.label), ["then_branch", "else_branch"]);
      assert.equal((await drawnChildren(o.page, branch.body!)).length, 2);
      await screenshot(o.page, "bodies-expanded");
      assert.deepEqual(o.errors, []);
    } finally {
      await browser.close();
      await served.server.close();
    }
  });
});

describe("graph explorer in Chromium: standalone report", function () {
  let browser: Browser;

  before(async function () {
    browser = await launch();
  });
  after(async () => browser?.close());

  it("renders from one self-contained HTML file: top level, details and embedded weight statistics", async () => {
    const graph = graphOf(requireTorchvisionModel("resnet18"));
    const shapes = inferShapes(graph);
    const metrics = computeMetrics(graph, shapes);
    const html = renderExplorerHtml(graph, [groupsOverlay(findGroups(graph, shapes, { metrics }))], { shapes, metrics });
    fs.mkdirSync(ARTIFACTS, { recursive: true });
    const file = path.join(ARTIFACTS, "resnet18-report.html");
    fs.writeFileSync(file, html);
    const o = await open(browser, `file://${file}`);
    const items = await drawnChildren(o.page, "g0");
    assert.equal(items.length, 13);
    await app(o.page, "revealBy", { name: "/layer4/layer4.1/conv2/Conv" });
    assert.match((await o.page.textContent(".details"))!, /512×512×3×3/);
    await o.page.click('tr[data-tensor="layer4.1.conv2.weight"] .stats-btn');
    await o.page.waitForSelector(".stats");
    assert.match((await o.page.textContent(".stats"))!, /Mean ± std/);
    assert.deepEqual(o.errors, []);
    assert.deepEqual(o.cspViolations, []);
  });
});

describe("graph explorer in Chromium: transformers (screenshots)", function () {
  let browser: Browser;
  before(async () => (browser = await launch()));
  after(async () => browser?.close());

  for (const [arch, path_] of [
    ["vit_b_16", ["encoder", "layers", "encoder_layer_0"]],
    ["swin_t", ["features", "features.1", "features.1.0"]],
  ] as const) {
    it(`${arch}: top level and one expanded block`, async () => {
      const served = await serve(requireTorchvisionModel(arch));
      try {
        const o = await open(browser, served.server.url);
        const root = served.session.group({ id: "g0" });
        assert.deepEqual((await drawnChildren(o.page, "g0")).map((d) => d.id).sort(), root.items.map((i) => i.id).sort());
        await screenshot(o.page, `${arch}-top`);
        let view = root;
        for (const label of path_) {
          const it = view.items.find((i) => i.label === label);
          assert.ok(it, `${label} in ${view.label}: ${view.items.map((i) => i.label).join(", ")}`);
          await app(o.page, "toggle", it.id);
          view = served.session.group({ id: it.id });
        }
        await app(o.page, "fitTo", view.id);
        assert.equal((await drawnChildren(o.page, view.id)).length, view.items.length);
        await screenshot(o.page, `${arch}-expanded-block`);
        assert.deepEqual(o.errors, []);
        assert.deepEqual(o.cspViolations, []);
      } finally {
        await served.server.close();
      }
    });
  }
});

describe("graph explorer in Chromium: cancelling requests (VS Code's message protocol)", function () {
  it("a statistics request still waiting when the user selects another node is cancelled with { kind: 'cancel', id }", async () => {
    const served = await serve(requireTorchvisionModel("resnet18"));
    const browser = await launch();
    try {
      const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
      const origin = new URL(served.server.url).origin;
      // The webview page as VS Code serves it, with a stand-in acquireVsCodeApi: requests go to the Node
      // session over HTTP, except tensorStats, which is held (a slow host), so it is still in flight.
      await page.route(`${served.server.url}vscode.html`, (route) =>
        route.fulfill({
          contentType: "text/html",
          body: explorerWebviewHtml({ cspSource: origin, connectSrc: origin, nonce: "n0nce", scriptUri: "explorer.js", styleUri: "explorer.css", codiconUri: "codicon.css", transport: "vscode" }),
        }),
      );
      // A string, not a closure: tsx would wrap its functions in a helper the page does not have.
      await page.addInitScript(`(() => {
        window.__posted = [];
        let state;
        window.acquireVsCodeApi = () => ({
          postMessage(m) {
            window.__posted.push(m);
            if (m.kind !== "request" || m.method === "tensorStats") return;
            fetch("rpc", { method: "POST", body: JSON.stringify({ method: m.method, params: m.params }) })
              .then((r) => r.json())
              .then((b) => window.postMessage({ kind: "response", id: m.id, ...b }, "*"));
          },
          getState: () => state,
          setState: (s) => (state = s),
        });
      })()`);
      const errors: string[] = [];
      page.on("pageerror", (e) => errors.push(e.message));
      await page.goto(`${served.server.url}vscode.html`);
      await page.waitForFunction(() => !!(window as unknown as { __scalpel?: unknown }).__scalpel);
      await page.evaluate(() => (window as unknown as { __scalpel: { ready: Promise<void> } }).__scalpel.ready);
      const conv = served.session.locate({ name: "/layer4/layer4.1/conv2/Conv" });
      await app(page, "revealBy", { name: "/layer4/layer4.1/conv2/Conv" });
      await page.click('tr[data-tensor="layer4.1.conv2.weight"] .stats-btn');
      await page.waitForSelector(".stats-host vscode-progress-ring");
      type Posted = { kind: string; id: number; method?: string };
      const posted = () => page.evaluate(() => (window as unknown as { __posted: Posted[] }).__posted);
      const stats = (await posted()).find((m) => m.kind === "request" && m.method === "tensorStats")!;
      assert.ok(stats, "the statistics were asked for");
      assert.ok(!(await posted()).some((m) => m.kind === "cancel"));
      // The user moves on: another node.
      const other = served.session.locate({ name: "/layer4/layer4.1/conv1/Conv" });
      assert.notEqual(other.shownAs, conv.shownAs);
      await app(page, "select", other.id, true);
      const cancels = (await posted()).filter((m) => m.kind === "cancel");
      assert.deepEqual(cancels, [{ kind: "cancel", id: stats.id }]);
      assert.match((await page.textContent(".details"))!, /layer4\.1\.conv1/);
      assert.deepEqual(errors, []);
    } finally {
      await browser.close();
      await served.server.close();
    }
  });
});

describe("graph explorer in Chromium: a narrow editor (split beside a report)", function () {
  let browser: Browser;
  let served: Served;
  before(async () => {
    served = await serve(requireTorchvisionModel("resnet18"));
    browser = await launch();
  });
  after(async () => {
    await browser?.close();
    await served?.server.close();
  });

  type Box = { x: number; y: number; width: number; height: number };
  const boxOf = async (page: Page, sel: string): Promise<Box | null> => (await page.$(sel))?.boundingBox() ?? null;
  /** Top-level items whose box is not inside the graph area (every one of them is on screen after a fit). */
  const outside = async (page: Page): Promise<string[]> => {
    const stage = (await boxOf(page, ".canvas-host"))!;
    const ids = served.session.group({ id: "g0" }).items.map((i) => i.id);
    const out: string[] = [];
    for (const id of ids) {
      const b = await boxOf(page, `#it-${id}`);
      if (!b || b.width < 4 || b.x < stage.x - 1 || b.y < stage.y - 1 || b.x + b.width > stage.x + stage.width + 1 || b.y + b.height > stage.y + stage.height + 1) out.push(`${id} ${JSON.stringify(b)}`);
    }
    return out;
  };
  const mode = (page: Page) => page.evaluate(() => (window as unknown as { __scalpel: { app: { layoutMode(): { narrow: boolean; details: boolean } } } }).__scalpel.app.layoutMode());
  const view = (page: Page) => page.evaluate(() => (window as unknown as { __scalpel: { app: { getRenderer(): { view: { x: number; y: number; k: number } } } } }).__scalpel.app.getRenderer().view);
  /** The world point at the centre of the graph area. */
  const centre = async (page: Page) => {
    const v = await view(page);
    const s = (await boxOf(page, ".canvas-host"))!;
    return { x: (s.width / 2 - v.x) / v.k, y: (s.height / 2 - v.y) / v.k };
  };
  /** Every toolbar control lies inside the window (nothing clipped at the right end). */
  const toolbarClipped = async (page: Page, width: number): Promise<string[]> =>
    page.$$eval(
      ".toolbar > *, .toolbar vscode-toolbar-button",
      (els, width) => els.filter((e) => e.getBoundingClientRect().right > width + 0.5 || e.getBoundingClientRect().width === 0).map((e) => `${e.className || e.tagName} ${e.getBoundingClientRect().right}`),
      width,
    );

  it("at 520×800 the graph keeps the whole width: details hidden by default, all top-level nodes in view, toolbar not clipped", async () => {
    const o = await open(browser, served.server.url, { width: 520, height: 800 });
    const page = o.page;
    assert.deepEqual(await mode(page), { narrow: true, details: false });
    assert.ok(await page.$eval(".explorer", (e) => e.classList.contains("narrow")));
    assert.equal(await boxOf(page, ".details"), null, "the details pane is hidden");
    const stage = (await boxOf(page, ".canvas-host"))!;
    assert.ok(stage.width >= 515, `graph area only ${stage.width}px wide`);
    assert.ok(stage.height >= 600, `graph area only ${stage.height}px high`);
    assert.deepEqual(await outside(page), []);
    assert.deepEqual(await toolbarClipped(page, 520), []);
    assert.equal(await page.$eval(".details-toggle", (e) => e.getAttribute("aria-expanded")), "false");
    await screenshot(page, "resnet18-narrow");

    // The toggle shows the pane below the graph; the graph keeps its width and (fitted) re-fits to its new height.
    await page.click(".details-toggle");
    await idle(page);
    assert.deepEqual(await mode(page), { narrow: true, details: true });
    const details = (await boxOf(page, ".details"))!;
    const stage2 = (await boxOf(page, ".canvas-host"))!;
    assert.ok(details && details.y >= stage2.y + stage2.height - 1, "details below the graph");
    assert.ok(stage2.width >= 515 && stage2.height < stage.height - 100, JSON.stringify(stage2));
    assert.deepEqual(await outside(page), []);
    assert.match((await page.textContent(".details"))!, /Parameters/);
    await screenshot(page, "resnet18-narrow-details");

    // The choice is part of the saved state.
    await page.evaluate(() => (window as unknown as { __scalpel: { app: { saveNow(): void } } }).__scalpel.app.saveNow());
    await page.reload();
    await page.waitForFunction(() => !!(window as unknown as { __scalpel?: unknown }).__scalpel);
    await page.evaluate(() => (window as unknown as { __scalpel: { ready: Promise<void> } }).__scalpel.ready);
    await idle(page);
    assert.deepEqual(await mode(page), { narrow: true, details: true });
    assert.ok(await boxOf(page, ".details"));
    await page.click(".details-toggle");
    await idle(page);
    assert.deepEqual(await mode(page), { narrow: true, details: false });
    assert.equal(await boxOf(page, ".details"), null);
    assert.deepEqual(await outside(page), []);

    // An overlay's legend and the minimap share the narrow graph area without covering each other.
    const convs = served.graph.nodes.filter((n) => n.opType === "Conv");
    const infos = served.session.setOverlays([{ kind: "diff", id: "plan", title: "Pruning diff (l2)", nodes: Object.fromEntries(convs.map((n) => [n.name, { status: "changed" as const, before: { channels: 64 }, after: { channels: 32 } }])) }]);
    served.server.push({ type: "overlays", overlays: infos, show: "plan" });
    await page.waitForSelector(".legend:not([hidden])");
    await idle(page);
    const legend = (await boxOf(page, ".legend"))!, minimap = (await boxOf(page, ".minimap"))!, stage3 = (await boxOf(page, ".canvas-host"))!;
    assert.ok(legend.x + legend.width <= minimap.x, `legend ${JSON.stringify(legend)} covers the minimap ${JSON.stringify(minimap)}`);
    assert.ok(legend.x >= stage3.x && legend.y >= stage3.y, "legend inside the graph area");
    assert.deepEqual(await toolbarClipped(page, 520), []);
    await screenshot(page, "resnet18-narrow-overlay");
    served.session.setOverlays([]);
    assert.deepEqual(o.errors, []);
    await page.close();
  });

  it("resizing from wide to narrow re-fits a fitted view, keeps the centre of a moved one, and restores the wide layout", async () => {
    const o = await open(browser, served.server.url, { width: 1400, height: 900 });
    const page = o.page;
    assert.deepEqual(await mode(page), { narrow: false, details: true });
    const wideStage = (await boxOf(page, ".canvas-host"))!;
    const details = (await boxOf(page, ".details"))!;
    assert.ok(details.x >= wideStage.x + wideStage.width - 1, "details beside the graph");
    await fitAll(page);
    await page.setViewportSize({ width: 520, height: 800 });
    await idle(page);
    assert.deepEqual(await mode(page), { narrow: true, details: false });
    assert.ok((await boxOf(page, ".canvas-host"))!.width >= 515);
    assert.deepEqual(await outside(page), []);
    assert.deepEqual(await toolbarClipped(page, 520), []);
    await screenshot(page, "resnet18-resized-narrow");

    // Back to wide: the details pane comes back beside the graph (the wide layout's own choice).
    await page.setViewportSize({ width: 1400, height: 900 });
    await idle(page);
    assert.deepEqual(await mode(page), { narrow: false, details: true });
    assert.ok((await boxOf(page, ".details"))!.x >= (await boxOf(page, ".canvas-host"))!.width - 1);
    assert.deepEqual(await outside(page), []);

    // A view the user moved keeps the world point at its centre through the resize, at the same zoom.
    await app(page, "toggle", served.session.group({ id: "g0" }).items.find((i) => i.label === "layer2")!.id);
    await page.evaluate(() => (window as unknown as { __scalpel: { app: { getRenderer(): { panBy(x: number, y: number): void } } } }).__scalpel.app.getRenderer().panBy(-40, -120));
    await idle(page);
    const c0 = await centre(page);
    const k0 = (await view(page)).k;
    await page.setViewportSize({ width: 520, height: 800 });
    await idle(page);
    const c1 = await centre(page);
    assert.ok(Math.abs(c1.x - c0.x) < 1 && Math.abs(c1.y - c0.y) < 1, `centre moved: ${JSON.stringify(c0)} → ${JSON.stringify(c1)}`);
    assert.equal((await view(page)).k, k0);

    // Clicking a node low in the narrow view opens the details below the graph: the node stays in view.
    assert.deepEqual(await mode(page), { narrow: true, details: false });
    await app(page, "collapseAll");
    const fc = served.session.group({ id: "g0" }).items.find((i) => i.label === "fc")!.id;
    const st = (await boxOf(page, ".canvas-host"))!;
    // The user zooms in around fc (the view is no longer a fit: the resize keeps the centre, and fc).
    const fc0 = (await boxOf(page, `#it-${fc}`))!;
    await page.evaluate(([x, y]) => (window as unknown as { __scalpel: { app: { getRenderer(): { zoomBy(f: number, x: number, y: number): void } } } }).__scalpel.app.getRenderer().zoomBy(1.6, x!, y!), [fc0.x + fc0.width / 2 - st.x, fc0.y + fc0.height / 2 - st.y]);
    await idle(page);
    const fcBox = (await boxOf(page, `#it-${fc}`))!;
    assert.ok(fcBox.y > st.y + st.height * 0.7, `fc is in the lower part of the graph area: ${JSON.stringify(fcBox)}`);
    await page.click(`#it-${fc} .box`);
    await idle(page);
    assert.deepEqual(await mode(page), { narrow: true, details: true });
    assert.match((await page.textContent(".details"))!, /Gemm/);
    const st2 = (await boxOf(page, ".canvas-host"))!, fc2 = (await boxOf(page, `#it-${fc}`))!;
    assert.ok(st2.height < st.height - 100);
    assert.ok(fc2.y >= st2.y && fc2.y + fc2.height <= st2.y + st2.height, `fc ${JSON.stringify(fc2)} out of the graph area ${JSON.stringify(st2)}`);
    await screenshot(page, "resnet18-narrow-selected");
    assert.deepEqual(o.errors, []);
    assert.deepEqual(o.cspViolations, []);
    await page.close();
  });
});
