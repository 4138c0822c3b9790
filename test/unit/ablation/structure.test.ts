import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { loadModel } from "../../../analyzers/onnx/index.ts";
import { buildGraph } from "../../../analyzers/graph/graph.ts";
import { discoverStructure } from "../../../analyzers/ablation/structure.ts";
import { AblationRunner } from "../../../analyzers/ablation/runner.ts";
import { ort } from "../../../analyzers/runtime/ort.ts";
import { arithDir, arithFile } from "../../fixtures/arith/fixtures.ts";

const discover = (file: string) => discoverStructure(buildGraph(loadModel(file)));

describe("ablation: structure discovery", function () {
  this.timeout(3 * 3600 * 1000); // the first run builds the fixtures (trains the model)
  before(() => arithDir());

  it("finds 4 blocks and the Softmax scores in the decomposed opset-14 export", () => {
    const st = discover(arithFile("arith-opset14.onnx"));
    assert.equal(st.blocks.length, 4);
    assert.equal(st.stream.length, 5);
    assert.equal(st.tokenInput, "input_ids");
    assert.equal(st.logits, "logits");
    for (const b of st.blocks) {
      assert.equal(b.attention.kind, "softmax");
      assert.equal(b.residualOps.length, 2, "attention residual + MLP residual");
      if (b.attention.kind === "softmax") assert.equal(b.attention.node.opType, "Softmax");
    }
    // every stream point is a plain residual Add output, and they are distinct
    assert.equal(new Set(st.stream.map((s) => s.tensor)).size, 5);
    assert.ok(st.stream.every((s) => s.tensor && !s.fusedIn));
  });

  for (const [file, op] of [
    ["arith-mha.onnx", "com.microsoft:MultiHeadAttention"],
    ["arith-attn23.onnx", "ai.onnx:Attention"],
  ] as const) {
    it(`finds the fused attention op in ${file}`, () => {
      const st = discover(arithFile(file));
      assert.equal(st.blocks.length, 4);
      for (const b of st.blocks) {
        assert.equal(b.attention.kind, "fused");
        if (b.attention.kind === "fused") assert.equal(b.attention.op, op);
      }
    });
  }

  it("follows fused SkipLayerNormalization sums (optimised graph), including an emitted-nowhere final sum", () => {
    const st = discover(arithFile("arith-skipln.onnx"));
    assert.equal(st.blocks.length, 4);
    assert.ok(st.stream.every((s) => s.fusedIn?.opType === "SkipLayerNormalization"));
    assert.equal(st.stream[4]!.tensor, undefined, "the last SkipLayerNormalization does not emit its sum");
  });

  it("finds 3 blocks in the GPT-2-architecture export (Where-masked scores, attention_mask input)", () => {
    const st = discover(arithFile("gpt2-random.onnx"));
    assert.equal(st.blocks.length, 3);
    assert.deepEqual(st.extraInputs.map((x) => [x.name, x.fill]), [["attention_mask", "ones"]]);
    for (const b of st.blocks) assert.equal(b.attention.kind, "softmax");
  });

  it("still finds the blocks after onnxruntime's own graph optimisation (LayerNormalization, FusedMatMul, FastGelu)", async () => {
    const out = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "scalpel-abl-")), "gpt2-opt.onnx");
    const s = await ort.InferenceSession.create(arithFile("gpt2-random.onnx"), {
      graphOptimizationLevel: "extended",
      optimizedModelFilePath: out,
    } as ort.InferenceSession.SessionOptions);
    await s.release();
    const g = buildGraph(loadModel(out));
    assert.ok(g.nodes.some((n) => n.opType === "FastGelu" || n.opType === "LayerNormalization"), "onnxruntime did optimise the graph");
    const st = discoverStructure(g);
    assert.equal(st.blocks.length, 3);
    const runner = await AblationRunner.create(loadModel(out), { threads: 1 });
    const o = await runner.run([[1, 2, 3, 4, 5]]);
    assert.equal(o.pred.length, 1);
    await runner.release();
  });

  const refusals: [string, RegExp][] = [
    ["refuse-kv-cache.onnx", /past_key_values\.0\.key' looks like a KV cache/],
    ["refuse-no-attention.onnx", /no attention found along the residual stream/],
    ["refuse-unknown-attention.onnx", /DecoderMaskedMultiHeadAttention\) is not supported; supported: /],
    ["refuse-two-softmax.onnx", /holds 2 attention Softmax\(es\).*one attention per block is supported/],
  ];
  for (const [file, msg] of refusals)
    it(`refuses ${file} with a clear message naming the file`, () => {
      const f = arithFile(file);
      assert.throws(
        () => discover(f),
        (e: Error) => e.name === "ScalpelError" && e.message.startsWith(f) && msg.test(e.message),
      );
    });

  it("refuses a model with no integer token input", () => {
    // the classifier-like graphs of other fixtures have float inputs; reuse the refusal graph with its input retyped
    const m = loadModel(arithFile("refuse-no-attention.onnx"));
    const tt = m.proto.graph!.input[0]!.type!.value;
    if (tt.case === "tensorType") tt.value.elemType = 1; // FLOAT
    assert.throws(() => discoverStructure(buildGraph(m)), /no token-id input found/);
  });
});
