import assert from "node:assert/strict";
import fs from "node:fs";
import { execFileSync } from "node:child_process";
import { fromBinary, create } from "@bufbuild/protobuf";
import { TensorProtoSchema, TensorProto_DataType as DT } from "onnx-buf";
import {
  bfloat16ToNumber,
  float16ToNumber,
  makeTensor,
  numberToBfloat16,
  numberToFloat16,
  packSubByte,
  readTensor,
  setTensorData,
  sliceAxis,
  toFloat64,
  unpackSubByte,
} from "../../../analyzers/onnx/tensor.ts";
import { loadModel } from "../../../analyzers/onnx/model.ts";
import { corpusModels, testDataSet } from "../../helpers/corpus.ts";
import { modelBytes, tinyCnn } from "../../helpers/build.ts";

const mem = loadModel(modelBytes(tinyCnn()), { name: "mem.onnx" });

describe("tensors", () => {
  it("converts float16 and bfloat16 both ways, with round-to-nearest-even", () => {
    for (const v of [0, -0, 1, -2.5, 65504, 6.103515625e-5, 5.960464477539063e-8, 0.1, Infinity, -Infinity])
      assert.equal(float16ToNumber(numberToFloat16(v)), v === 0.1 ? 0.0999755859375 : v);
    assert.ok(Number.isNaN(float16ToNumber(numberToFloat16(NaN))));
    assert.equal(numberToFloat16(1 + 2 ** -11), 0x3c00, "a tie rounds to even");
    assert.equal(bfloat16ToNumber(numberToBfloat16(3.140625)), 3.140625);
    assert.equal(bfloat16ToNumber(numberToBfloat16(1 + 2 ** -8)), 1, "a tie rounds to even");
  });

  it("packs and unpacks 4-bit and 2-bit elements low bits first", () => {
    assert.deepEqual([...packSubByte(Uint8Array.of(1, 2, 3), 4)], [0x21, 0x03]);
    assert.deepEqual([...unpackSubByte(Uint8Array.of(0x21, 0x03), 4, 3)], [1, 2, 3]);
    assert.deepEqual([...unpackSubByte(packSubByte(Uint8Array.of(3, 0, 1, 2, 3), 2), 2, 5)], [3, 0, 1, 2, 3]);
    const int4 = makeTensor("q", { dataType: DT.INT4, dims: [3], data: Uint8Array.of(0xf, 0x7, 0x8) });
    assert.deepEqual([...toFloat64(readTensor(mem, int4))], [-1, 7, -8]);
  });

  it("reads typed fields and raw_data to the same values", () => {
    const typed = create(TensorProtoSchema, { name: "t", dataType: DT.FLOAT16, dims: [2n], int32Data: [numberToFloat16(1.5), numberToFloat16(-3)] });
    assert.deepEqual([...toFloat64(readTensor(mem, typed))], [1.5, -3]);
    const raw = makeTensor("r", readTensor(mem, typed));
    assert.deepEqual([...toFloat64(readTensor(mem, raw))], [1.5, -3]);
    const i64 = create(TensorProtoSchema, { name: "i", dataType: DT.INT64, dims: [2n], int64Data: [5n, -7n] });
    assert.deepEqual([...toFloat64(readTensor(mem, i64))], [5, -7]);
  });

  it("rejects data whose size does not match the shape, naming the tensor", () => {
    const bad = create(TensorProtoSchema, { name: "w", dataType: DT.FLOAT, dims: [4n], rawData: new Uint8Array(12) });
    assert.throws(() => readTensor(mem, bad), /tensor 'w' has 12 bytes of data but shape \[4\]/);
  });

  it("slices along an axis and writes the result back", () => {
    const td = { dataType: DT.FLOAT, dims: [2, 3, 2], data: Float32Array.from({ length: 12 }, (_, i) => i) };
    const s = sliceAxis(td, 1, [2, 0]);
    assert.deepEqual(s.dims, [2, 2, 2]);
    assert.deepEqual([...(s.data as Float32Array)], [4, 5, 0, 1, 10, 11, 6, 7]);
    const t = makeTensor("w", td);
    setTensorData(t, s);
    assert.deepEqual(t.dims, [2n, 2n, 2n]);
    assert.deepEqual([...toFloat64(readTensor(mem, t))], [4, 5, 0, 1, 10, 11, 6, 7]);
    const strings = sliceAxis({ dataType: DT.STRING, dims: [3], data: ["a", "b", "c"].map((x) => new TextEncoder().encode(x)) }, 0, [2]);
    assert.deepEqual((strings.data as Uint8Array[]).map((b) => new TextDecoder().decode(b)), ["c"]);
  });

  it("decodes every numeric tensor of the ONNX test corpus exactly as NumPy does", function () {
    this.timeout(300_000);
    // Every input/output .pb of the corpus, decoded by onnx.numpy_helper, summarised per file.
    const files = corpusModels().flatMap((m) => {
      const d = testDataSet(m);
      return d ? [...d.inputs, ...d.outputs] : [];
    });
    const script = `
import sys, json, numpy as np, onnx
from onnx import numpy_helper
out = {}
for f in sys.stdin.read().split("\\n"):
    if not f: continue
    t = onnx.TensorProto()
    try:
        t.ParseFromString(open(f, "rb").read())
        a = numpy_helper.to_array(t)
    except Exception:
        continue
    if a.dtype.kind not in "fiub": continue
    a = a.astype(np.float64).ravel()
    fin = a[np.isfinite(a)]
    out[f] = [int(a.size), float(fin.sum()), float(np.abs(fin).max()) if fin.size else 0.0, int((~np.isfinite(a)).sum())]
print(json.dumps(out))
`;
    const ref = JSON.parse(execFileSync("/usr/bin/python3", ["-c", script], { input: files.join("\n"), maxBuffer: 1 << 28 }).toString()) as Record<string, [number, number, number, number]>;
    let compared = 0;
    const wrong: string[] = [];
    for (const [f, [size, sum, absMax, nonFinite]] of Object.entries(ref)) {
      const t = fromBinary(TensorProtoSchema, fs.readFileSync(f));
      const v = toFloat64(readTensor(mem, t));
      let s = 0, m = 0, nf = 0;
      for (const x of v) {
        if (!Number.isFinite(x)) nf++;
        else {
          s += x;
          m = Math.max(m, Math.abs(x));
        }
      }
      const close = (a: number, b: number) => Math.abs(a - b) <= 1e-9 * Math.max(1, Math.abs(b));
      if (v.length !== size || !close(s, sum) || !close(m, absMax) || nf !== nonFinite) wrong.push(`${f}: ${v.length}/${size} ${s}/${sum}`);
      compared++;
    }
    assert.ok(compared > 1500, `compared ${compared} tensors`);
    assert.deepEqual(wrong, []);
  });
});
