/**
 * Synthetic inputs, BatchNorm-calibrated: a temporary copy of the model in which every BatchNormalization
 * normalises with the statistics of the batch it sees instead of its running statistics (train-mode BN,
 * written with ReduceMean/Sub/Div so any onnxruntime runs it). Random inputs then produce activations whose
 * per-channel mean and variance after every BN are exactly those of the training data (β, γ²), while the
 * cross-channel structure still comes from the network's own weights. The user's model is untouched.
 */
import { create } from "@bufbuild/protobuf";
import {
  AttributeProtoSchema,
  AttributeProto_AttributeType as AT,
  GraphProtoSchema,
  ModelProtoSchema,
  NodeProtoSchema,
  type ModelProto,
  type NodeProto,
  type TensorProto,
} from "onnx-buf";
import { attrFloat } from "../../graph/attrs.ts";
import type { Graph } from "../../graph/graph.ts";
import type { ShapeMap } from "../../graph/shapes/infer.ts";
import { makeTensor, readTensor, toFloat64 } from "../../onnx/tensor.ts";
import { DataType } from "../../onnx/dtypes.ts";
import { storedValues, storedWeight } from "./layers.ts";

/**
 * Whether a BatchNormalization's running statistics are still their initial values (mean 0, variance 1, as
 * PyTorch and Keras create them): such a BN never saw data, so its statistics describe nothing, and what OBSPA
 * would take from them (calibrated activations, moments, a variance to restore) would describe another network
 * than the one the user runs. Models with random weights (tests, architecture exports) have them.
 */
export function untrainedStatistics(graph: Graph, bn: { inputs: readonly string[] }): boolean {
  const mean = storedValues(graph, bn.inputs[3]), variance = storedValues(graph, bn.inputs[4]);
  return !!mean && !!variance && mean.length > 0 && mean.every((v) => v === 0) && variance.every((v) => v === 1);
}

/**
 * The number of BatchNormalization nodes rewritten, and the copy. BatchNorms whose running statistics were
 * never trained (`untrainedStatistics`) are left as they are: they define the network being pruned.
 */
export function withBatchStatistics(graph: Graph, shapes: ShapeMap, proto: ModelProto = graph.model.proto): { proto: ModelProto; rewritten: number } {
  const g = proto.graph!;
  const opset = graph.opset("");
  const nodes: NodeProto[] = [];
  const inits: TensorProto[] = [];
  let rewritten = 0;
  for (const p of g.node) {
    const rank = shapes.types.get(p.input[0] ?? "")?.shape?.length;
    const weight = (name: string | undefined) => {
      const stored = storedWeight(graph, name);
      return stored ? graph.weight(stored) : undefined;
    };
    const gamma = weight(p.input[1]), beta = weight(p.input[2]);
    const isBn = p.opType === "BatchNormalization" && (p.domain === "" || p.domain === "ai.onnx");
    if (!isBn || !rank || rank < 2 || !gamma || !beta || p.output.length !== 1 || gamma.dataType !== DataType.FLOAT || untrainedStatistics(graph, { inputs: p.input })) {
      nodes.push(p);
      continue;
    }
    rewritten++;
    const x = p.input[0]!, y = p.output[0]!;
    const tag = `__obspa_bs${rewritten}`;
    const axes = [0, ...Array.from({ length: rank - 2 }, (_, i) => i + 2)];
    const shape = [1, Number(gamma.dims[0]), ...new Array(rank - 2).fill(1)];
    const eps = attrFloat(p, "epsilon", 1e-5);
    const f32 = (name: string, dims: number[], v: ArrayLike<number>) => makeTensor(name, { dataType: DataType.FLOAT, dims, data: Float32Array.from(v) });
    inits.push(f32(`${tag}_g`, shape, toFloat64(readTensor(graph.model, gamma))));
    inits.push(f32(`${tag}_b`, shape, toFloat64(readTensor(graph.model, beta))));
    inits.push(f32(`${tag}_eps`, [], [eps]));
    const reduce = (input: string, output: string): NodeProto[] => {
      if (opset >= 18) {
        inits.push(makeTensor(`${output}_axes`, { dataType: DataType.INT64, dims: [axes.length], data: BigInt64Array.from(axes.map(BigInt)) }));
        return [create(NodeProtoSchema, { opType: "ReduceMean", input: [input, `${output}_axes`], output: [output], name: output })];
      }
      return [
        create(NodeProtoSchema, {
          opType: "ReduceMean",
          input: [input],
          output: [output],
          name: output,
          attribute: [create(AttributeProtoSchema, { name: "axes", type: AT.INTS, ints: axes.map(BigInt) })],
        }),
      ];
    };
    const op = (opType: string, input: string[], output: string) => create(NodeProtoSchema, { opType, input, output: [output], name: output });
    nodes.push(
      ...reduce(x, `${tag}_mean`),
      op("Sub", [x, `${tag}_mean`], `${tag}_d`),
      op("Mul", [`${tag}_d`, `${tag}_d`], `${tag}_d2`),
      ...reduce(`${tag}_d2`, `${tag}_var`),
      op("Add", [`${tag}_var`, `${tag}_eps`], `${tag}_ve`),
      op("Sqrt", [`${tag}_ve`], `${tag}_sd`),
      op("Div", [`${tag}_d`, `${tag}_sd`], `${tag}_n`),
      op("Mul", [`${tag}_n`, `${tag}_g`], `${tag}_s`),
      op("Add", [`${tag}_s`, `${tag}_b`], y),
    );
  }
  if (!rewritten) return { proto, rewritten };
  // Drop what only the replaced BatchNorms read (running statistics, γ, β), so the copy stays clean.
  const read = new Set<string>();
  for (const n of nodes) for (const i of n.input) read.add(i);
  for (const o of g.output) read.add(o.name);
  const kept = g.initializer.filter((t) => read.has(t.name));
  const graphProto = create(GraphProtoSchema, { ...g, node: nodes, initializer: [...kept, ...inits], input: g.input.filter((i) => read.has(i.name) || !g.initializer.some((t) => t.name === i.name)) });
  return { proto: create(ModelProtoSchema, { ...proto, graph: graphProto }), rewritten };
}
