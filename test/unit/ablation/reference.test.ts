/**
 * TypeScript/onnxruntime ablations against the independent PyTorch hook implementation
 * (test/fixtures/arith/reference.py) on the trained arithmetic transformer: the same 1,000 prompts, every
 * configuration of the AF1 sweep, the baselines, knockout cells, for two sink choices and several exports.
 */
import assert from "node:assert/strict";
import { loadModel } from "../../../analyzers/onnx/index.ts";
import { AblationRunner } from "../../../analyzers/ablation/runner.ts";
import { AblationStudy, type AblationConfig } from "../../../analyzers/ablation/engine.ts";
import { af1Search } from "../../../analyzers/ablation/af1.ts";
import { loadTokenizer } from "../../../analyzers/ablation/tokenizer.ts";
import { tokenizePrompts, type SinkChoice } from "../../../analyzers/ablation/tasks.ts";
import { arithDir, arithFile, reference, type Reference } from "../../fixtures/arith/fixtures.ts";

const POINTS = 0.5; // accuracy agreement, in percentage points

async function study(file: string, tokFile: string, ref: Reference, sink: SinkChoice): Promise<AblationStudy> {
  const items = ref.prompts.map((p) => ({ text: p.text, answer: p.answer, operands: [] }));
  const set = tokenizePrompts(items, loadTokenizer(arithFile(tokFile)), sink);
  const runner = await AblationRunner.create(loadModel(arithFile(file)), { threads: 1 });
  return AblationStudy.prepare(runner, set, { keepResiduals: true });
}

describe("ablation: TypeScript vs PyTorch reference", function () {
  this.timeout(3 * 3600 * 1000);
  let ref: Reference;
  before(() => {
    arithDir();
    ref = reference();
  });

  it("the trained model is a real arithmetic model (baseline accuracy on the first answer token > 95%)", () => {
    assert.ok(ref.sinks.bos.baselineAccuracy > 0.95, `baseline ${ref.sinks.bos.baselineAccuracy}`);
  });

  for (const sink of ["bos", "none"] as const)
    describe(`decomposed export, char vocabulary, sink ${sink}`, () => {
      let s: AblationStudy;
      before(async () => {
        s = await study("arith-opset14.onnx", "vocab.json", ref, sink);
      });

      it("baseline accuracy matches", () => {
        assert.ok(Math.abs(s.baseline.accuracy - ref.sinks[sink].baselineAccuracy) * 100 <= POINTS);
      });

      it("every configuration of the AF1 sweep agrees within 0.5 points (accuracy and faithfulness)", async () => {
        const cfgs = ref.sinks[sink].af1;
        assert.ok(cfgs.length >= 6, "the sweep has all L_wait and the L_transfer points");
        const got = await s.evaluate(cfgs as AblationConfig[]);
        got.forEach((g, i) => {
          const r = cfgs[i]!;
          assert.equal(g.evaluated, r.evaluated);
          assert.ok(Math.abs(g.accuracy - r.accuracy) * 100 <= POINTS, `${r.label}: accuracy TS ${g.accuracy} vs PyTorch ${r.accuracy}`);
          assert.ok(Math.abs(g.faithfulness - r.faithfulness) * 100 <= POINTS, `${r.label}: faithfulness TS ${g.faithfulness} vs PyTorch ${r.faithfulness}`);
        });
      });

      it("zero / mean / resample ablations, ABP self, knockouts and heatmap cells agree within 0.5 points", async () => {
        const cfgs = ref.sinks[sink].others;
        const got = await s.evaluate(cfgs as AblationConfig[]);
        got.forEach((g, i) => {
          const r = cfgs[i]!;
          assert.ok(Math.abs(g.accuracy - r.accuracy) * 100 <= POINTS, `${r.label}: accuracy TS ${g.accuracy} vs PyTorch ${r.accuracy}`);
        });
      });

      it("the AF1 search picks the same L_wait and L_transfer", async () => {
        const r = await af1Search(s, ref.tau);
        assert.equal(r.lWait, ref.sinks[sink].lWait);
        assert.equal(r.lTransfer, ref.sinks[sink].lTransfer);
        assert.equal(r.lWaitCurve.length, s.numBlocks + 1);
      });

      if (sink === "bos")
        it("exposed residual means μ(length, L, t, token) agree to 1e-4", () => {
          const means = ref.sinks.bos.means!;
          assert.ok(means.length > 100);
          let worst = 0;
          for (const m of means) {
            const v = s.tokenMean(m.length, m.L, m.t, m.token);
            assert.ok(v, `mean for length ${m.length} L ${m.L} t ${m.t} token ${m.token} exists`);
            for (let k = 0; k < v.length; k++) worst = Math.max(worst, Math.abs(v[k]! - m.mean[k]!));
          }
          assert.ok(worst <= 1e-4, `max |Δ| ${worst}`);
        });
    });

  for (const [file, tok] of [
    ["arith-mha.onnx", "tokenizer.json"],
    ["arith-attn23.onnx", "vocab.json"],
    ["arith-skipln.onnx", "tokenizer.json"],
  ] as const)
    it(`${file} (fused, ${tok}): the AF1 sweep agrees within 0.5 points`, async () => {
      const s = await study(file, tok, ref, "bos");
      const cfgs = ref.sinks.bos.af1;
      const got = await s.evaluate(cfgs as AblationConfig[]);
      got.forEach((g, i) => assert.ok(Math.abs(g.accuracy - cfgs[i]!.accuracy) * 100 <= POINTS, `${cfgs[i]!.label}: ${g.accuracy} vs ${cfgs[i]!.accuracy}`));
    });
});
