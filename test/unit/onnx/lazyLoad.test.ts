import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { loadModel } from "../../../analyzers/onnx/model.ts";
import { saveModel } from "../../../analyzers/onnx/save.ts";
import { readTensor, toFloat32 } from "../../../analyzers/onnx/tensor.ts";
import { isPayloadPending } from "../../../analyzers/onnx/lazyLoad.ts";
import { corpusModels } from "../../helpers/corpus.ts";
import { floatTensor, modelBytes, tinyCnn } from "../../helpers/build.ts";

const LAZY = { fileBytes: 0, payloadBytes: 16 };

describe("lazy loading of large models", () => {
  let dir: string;
  beforeEach(() => (dir = fs.mkdtempSync(path.join(os.tmpdir(), "scalpel-lazy-"))));
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  it("leaves weights on disk until read, then reads exactly the eager values", () => {
    const f = path.join(dir, "m.onnx");
    fs.writeFileSync(f, modelBytes(tinyCnn()));
    const lazy = loadModel(f, { lazy: LAZY });
    const eager = loadModel(f, { eager: true });
    const w = lazy.proto.graph!.initializer[0]!;
    assert.ok(isPayloadPending(w), "w1 is still on disk");
    assert.deepEqual(toFloat32(readTensor(lazy, w)), toFloat32(readTensor(eager, eager.proto.graph!.initializer[0]!)));
    assert.ok(!isPayloadPending(w), "read once, then a plain property");
  });

  it("parses every corpus model lazily to the same message as an eager parse, and saves it identically", () => {
    for (const f of corpusModels().filter((_, i) => i % 4 === 0)) {
      const lazy = loadModel(f, { lazy: LAZY });
      const out = path.join(dir, "out.onnx");
      saveModel(lazy, out);
      assert.deepEqual(fs.readFileSync(out), fs.readFileSync(f), f);
      fs.rmSync(out);
    }
  });

  it("reports a model that changed on disk before its weights were read", () => {
    const f = path.join(dir, "m.onnx");
    fs.writeFileSync(f, modelBytes(tinyCnn()));
    const lazy = loadModel(f, { lazy: LAZY });
    const spec = tinyCnn();
    spec.initializers![0] = floatTensor("w1", [4, 3, 3, 3], new Float32Array(108).fill(7));
    fs.writeFileSync(f, modelBytes(spec));
    fs.utimesSync(f, new Date(), new Date(Date.now() + 5000));
    assert.throws(() => readTensor(lazy, lazy.proto.graph!.initializer[0]!), /changed on disk since it was loaded/);
  });

  it("saves weights not read yet straight from the file, byte-identically, without reading them into memory", () => {
    const f = path.join(dir, "m.onnx");
    const spec = tinyCnn();
    const big = new Float32Array(65536).map((_, i) => Math.sin(i));
    spec.initializers!.push(floatTensor("unused_big", [256, 256], big), floatTensor("also_big", [128, 128], big.subarray(0, 16384)));
    fs.writeFileSync(f, modelBytes(spec));
    const lazy = loadModel(f, { lazy: LAZY });
    const [first, second] = lazy.proto.graph!.initializer.slice(-2);
    assert.deepEqual(toFloat32(readTensor(lazy, second!)), big.subarray(0, 16384)); // one read, one not
    const out = path.join(dir, "out.onnx");
    saveModel(lazy, out);
    assert.deepEqual(fs.readFileSync(out), fs.readFileSync(f));
    assert.ok(isPayloadPending(first!), "the unread weight was copied from the file, not loaded");
    // After the save it still reads the right values.
    assert.deepEqual(toFloat32(readTensor(lazy, first!)), big);
  });

  it("refuses to save weights not read yet from a file that changed on disk, leaving no file behind", () => {
    const f = path.join(dir, "m.onnx");
    const spec = tinyCnn();
    spec.initializers!.push(floatTensor("unused_big", [256, 256], new Float32Array(65536).fill(1)));
    fs.writeFileSync(f, modelBytes(spec));
    const lazy = loadModel(f, { lazy: LAZY });
    fs.appendFileSync(f, Buffer.alloc(8));
    const out = path.join(dir, "out.onnx");
    assert.throws(() => saveModel(lazy, out), /changed on disk since it was loaded/);
    assert.deepEqual(fs.readdirSync(dir), ["m.onnx"]);
  });

  it("reports a truncated large file while scanning", () => {
    const f = path.join(dir, "t.onnx");
    const bytes = modelBytes(tinyCnn());
    fs.writeFileSync(f, bytes.subarray(0, bytes.length - 50));
    assert.throws(() => loadModel(f, { lazy: LAZY }), (e: Error) => /truncated or corrupt/.test(e.message) && e.message.includes(f));
  });
});
