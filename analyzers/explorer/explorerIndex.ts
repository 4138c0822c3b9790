/**
 * The explorer index: a compact, JSON-serialisable digest of a graph (nodes, values, the group
 * hierarchy, summaries, formatted attributes). Built once on the host by build.ts; ExplorerSession
 * answers every webview question from it. The standalone HTML report embeds it whole; a VS Code
 * webview never sees it, only the group views it asks for.
 */
import type { AttributeInfo, GroupKind, GroupSummary, ItemKind, JsonDim, TensorInfo } from "./types.ts";

export interface IxNode {
  name: string;
  op: string;
  domain: string;
  kind: ItemKind;
  /** Index of the group holding the node. */
  group: number;
  /** Value ids; -1 for an omitted optional input. */
  inputs: number[];
  outputs: number[];
  /** Outer values read by subgraphs (If/Loop/Scan). */
  implicit?: number[];
  /** Topological position (ordering key of items). */
  order: number;
  /** Displayed name when it says more than the op (an inlined single-node scope: "conv1"). */
  label?: string;
  /** Weight producers (Constant, Identity of an initializer, …) are folded into their consumers. */
  folded?: boolean;
  /** Why it is folded: it computes a weight, or only a shape/axes/pads input. */
  foldedAs?: "weight" | "shape";
  /** For folded nodes: the displayed node that consumes the weight. */
  shownAs?: number;
  params?: number;
  macs?: number;
  /** MACs could not be computed (unknown shapes); `macs` is 0. */
  macsUnknown?: boolean;
  attrs: AttributeInfo[];
  meta?: [string, string][];
  module: string;
  classes?: string[];
  doc?: string;
  /** Group holding the body (local-function call, control flow). */
  body?: number;
}

export interface IxValue {
  name: string;
  dataType: string;
  shape: JsonDim[] | null;
  kind: TensorInfo["kind"];
  /** Producing node, or -1 (initializer, formal input of a body). */
  producer: number;
  consumers: number[];
  /** Consumed outside its body (a body's formal output). */
  exits?: boolean;
  /** Stored weight data behind it (possibly through Identity): statistics can be computed. */
  hasData?: boolean;
  /** The stored tensor holding the data (an initializer name), when different from `name`. */
  source?: string;
}

export interface IxGroup {
  label: string;
  kind: GroupKind;
  /** -1 for the root. */
  parent: number;
  /** For bodies: the call node (its item stands for the group in the parent). */
  owner?: number;
  module: string;
  /** Other module paths merged into this group (single-child chains). */
  aliases?: string[];
  className?: string;
  /** Item ids ("g3", "n17") in topological order. */
  children: string[];
  summary: GroupSummary;
  /** Smallest order key under the group. */
  order: number;
}

export interface IndexInfo {
  name: string;
  producer: string;
  irVersion: number;
  opsets: { domain: string; version: number }[];
  nodeCount: number;
  totalNodes: number;
  params?: number;
  macs?: number;
  metricsApproximate?: boolean;
  /** Nodes whose MACs could not be computed: `macs` is a lower bound. */
  macsUnknown?: number;
  hierarchy: "scopes" | "auto";
  /** Item ids of the graph-input and graph-output nodes. */
  inputs: number[];
  outputs: number[];
}

export interface ExplorerIndex {
  v: 1;
  info: IndexInfo;
  nodes: IxNode[];
  values: IxValue[];
  groups: IxGroup[];
}

export const nodeId = (i: number): string => `n${i}`;
export const groupId = (i: number): string => `g${i}`;

/** Parses an item id: { group: true, index } or undefined when malformed. */
export function parseItemId(id: string): { group: boolean; index: number } | undefined {
  const m = /^([gn])(\d+)$/.exec(id);
  if (!m) return undefined;
  return { group: m[1] === "g", index: Number(m[2]) };
}
