/**
 * The quick slice of the pruning coverage check (`npm run test:prune-coverage` runs all 150+ torchvision
 * exports): one classifier per rule family, pruned at 50% of the channels of every prunable group (L1,
 * local), written, run in onnxruntime, checked by onnx.checker (full check), output shape compared
 * with torch's, predicted params/MACs compared with the re-analysed model.
 *
 * Chosen so as not to repeat what other unit tests already run: apply.test.ts prunes BatchNorm-kept
 * ResNet, MobileNet v3, ShuffleNet, GoogLeNet, EfficientNet and RegNet to their zeroed twins and
 * transformers.test.ts does Swin-T; here run the folded exports (BatchNorm merged into the convs) and
 * the families no other test touches (MaxViT, DenseNet, ConvNeXt, SqueezeNet, Inception, torchvision ViT,
 * Swin V2).
 */
import assert from "node:assert/strict";
import { torchvisionEntry, torchvisionModel, type TorchvisionVariant } from "../../fixtures/paths.ts";
import { coverageTable, coverModel, type CoverageRow } from "../../helpers/pruneCoverage.ts";

const cases: [string, TorchvisionVariant, string][] = [
  ["shufflenet_v2_x0_5", "op13-fold", "channel shuffle as one permutation, Split halves"],
  ["squeezenet1_1", "op13-fold", "fire modules: Concat of expand branches"],
  ["densenet121", "op13-fold", "dense Concat: every producer its own group"],
  ["efficientnet_b0", "op13-fold", "depthwise convs, SE blocks (Mul by a sigmoid gate)"],
  ["mnasnet0_5", "op13-bn", "inverted residuals with BatchNorm kept"],
  ["inception_v3", "op13-fold", "four-branch Concats, factorised 1×n/n×1 convs, asymmetric pads"],
  ["convnext_tiny", "op13-fold", "NHWC blocks: Transpose, LayerNorm, layer scale"],
  ["maxvit_t", "op13-bn", "MBConv + block and grid attention, relative-position bias"],
  ["vit_b_32", "op13-fold", "class token Concat, packed QKV heads, decomposed LayerNorm"],
  ["swin_v2_t", "op13-fold", "ScatterND-zeroed qkv bias, cosine attention, position-bias MLP, shapes read from the residual"],
];

describe("pruning coverage, quick slice (50% of channels → valid model, right output shape)", function () {
  this.timeout(300_000);
  const rows: CoverageRow[] = [];
  after(() => {
    if (rows.length) console.log(`\n${coverageTable(rows)}\n`);
  });
  for (const [arch, variant, why] of cases) {
    it(`${variant}/${arch}: ${why}`, async function () {
      const file = torchvisionModel(arch, variant);
      if (!file) this.skip();
      const row = await coverModel(`${variant}/${arch}`, file!, torchvisionEntry(arch, variant)?.output?.shape);
      rows.push(row);
      assert.ok(row.valid, row.problem);
      assert.ok(row.prunableGroups > 0);
      // Half the channels of nearly every layer: params and MACs fall well below 60% of the original.
      assert.ok(row.params[1] < 0.6 * row.params[0], `params ${row.params.join(" → ")}`);
      assert.ok(row.macs[1] < 0.6 * row.macs[0], `MACs ${row.macs.join(" → ")}`);
    });
  }
});
