/**
 * The graph explorer's view model: plain JSON data the host (extension, CLI report, test server) hands
 * to the explorer webview. Everything here is serialisable; no Graph, no protobuf, no DOM.
 *
 * `ExplorerApi` is the set of questions a webview may ask. `webviews/protocol.ts` turns it into the
 * typed request/response messages; `ExplorerSession` (session.ts) answers them.
 */

/** "g<number>" for groups, "n<number>" for nodes (graph inputs and outputs are nodes too). */
export type ItemId = string;

/** A dimension: a number, a symbol ("batch"), or null when unknown. */
export type JsonDim = number | string | null;

export type GroupKind =
  /** The model's main graph. */
  | "root"
  /** A module scope from node names or node metadata (`/layer1/layer1.0/conv1/Conv`). */
  | "scope"
  /** The body of a model-local function, expanded under its call node. */
  | "function"
  /** A control-flow body (If branch, Loop/Scan body). */
  | "subgraph"
  /** A slice of a large flat group, cut where few tensors cross (automatic hierarchy). */
  | "auto";

export type ItemKind = "group" | "node" | "input" | "output";

export interface TensorInfo {
  name: string;
  /** "float32", "int64", …; "" when unknown. */
  dataType: string;
  /** null: rank unknown. */
  shape: JsonDim[] | null;
  kind: "input" | "initializer" | "constant" | "intermediate" | "output" | "omitted";
  /** The item producing the value (a node, or the graph-input item). */
  producer?: ItemId;
  /** Up to 32 consuming items. */
  consumers?: ItemId[];
  consumerCount?: number;
  /** True when tensorStats can compute statistics for it (stored weight data on the host). */
  hasData: boolean;
}

export interface GroupSummary {
  /** Displayed nodes under the group, at any depth (folded constants excluded). */
  nodes: number;
  /** Weight-producing nodes (Constant, Identity of an initializer, …) folded into their consumers. */
  folded: number;
  /** Op types by count, most frequent first. */
  ops: [string, number][];
  /** Absent when the host has no metrics. */
  params?: number;
  macs?: number;
  /** Member nodes whose MACs could not be computed (unknown shapes): `macs` is then only a lower bound. */
  macsUnknown?: number;
}

export interface ViewItem {
  id: ItemId;
  kind: ItemKind;
  /** Groups: scope component ("layer1.0"); nodes: short name (last path component or the op). */
  label: string;
  /** Nodes: op type, domain-qualified outside ai.onnx ("com.microsoft::Attention"). */
  op?: string;
  /** Module class when the exporter recorded it (dynamo exports) or a function's name. */
  className?: string;
  /** Nodes: first output's shape ("1×64×56×56"); inputs/outputs: their shape. */
  detail?: string;
  summary?: GroupSummary;
  params?: number;
  macs?: number;
  /** Nodes: MACs could not be computed (unknown shapes). */
  macsUnknown?: boolean;
  /** Groups and nodes with a body (local-function calls, If/Loop/Scan). */
  expandable: boolean;
  /** For expandable nodes: the group holding the body. */
  body?: ItemId;
}

/** Endpoints of edges that cross the group's border. */
export const BOUNDARY_IN = "^in";
export const BOUNDARY_OUT = "$out";

export interface ViewEdge {
  /** Unique within the group view. */
  id: string;
  from: ItemId;
  to: ItemId;
  /** Up to 8 tensor names carried by the edge. */
  tensors: string[];
  count: number;
  /** Shape of the first tensor, formatted. */
  shape?: string;
  /** True when `to` is also reachable from `from` through other items of the same group (a skip/residual). */
  skip: boolean;
}

export interface PathEntry {
  id: ItemId;
  label: string;
}

export interface GroupView {
  id: ItemId;
  label: string;
  kind: GroupKind;
  className?: string;
  /** Dotted module path ("layer1.0"); "" for root and non-scope groups. */
  module: string;
  /** Ancestors, root first, excluding this group. */
  path: PathEntry[];
  summary: GroupSummary;
  /** Children in topological order of their first node. */
  items: ViewItem[];
  edges: ViewEdge[];
}

export interface AttributeInfo {
  name: string;
  type: string;
  /** Formatted, at most ~200 characters. */
  value: string;
}

export interface NodeDetails {
  id: ItemId;
  name: string;
  op: string;
  domain: string;
  kind: ItemKind;
  /** The group holding the node. */
  group: ItemId;
  path: PathEntry[];
  module: string;
  classes?: string[];
  docString?: string;
  attributes: AttributeInfo[];
  inputs: TensorInfo[];
  outputs: TensorInfo[];
  metadata: [string, string][];
  params?: number;
  macs?: number;
  /** MACs could not be computed (unknown shapes); `macs` is 0 then. */
  macsUnknown?: boolean;
  /** Folded nodes (weight producers, shape arithmetic) are not drawn; they are shown through `shownAs`. */
  folded: boolean;
  foldedAs?: "weight" | "shape";
  shownAs?: ItemId;
  body?: ItemId;
}

export interface TensorStats {
  name: string;
  dataType: string;
  dims: number[];
  count: number;
  min: number;
  max: number;
  mean: number;
  std: number;
  zeros: number;
  /** zeros / count */
  sparsity: number;
  /** NaN and ±Inf elements (excluded from the other figures). */
  nonFinite: number;
  histogram: { min: number; max: number; counts: number[] };
}

export interface SearchHit {
  id: ItemId;
  name: string;
  op: string;
  matched: "name" | "op" | "tensor" | "module";
  tensor?: string;
  /** Group path as text ("layer1 › layer1.0"). */
  where: string;
}

export interface SearchResult {
  query: string;
  hits: SearchHit[];
  total: number;
}

export interface Location {
  /** The item asked for (a folded node resolves to itself; `shownAs` says where it is drawn). */
  id: ItemId;
  /** The item to centre: the item itself, or the consumer a folded node is drawn in. */
  shownAs: ItemId;
  /** Groups to expand, root first (the root itself excluded). */
  ancestors: ItemId[];
}

// ---------------------------------------------------------------------------------------------
// Overlays: generic inputs so pruning, importance and ablation data plug in without webview changes.

/** Keys address nodes by name, or module scopes by dotted module path with the prefix "scope:". */
export type OverlayKey = string;

export interface ValuesOverlayInput {
  kind: "values";
  id: string;
  title: string;
  description?: string;
  unit?: string;
  /** "sequential" (low→high) or "diverging" (centred on `center`, default 0). */
  palette?: "sequential" | "diverging";
  center?: number;
  /** Scale bounds; default: min/max of the values. */
  domain?: [number, number];
  values: Record<OverlayKey, number>;
}

export interface DependencyGroupInput {
  /** Stable id (e.g. "g12"). */
  id: string;
  label?: string;
  /** Channels in the group (prunable width). */
  size?: number;
  /** Member nodes (by name) and what couples them. */
  members: { node: string; tensor?: string; axis?: number; role?: string }[];
  /** Channels that cannot be pruned, with why. */
  frozen?: { node?: string; tensor?: string; reason: string }[];
  /** Extra figures shown in details (score, planned ratio, …). */
  info?: Record<string, string | number>;
}

export interface GroupsOverlayInput {
  kind: "groups";
  id: string;
  title: string;
  description?: string;
  groups: DependencyGroupInput[];
}

export interface DiffEntryInput {
  status: "removed" | "changed" | "added" | "same";
  before?: { channels?: number; params?: number; macs?: number };
  after?: { channels?: number; params?: number; macs?: number };
  note?: string;
}

export interface DiffOverlayInput {
  kind: "diff";
  id: string;
  title: string;
  description?: string;
  nodes: Record<OverlayKey, DiffEntryInput>;
}

export interface MatrixOverlayInput {
  kind: "matrix";
  id: string;
  title: string;
  description?: string;
  unit?: string;
  palette?: "sequential" | "diverging";
  center?: number;
  domain?: [number, number];
  /** Rows (e.g. layers); `key` links a row to a node or scope to colour it and reveal it. */
  rows: { label: string; key?: OverlayKey }[];
  cols: string[];
  values: number[][];
  /** Value per row drawn on the graph; default: the row mean. */
  rowValues?: number[];
}

export type OverlayInput = ValuesOverlayInput | GroupsOverlayInput | DiffOverlayInput | MatrixOverlayInput;

export type OverlayKind = OverlayInput["kind"];

export type Legend =
  | { type: "scale"; min: number; max: number; palette: "sequential" | "diverging"; center?: number; unit?: string }
  | { type: "categorical"; count: number; entries: { key: string; label: string; size?: number; members: number }[] }
  | { type: "diff"; removed: number; changed: number; added: number; paramsBefore?: number; paramsAfter?: number; macsBefore?: number; macsAfter?: number };

export interface OverlayInfo {
  id: string;
  kind: OverlayKind;
  title: string;
  description?: string;
  legend: Legend;
  /** Keys that matched no node or scope (shown to the user, never silently dropped). */
  unmatched: number;
}

export interface Distribution {
  count: number;
  min: number;
  max: number;
  mean: number;
  /** Counts over the legend's scale, 10 bins. */
  hist: number[];
}

export interface DiffSummary {
  removed: number;
  changed: number;
  added: number;
  paramsBefore: number;
  paramsAfter: number;
  macsBefore: number;
  macsAfter: number;
}

export interface OverlayItemValue {
  id: ItemId;
  /** values/matrix: the item's own value (a node, or a scope given a value directly). */
  value?: number;
  /** Groups: the distribution of member values. */
  dist?: Distribution;
  /** groups overlay: dependency-group keys the node belongs to (first = primary colour). */
  groups?: string[];
  /** groups overlay, groups: number of distinct dependency groups among members. */
  groupCount?: number;
  /** diff overlay: a node's entry. */
  diff?: DiffEntryInput;
  /** diff overlay: totals over a group's members. */
  diffSummary?: DiffSummary;
  /** groups overlay: frozen-channel reasons on this node. */
  frozen?: string[];
}

export interface OverlayValues {
  overlay: string;
  group: ItemId;
  items: OverlayItemValue[];
}

export interface OverlayMembers {
  overlay: string;
  key: string;
  label: string;
  size?: number;
  info?: Record<string, string | number>;
  members: { id: ItemId; role?: string; tensor?: string; axis?: number }[];
  /** Every group containing a member: collapsed boxes holding members are highlighted too. */
  containers: ItemId[];
  frozen: { id?: ItemId; tensor?: string; reason: string }[];
}

export interface OverlayMatrix {
  overlay: string;
  title: string;
  unit?: string;
  rows: { label: string; id?: ItemId }[];
  cols: string[];
  values: number[][];
  legend: Legend;
}

export interface ModelInfo {
  name: string;
  producer: string;
  irVersion: number;
  opsets: { domain: string; version: number }[];
  /** Drawn nodes (weight producers folded) and all nodes of the main graph. */
  nodeCount: number;
  totalNodes: number;
  groupCount: number;
  inputs: TensorInfo[];
  outputs: TensorInfo[];
  params?: number;
  macs?: number;
  metricsApproximate?: boolean;
  /** Nodes whose MACs could not be computed: `macs` is a lower bound. */
  macsUnknown?: number;
  root: ItemId;
  /** "scopes": module scopes found; "auto": none, the hierarchy is automatic. */
  hierarchy: "scopes" | "auto";
  overlays: OverlayInfo[];
  /** True when tensorStats works (weights readable by the host). */
  stats: boolean;
  /** The root group's view, when asked for with `withRoot` (saves the first paint a round trip). */
  rootView?: GroupView;
}

/**
 * Every question the webview can ask the host. Each method takes one JSON parameter object and
 * returns JSON (or a promise of it). Errors are thrown as Error (ScalpelError) and travel as messages.
 */
export interface ExplorerApi {
  model(p: { withRoot?: boolean }): ModelInfo;
  group(p: { id: ItemId }): GroupView;
  node(p: { id: ItemId }): NodeDetails;
  tensorStats(p: { name: string; bins?: number }): TensorStats | Promise<TensorStats>;
  search(p: { query: string; limit?: number }): SearchResult;
  /** By item id, node name, dotted module path, or tensor name (its producer). */
  locate(p: { id?: ItemId; name?: string; module?: string; tensor?: string }): Location;
  overlayValues(p: { overlay: string; group: ItemId }): OverlayValues;
  overlayMembers(p: { overlay: string; key: string }): OverlayMembers;
  overlayMatrix(p: { overlay: string }): OverlayMatrix;
}

export type ExplorerMethod = keyof ExplorerApi;
export type ExplorerParams<M extends ExplorerMethod> = Parameters<ExplorerApi[M]>[0];
export type ExplorerResult<M extends ExplorerMethod> = Awaited<ReturnType<ExplorerApi[M]>>;
