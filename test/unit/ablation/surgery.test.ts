import assert from "node:assert/strict";
import { loadModel } from "../../../analyzers/onnx/index.ts";
import { AblationRunner } from "../../../analyzers/ablation/runner.ts";
import { prepareAblationModel } from "../../../analyzers/ablation/surgery.ts";
import { attentionMask } from "../../../analyzers/ablation/engine.ts";
import { loadTokenizer } from "../../../analyzers/ablation/tokenizer.ts";
import { createSession, ort, type GraphOptimizationLevel } from "../../../analyzers/runtime/ort.ts";
import { arithDir, arithFile } from "../../fixtures/arith/fixtures.ts";

const PROMPTS = ["12+34=", "99+99=", "50+7=", "3+4="];

/** Logits at the last position from the untouched model, one prompt at a time. */
async function originalLastLogits(file: string, ids: number[], opt: GraphOptimizationLevel): Promise<Float32Array> {
  const s = await createSession(loadModel(file), { threads: 1, optimization: opt });
  const feeds: Record<string, ort.Tensor> = { input_ids: new ort.Tensor("int64", BigInt64Array.from(ids.map(BigInt)), [1, ids.length]) };
  if (s.inputNames.includes("attention_mask")) feeds.attention_mask = new ort.Tensor("int64", new BigInt64Array(ids.length).fill(1n), [1, ids.length]);
  const out = (await s.run(feeds)).logits!;
  const V = out.dims[2]!, n = ids.length;
  const last = new Float32Array((out.data as Float32Array).subarray((n - 1) * V, n * V));
  await s.release();
  return last;
}

describe("ablation: graph surgery", function () {
  this.timeout(3 * 3600 * 1000);
  let ids: number[][];
  before(() => {
    arithDir();
    const tok = loadTokenizer(arithFile("vocab.json"));
    ids = PROMPTS.map((p) => [tok.bos!.id, ...tok.encode(p)]);
  });

  for (const file of ["arith-opset14.onnx", "arith-mha.onnx", "arith-attn23.onnx", "gpt2-random.onnx"])
    for (const opt of ["disabled", "all"] as const)
      it(`zero masks give bit-equal logits to the original: ${file}, optimisation ${opt}`, async () => {
        const runner = await AblationRunner.create(loadModel(arithFile(file)), { threads: 1, optimization: opt });
        for (const p of ids) {
          const got = (await runner.run([p], {}, { lastLogits: true })).lastLogits!;
          const want = await originalLastLogits(arithFile(file), p, opt);
          assert.equal(got.length, want.length);
          for (let i = 0; i < want.length; i++) assert.ok(Object.is(got[i], want[i]), `logit ${i}: ${got[i]} vs ${want[i]}`);
        }
        await runner.release();
      });

  it("un-fusing SkipLayerNormalization changes the logits only by float rounding (≤ 1e-5)", async () => {
    const runner = await AblationRunner.create(loadModel(arithFile("arith-skipln.onnx")), { threads: 1 });
    for (const p of ids) {
      const got = (await runner.run([p], {}, { lastLogits: true })).lastLogits!;
      const want = await originalLastLogits(arithFile("arith-skipln.onnx"), p, "all");
      for (let i = 0; i < want.length; i++) assert.ok(Math.abs(got[i]! - want[i]!) <= 1e-5, `logit ${i}: ${got[i]} vs ${want[i]}`);
    }
    await runner.release();
  });

  it("the fused exports compute the same function as the decomposed one (the fixtures are right)", async () => {
    for (const file of ["arith-mha.onnx", "arith-attn23.onnx", "arith-skipln.onnx"])
      for (const p of ids) {
        const a = await originalLastLogits(arithFile("arith-opset14.onnx"), p, "disabled");
        const b = await originalLastLogits(arithFile(file), p, "disabled");
        for (let i = 0; i < a.length; i++) assert.ok(Math.abs(a[i]! - b[i]!) < 1e-4, `${file} logit ${i}: ${a[i]} vs ${b[i]}`);
      }
  });

  it("a non-zero mask does change the prediction path (the inserted inputs are live)", async () => {
    const runner = await AblationRunner.create(loadModel(arithFile("arith-opset14.onnx")), { threads: 1 });
    const p = ids[0]!;
    const n = p.length;
    const base = (await runner.run([p], {}, { lastLogits: true })).lastLogits!;
    const self = attentionMask("self", n, 0);
    const masked = (await runner.run([p], { attention: new Map([[1, self], [2, self]]) }, { lastLogits: true })).lastLogits!;
    assert.ok(base.some((v, i) => v !== masked[i]), "ABP self masks change the logits");
    const d = (await runner.run([p], {}, { resid: [2] })).resid.get(2)!.length / n;
    const zeros = (await runner.run([p], { residual: new Map([[2, { mask: new Uint8Array(n).fill(1), values: new Float32Array(n * d) }]]) }, { lastLogits: true })).lastLogits!;
    assert.ok(base.some((v, i) => v !== zeros[i]), "zeroing the residual at L=2 changes the logits");
    await runner.release();
  });

  it("edits a copy: the original model proto is untouched", () => {
    const m = loadModel(arithFile("arith-opset14.onnx"));
    const nodes = m.proto.graph!.node.length, inputs = m.proto.graph!.input.length, outputs = m.proto.graph!.output.length;
    const softmaxInputs = m.proto.graph!.node.filter((n) => n.opType === "Softmax").map((n) => n.input[0]);
    const e = prepareAblationModel(m);
    assert.ok(e.model.proto.graph!.node.length > nodes);
    assert.equal(m.proto.graph!.node.length, nodes);
    assert.equal(m.proto.graph!.input.length, inputs);
    assert.equal(m.proto.graph!.output.length, outputs);
    assert.deepEqual(m.proto.graph!.node.filter((n) => n.opType === "Softmax").map((n) => n.input[0]), softmaxInputs);
  });
});
