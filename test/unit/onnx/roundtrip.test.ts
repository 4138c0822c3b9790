import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { ModelProtoSchema } from "onnx-buf";
import { encodeBytes, encodeChunks } from "../../../analyzers/onnx/encode.ts";
import { loadModel } from "../../../analyzers/onnx/model.ts";
import { saveModel } from "../../../analyzers/onnx/save.ts";
import { ScalpelError } from "../../../analyzers/onnx/errors.ts";
import { corpusModels } from "../../helpers/corpus.ts";
import { modelBytes, tinyCnn } from "../../helpers/build.ts";

describe("lossless round trip", () => {
  it("re-encodes every model of the ONNX backend test corpus byte-identically", () => {
    const files = corpusModels();
    assert.ok(files.length >= 1000, `expected the full corpus, found ${files.length} models`);
    const different: string[] = [];
    for (const f of files) {
      const original = fs.readFileSync(f);
      const out = encodeBytes(ModelProtoSchema, loadModel(f).proto);
      if (Buffer.compare(original, Buffer.from(out.buffer, out.byteOffset, out.byteLength)) !== 0) different.push(f);
    }
    assert.deepEqual(different, []);
  });

  it("passes large raw_data through by reference instead of copying it", () => {
    const spec = tinyCnn();
    const big = new Float32Array(64 * 1024);
    spec.initializers![0]!.rawData = new Uint8Array(big.buffer);
    spec.initializers![0]!.dims = [BigInt(big.length)];
    const bytes = modelBytes(spec);
    const m = loadModel(bytes, { name: "mem.onnx" });
    const { chunks } = encodeChunks(ModelProtoSchema, m.proto);
    const raw = m.proto.graph!.initializer[0]!.rawData;
    assert.ok(chunks.some((c) => c === raw), "the weight bytes should be one of the written chunks");
  });

  describe("saveModel", () => {
    let dir: string;
    beforeEach(() => (dir = fs.mkdtempSync(path.join(os.tmpdir(), "scalpel-save-"))));
    afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

    it("writes the untouched model byte-identically through a temp file", () => {
      const src = path.join(dir, "a.onnx");
      fs.writeFileSync(src, modelBytes(tinyCnn()));
      const out = path.join(dir, "b.onnx");
      saveModel(loadModel(src), out);
      assert.deepEqual(fs.readFileSync(out), fs.readFileSync(src));
      assert.deepEqual(fs.readdirSync(dir).sort(), ["a.onnx", "b.onnx"], "no temp files left behind");
    });

    it("never overwrites an existing file unless asked, and never the source", () => {
      const src = path.join(dir, "a.onnx");
      fs.writeFileSync(src, modelBytes(tinyCnn()));
      const out = path.join(dir, "b.onnx");
      fs.writeFileSync(out, "keep me");
      const m = loadModel(src);
      assert.throws(() => saveModel(m, out), (e: unknown) => e instanceof ScalpelError && /already exists/.test(e.message) && e.message.includes(out));
      assert.equal(fs.readFileSync(out, "utf8"), "keep me");
      saveModel(m, out, { overwrite: true });
      assert.deepEqual(fs.readFileSync(out), fs.readFileSync(src));
      assert.throws(() => saveModel(m, src, { overwrite: true }), /refusing to overwrite the original/);
      assert.deepEqual(fs.readdirSync(dir).sort(), ["a.onnx", "b.onnx"]);
    });

    it("leaves no partial file when the target folder is missing", () => {
      const m = loadModel(modelBytes(tinyCnn()), { name: "mem.onnx" });
      assert.throws(() => saveModel(m, path.join(dir, "nope", "x.onnx")), /does not exist/);
      assert.deepEqual(fs.readdirSync(dir), []);
    });
  });
});
