/**
 * Tiny ONNX graphs for pruning tests, built concisely in code:
 *
 *   const g = new TestGraph(13);
 *   const x = g.input([1, 3, 8, 8]);
 *   const y = g.op("Conv", [x, g.weight([4, 3, 3, 3]), g.weight([4])], { pads: [1, 1, 1, 1] });
 *   g.output(g.op("Relu", [y]));
 *   const model = g.model();
 *
 * Weights are seeded pseudo-random (or given), names are generated unless passed.
 */
import { create } from "@bufbuild/protobuf";
import {
  AttributeProtoSchema,
  AttributeProto_AttributeType,
  GraphProtoSchema,
  ModelProtoSchema,
  NodeProtoSchema,
  OperatorSetIdProtoSchema,
  TensorProto_DataType,
  TensorShapeProto_DimensionSchema,
  TensorShapeProtoSchema,
  TypeProto_TensorSchema,
  TypeProtoSchema,
  ValueInfoProtoSchema,
  type AttributeProto,
  type NodeProto,
  type TensorProto,
  type ValueInfoProto,
} from "onnx-buf";
import { encodeBytes } from "../../analyzers/onnx/encode.ts";
import { loadModel, type Model } from "../../analyzers/onnx/model.ts";
import { makeTensor } from "../../analyzers/onnx/tensor.ts";
import { seededRandom } from "../../analyzers/runtime/ort.ts";

export type Attr = number | number[] | string | { f: number } | { floats: number[] } | TensorProto;

function attribute(name: string, v: Attr): AttributeProto {
  const A = AttributeProto_AttributeType;
  if (typeof v === "number") return create(AttributeProtoSchema, { name, type: A.INT, i: BigInt(v) });
  if (typeof v === "string") return create(AttributeProtoSchema, { name, type: A.STRING, s: new TextEncoder().encode(v) });
  if (Array.isArray(v)) return create(AttributeProtoSchema, { name, type: A.INTS, ints: v.map(BigInt) });
  if ("f" in v) return create(AttributeProtoSchema, { name, type: A.FLOAT, f: v.f });
  if ("floats" in v) return create(AttributeProtoSchema, { name, type: A.FLOATS, floats: v.floats });
  return create(AttributeProtoSchema, { name, type: A.TENSOR, t: v });
}

function valueInfo(name: string, dims: (number | string)[] | undefined, elemType: number = TensorProto_DataType.FLOAT): ValueInfoProto {
  const shape = dims
    ? create(TensorShapeProtoSchema, {
        dim: dims.map((d) => create(TensorShapeProto_DimensionSchema, { value: typeof d === "number" ? { case: "dimValue", value: BigInt(d) } : { case: "dimParam", value: d } })),
      })
    : undefined;
  return create(ValueInfoProtoSchema, { name, type: create(TypeProtoSchema, { value: { case: "tensorType", value: create(TypeProto_TensorSchema, { elemType, shape }) } }) });
}

export class TestGraph {
  readonly nodes: NodeProto[] = [];
  readonly inits: TensorProto[] = [];
  readonly inputs: ValueInfoProto[] = [];
  readonly outputs: ValueInfoProto[] = [];
  private readonly counters = new Map<string, number>();
  private readonly rnd: () => number;

  constructor(
    readonly opset = 13,
    seed = 7,
  ) {
    this.rnd = seededRandom(seed);
  }

  /** Names are numbered per prefix: x0, x1…; w0, w1…; relu_0… */
  private fresh(prefix: string): string {
    const n = this.counters.get(prefix) ?? 0;
    this.counters.set(prefix, n + 1);
    return `${prefix}${n}`;
  }

  input(shape: (number | string)[], name = this.fresh("x"), elemType: number = TensorProto_DataType.FLOAT): string {
    this.inputs.push(valueInfo(name, shape, elemType));
    return name;
  }

  /** A float initializer: seeded values in [-1, 1), a constant, or given values. */
  weight(dims: number[], values?: number | ArrayLike<number> | ((i: number) => number), name = this.fresh("w")): string {
    const n = dims.reduce((a, b) => a * b, 1);
    const data = new Float32Array(n);
    for (let i = 0; i < n; i++)
      data[i] = values === undefined ? this.rnd() * 2 - 1 : typeof values === "number" ? values : typeof values === "function" ? values(i) : values[i]!;
    this.inits.push(makeTensor(name, { dataType: TensorProto_DataType.FLOAT, dims, data }));
    return name;
  }

  /** A positive float initializer (variances). */
  positive(dims: number[], name = this.fresh("w")): string {
    return this.weight(dims, () => 0.5 + this.rnd(), name);
  }

  /** An int64 initializer (shapes, axes, indices). */
  ints(values: number[], dims: number[] = [values.length], name = this.fresh("c")): string {
    this.inits.push(makeTensor(name, { dataType: TensorProto_DataType.INT64, dims, data: BigInt64Array.from(values.map(BigInt)) }));
    return name;
  }

  /** A weight held by a Constant node instead of an initializer. */
  constantNode(dims: number[], values?: ArrayLike<number>, name = this.fresh("k")): string {
    const n = dims.reduce((a, b) => a * b, 1);
    const data = new Float32Array(n);
    for (let i = 0; i < n; i++) data[i] = values ? values[i]! : this.rnd() * 2 - 1;
    this.nodes.push(create(NodeProtoSchema, { opType: "Constant", name: `Constant_${name}`, output: [name], attribute: [attribute("value", makeTensor(name, { dataType: TensorProto_DataType.FLOAT, dims, data }))] }));
    return name;
  }

  /** Adds a node; returns its outputs. */
  opN(opType: string, inputs: string[], attrs: Record<string, Attr> = {}, outputs = 1, domain = ""): string[] {
    const outs = Array.from({ length: outputs }, () => this.fresh(`${opType.toLowerCase()}_`));
    this.nodes.push(
      create(NodeProtoSchema, {
        opType,
        domain,
        input: inputs,
        output: outs,
        name: `/${opType}_${this.nodes.length}`,
        attribute: Object.entries(attrs).map(([k, v]) => attribute(k, v)),
      }),
    );
    return outs;
  }

  op(opType: string, inputs: string[], attrs: Record<string, Attr> = {}, domain = ""): string {
    return this.opN(opType, inputs, attrs, 1, domain)[0]!;
  }

  output(name: string, elemType: number = TensorProto_DataType.FLOAT): void {
    this.outputs.push(valueInfo(name, undefined, elemType));
  }

  model(name = "test.onnx"): Model {
    const proto = create(ModelProtoSchema, {
      irVersion: 8n,
      producerName: "onnx-scalpel-tests",
      opsetImport: [
        create(OperatorSetIdProtoSchema, { domain: "", version: BigInt(this.opset) }),
        ...[...new Set(this.nodes.map((n) => n.domain).filter((d) => d))].map((domain) => create(OperatorSetIdProtoSchema, { domain, version: 1n })),
      ],
      graph: create(GraphProtoSchema, { name: "g", node: this.nodes, input: this.inputs, output: this.outputs, initializer: this.inits }),
    });
    return loadModel(encodeBytes(ModelProtoSchema, proto), { name });
  }

  // ---- common blocks --------------------------------------------------------------------------

  conv(x: string, cin: number, cout: number, k = 3, attrs: Record<string, Attr> = {}, group = 1): string {
    const pad = (k - 1) >> 1;
    return this.op("Conv", [x, this.weight([cout, cin / group, k, k]), this.weight([cout])], { pads: [pad, pad, pad, pad], group, ...attrs });
  }

  bn(x: string, c: number): string {
    return this.op("BatchNormalization", [x, this.weight([c]), this.weight([c]), this.weight([c], (i) => 0.1 * Math.sin(i)), this.positive([c])]);
  }

  linear(x: string, fin: number, fout: number, bias = true): string {
    const y = this.op("MatMul", [x, this.weight([fin, fout])]);
    return bias ? this.op("Add", [y, this.weight([fout])]) : y;
  }
}
