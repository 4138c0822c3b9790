/**
 * Graph surgery for ablations, on a copy of the model (the original proto is never modified; weights are
 * shared, not copied). One edited model serves every configuration of a sweep; with its zero feeds (all-false
 * masks, zero additive masks) it computes exactly what the original computes.
 *
 * - Residual stream point L (L = blocks run before it; 0 = embedding output):
 *     h' = Where(scalpel.cama.mask.L [b, n, 1] bool, scalpel.cama.values.L [b, n, d], h)
 *   and every consumer of h reads h'. h itself is exposed as output scalpel.resid.L (to collect means).
 *   A point that is the sum inside a fused Skip*LayerNormalization is first un-fused (Add + LayerNormalization),
 *   so that the norm reads the replaced value.
 * - Attention of block l: scores' = scores + scalpel.attn.mask.l [q, k] before the Softmax (whose output is
 *   exposed as scalpel.probs.l), or the mask (unsqueezed to [1, 1, q, k]) added to a fused op's mask/bias input.
 * - scalpel.pred = ArgMax of the logits at the last position; scalpel.last_logits the logits there.
 */
import { create } from "@bufbuild/protobuf";
import {
  AttributeProtoSchema,
  AttributeProto_AttributeType as AT,
  NodeProtoSchema,
  TensorShapeProtoSchema,
  TensorShapeProto_DimensionSchema,
  TypeProtoSchema,
  TypeProto_TensorSchema,
  ValueInfoProtoSchema,
  type AttributeProto,
  type NodeProto,
  type TensorProto,
  type ValueInfoProto,
} from "onnx-buf";
import { ScalpelError } from "../onnx/errors.ts";
import { DataType } from "../onnx/dtypes.ts";
import { makeTensor } from "../onnx/tensor.ts";
import type { Model } from "../onnx/model.ts";
import { buildGraph, type Graph, type Node } from "../graph/graph.ts";
import { discoverStructure, type Structure } from "./structure.ts";

export interface AblationIO {
  readonly tokens: string;
  readonly pred: string;
  readonly lastLogits: string;
  /** Per stream point L = 0…N. */
  readonly resid: readonly string[];
  readonly camaMask: readonly string[];
  readonly camaValues: readonly string[];
  /** Per block. */
  readonly attnMask: readonly string[];
  /** Per block; undefined where a fused op hides the probabilities. */
  readonly probs: readonly (string | undefined)[];
}

export interface EditedModel {
  readonly model: Model;
  readonly structure: Structure;
  readonly io: AblationIO;
}

export function prepareAblationModel(model: Model, structure?: Structure): EditedModel {
  const g = buildGraph(model);
  const st = structure ?? discoverStructure(g);
  if (g.opset("") < 9) throw new ScalpelError(model.name, `ablations need ai.onnx opset ≥ 9 (Where); the model imports opset ${g.opset("")}`);
  const opset = g.opset("");
  const ft = st.floatType;
  const nodes: NodeProto[] = g.nodes.map((n) => n.proto);
  const replaced = new Map<NodeProto, NodeProto>(); // original → edited copy
  const editable = (n: Node): NodeProto => {
    let c = replaced.get(n.proto);
    if (!c) {
      c = create(NodeProtoSchema, { ...n.proto, input: [...n.proto.input], output: [...n.proto.output], attribute: [...n.proto.attribute] });
      replaced.set(n.proto, c);
      nodes[n.index] = c;
    }
    return c;
  };
  const added: NodeProto[] = [];
  const inits: TensorProto[] = [];
  const inputs: ValueInfoProto[] = [];
  const outputs: ValueInfoProto[] = [];
  let uid = 0;
  const node = (opType: string, input: string[], output: string[], attribute: AttributeProto[] = [], domain = "") => {
    const n = create(NodeProtoSchema, { name: `scalpel/${opType}_${uid++}`, opType, domain, input, output, attribute });
    added.push(n);
    return n;
  };
  const intAttr = (name: string, i: number) => create(AttributeProtoSchema, { name, type: AT.INT, i: BigInt(i) });
  const floatAttr = (name: string, f: number) => create(AttributeProtoSchema, { name, type: AT.FLOAT, f });
  const intsAttr = (name: string, ints: number[]) => create(AttributeProtoSchema, { name, type: AT.INTS, ints: ints.map(BigInt) });
  const unsqueeze = (x: string, axes: number[], out: string) => {
    if (opset >= 13) {
      const a = `scalpel/axes_${uid++}`;
      inits.push(makeTensor(a, { dataType: DataType.INT64, dims: [axes.length], data: BigInt64Array.from(axes.map(BigInt)) }));
      node("Unsqueeze", [x, a], [out]);
    } else node("Unsqueeze", [x], [out], [intsAttr("axes", axes)]);
  };
  // Reads of a renamed value: every consumer except the listed new nodes.
  const redirect = (from: string, to: string, except: Set<NodeProto>) => {
    for (const u of g.consumers(from)) {
      if (u.slot < 0) throw new ScalpelError(model.name, `ablations: residual '${from}' is read inside a subgraph of '${u.node.name}'; not supported`);
      const c = editable(u.node);
      if (except.has(c)) continue;
      c.input[u.slot] = to;
    }
  };

  // --- residual stream points ------------------------------------------------------------------------
  const resid: string[] = [], camaMask: string[] = [], camaValues: string[] = [];
  st.stream.forEach((p, L) => {
    const mask = `scalpel.cama.mask.${L}`, values = `scalpel.cama.values.${L}`, out = `scalpel.resid.${L}`;
    let h: string;
    let hNew: string;
    if (p.fusedIn) {
      // Un-fuse: sum = input + skip (+ bias); h' = Where(...); norm = LayerNormalization(h').
      const f = g.nodes[p.fusedIn.index]!;
      const c = editable(f);
      if ((c.output[1] && g.consumers(c.output[1]).length) || (c.output[2] && g.consumers(c.output[2]).length))
        throw new ScalpelError(model.name, `ablations: fused '${f.name}' has its mean/inv-std outputs in use; cannot un-fuse it`);
      const sum0 = `scalpel/sum0_${L}`;
      node("Add", [c.input[0]!, c.input[1]!], [sum0]);
      h = sum0;
      if (c.input[4]) {
        h = `scalpel/sum_${L}`;
        node("Add", [sum0, c.input[4]], [h]);
      }
      hNew = c.output[3] || `scalpel/h_${L}`;
      const eps = c.attribute.find((a) => a.name === "epsilon")?.f ?? 1e-12;
      const simplified = f.opType === "SkipSimplifiedLayerNormalization";
      const lnInputs = simplified ? [hNew, c.input[2]!] : [hNew, c.input[2]!, ...(c.input[3] ? [c.input[3]] : [])];
      node(simplified ? "SimplifiedLayerNormalization" : "LayerNormalization", lnInputs, [c.output[0]!], [intAttr("axis", -1), floatAttr("epsilon", eps)]);
      c.opType = "__scalpel_removed__"; // dropped below
      node("Where", [mask, values, h], [hNew]);
    } else {
      h = p.tensor!;
      hNew = `scalpel/h_${L}`;
      const w = node("Where", [mask, values, h], [hNew]);
      const id = node("Identity", [h], [out]);
      redirect(h, hNew, new Set([w, id])); // a graph output named h keeps the unreplaced value
    }
    if (p.fusedIn) node("Identity", [h], [out]);
    resid.push(out);
    camaMask.push(mask);
    camaValues.push(values);
    inputs.push(valueInfo(mask, DataType.BOOL, [`${mask}.0`, `${mask}.1`, `${mask}.2`]));
    inputs.push(valueInfo(values, ft, [`${values}.0`, `${values}.1`, `${values}.2`]));
    outputs.push(valueInfo(out, ft, undefined));
  });

  // --- attention masks -----------------------------------------------------------------------------
  const attnMask: string[] = [], probs: (string | undefined)[] = [];
  st.blocks.forEach((b, l) => {
    const m = `scalpel.attn.mask.${l}`;
    attnMask.push(m);
    inputs.push(valueInfo(m, ft, [`${m}.0`, `${m}.1`]));
    const site = b.attention;
    if (site.kind === "softmax") {
      const sm = editable(site.node);
      const masked = `scalpel/scores_${l}`;
      node("Add", [site.scores, m], [masked]);
      sm.input[0] = masked;
      const po = `scalpel.probs.${l}`;
      node("Identity", [site.probs], [po]);
      outputs.push(valueInfo(po, ft, undefined));
      probs.push(po);
    } else {
      const c = editable(site.node);
      const m4 = `scalpel/mask4_${l}`;
      unsqueeze(m, [0, 1], m4);
      while (c.input.length <= site.maskSlot) c.input.push("");
      const existing = c.input[site.maskSlot];
      if (existing) {
        const et = g.declaredTypes.get(existing)?.dataType;
        let base = existing;
        if (et === DataType.BOOL) {
          // ONNX Attention's boolean mask (true = attend) → additive 0 / −inf.
          const zero = `scalpel/zero_${l}`, ninf = `scalpel/ninf_${l}`;
          inits.push(makeTensor(zero, { dataType: ft, dims: [], data: scalarOf(ft, 0) }));
          inits.push(makeTensor(ninf, { dataType: ft, dims: [], data: scalarOf(ft, -Infinity) }));
          base = `scalpel/boolmask_${l}`;
          node("Where", [existing, zero, ninf], [base]);
        }
        const sum = `scalpel/bias_${l}`;
        node("Add", [base, m4], [sum]);
        c.input[site.maskSlot] = sum;
      } else c.input[site.maskSlot] = m4;
      probs.push(undefined);
    }
  });

  // --- prediction at the last position -------------------------------------------------------------
  let last = st.logits;
  if (st.logitsRank === 3) {
    const idx = `scalpel/last_index`;
    inits.push(makeTensor(idx, { dataType: DataType.INT64, dims: [], data: BigInt64Array.of(-1n) }));
    last = "scalpel.last_logits";
    node("Gather", [st.logits, idx], [last], [intAttr("axis", 1)]);
  } else {
    node("Identity", [st.logits], ["scalpel.last_logits"]);
    last = "scalpel.last_logits";
  }
  node("ArgMax", [last], ["scalpel.pred"], [intAttr("axis", -1), intAttr("keepdims", 0)]);
  outputs.push(valueInfo("scalpel.last_logits", ft, undefined));
  outputs.push(valueInfo("scalpel.pred", DataType.INT64, undefined));

  // Added nodes go at the end; onnxruntime sorts topologically itself, and our graph IR does too.
  const gp = model.proto.graph!;
  const graph = {
    ...gp,
    node: [...nodes.filter((n) => n.opType !== "__scalpel_removed__"), ...added],
    initializer: [...gp.initializer, ...inits],
    input: [...gp.input, ...inputs],
    output: [...gp.output, ...outputs],
  };
  const proto = { ...model.proto, graph };
  // ORT's contrib (Simplified)LayerNormalization lives in the onnx domain; nothing else to import.
  const edited: Model = { ...model, proto, name: model.name };
  return {
    model: edited,
    structure: st,
    io: { tokens: st.tokenInput, pred: "scalpel.pred", lastLogits: "scalpel.last_logits", resid, camaMask, camaValues, attnMask, probs },
  };
}

function scalarOf(ft: number, v: number): Float32Array | Uint16Array {
  if (ft === DataType.FLOAT16) return Uint16Array.of(v === -Infinity ? 0xfc00 : 0);
  return Float32Array.of(v);
}

function valueInfo(name: string, elemType: number, dims: readonly string[] | undefined): ValueInfoProto {
  const shape = dims
    ? create(TensorShapeProtoSchema, { dim: dims.map((d) => create(TensorShapeProto_DimensionSchema, { value: { case: "dimParam", value: d } })) })
    : undefined;
  return create(ValueInfoProtoSchema, {
    name,
    type: create(TypeProtoSchema, { value: { case: "tensorType", value: create(TypeProto_TensorSchema, { elemType, shape }) } }),
  });
}

export type { Graph };
