import assert from "node:assert/strict";
import { buildGraph, type Graph } from "../../../analyzers/graph/graph.ts";
import { loadModel, readTensor, toFloat64 } from "../../../analyzers/onnx/index.ts";
import { createExplorerSession, type ExplorerSession } from "../../../analyzers/explorer/index.ts";
import { answerRequest } from "../../../analyzers/explorer/host.ts";
import { BOUNDARY_IN, BOUNDARY_OUT, type GroupView } from "../../../analyzers/explorer/types.ts";
import { requireTorchvisionModel } from "../../fixtures/paths.ts";
import { residualGroups } from "../../helpers/explorer.ts";

describe("explorer session on ResNet-18", function () {
  let graph: Graph;
  let s: ExplorerSession;
  const groupByLabel = (v: GroupView, label: string) => v.items.find((i) => i.label === label && i.kind === "group")!;

  before(function () {
    graph = buildGraph(loadModel(requireTorchvisionModel("resnet18")));
    s = createExplorerSession(graph);
  });

  it("shows the top level: stem nodes, four stages, head", () => {
    const root = s.group({ id: s.model().root });
    const labels = root.items.map((i) => i.label);
    assert.deepEqual(labels, ["input", "conv1", "bn1", "relu", "maxpool", "layer1", "layer2", "layer3", "layer4", "avgpool", "Flatten", "fc", "logits"]);
    assert.equal(root.items.find((i) => i.label === "conv1")!.op, "Conv");
    assert.equal(root.items.find((i) => i.label === "conv1")!.detail, "1×64×112×112");
    // A chain at the top: each item feeds the next, no skips between stages.
    assert.equal(root.edges.length, labels.length - 1);
    assert.ok(root.edges.every((e) => !e.skip));
    // Params of the four stages and the stem/head add up to the model's.
    const total = root.items.reduce((a, i) => a + (i.summary?.params ?? i.params ?? 0), 0);
    assert.equal(total, s.model().params);
  });

  it("keeps the residual connection of a basic block as a skip edge from the block's border", () => {
    const root = s.group({ id: s.model().root });
    const layer1 = s.group({ id: groupByLabel(root, "layer1").id });
    assert.deepEqual(layer1.items.map((i) => i.label), ["layer1.0", "layer1.1"]);
    const block = s.group({ id: groupByLabel(layer1, "layer1.0").id });
    const add = block.items.find((i) => i.op === "Add")!;
    const conv1 = block.items.find((i) => i.label === "conv1")!;
    const fromBorder = block.edges.filter((e) => e.from === BOUNDARY_IN).map((e) => e.to);
    assert.deepEqual(fromBorder.sort(), [add.id, conv1.id].sort());
    assert.ok(block.edges.find((e) => e.from === BOUNDARY_IN && e.to === add.id)!.skip, "the identity shortcut is a skip");
    assert.ok(!block.edges.find((e) => e.from === BOUNDARY_IN && e.to === conv1.id)!.skip);
    assert.equal(block.edges.filter((e) => e.to === BOUNDARY_OUT).length, 1);
    // layer2.0 has a downsample branch: a group inside the block.
    const layer2 = s.group({ id: groupByLabel(root, "layer2").id });
    const b2 = s.group({ id: groupByLabel(layer2, "layer2.0").id });
    assert.ok(b2.items.some((i) => i.kind === "group" && i.label === "downsample"));
  });

  it("details: op, attributes, shapes of inputs, outputs and weights", () => {
    const loc = s.locate({ name: "/layer3/layer3.1/conv2/Conv" });
    const d = s.node({ id: loc.id });
    assert.equal(d.op, "Conv");
    assert.equal(d.module, "layer3.1.conv2");
    assert.deepEqual(d.path.map((p) => p.label), ["layer3", "layer3.1"]);
    assert.deepEqual(d.inputs.map((t) => t.kind), ["intermediate", "initializer"]);
    assert.deepEqual(d.inputs[0]!.shape, [1, 256, 14, 14]);
    assert.deepEqual(d.inputs[1]!.shape, [256, 256, 3, 3]);
    assert.equal(d.inputs[1]!.dataType, "float32");
    assert.ok(d.inputs[1]!.hasData);
    assert.deepEqual(d.outputs[0]!.shape, [1, 256, 14, 14]);
    const attrs = Object.fromEntries(d.attributes.map((a) => [a.name, a.value]));
    assert.equal(attrs.kernel_shape, "[3, 3]");
    assert.equal(attrs.pads, "[1, 1, 1, 1]");
    assert.equal(d.params, 256 * 256 * 9);
  });

  it("computes weight statistics on the host, matching the tensor's values", async () => {
    const st = await s.tensorStats({ name: "conv1.weight", bins: 16 });
    const vals = toFloat64(readTensor(graph.model, graph.weight("conv1.weight")!));
    const mean = vals.reduce((a, b) => a + b, 0) / vals.length;
    const std = Math.sqrt(vals.reduce((a, b) => a + (b - mean) ** 2, 0) / vals.length);
    assert.equal(st.count, 64 * 3 * 7 * 7);
    assert.deepEqual(st.dims, [64, 3, 7, 7]);
    assert.ok(Math.abs(st.mean - mean) < 1e-12);
    assert.ok(Math.abs(st.std - std) < 1e-12);
    assert.equal(st.min, Math.min(...vals));
    assert.equal(st.max, Math.max(...vals));
    assert.equal(st.histogram.counts.reduce((a, b) => a + b, 0), st.count);
    await assert.rejects(() => s.tensorStats({ name: "/relu/Relu_output_0" }), /not a stored weight/);
  });

  it("searches names, ops, tensors and modules; locates items through their ancestors", () => {
    const convs = s.search({ query: "op:Conv", limit: 1000 });
    assert.equal(convs.total, graph.nodes.filter((n) => n.opType === "Conv").length);
    const mod = s.search({ query: "layer2.0.downsample" });
    assert.equal(mod.hits[0]!.matched, "module");
    const t = s.search({ query: "tensor:layer4.1.conv2.weight" });
    assert.equal(t.hits[0]!.tensor, "layer4.1.conv2.weight");
    assert.equal(s.node({ id: t.hits[0]!.id }).name, "/layer4/layer4.1/conv2/Conv");
    const loc = s.locate({ name: "/layer4/layer4.1/conv2/Conv" });
    const labels = loc.ancestors.map((a) => s.group({ id: a }).label);
    assert.deepEqual(labels, ["layer4", "layer4.1"]);
    const m = s.locate({ module: "layer2.0.downsample" });
    assert.equal(s.group({ id: m.id }).label, "downsample");
    assert.throws(() => s.locate({ name: "no such node" }), /nothing named/);
  });

  it("overlays: values aggregate per group, dependency groups list members and containers, diffs add up", () => {
    const convs = graph.nodes.filter((n) => n.opType === "Conv");
    const values = Object.fromEntries(convs.map((n, i) => [n.name, i]));
    const groups = residualGroups(graph);
    const stage1 = groups.find((g) => g.members.some((m) => m.node === "/layer1/layer1.0/conv2/Conv"))!;
    const infos = s.setOverlays([
      { kind: "values", id: "v", title: "index", values: { ...values, "not a node": 3 } },
      { kind: "groups", id: "dg", title: "groups", groups },
      {
        kind: "diff",
        id: "d",
        title: "plan",
        nodes: { "/layer1/layer1.0/conv1/Conv": { status: "changed", before: { channels: 64, params: 36864 }, after: { channels: 32, params: 18432 } } },
      },
      { kind: "matrix", id: "m", title: "ablation", rows: [{ label: "stage 1", key: "scope:layer1" }, { label: "stage 2", key: "scope:layer2" }], cols: ["p0", "p1"], values: [[1, 3], [5, 7]] },
    ]);
    assert.equal(infos.find((o) => o.id === "v")!.unmatched, 1);
    const root = s.group({ id: s.model().root });
    const ov = s.overlayValues({ overlay: "v", group: root.id });
    const l2 = groupByLabel(root, "layer2");
    const l2v = ov.items.find((i) => i.id === l2.id)!;
    const l2convs = convs.filter((n) => n.scope.path[0] === "layer2");
    assert.equal(l2v.dist!.count, l2convs.length);
    assert.equal(l2v.dist!.min, Math.min(...l2convs.map((n) => values[n.name]!)));
    assert.equal(l2v.dist!.hist.reduce((a, b) => a + b, 0), l2convs.length);
    assert.equal(ov.items.find((i) => i.id === root.items.find((x) => x.label === "conv1")!.id)!.value, 0);

    const members = s.overlayMembers({ overlay: "dg", key: stage1.id });
    assert.equal(members.members.length, stage1.members.length);
    const names = members.members.map((m) => s.node({ id: m.id }).name);
    assert.ok(names.includes("/layer1/layer1.1/conv2/Conv") && names.includes("/maxpool/MaxPool"));
    assert.ok(members.containers.includes(groupByLabel(root, "layer1").id));
    const dv = s.overlayValues({ overlay: "dg", group: root.id });
    assert.ok((dv.items.find((i) => i.id === groupByLabel(root, "layer1").id)!.groupCount ?? 0) >= 1);

    const diff = s.model().overlays.find((o) => o.id === "d")!;
    assert.deepEqual(diff.legend, { type: "diff", removed: 0, changed: 1, added: 0, paramsBefore: 36864, paramsAfter: 18432, macsBefore: 0, macsAfter: 0 });
    const dd = s.overlayValues({ overlay: "d", group: root.id }).items.find((i) => i.id === groupByLabel(root, "layer1").id)!;
    assert.equal(dd.diffSummary!.changed, 1);

    const mx = s.overlayMatrix({ overlay: "m" });
    assert.equal(mx.rows[0]!.id, groupByLabel(root, "layer1").id);
    const mv = s.overlayValues({ overlay: "m", group: root.id });
    assert.equal(mv.items.find((i) => i.id === groupByLabel(root, "layer2").id)!.value, 6);
  });

  it("answers protocol requests and reports errors as messages", async () => {
    const ok = await answerRequest(s, { id: 7, method: "group", params: { id: "g0" } });
    assert.equal(ok.ok, true);
    assert.equal(ok.id, 7);
    const bad = await answerRequest(s, { id: 8, method: "group", params: { id: "g99999" } });
    assert.deepEqual(bad, { kind: "response", id: 8, ok: false, error: "unknown group 'g99999'" });
    const unknown = await answerRequest(s, { id: 9, method: "dropTables" as never, params: {} });
    assert.equal(unknown.ok, false);
  });
});
