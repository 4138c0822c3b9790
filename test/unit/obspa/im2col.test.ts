/**
 * im2col must present a Conv's input exactly as the Conv reads it: W·x_row + b for every row equals
 * onnxruntime's output at that position, for strides, dilations, explicit and automatic padding, groups,
 * 1-D/2-D/3-D kernels. Also Gemm (transA/transB) and MatMul with batched inputs.
 */
import assert from "node:assert/strict";
import { create } from "@bufbuild/protobuf";
import {
  AttributeProtoSchema,
  AttributeProto_AttributeType as AT,
  GraphProtoSchema,
  ModelProtoSchema,
  NodeProtoSchema,
  OperatorSetIdProtoSchema,
  TypeProto_TensorSchema,
  TypeProtoSchema,
  ValueInfoProtoSchema,
} from "onnx-buf";
import { buildGraph } from "../../../analyzers/graph/graph.ts";
import { makeTensor, loadModel, encodeBytes } from "../../../analyzers/onnx/index.ts";
import { createSession, ort } from "../../../analyzers/runtime/ort.ts";
import { im2colRows, rowCount } from "../../../analyzers/pruning/obspa/im2col.ts";
import { biasValues, groupColumns, groupRows, weightLayer, weightMatrices } from "../../../analyzers/pruning/obspa/layers.ts";
import { gaussianRandom } from "../../../analyzers/pruning/obspa/feeds.ts";

type Attr = { name: string; ints?: number[]; i?: number; s?: string };

function attribute(a: Attr) {
  if (a.ints) return create(AttributeProtoSchema, { name: a.name, type: AT.INTS, ints: a.ints.map(BigInt) });
  if (a.s !== undefined) return create(AttributeProtoSchema, { name: a.name, type: AT.STRING, s: new TextEncoder().encode(a.s) });
  return create(AttributeProtoSchema, { name: a.name, type: AT.INT, i: BigInt(a.i!) });
}

const vi = (name: string, dims?: number[]) =>
  create(ValueInfoProtoSchema, {
    name,
    type: create(TypeProtoSchema, {
      value: { case: "tensorType", value: create(TypeProto_TensorSchema, { elemType: 1, shape: dims ? { dim: dims.map((d) => ({ value: { case: "dimValue" as const, value: BigInt(d) } })) } : undefined }) },
    }),
  });

/** A one-node model: op(x, W[, B]) with the given attributes and random weights. */
function oneNode(op: string, xDims: number[], wDims: number[], bias: number[] | undefined, attrs: Attr[], seed: number) {
  const g = gaussianRandom(seed);
  const w = Float32Array.from({ length: wDims.reduce((a, b) => a * b, 1) }, () => g());
  const inits = [makeTensor("W", { dataType: 1, dims: wDims, data: w })];
  if (bias) inits.push(makeTensor("B", { dataType: 1, dims: bias, data: Float32Array.from({ length: bias.reduce((a, b) => a * b, 1) }, () => g()) }));
  const node = create(NodeProtoSchema, { name: "n", opType: op, input: ["x", "W", ...(bias ? ["B"] : [])], output: ["y"], attribute: attrs.map(attribute) });
  const graph = create(GraphProtoSchema, { name: "g", node: [node], initializer: inits, input: [vi("x", xDims)], output: [vi("y")] });
  const proto = create(ModelProtoSchema, { irVersion: 8n, opsetImport: [create(OperatorSetIdProtoSchema, { domain: "", version: 13n })], graph });
  return loadModel(encodeBytes(ModelProtoSchema, proto), { name: `${op}.onnx` });
}

async function check(op: string, xDims: number[], wDims: number[], bias: number[] | undefined, attrs: Attr[]) {
  const model = oneNode(op, xDims, wDims, bias, attrs, xDims.length * 31 + wDims[0]!);
  const graph = buildGraph(model);
  const layer = weightLayer(graph, graph.nodes[0]!)!;
  assert.ok(layer, "recognised as a weight layer");
  const g = gaussianRandom(5);
  const x = Float32Array.from({ length: xDims.reduce((a, b) => a * b, 1) }, () => g());
  const session = await createSession(model);
  const y = (await session.run({ x: new ort.Tensor("float32", x, xDims) })).y!;
  await session.release();
  const act = { dims: xDims, data: x };
  const n = rowCount(layer, act);
  const cols = groupColumns(layer), rows = groupRows(layer);
  const mats = weightMatrices(graph, layer);
  const b = biasValues(graph, layer);
  const yd = y.data as Float32Array;
  let maxErr = 0;
  const positions = layer.kind === "conv" ? n / xDims[0]! : 0;
  for (let grp = 0; grp < layer.groups; grp++) {
    const xr = new Float64Array(n * cols);
    im2colRows(layer, act, grp, undefined, xr, "rows");
    // Also the transposed layout on a subset of rows.
    const pick = [0, n - 1, Math.floor(n / 2)];
    const xt = new Float64Array(cols * pick.length);
    im2colRows(layer, act, grp, pick, xt, "columns");
    pick.forEach((r, i) => {
      for (let c = 0; c < cols; c++) assert.equal(xt[c * pick.length + i], xr[r * cols + c]);
    });
    for (let r = 0; r < n; r++)
      for (let o = 0; o < rows; o++) {
        let s = b[grp * rows + o]!;
        for (let c = 0; c < cols; c++) s += mats[grp]![o * cols + c]! * xr[r * cols + c]!;
        const out = grp * rows + o;
        // Conv output [N, M, spatial]: row r = (sample, position). Gemm/MatMul: [rows, M] (transposed input for transA).
        const want = layer.kind === "conv" ? yd[(Math.floor(r / positions) * layer.outChannels + out) * positions + (r % positions)]! : yd[r * layer.outChannels + out]!;
        maxErr = Math.max(maxErr, Math.abs(s - want));
      }
  }
  assert.ok(maxErr < 1e-4, `${op} ${JSON.stringify(attrs)}: max error ${maxErr}`);
}

describe("obspa im2col reproduces the layer's own arithmetic", () => {
  it("Conv 2-D: padding, stride, dilation, bias", () => check("Conv", [2, 3, 9, 8], [4, 3, 3, 3], [4], [{ name: "pads", ints: [1, 0, 2, 1] }, { name: "strides", ints: [2, 1] }, { name: "dilations", ints: [1, 2] }]));
  it("Conv 2-D: auto_pad SAME_UPPER and SAME_LOWER with stride", async () => {
    await check("Conv", [1, 2, 7, 6], [3, 2, 4, 3], undefined, [{ name: "auto_pad", s: "SAME_UPPER" }, { name: "strides", ints: [2, 2] }]);
    await check("Conv", [1, 2, 7, 6], [3, 2, 4, 3], undefined, [{ name: "auto_pad", s: "SAME_LOWER" }, { name: "strides", ints: [2, 2] }]);
  });
  it("Conv 2-D: auto_pad VALID", () => check("Conv", [1, 2, 7, 6], [3, 2, 3, 3], [3], [{ name: "auto_pad", s: "VALID" }]));
  it("Conv grouped and depthwise", async () => {
    await check("Conv", [2, 6, 5, 5], [4, 3, 3, 3], [4], [{ name: "group", i: 2 }, { name: "pads", ints: [1, 1, 1, 1] }]);
    await check("Conv", [1, 4, 5, 5], [8, 1, 3, 3], undefined, [{ name: "group", i: 4 }, { name: "pads", ints: [1, 1, 1, 1] }]);
  });
  it("Conv 1-D and 3-D", async () => {
    await check("Conv", [2, 3, 11], [5, 3, 3], [5], [{ name: "pads", ints: [1, 1] }, { name: "strides", ints: [2] }]);
    await check("Conv", [1, 2, 4, 5, 3], [3, 2, 2, 3, 2], [3], [{ name: "pads", ints: [0, 1, 1, 1, 1, 0] }]);
  });
  it("Gemm (transB, transA) and MatMul with batch axes", async () => {
    await check("Gemm", [5, 7], [4, 7], [4], [{ name: "transB", i: 1 }]);
    await check("Gemm", [5, 7], [7, 4], [1, 4], []);
    await check("Gemm", [7, 5], [7, 4], undefined, [{ name: "transA", i: 1 }]);
    await check("MatMul", [2, 3, 6], [6, 4], undefined, []);
  });
});
