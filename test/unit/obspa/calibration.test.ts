/**
 * Calibration folders: .npy (written by NumPy), .pb (ONNX TensorProto), PNG/JPEG images with a declared
 * preprocessing, with and without a batch axis, and the errors a user can cause.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { create, toBinary } from "@bufbuild/protobuf";
import { encode as encodePng } from "fast-png";
import jpeg from "jpeg-js";
import {
  GraphProtoSchema,
  ModelProtoSchema,
  NodeProtoSchema,
  OperatorSetIdProtoSchema,
  TensorProtoSchema,
  TypeProto_TensorSchema,
  TypeProtoSchema,
  ValueInfoProtoSchema,
} from "onnx-buf";
import { buildGraph, type Graph } from "../../../analyzers/graph/graph.ts";
import { encodeBytes, loadModel, makeTensor, ScalpelError } from "../../../analyzers/onnx/index.ts";
import { calibrationFeeds } from "../../../analyzers/pruning/obspa/calibration.ts";
import type { Feeds } from "../../../analyzers/pruning/obspa/feeds.ts";

/** A model with one input x: [batch, c, h, w] (Relu only; the graph is what matters). */
function imageModel(c: number, h: number, w: number): Graph {
  const vi = (name: string) =>
    create(ValueInfoProtoSchema, {
      name,
      type: create(TypeProtoSchema, {
        value: {
          case: "tensorType",
          value: create(TypeProto_TensorSchema, {
            elemType: 1,
            shape: { dim: [{ value: { case: "dimParam", value: "batch" } }, ...[c, h, w].map((d) => ({ value: { case: "dimValue" as const, value: BigInt(d) } }))] },
          }),
        },
      }),
    });
  const node = create(NodeProtoSchema, { name: "r", opType: "Relu", input: ["x"], output: ["y"] });
  const graph = create(GraphProtoSchema, { name: "g", node: [node], input: [vi("x")], output: [vi("y")] });
  const proto = create(ModelProtoSchema, { irVersion: 8n, opsetImport: [create(OperatorSetIdProtoSchema, { domain: "", version: 13n })], graph });
  return buildGraph(loadModel(encodeBytes(ModelProtoSchema, proto), { name: "image.onnx" }));
}

async function collect(src: ReturnType<typeof calibrationFeeds>): Promise<Feeds[]> {
  const out: Feeds[] = [];
  for await (const f of src.batches()) out.push(f);
  return out;
}

function tmpDir(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), "scalpel-calib-"));
}

describe("OBSPA calibration folders", () => {
  const graph = imageModel(1, 3, 4);

  it("reads .npy files written by NumPy, with and without a batch axis", async () => {
    const dir = tmpDir();
    const run = spawnSync("/usr/bin/python3", ["-c", `
import numpy as np, sys
d = sys.argv[1]
np.save(d + "/a.npy", np.arange(12, dtype=np.float32).reshape(1, 3, 4))
np.save(d + "/b.npy", (np.arange(24, dtype=np.float64) / 2).reshape(2, 1, 3, 4))
`, dir]);
    assert.equal(run.status, 0, `NumPy failed: ${run.stderr}`);
    const src = calibrationFeeds(graph, dir, { batch: 2 });
    assert.equal(src.samples, 3);
    const batches = await collect(src);
    assert.deepEqual(batches.map((b) => b.x!.dims), [[2, 1, 3, 4], [1, 1, 3, 4]]);
    const first = batches[0]!.x!.data as Float32Array;
    assert.deepEqual(Array.from(first.subarray(0, 12)), Array.from({ length: 12 }, (_, i) => i));
    assert.deepEqual(Array.from(first.subarray(12, 24)), Array.from({ length: 12 }, (_, i) => i / 2));
    assert.deepEqual(Array.from((batches[1]!.x!.data as Float32Array).subarray(0, 3)), [6, 6.5, 7]);
  });

  it("reads ONNX TensorProto .pb files and honours --samples", async () => {
    const dir = tmpDir();
    for (let i = 0; i < 3; i++) {
      const t = makeTensor("x", { dataType: 1, dims: [1, 3, 4], data: Float32Array.from({ length: 12 }, (_, k) => i * 100 + k) });
      fs.writeFileSync(path.join(dir, `s${i}.pb`), toBinary(TensorProtoSchema, t));
    }
    const batches = await collect(calibrationFeeds(graph, dir, { samples: 2, batch: 8 }));
    assert.equal(batches.length, 1);
    assert.deepEqual(batches[0]!.x!.dims, [2, 1, 3, 4]);
    assert.equal((batches[0]!.x!.data as Float32Array)[12], 100);
  });

  it("decodes PNG and JPEG images with the declared preprocessing", async () => {
    const dir = tmpDir();
    // A 4×3 gray PNG with known values, and an RGB JPEG of a flat colour (lossy, so compared loosely).
    const gray = Uint8Array.from({ length: 12 }, (_, k) => k * 20);
    fs.writeFileSync(path.join(dir, "a.png"), encodePng({ width: 4, height: 3, data: gray, channels: 1, depth: 8 }));
    const rgba = new Uint8Array(4 * 3 * 4);
    for (let p = 0; p < 12; p++) rgba.set([200, 100, 50, 255], p * 4);
    fs.writeFileSync(path.join(dir, "b.jpg"), jpeg.encode({ width: 4, height: 3, data: rgba }, 95).data);
    const pre = { mean: [0.5], std: [0.25] };
    const batches = await collect(calibrationFeeds(graph, dir, { image: pre }));
    const x = batches[0]!.x!.data as Float32Array;
    for (let k = 0; k < 12; k++) assert.ok(Math.abs(x[k]! - ((k * 20) / 255 - 0.5) / 0.25) < 1e-6, `png pixel ${k}`);
    const luma = (0.299 * 200 + 0.587 * 100 + 0.114 * 50) / 255;
    for (let k = 12; k < 24; k++) assert.ok(Math.abs(x[k]! - (luma - 0.5) / 0.25) < 0.1, `jpeg pixel ${k - 12}: ${x[k]}`);
  });

  it("gives clear errors: missing folder, images without preprocessing, wrong shape, empty folder", () => {
    assert.throws(() => calibrationFeeds(graph, "/nonexistent/calib"), (e) => e instanceof ScalpelError && /does not exist/.test(e.message));
    const dir = tmpDir();
    fs.writeFileSync(path.join(dir, "a.png"), encodePng({ width: 4, height: 3, data: new Uint8Array(12), channels: 1, depth: 8 }));
    assert.throws(() => calibrationFeeds(graph, dir), /give the preprocessing/);
    const dir2 = tmpDir();
    fs.writeFileSync(path.join(dir2, "a.pb"), toBinary(TensorProtoSchema, makeTensor("x", { dataType: 1, dims: [5], data: new Float32Array(5) })));
    assert.throws(() => calibrationFeeds(graph, dir2), /has shape \[5\], but input 'x' takes \[1,3,4\]/);
    const dir3 = tmpDir();
    fs.writeFileSync(path.join(dir3, "a.npy"), "not numpy at all");
    assert.throws(() => calibrationFeeds(graph, dir3), /not a \.npy file/);
    assert.throws(() => calibrationFeeds(graph, tmpDir()), /holds no calibration samples/);
  });
});
