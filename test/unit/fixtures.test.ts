/**
 * The generated fixtures agree with their manifest: files and sizes, opsets, inputs and outputs,
 * BatchNormalization kept in the `bn` variants and folded in the `fold` variants, identical logits
 * across the variants of one model; and the ONNX backend corpus is listed completely.
 */
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import * as ort from "onnxruntime-node";
import { externalRef, isExternal, loadModel } from "../../analyzers/onnx/index.ts";
import { buildGraph, type Graph } from "../../analyzers/graph/graph.ts";
import {
  ONNX_TESTDATA_DIR,
  onnxTestdataModels,
  requireTorchvisionManifest,
  requireTorchvisionModel,
  torchvisionDir,
  type ExportEntry,
  type TorchvisionVariant,
} from "../fixtures/paths.ts";

/** BatchNormalization nodes that torch's Conv+BN fusion could have folded: fed by a Conv used only by them. */
function foldableBatchNorms(g: Graph): string[] {
  return g.nodes
    .filter((n) => n.opType === "BatchNormalization")
    .filter((bn) => {
      const conv = g.producer(bn.inputs[0]!);
      return conv?.opType === "Conv" && g.consumers(bn.inputs[0]!).length === 1 && !g.outputs.includes(bn.inputs[0]!);
    })
    .map((bn) => bn.name);
}

function checkExport(e: ExportEntry): void {
  const file = path.join(torchvisionDir(), e.path!);
  assert.equal(fs.statSync(file).size, e.bytes, `${e.name}: file size`);
  const model = loadModel(file);
  const g = buildGraph(model);
  assert.equal(g.opset(), e.opset, `${e.name}: opset`);

  // Inputs and outputs as recorded (the dynamic variant has the symbolic "batch").
  assert.deepEqual(g.inputs, [e.input!.name], `${e.name}: inputs`);
  assert.deepEqual(g.declaredTypes.get(e.input!.name)?.shape, e.input!.shape, `${e.name}: input shape`);
  assert.deepEqual(g.outputs, [e.output!.name], `${e.name}: outputs`);
  // torch sometimes declares a static output dim with a made-up symbol (swin_t: "Gemmlogits_dim_0").
  const declared = g.declaredTypes.get(e.output!.name)?.shape ?? [];
  assert.equal(declared.length, e.output!.shape.length, `${e.name}: output rank`);
  declared.forEach((d, i) => {
    if (typeof d === "string" && typeof e.output!.shape[i] === "number" && e.variant !== "dynamic") return;
    assert.equal(d, e.output!.shape[i], `${e.name}: output dim ${i}`);
  });

  // External data: present exactly when recorded, and the side files add up to external_bytes.
  const locations = new Set<string>();
  for (const t of g.initializers.values()) if (isExternal(t)) locations.add(externalRef(t, model.name).location);
  assert.equal(locations.size > 0, e.external_data, `${e.name}: external data`);
  let sideBytes = 0;
  for (const loc of locations) sideBytes += fs.statSync(path.join(path.dirname(file), loc)).size;
  assert.equal(sideBytes, e.external_bytes, `${e.name}: external data size`);

  const bn = g.nodes.filter((n) => n.opType === "BatchNormalization").length;
  assert.equal(bn, e.bn_nodes, `${e.name}: BatchNormalization count`);
  if (e.variant === "op13-fold") {
    assert.deepEqual(foldableBatchNorms(g), [], `${e.name}: BatchNormalization left after a Conv`);
  } else if (e.has_bn) {
    assert.ok(bn > 0, `${e.name}: the model has BatchNorm layers but the export has no BatchNormalization node`);
  }
  if (!e.has_bn) assert.equal(bn, 0, `${e.name}: BatchNormalization without BatchNorm layers`);
}

describe("fixtures", function () {
  describe("torchvision exports", function () {
    const manifest = requireTorchvisionManifest();
    const ok = manifest.exports.filter((e) => !e.error);

    it("manifest entries are unique, complete and name their variant/arch", function () {
      assert.ok(ok.length > 0, "no successful export in the manifest");
      const names = manifest.exports.map((e) => e.name);
      assert.equal(new Set(names).size, names.length, "duplicate names");
      for (const e of manifest.exports) {
        assert.equal(e.name, `${e.variant}/${e.arch}`);
        if (e.error) continue;
        for (const k of ["path", "bytes", "params", "has_bn", "input", "output", "external_data", "bn_nodes"] as const)
          assert.notEqual(e[k], undefined, `${e.name}: ${k} missing`);
        assert.equal(e.external_data, e.path!.startsWith(`${e.variant}/${e.arch}/`), `${e.name}: external-data models get their own folder`);
        assert.ok(e.output_finite, `${e.name}: torch output not finite`);
      }
    });

    // One test per export, so a failure names the model. Parsing only: weights are not read.
    for (const e of ok) it(`${e.name} matches its manifest entry`, () => checkExport(e));

    it("the variants of resnet18 and mobilenet_v3_small compute the same logits (onnxruntime)", async function () {
      for (const arch of ["resnet18", "mobilenet_v3_small"]) {
        const x = new Float32Array(3 * 224 * 224);
        let s = 1;
        for (let i = 0; i < x.length; i++) x[i] = ((s = (s * 16807) % 2147483647) / 2147483647) * 2 - 1;
        const run = async (variant: TorchvisionVariant, batch = 1) => {
          const session = await ort.InferenceSession.create(requireTorchvisionModel(arch, variant));
          const data = new Float32Array(batch * x.length);
          for (let b = 0; b < batch; b++) data.set(x, b * x.length);
          const out = await session.run({ input: new ort.Tensor("float32", data, [batch, 3, 224, 224]) });
          await session.release();
          return out.logits!.data as Float32Array;
        };
        const ref = await run("op13-bn");
        const scale = Math.max(...ref.map(Math.abs));
        const variants: [TorchvisionVariant, number][] = [["op13-fold", 1], ["op17-bn", 1], ["dynamic", 2]];
        for (const [variant, batch] of variants) {
          if (variant === "dynamic" && arch !== "resnet18") continue;
          const y = await run(variant, batch);
          assert.equal(y.length, ref.length * batch, `${variant}/${arch}: output size`);
          for (let i = 0; i < y.length; i++)
            assert.ok(Math.abs(y[i]! - ref[i % ref.length]!) <= 1e-4 * scale, `${variant}/${arch}: logit ${i} is ${y[i]}, op13-bn gives ${ref[i % ref.length]}`);
        }
      }
    });
  });

  describe("ONNX backend test corpus", function () {
    it("lists every model.onnx with its test data sets", function () {
      const models = onnxTestdataModels();
      const onDisk = (fs.readdirSync(ONNX_TESTDATA_DIR, { recursive: true }) as string[]).filter(
        (f) => path.basename(f) === "model.onnx",
      );
      assert.equal(models.length, onDisk.length);
      assert.ok(models.length >= 1000, `only ${models.length} models`);
      for (const m of models) {
        assert.ok(fs.existsSync(m.model), m.model);
        assert.ok(m.dataSets.length > 0, `${m.name}: no test_data_set`);
        for (const d of m.dataSets) {
          assert.ok(d.outputs.length > 0, `${m.name}: no outputs`);
          d.inputs.forEach((f, i) => assert.equal(path.basename(f), `input_${i}.pb`));
          d.outputs.forEach((f, i) => assert.equal(path.basename(f), `output_${i}.pb`));
        }
      }
    });
  });
});
