/**
 * The foundation on every torchvision export in the fixture cache: lossless round trip, shapes of every
 * intermediate tensor against onnxruntime, and MACs against torchvision's published figures.
 */
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { ModelProtoSchema } from "onnx-buf";
import { buildGraph } from "../../../analyzers/graph/graph.ts";
import { computeMetrics } from "../../../analyzers/graph/metrics.ts";
import { evalDim } from "../../../analyzers/graph/shapes/dims.ts";
import { completeShapesWithRuntime, inferShapes, withExtraOutputs } from "../../../analyzers/graph/shapes/index.ts";
import { encodeBytes, encodeChunks } from "../../../analyzers/onnx/encode.ts";
import { closeModel, loadModel } from "../../../analyzers/onnx/model.ts";
import { createSessionFromBytes, dummyFeeds } from "../../../analyzers/runtime/ort.ts";
import { requireTorchvisionModel, torchvisionDir, torchvisionExports } from "../../fixtures/paths.ts";

const exported = () => torchvisionExports().filter((e) => !e.error && e.path && fs.existsSync(path.join(torchvisionDir(), e.path)));

/** Compares encoded chunks with the file, reading it piece by piece (exports reach gigabytes). */
function sameAsFile(chunks: Uint8Array[], file: string): boolean {
  const fd = fs.openSync(file, "r");
  try {
    let pos = 0;
    for (const c of chunks) {
      const buf = Buffer.allocUnsafe(c.byteLength);
      if (fs.readSync(fd, buf, 0, c.byteLength, pos) !== c.byteLength) return false;
      if (!buf.equals(c)) return false;
      pos += c.byteLength;
    }
    return pos === fs.fstatSync(fd).size;
  } finally {
    fs.closeSync(fd);
  }
}

describe("torchvision exports", function () {
  this.timeout(3_600_000);

  it("re-encode byte-identically (every export in the cache)", () => {
    const list = exported();
    assert.ok(list.length > 0, "no exports in the cache: run npm run fixtures");
    const different: string[] = [];
    for (const e of list) {
      const file = path.join(torchvisionDir(), e.path!);
      const m = loadModel(file);
      const { chunks } = encodeChunks(ModelProtoSchema, m.proto);
      if (!sameAsFile(chunks, file)) different.push(e.name);
      closeModel(m);
    }
    console.log(`      ${list.length} exports compared`);
    assert.deepEqual(different, []);
  });

  it("infer the shape of every intermediate tensor as onnxruntime computes it (op13-bn, op17-bn, dynamic)", async () => {
    const list = exported().filter((e) => e.variant !== "op13-fold" && (e.bytes ?? 0) + (e.external_bytes ?? 0) < 1.5e9);
    const wrong: string[] = [];
    let tensors = 0;
    for (const e of list) {
      const file = path.join(torchvisionDir(), e.path!);
      const m = loadModel(file);
      const g = buildGraph(m);
      // Static inference, then one onnxruntime run for what it cannot decide (swin_t's computed pads).
      const s = inferShapes(g, { useDeclared: false });
      await completeShapesWithRuntime(g, s, { symbolic: { batch: 1 } });
      const names = g.nodes.flatMap((n) => n.outputs.filter((o) => o && g.values.get(o)!.kind === "intermediate"));
      const dtypes = new Map(names.map((n) => [n, s.types.get(n)?.dataType ?? 0]));
      const session = await createSessionFromBytes(encodeBytes(ModelProtoSchema, withExtraOutputs(m.proto, names, dtypes)), file, m.baseDir, { optimization: "disabled" });
      const symbolic = { batch: 1 };
      const out = await session.run(dummyFeeds(g, symbolic), names);
      for (const n of names) {
        tensors++;
        const got = s.types.get(n)?.shape?.map((d) => evalDim(d, symbolic) ?? d);
        if (JSON.stringify(got) !== JSON.stringify(out[n]!.dims)) wrong.push(`${e.name} ${n}: ${JSON.stringify(got)} ≠ ${JSON.stringify(out[n]!.dims)}`);
      }
      await session.release();
      closeModel(m);
    }
    console.log(`      ${tensors} tensors of ${list.length} exports compared`);
    assert.deepEqual(wrong.slice(0, 20), []);
  });

  for (const [arch, published] of [["resnet18", 1.814e9], ["resnet50", 4.089e9], ["vit_b_16", 17.564e9]] as const) {
    it(`count ${arch}'s MACs within 2% of torchvision's published ${(published / 1e9).toFixed(2)} G`, () => {
      const g = buildGraph(loadModel(requireTorchvisionModel(arch)));
      const macs = computeMetrics(g, inferShapes(g)).macs;
      assert.ok(Math.abs(macs / published - 1) <= 0.02, `${arch}: ${(macs / 1e9).toFixed(3)} G MACs`);
    });
  }
});
