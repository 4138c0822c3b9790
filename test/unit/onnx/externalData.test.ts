import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { create } from "@bufbuild/protobuf";
import { StringStringEntryProtoSchema, TensorProto_DataLocation } from "onnx-buf";
import { loadModel, type Model } from "../../../analyzers/onnx/model.ts";
import { saveModel } from "../../../analyzers/onnx/save.ts";
import { readTensor, toFloat32 } from "../../../analyzers/onnx/tensor.ts";
import { buildGraph } from "../../../analyzers/graph/graph.ts";
import { createSession, dummyFeeds } from "../../../analyzers/runtime/ort.ts";
import { model, modelBytes, tinyCnn } from "../../helpers/build.ts";
import { ModelProtoSchema } from "onnx-buf";
import { encodeBytes } from "../../../analyzers/onnx/encode.ts";

async function outputs(m: Model): Promise<Float32Array> {
  const g = buildGraph(m);
  const s = await createSession(m);
  const r = await s.run(dummyFeeds(g));
  await s.release();
  return r[g.outputs[0]!]!.data as Float32Array;
}

describe("external data", () => {
  let dir: string;
  beforeEach(() => (dir = fs.mkdtempSync(path.join(os.tmpdir(), "scalpel-ext-"))));
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  it("moves weights out to a side file and back in, byte-identical to the original at the end", async () => {
    const src = path.join(dir, "m.onnx");
    fs.writeFileSync(src, modelBytes(tinyCnn()));
    const original = loadModel(src);
    const ext = path.join(dir, "ext", "m.onnx");
    fs.mkdirSync(path.dirname(ext));
    const r = saveModel(original, ext, { externalData: { kind: "external", location: "m.weights", threshold: 64 } });
    assert.ok(r.externalFile && fs.existsSync(r.externalFile));
    assert.ok(fs.statSync(ext).size < fs.statSync(src).size, "weights left the .onnx file");

    const reloaded = loadModel(ext);
    const w = reloaded.proto.graph!.initializer.find((t) => t.name === "w1")!;
    assert.equal(w.dataLocation, TensorProto_DataLocation.EXTERNAL);
    assert.deepEqual(toFloat32(readTensor(reloaded, w)), toFloat32(readTensor(original, original.proto.graph!.initializer[0]!)));
    assert.deepEqual(await outputs(reloaded), await outputs(original));

    const back = path.join(dir, "back.onnx");
    saveModel(reloaded, back, { externalData: { kind: "internal" } });
    assert.deepEqual(fs.readFileSync(back), fs.readFileSync(src));
  });

  it("keeps external references when saving an untouched model beside its side file", () => {
    const src = path.join(dir, "m.onnx");
    fs.writeFileSync(src, modelBytes(tinyCnn()));
    saveModel(loadModel(src), path.join(dir, "e.onnx"), { externalData: { kind: "external", location: "e.data", threshold: 0 } });
    const copy = path.join(dir, "copy.onnx");
    saveModel(loadModel(path.join(dir, "e.onnx")), copy);
    assert.deepEqual(fs.readFileSync(copy), fs.readFileSync(path.join(dir, "e.onnx")));
  });

  it("reads side files lazily by offset and length", () => {
    const src = path.join(dir, "m.onnx");
    fs.writeFileSync(src, modelBytes(tinyCnn()));
    saveModel(loadModel(src), path.join(dir, "e.onnx"), { externalData: { kind: "external", location: "e.data", threshold: 0 } });
    const m = loadModel(path.join(dir, "e.onnx"));
    const opened: number[] = [];
    const realRead = fs.readSync;
    (fs as { readSync: typeof fs.readSync }).readSync = ((fd: number, buf: NodeJS.ArrayBufferView, off: number, len: number, pos: number) => {
      opened.push(len);
      return realRead(fd, buf, off, len, pos);
    }) as typeof fs.readSync;
    try {
      readTensor(m, m.proto.graph!.initializer.find((t) => t.name === "b2")!);
    } finally {
      (fs as { readSync: typeof fs.readSync }).readSync = realRead;
    }
    assert.deepEqual(opened, [5 * 4], "exactly the tensor's 20 bytes were read");
  });

  for (const [label, location, pattern] of [
    ["a parent-folder path", "../secret.data", /escapes the model's folder/],
    ["an absolute path", "/etc/passwd", /absolute path/],
    ["a nested climb", "sub/../../x", /escapes the model's folder/],
  ] as const) {
    it(`refuses a location that is ${label}`, () => {
      const spec = tinyCnn();
      const t = spec.initializers![0]!;
      t.rawData = new Uint8Array(0);
      delete (t as { rawData?: unknown }).rawData;
      t.dataLocation = TensorProto_DataLocation.EXTERNAL;
      t.externalData = [create(StringStringEntryProtoSchema, { key: "location", value: location })];
      const f = path.join(dir, "evil.onnx");
      fs.writeFileSync(f, encodeBytes(ModelProtoSchema, model(spec)));
      assert.throws(() => loadModel(f), (e: Error) => pattern.test(e.message) && e.message.includes(f));
    });
  }

  it("refuses a symlink that points outside the folder", () => {
    const outside = fs.mkdtempSync(path.join(os.tmpdir(), "scalpel-outside-"));
    try {
      fs.writeFileSync(path.join(outside, "w.data"), new Uint8Array(4096));
      fs.symlinkSync(path.join(outside, "w.data"), path.join(dir, "w.data"));
      const spec = tinyCnn();
      const t = spec.initializers![0]!;
      delete (t as { rawData?: unknown }).rawData;
      t.dataLocation = TensorProto_DataLocation.EXTERNAL;
      t.externalData = [create(StringStringEntryProtoSchema, { key: "location", value: "w.data" })];
      const f = path.join(dir, "link.onnx");
      fs.writeFileSync(f, encodeBytes(ModelProtoSchema, model(spec)));
      assert.throws(() => loadModel(f), /links outside the model's folder/);
    } finally {
      fs.rmSync(outside, { recursive: true, force: true });
    }
  });

  it("reports a missing or short side file at load time, naming it", () => {
    const src = path.join(dir, "m.onnx");
    fs.writeFileSync(src, modelBytes(tinyCnn()));
    saveModel(loadModel(src), path.join(dir, "e.onnx"), { externalData: { kind: "external", location: "e.data", threshold: 0 } });
    fs.truncateSync(path.join(dir, "e.data"), 10);
    assert.throws(() => loadModel(path.join(dir, "e.onnx")), /e\.data: is too short/);
    fs.rmSync(path.join(dir, "e.data"));
    assert.throws(() => loadModel(path.join(dir, "e.onnx")), /external-data file 'e\.data' .* is missing/);
  });
});
