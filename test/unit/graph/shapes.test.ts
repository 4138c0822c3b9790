import assert from "node:assert/strict";
import fs from "node:fs";
import { fromBinary } from "@bufbuild/protobuf";
import { TensorProtoSchema } from "onnx-buf";
import { buildGraph } from "../../../analyzers/graph/graph.ts";
import { inferShapes, completeShapesWithRuntime } from "../../../analyzers/graph/shapes/index.ts";
import { evalDim, mulDims } from "../../../analyzers/graph/shapes/dims.ts";
import { loadModel } from "../../../analyzers/onnx/model.ts";
import { corpusModels, testDataSet } from "../../helpers/corpus.ts";
import { int64Tensor, modelBytes, node, valueInfo } from "../../helpers/build.ts";

describe("shape inference", () => {
  it("evaluates symbolic dims once their symbols are bound", () => {
    assert.equal(evalDim(mulDims(12, "batch"), { batch: 3 }), 36);
    assert.equal(evalDim("197*batch", { batch: 2 }), 394);
    assert.equal(evalDim("batch*seq", { batch: 2 }), undefined);
    assert.equal(evalDim(7, {}), 7);
  });

  it("agrees with the expected outputs of the ONNX backend test corpus wherever it decides", function () {
    this.timeout(120_000);
    let decided = 0;
    const wrong: string[] = [];
    for (const f of corpusModels()) {
      const data = testDataSet(f);
      if (!data) continue;
      const m = loadModel(f);
      const g = buildGraph(m);
      const inputShapes: Record<string, number[]> = {};
      const tensorInputs = m.proto.graph!.input.filter((i) => i.type?.value.case === "tensorType").map((i) => i.name);
      const allInputs = m.proto.graph!.input.map((i) => i.name);
      data.inputs.forEach((file, i) => {
        const name = allInputs[i];
        if (name && tensorInputs.includes(name)) inputShapes[name] = fromBinary(TensorProtoSchema, fs.readFileSync(file)).dims.map(Number);
      });
      const s = inferShapes(g, { inputShapes, useDeclared: false });
      data.outputs.forEach((file, i) => {
        const name = g.outputs[i];
        if (!name || m.proto.graph!.output[i]?.type?.value.case !== "tensorType") return;
        const got = s.types.get(name)?.shape;
        if (!got || got.some((d) => typeof d !== "number")) return; // undecided: left to the runtime fallback
        const want = fromBinary(TensorProtoSchema, fs.readFileSync(file)).dims.map(Number);
        decided++;
        if (JSON.stringify(got) !== JSON.stringify(want)) wrong.push(`${f} ${name}: ${JSON.stringify(got)} ≠ ${JSON.stringify(want)}`);
      });
    }
    assert.deepEqual(wrong, []);
    assert.ok(decided >= 850, `decided only ${decided} outputs`);
  });

  it("folds Shape→Gather→Unsqueeze→Concat→Reshape with a symbolic batch", () => {
    const bytes = modelBytes({
      inputs: [valueInfo("x", ["batch", 8, 4, 4])],
      outputs: [valueInfo("y", undefined)],
      initializers: [int64Tensor("zero", [0], []), int64Tensor("minus1", [-1])],
      nodes: [
        node("Shape", ["x"], ["s"]),
        node("Gather", ["s", "zero"], ["b"], { axis: 0 }),
        node("Unsqueeze", ["b"], ["b1"], { axes: [0] }),
        node("Concat", ["b1", "minus1"], ["shape"], { axis: 0 }),
        node("Reshape", ["x", "shape"], ["y"]),
      ],
      opset: 12,
    });
    const s = inferShapes(buildGraph(loadModel(bytes, { name: "t.onnx" })));
    assert.deepEqual(s.types.get("y")?.shape, ["batch", 128]);
    assert.deepEqual(s.values.get("shape")?.values, ["batch", -1]);
    assert.deepEqual(s.incomplete, []);
  });

  it("fills what static inference cannot decide from one onnxruntime run", async () => {
    const bytes = modelBytes({
      inputs: [valueInfo("x", [2, 6])],
      outputs: [valueInfo("y", undefined, 7)],
      nodes: [node("NonZero", ["x"], ["nz"]), node("Transpose", ["nz"], ["y"])],
    });
    const g = buildGraph(loadModel(bytes, { name: "t.onnx" }));
    const s = inferShapes(g);
    assert.deepEqual(s.incomplete, ["nz", "y"]);
    const resolved = await completeShapesWithRuntime(g, s);
    assert.deepEqual(resolved.sort(), ["nz", "y"]);
    assert.deepEqual(s.incomplete, []);
    assert.equal(s.types.get("nz")?.shape?.length, 2);
    assert.equal(s.source.get("nz"), "runtime");
  });
});
