/**
 * Transformer structure discovery on the ONNX graph itself (no per-model name tables).
 *
 * Supported patterns:
 * - Residual stream: the chain of residual Adds starting at the token embedding. A residual Add is
 *   Add(h, f) where f value-depends on h (dependence through Shape/Size only does not count); the stream
 *   starts at h of the first such Add that value-depends on the token input. ONNX Runtime's fused
 *   SkipLayerNormalization / SkipSimplifiedLayerNormalization also count (their output 3 is the sum).
 * - Blocks: a block starts at each residual op whose branch contains attention; the residual ops after it
 *   without attention (the MLP) belong to it. stream[L] is the residual after L blocks (stream[0] is the
 *   embedding output, stream[N] the input of the final norm).
 * - Attention, one per block: the Softmax whose output is the first input of a MatMul (probs @ V) — its
 *   input is the scores tensor; or one fused op whose additive mask/bias input takes our mask:
 *   com.microsoft Attention / MultiHeadAttention (attention_bias, input 5), com.microsoft GroupQueryAttention
 *   (attention_bias, input 10; not tested on a real model here), ONNX Attention (opset 23+, attn_mask, input 3).
 * Anything else is refused with a message saying which pattern was not found.
 */
import { ScalpelError } from "../onnx/errors.ts";
import { DataType } from "../onnx/dtypes.ts";
import type { Graph, Node } from "../graph/graph.ts";

export type AttentionSite =
  | { readonly kind: "softmax"; readonly node: Node; readonly scores: string; readonly probs: string }
  | { readonly kind: "fused"; readonly node: Node; readonly op: string; readonly maskSlot: number };

export interface StreamPoint {
  /** The residual tensor, or undefined when it is the not-emitted sum output of a fused Skip*LayerNormalization. */
  readonly tensor: string | undefined;
  /** Set when the tensor is the sum computed inside a fused Skip*LayerNormalization (output 3). */
  readonly fusedIn: Node | undefined;
}

export interface Block {
  readonly index: number;
  /** The residual ops (Add / Skip*LayerNormalization) of this block, attention first. */
  readonly residualOps: readonly Node[];
  readonly attention: AttentionSite;
}

export interface ExtraInput {
  readonly name: string;
  readonly fill: "ones" | "positions";
  readonly dataType: number;
}

export interface Structure {
  readonly modelName: string;
  /** The graph input holding token ids ([batch, sequence]). */
  readonly tokenInput: string;
  readonly tokenType: number;
  /** Other inputs the runner fills (attention_mask with ones, position_ids with 0…n−1). */
  readonly extraInputs: readonly ExtraInput[];
  readonly logits: string;
  /** 3: [batch, sequence, vocab]; 2: [batch, vocab] (last position only). */
  readonly logitsRank: 2 | 3;
  /** stream[L] = the residual stream after L blocks; length = blocks + 1. */
  readonly stream: readonly StreamPoint[];
  readonly blocks: readonly Block[];
  /** Element type of the residual stream (float or float16). */
  readonly floatType: number;
  /** Human-readable lines describing what was found. */
  readonly notes: readonly string[];
}

const VALUE_BARRIERS = new Set(["Shape", "Size"]);
const PASS_THROUGH = new Set(["Cast", "Identity", "Dropout"]);
const FUSED_ATTENTION: Record<string, { slot: number; minOpset?: number }> = {
  "com.microsoft:Attention": { slot: 5 },
  "com.microsoft:MultiHeadAttention": { slot: 5 },
  "com.microsoft:GroupQueryAttention": { slot: 10 },
  ":Attention": { slot: 3, minOpset: 23 },
};
const SKIP_LN = new Set(["SkipLayerNormalization", "SkipSimplifiedLayerNormalization"]);
const INT_TYPES = new Set<number>([DataType.INT64, DataType.INT32]);

export function discoverStructure(g: Graph): Structure {
  const refuse = (problem: string): never => {
    throw new ScalpelError(g.name, `ablations: ${problem}`);
  };
  const notes: string[] = [];
  const isConst = (name: string) => g.weight(name) !== undefined;

  // --- inputs --------------------------------------------------------------------------------------
  const tokenInput = findTokenInput(g, refuse);
  const tokenType = g.declaredTypes.get(tokenInput)?.dataType ?? DataType.INT64;
  const extraInputs: ExtraInput[] = [];
  for (const name of g.inputs) {
    if (name === tokenInput) continue;
    const dataType = g.declaredTypes.get(name)?.dataType ?? DataType.INT64;
    if (/attention_mask|input_mask/i.test(name)) extraInputs.push({ name, fill: "ones", dataType });
    else if (/position_ids/i.test(name)) extraInputs.push({ name, fill: "positions", dataType });
    else if (/past|cache/i.test(name))
      refuse(`input '${name}' looks like a KV cache; export the model without past key/values (one full forward pass per prompt)`);
    else refuse(`input '${name}' is neither the token ids ('${tokenInput}'), an attention_mask nor position_ids; it cannot be filled`);
  }

  // --- logits --------------------------------------------------------------------------------------
  const floatOuts = g.outputs.filter((o) => {
    const t = g.declaredTypes.get(o)?.dataType;
    return t === undefined || t === DataType.FLOAT || t === DataType.FLOAT16;
  });
  const logits = g.outputs.find((o) => /logits/i.test(o)) ?? floatOuts[0] ?? refuse("the graph has no float output to read logits from");
  const lshape = g.declaredTypes.get(logits)?.shape;
  const logitsRank = lshape?.length === 2 ? 2 : 3;
  if (lshape && lshape.length !== 2 && lshape.length !== 3) refuse(`output '${logits}' has rank ${lshape.length}; expected logits [batch, sequence, vocab] or [batch, vocab]`);

  // --- value dependence (ignoring Shape/Size) --------------------------------------------------------
  const descendants = (start: string): Set<string> => {
    const seen = new Set<string>([start]);
    const stack = [start];
    while (stack.length) {
      const v = stack.pop()!;
      // The outputs of a fused Skip*LayerNormalization are all functions of its sum (output 3).
      const p = g.producer(v);
      if (p && SKIP_LN.has(p.opType) && p.outputs[3] === v)
        for (const o of p.outputs) if (o && !seen.has(o)) (seen.add(o), stack.push(o));
      for (const u of g.consumers(v)) {
        if (VALUE_BARRIERS.has(u.node.opType)) continue;
        for (const o of u.node.outputs) if (o && !seen.has(o)) (seen.add(o), stack.push(o));
      }
    }
    return seen;
  };
  const fromTokens = descendants(tokenInput);

  // --- stream start: skip input of the first residual Add ------------------------------------------
  let found: string | undefined;
  for (const n of g.nodes) {
    if (!isResidualCandidate(n)) continue;
    const [a, b] = [n.inputs[0], n.inputs[1]];
    if (!a || !b || isConst(a) || isConst(b)) continue;
    if (fromTokens.has(a) && descendants(a).has(b)) found = a;
    else if (fromTokens.has(b) && descendants(b).has(a)) found = b;
    if (found) break;
  }
  const start: string = found ?? refuse("no residual stream found: no Add(h, f(h)) or Skip*LayerNormalization downstream of the token input");

  // --- follow the chain ----------------------------------------------------------------------------
  const fromStart = descendants(start);
  const startProducer = g.producer(start);
  const stream: StreamPoint[] = [
    { tensor: start, fusedIn: startProducer && SKIP_LN.has(startProducer.opType) && startProducer.outputs[3] === start ? startProducer : undefined },
  ];
  const residualOps: Node[] = [];
  const prevIndex: number[] = []; // index of the node that produced the stream before each residual op
  let cur: StreamPoint = stream[0]!;
  let curNodeIndex = g.producer(start)?.index ?? -1;
  for (;;) {
    const next = nextResidual(cur);
    if (!next) break;
    residualOps.push(next.op);
    prevIndex.push(curNodeIndex);
    cur = next.out;
    curNodeIndex = next.op.index;
    if (residualOps.length > 100000) refuse("residual chain does not terminate");
  }
  if (residualOps.length === 0) refuse("the residual stream has no residual Add after the embedding");

  function nextResidual(p: StreamPoint): { op: Node; out: StreamPoint } | undefined {
    if (!p.tensor) return undefined; // a fused sum that is not emitted: the chain ends here
    const found: { op: Node; out: StreamPoint }[] = [];
    for (const u of g.consumers(p.tensor)) {
      const n = u.node;
      if (n.opType === "Add" && n.domain === "" && (u.slot === 0 || u.slot === 1)) {
        const other = n.inputs[1 - u.slot]!;
        if (other === p.tensor || isConst(other) || !fromStart.has(other)) continue;
        found.push({ op: n, out: { tensor: n.outputs[0]!, fusedIn: undefined } });
      } else if (SKIP_LN.has(n.opType) && n.domain === "com.microsoft" && (u.slot === 0 || u.slot === 1)) {
        const other = n.inputs[1 - u.slot]!;
        if (!other || !fromStart.has(other)) continue;
        found.push({ op: n, out: { tensor: n.outputs[3] || undefined, fusedIn: n } });
      }
    }
    if (found.length > 1)
      refuse(`the residual stream '${p.tensor}' feeds ${found.length} residual ops (${found.map((f) => f.op.name).join(", ")}); cannot tell which continues the stream`);
    return found[0];
  }

  // --- attention per residual op, then blocks ------------------------------------------------------
  const sites = residualOps.map((op, i) => findAttention(op, prevIndex[i]!));
  if (sites.every((x) => !x))
    refuse(`no attention found along the residual stream (${residualOps.length} residual ops, none with a Softmax feeding a MatMul with V or a supported fused attention op)`);
  const blocks: Block[] = [];
  const streamAtBlock: StreamPoint[] = [];
  let pending: { ops: Node[]; attention: AttentionSite } | undefined;
  const outs = [stream[0]!, ...residualOps.map((op) => (op.opType === "Add" ? { tensor: op.outputs[0]!, fusedIn: undefined } : { tensor: op.outputs[3] || undefined, fusedIn: op }))];
  residualOps.forEach((op, i) => {
    const site = sites[i];
    if (site) {
      if (pending) blocks.push({ index: blocks.length, residualOps: pending.ops, attention: pending.attention });
      streamAtBlock.push(outs[i]!);
      pending = { ops: [op], attention: site };
    } else {
      if (!pending) refuse(`residual op '${op.name}' comes before the first attention; only decoder blocks of (attention, then other residual branches) are supported`);
      pending!.ops.push(op);
    }
  });
  if (pending) blocks.push({ index: blocks.length, residualOps: pending.ops, attention: pending.attention });
  streamAtBlock.push(outs[outs.length - 1]!);

  function findAttention(op: Node, lowerIndex: number): AttentionSite | undefined {
    // Branch = ancestors of the residual op's non-stream input, after the previous stream node.
    const seen = new Set<number>();
    const stack = [...op.inputs.filter((x) => x && !isConst(x))];
    const softmaxes: Node[] = [];
    const fused: { node: Node; key: string; slot: number }[] = [];
    while (stack.length) {
      const v = stack.pop()!;
      const p = g.producer(v);
      if (!p || p.index <= lowerIndex || seen.has(p.index)) continue;
      seen.add(p.index);
      if (p.opType === "Softmax" && p.domain === "" && feedsMatMulAsProbs(p.outputs[0]!)) softmaxes.push(p);
      const key = `${p.domain}:${p.opType}`;
      const f = FUSED_ATTENTION[key];
      if (f && (!f.minOpset || g.opset("") >= f.minOpset)) fused.push({ node: p, key, slot: f.slot });
      for (const i of p.inputs) if (i && !isConst(i)) stack.push(i);
    }
    if (softmaxes.length + fused.length > 1)
      refuse(`the branch of residual op '${op.name}' holds ${softmaxes.length} attention Softmax(es) and ${fused.length} fused attention op(s); one attention per block is supported`);
    if (softmaxes[0]) {
      const s = softmaxes[0];
      const axis = s.proto.attribute.find((a) => a.name === "axis");
      const rank = g.declaredTypes.get(s.inputs[0]!)?.shape?.length;
      if (axis && Number(axis.i) !== -1 && (rank === undefined || Number(axis.i) !== rank - 1))
        refuse(`Softmax '${s.name}' normalises over axis ${axis.i}, not the last (key) axis`);
      if (g.opset("") < 13 && axis && Number(axis.i) !== -1 && rank === undefined)
        refuse(`Softmax '${s.name}' (opset < 13) has an axis whose meaning depends on an unknown rank`);
      return { kind: "softmax", node: s, scores: s.inputs[0]!, probs: s.outputs[0]! };
    }
    if (fused[0]) return { kind: "fused", node: fused[0].node, op: fused[0].key.replace(/^:/, "ai.onnx:"), maskSlot: fused[0].slot };
    const unknown = [...seen].map((i) => g.nodes[i]!).find((n) => /attention/i.test(n.opType));
    if (unknown) refuse(`attention op '${unknown.name}' (${unknown.domain || "ai.onnx"}.${unknown.opType}) is not supported; supported: decomposed Softmax attention, ${Object.keys(FUSED_ATTENTION).map((k) => k.replace(/^:/, "ai.onnx:")).join(", ")}`);
    return undefined;
  }

  function feedsMatMulAsProbs(t: string): boolean {
    for (const u of g.consumers(t)) {
      if ((u.node.opType === "MatMul" || u.node.opType === "Einsum") && u.slot === 0) return true;
      if (PASS_THROUGH.has(u.node.opType) && feedsMatMulAsProbs(u.node.outputs[0]!)) return true;
    }
    return false;
  }

  const floatType = embeddingFloatType(g, tokenInput) ?? DataType.FLOAT;
  const fusedCount = streamAtBlock.filter((s) => s.fusedIn).length;
  notes.push(`${blocks.length} blocks along the residual stream from '${start}'`);
  notes.push(`attention: ${[...new Set(blocks.map((b) => (b.attention.kind === "softmax" ? "decomposed (Softmax → MatMul with V)" : b.attention.op)))].join(", ")}`);
  if (fusedCount) notes.push(`${fusedCount} residual point(s) are sums inside fused Skip*LayerNormalization ops`);
  return { modelName: g.name, tokenInput, tokenType, extraInputs, logits, logitsRank, stream: streamAtBlock, blocks, floatType, notes };
}

function isResidualCandidate(n: Node): boolean {
  return (n.opType === "Add" && n.domain === "") || (SKIP_LN.has(n.opType) && n.domain === "com.microsoft");
}

/** The int input that reaches a Gather on a 2-D weight (the embedding), through Cast if any. */
function findTokenInput(g: Graph, refuse: (p: string) => never): string {
  const candidates = g.inputs.filter((name) => {
    const t = g.declaredTypes.get(name)?.dataType;
    return t === undefined || INT_TYPES.has(t);
  });
  const reachesEmbedding = (name: string, depth = 0): boolean =>
    g.consumers(name).some(
      (u) =>
        (u.node.opType === "Gather" && u.slot === 1 && (g.weight(u.node.inputs[0]!)?.dims.length ?? 0) === 2) ||
        (u.node.opType === "EmbedLayerNormalization" && u.slot === 0) ||
        (depth < 3 && (u.node.opType === "Cast" || u.node.opType === "Reshape" || u.node.opType === "Unsqueeze") && reachesEmbedding(u.node.outputs[0]!, depth + 1)),
    );
  const found = candidates.filter((c) => reachesEmbedding(c));
  const named = found.find((n) => /input_ids|tokens|ids/i.test(n));
  if (named) return named;
  if (found.length === 1) return found[0]!;
  if (found.length === 0) return refuse("no token-id input found (an integer input gathering rows of a 2-D embedding weight)");
  return refuse(`several inputs look like token ids (${found.join(", ")}); cannot tell which`);
}

function embeddingFloatType(g: Graph, tokenInput: string): number | undefined {
  for (const u of g.consumers(tokenInput)) if (u.node.opType === "Gather") return g.weight(u.node.inputs[0]!)?.dataType;
  for (const u of g.consumers(tokenInput))
    for (const v of g.consumers(u.node.outputs[0]!)) if (v.node.opType === "Gather") return g.weight(v.node.inputs[0]!)?.dataType;
  return undefined;
}
