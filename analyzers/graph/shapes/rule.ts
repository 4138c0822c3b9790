/** The contract of a shape rule: what it can read about a node's inputs and what it returns. */
import type { NodeProto } from "onnx-buf";
import type { Dim, Node, TensorType } from "../graph.ts";
import type { KnownValue } from "./values.ts";

export interface OpContext {
  readonly node: Node;
  readonly proto: NodeProto;
  /** Opset version of the node's domain. */
  readonly opset: number;
  readonly inputCount: number;
  /** True when input slot i is present (not omitted). */
  has(i: number): boolean;
  type(i: number): TensorType | undefined;
  shape(i: number): readonly Dim[] | undefined;
  dtype(i: number): number | undefined;
  /** The input's value when known at analysis time (small constants and folded shape arithmetic). */
  value(i: number): KnownValue | undefined;
}

export interface RuleResult {
  types: (TensorType | undefined)[];
  /** Folded output values, when the rule can compute them. */
  values?: (KnownValue | undefined)[];
}

export type ShapeRule = (ctx: OpContext) => RuleResult;

export const t = (dataType: number | undefined, shape: readonly Dim[] | undefined): TensorType | undefined =>
  dataType === undefined ? undefined : { dataType, shape };
