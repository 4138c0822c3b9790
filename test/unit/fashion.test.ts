/**
 * The trained Fashion-MNIST classifier (test/fixtures/fashion/train.py) measured in Node: the IDX reader,
 * the declared preprocessing and onnxruntime must give exactly torch's test accuracy, for the model with
 * BatchNorm kept and for the folded one.
 */
import assert from "node:assert/strict";
import { evaluateClassifier } from "../../analyzers/data/evaluate.ts";
import { FASHION_MNIST_DIR, readMnistSplit } from "../../analyzers/data/idx.ts";
import { loadModel } from "../../analyzers/onnx/index.ts";
import { fashionModelPath, fashionPreprocess, requireFashion } from "../fixtures/fashion/index.ts";

describe("Fashion-MNIST classifier: accuracy in Node equals torch's", function () {
  this.timeout(300_000);
  const test = readMnistSplit(FASHION_MNIST_DIR, "test");

  it("reads the 10k test images and labels", () => {
    assert.equal(test.count, 10_000);
    assert.equal(test.height, 28);
    assert.equal(test.width, 28);
    const counts = new Array(10).fill(0);
    for (const l of test.labels) counts[l]++;
    assert.deepEqual(counts, new Array(10).fill(1000)); // the test split is balanced
  });

  for (const variant of ["bn", "fold"] as const) {
    it(`${variant === "bn" ? "BatchNorm kept" : "BatchNorm folded"}: same correct count and predictions as torch`, async () => {
      const meta = requireFashion();
      const torch = meta.models[variant];
      const acc = await evaluateClassifier(loadModel(fashionModelPath(variant)), test, fashionPreprocess(meta), { batch: 1000 });
      let differ = 0;
      for (let i = 0; i < test.count; i++) if (String(acc.predictions[i]) !== torch.predictions[i]) differ++;
      assert.equal(acc.correct, torch.correct, `Node ${acc.correct} correct vs torch ${torch.correct} (${differ} predictions differ)`);
      assert.ok(acc.accuracy > 0.85, `a trained model (accuracy ${acc.accuracy})`);
    });
  }
});
