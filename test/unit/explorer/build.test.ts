import assert from "node:assert/strict";
import { create } from "@bufbuild/protobuf";
import { StringStringEntryProtoSchema } from "onnx-buf";
import { buildGraph } from "../../../analyzers/graph/graph.ts";
import { loadModel } from "../../../analyzers/onnx/index.ts";
import { encodeBytes } from "../../../analyzers/onnx/encode.ts";
import { ModelProtoSchema } from "onnx-buf";
import { buildExplorerIndex } from "../../../analyzers/explorer/build.ts";
import { parseItemId, type ExplorerIndex } from "../../../analyzers/explorer/explorerIndex.ts";
import { syntheticTransformerBytes } from "../../fixtures/syntheticTransformer.ts";
import { floatTensor, modelBytes, node, valueInfo } from "../../helpers/build.ts";
import { functionAndIfModel } from "../../helpers/explorer.ts";

/** Every displayed node exactly once in the tree (children lists), folded nodes never. */
function checkTree(ix: ExplorerIndex): void {
  const seen = new Map<number, number>();
  const visit = (g: number) => {
    for (const c of ix.groups[g]!.children) {
      const it = parseItemId(c)!;
      if (it.group) {
        assert.equal(ix.groups[it.index]!.parent, g, `group ${c} has parent ${ix.groups[it.index]!.parent}, listed under ${g}`);
        visit(it.index);
      } else {
        seen.set(it.index, (seen.get(it.index) ?? 0) + 1);
        assert.equal(ix.nodes[it.index]!.group, g, `node ${ix.nodes[it.index]!.name} listed under g${g} but says g${ix.nodes[it.index]!.group}`);
        const body = ix.nodes[it.index]!.body;
        if (body !== undefined) visit(body);
      }
    }
  };
  visit(0);
  ix.nodes.forEach((n, i) => {
    if (n.folded) assert.equal(seen.get(i), undefined, `folded ${n.name} is drawn`);
    else assert.equal(seen.get(i), 1, `${n.name} drawn ${seen.get(i) ?? 0} times`);
  });
}

function load(bytes: Uint8Array, name = "m.onnx") {
  return buildGraph(loadModel(bytes, { name }));
}

describe("explorer index", () => {
  it("builds the module hierarchy of an exporter-style transformer and folds constants and shape arithmetic", () => {
    const g = load(syntheticTransformerBytes({ layers: 3 }));
    const ix = buildExplorerIndex(g);
    checkTree(ix);
    const byModule = new Map(ix.groups.map((x, i) => [x.module, i]));
    const enc = byModule.get("encoder")!;
    const layers = ix.groups[enc]!.children.map((c) => ix.groups[parseItemId(c)!.index]!.label);
    assert.deepEqual(layers, ["layer.0", "layer.1", "layer.2"]);
    const l0 = byModule.get("encoder.layer.0")!;
    assert.deepEqual(
      ix.groups[l0]!.children.map((c) => (parseItemId(c)!.group ? ix.groups[parseItemId(c)!.index]!.label : ix.nodes[parseItemId(c)!.index]!.op)),
      ["attention", "intermediate", "output"],
    );
    // Shape arithmetic feeding Reshape's shape input is folded; the Reshape itself is shown.
    for (const n of ix.nodes) {
      if (!n.name.startsWith("/encoder/layer.0/attention/self/")) continue;
      if (["Shape", "Gather", "Unsqueeze", "Concat", "Constant"].includes(n.op)) assert.ok(n.folded, `${n.name} should be folded`);
      if (["Reshape", "MatMul", "Softmax", "Transpose"].includes(n.op)) assert.ok(!n.folded, `${n.name} should be shown`);
    }
    const reshape = ix.nodes.findIndex((n) => n.name === "/encoder/layer.0/attention/self/Reshape");
    const concat = ix.nodes.find((n) => n.name === "/encoder/layer.0/attention/self/Concat")!;
    assert.equal(concat.foldedAs, "shape");
    assert.equal(concat.shownAs, reshape);
    // Counts add up: the root summary counts every displayed op node once.
    const displayed = ix.nodes.filter((n) => n.kind === "node" && !n.folded).length;
    assert.equal(ix.groups[0]!.summary.nodes, displayed);
    assert.equal(ix.info.nodeCount, displayed);
    assert.equal(ix.info.totalNodes, g.nodes.length);
    assert.equal(ix.groups[0]!.summary.nodes + ix.groups[0]!.summary.folded, g.nodes.length);
  });

  it("names a single-node scope after the scope and merges single-child chains", () => {
    const spec = {
      inputs: [valueInfo("x", [1, 4])],
      outputs: [valueInfo("y", [1, 4])],
      initializers: [floatTensor("w", [4, 4])],
      nodes: [
        node("MatMul", ["x", "w"], ["a"], {}, "/fc/MatMul"),
        node("Relu", ["a"], ["b"], {}, "/wrap/inner/act/Relu"),
        node("Sigmoid", ["b"], ["c"], {}, "/wrap/inner/gate/Sigmoid"),
        node("Mul", ["b", "c"], ["y"], {}, "/wrap/inner/Mul"),
      ],
    };
    const ix = buildExplorerIndex(load(modelBytes(spec)));
    checkTree(ix);
    const fc = ix.nodes.find((n) => n.name === "/fc/MatMul")!;
    assert.equal(fc.label, "fc");
    assert.equal(fc.group, 0);
    const merged = ix.groups.find((x) => x.label === "wrap/inner");
    assert.ok(merged, `groups: ${ix.groups.map((x) => x.label).join(", ")}`);
    assert.equal(merged.module, "wrap.inner");
    assert.deepEqual(merged.aliases, ["wrap"]);
  });

  it("reads dynamo-style scopes and class names from node metadata", () => {
    const meta = (n: ReturnType<typeof node>, scopes: string[], classes: string[]) => {
      n.metadataProps = [
        create(StringStringEntryProtoSchema, { key: "pkg.torch.onnx.name_scopes", value: JSON.stringify(scopes) }),
        create(StringStringEntryProtoSchema, { key: "pkg.torch.onnx.class_hierarchy", value: JSON.stringify(classes) }),
      ];
      return n;
    };
    const spec = {
      inputs: [valueInfo("x", [1, 4])],
      outputs: [valueInfo("y", [1, 4])],
      initializers: [floatTensor("w", [4, 4])],
      nodes: [
        meta(node("MatMul", ["x", "w"], ["a"], {}, "node_matmul"), ["", "blocks.0", "attn"], ["Net", "Block", "Attention"]),
        meta(node("Softmax", ["a"], ["b"], {}, "node_softmax"), ["", "blocks.0", "attn"], ["Net", "Block", "Attention"]),
        meta(node("Relu", ["b"], ["c"], {}, "node_relu"), ["", "blocks.0", "mlp"], ["Net", "Block", "MLP"]),
        meta(node("Neg", ["c"], ["y"], {}, "node_neg"), ["", "blocks.0", "mlp"], ["Net", "Block", "MLP"]),
      ],
    };
    const ix = buildExplorerIndex(load(modelBytes(spec)));
    checkTree(ix);
    const attn = ix.groups.find((g) => g.module === "blocks.0.attn")!;
    assert.equal(attn.className, "Attention");
    assert.equal(ix.groups.find((g) => g.module === "blocks.0")!.className, "Block");
    assert.deepEqual(attn.children.map((c) => ix.nodes[parseItemId(c)!.index]!.name), ["node_matmul", "node_softmax"]);
  });

  it("slices a large graph without scopes where few tensors cross", () => {
    // 40 residual blocks of 5 nodes, no scopes: cuts should fall between blocks (1 live tensor there, 2 inside).
    const nodes = [];
    let x = "x";
    for (let b = 0; b < 40; b++) {
      nodes.push(node("Relu", [x], [`r${b}`], {}, `Relu_${b}`));
      nodes.push(node("Neg", [`r${b}`], [`n${b}`], {}, `Neg_${b}`));
      nodes.push(node("Abs", [`n${b}`], [`a${b}`], {}, `Abs_${b}`));
      nodes.push(node("Sqrt", [`a${b}`], [`s${b}`], {}, `Sqrt_${b}`));
      nodes.push(node("Add", [`s${b}`, x], [`y${b}`], {}, `Add_${b}`));
      x = `y${b}`;
    }
    const spec = { inputs: [valueInfo("x", [1, 8])], outputs: [valueInfo(x, [1, 8])], nodes };
    const ix = buildExplorerIndex(load(modelBytes(spec)), { split: { maxChildren: 30, target: 24 } });
    checkTree(ix);
    assert.equal(ix.info.hierarchy, "auto");
    const autos = ix.groups.filter((g) => g.kind === "auto");
    assert.ok(autos.length >= 7, `${autos.length} slices`);
    for (const g of ix.groups) assert.ok(g.children.length <= 30, `${g.label} has ${g.children.length} children`);
    // Each slice starts with a block's first node (a Relu) and ends with its last (an Add).
    for (const a of autos) {
      const first = ix.nodes[parseItemId(a.children[0]!)!.index]!;
      const last = ix.nodes[parseItemId(a.children[a.children.length - 1]!)!.index]!;
      assert.equal(first.op, "Relu", `slice ${a.label} starts with ${first.name}`);
      assert.equal(last.op, "Add", `slice ${a.label} ends with ${last.name}`);
    }
  });

  it("expands model-local functions and control-flow bodies under their call node", () => {
    const m = functionAndIfModel();
    const ix = buildExplorerIndex(load(encodeBytes(ModelProtoSchema, m)));
    checkTree(ix);
    const callIx = ix.nodes.findIndex((n) => n.name === "call_block");
    const body = ix.groups[ix.nodes[callIx]!.body!]!;
    assert.equal(body.kind, "function");
    assert.equal(body.className, "Block");
    assert.deepEqual(body.children.map((c) => ix.nodes[parseItemId(c)!.index]!.name), ["relu", "neg"]);
    const ifIx = ix.nodes.findIndex((n) => n.name === "branch");
    const ifBody = ix.groups[ix.nodes[ifIx]!.body!]!;
    assert.deepEqual(ifBody.children.map((c) => ix.groups[parseItemId(c)!.index]!.label), ["then_branch", "else_branch"]);
    // The branch reads the outer value 'a' (made by the call node): the If node lists it as implicit input.
    const a = ix.values.findIndex((v) => v.name === "a" && v.producer === callIx);
    assert.ok(ix.nodes[ifIx]!.implicit?.includes(a));
  });
});
