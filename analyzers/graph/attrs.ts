/** Typed access to node attributes. */
import type { AttributeProto, GraphProto, NodeProto, TensorProto } from "onnx-buf";

export function attr(node: NodeProto, name: string): AttributeProto | undefined {
  for (const a of node.attribute) if (a.name === name) return a;
  return undefined;
}

export function attrInt(node: NodeProto, name: string, dflt: number): number;
export function attrInt(node: NodeProto, name: string): number | undefined;
export function attrInt(node: NodeProto, name: string, dflt?: number): number | undefined {
  const a = attr(node, name);
  return a ? Number(a.i) : dflt;
}

export function attrInts(node: NodeProto, name: string): number[] | undefined {
  const a = attr(node, name);
  return a ? a.ints.map(Number) : undefined;
}

export function attrFloat(node: NodeProto, name: string, dflt: number): number {
  const a = attr(node, name);
  return a ? a.f : dflt;
}

export function attrFloats(node: NodeProto, name: string): number[] | undefined {
  const a = attr(node, name);
  return a ? a.floats : undefined;
}

export function attrString(node: NodeProto, name: string, dflt: string): string;
export function attrString(node: NodeProto, name: string): string | undefined;
export function attrString(node: NodeProto, name: string, dflt?: string): string | undefined {
  const a = attr(node, name);
  return a ? new TextDecoder().decode(a.s) : dflt;
}

export function attrTensor(node: NodeProto, name: string): TensorProto | undefined {
  return attr(node, name)?.t;
}

export function attrGraph(node: NodeProto, name: string): GraphProto | undefined {
  return attr(node, name)?.g;
}
