/**
 * The data of structured pruning, shared by the analysis (groups/), the criteria and selection
 * (criteria/), OBSPA (obspa/), apply/ and the extension. Everything here is plain JSON: a
 * GroupAnalysis can be drawn by the explorer, a Plan can be saved, edited by hand and applied again.
 *
 * Vocabulary. A *channel* is one index of one axis of one tensor. An *axis* (AxisRef) is a
 * (tensor, axis) pair the analysis tracks. A *group* is a set of coupled channels that must be pruned
 * together; it is made of `units`, the smallest things that can be removed (a channel, an attention
 * head, the same in-head dim of every head, a conv group…). Removing unit u of a group removes, on
 * every member axis, the indices `indicesOf(member.indices, u)`.
 *
 * Stable contract (other modules build on it): fields may be added, none renamed or removed.
 */

/** unit → indices on one axis. Unit u's indices are `flat[offsets[u] .. offsets[u+1])`; when
 * `offsets` is absent every unit has exactly one index, `flat[u]`. Indices are sorted ascending. */
export interface IndexMap {
  flat: number[];
  offsets?: number[];
}

/** What kind of tensor an axis belongs to. */
export type AxisKind =
  /** An initializer or Constant-node weight, as read by one consumer (see `AxisRef.node`/`slot`). */
  | "weight"
  /** An intermediate value (activations); listed only when a rewrite needs its size. */
  | "activation"
  /** A node-internal axis with no tensor: the groups of a grouped Conv, the heads of a fused attention op. */
  | "virtual";

/** One axis of one tensor (or a node-internal virtual axis). */
export interface AxisRef {
  /** Index in GroupAnalysis.axes. */
  id: number;
  kind: AxisKind;
  /**
   * The tensor: for weights the stored initializer/Constant name the data comes from (after following
   * Identity chains); for activations the value name; for virtual axes a descriptive name.
   */
  tensor: string;
  /** For weights reached through Identity nodes (torch's deduplicated weights): the name the consumer reads. */
  alias?: string;
  /** Axis in the tensor (virtual axes: 0). */
  axis: number;
  size: number;
  /** The node that reads the weight (weights), produces the value (activations) or owns the virtual axis. */
  node: string;
  /** Input slot of `node` the weight is read through (weights only). */
  slot?: number;
}

/** What a member is to its layer; criteria pick members by role. */
export type MemberRole =
  /** Output channels of a producing layer (Conv out, Gemm/MatMul weight columns, ConvTranspose out, embedding dim). */
  | "out"
  /** Input channels of a consuming layer (Conv in, Gemm/MatMul weight rows). */
  | "in"
  /** Bias of a producing layer. */
  | "bias"
  /** Normalisation scale γ (BatchNormalization, LayerNorm, GroupNorm, InstanceNorm) and shift β. */
  | "norm-scale"
  | "norm-bias"
  /** BatchNormalization running statistics. */
  | "norm-mean"
  | "norm-var"
  /** A per-channel constant in an elementwise op (layer scale, pos-embedding, class token…). */
  | "const"
  /** Per-channel quantisation scale / zero point. */
  | "quant"
  /** Anything else that must be sliced (gather tables, rotary tables…). */
  | "other";

export interface Member {
  /** Id of the AxisRef (GroupAnalysis.axes[axis]) this member is. */
  axis: number;
  /** Stored tensor name (initializer or Constant output) — same as axes[axis].tensor. */
  tensor: string;
  /** The node reading the tensor. */
  node: string;
  /** The node's op type (Conv, Gemm, BatchNormalization…). */
  op: string;
  /** Axis of the tensor that is sliced. */
  dim: number;
  role: MemberRole;
  /** Which units remove which indices of this axis. Units with no index here have an empty range. */
  indices: IndexMap;
}

/** The smallest removable thing of a group. */
export type UnitKind =
  /** One channel (or one channel per coupled tensor, incl. flattened features c·S…(c+1)·S−1). */
  | "channel"
  /** One attention head (a block of head_dim indices of every projection). */
  | "head"
  /** The same in-head dim of every head (strided indices). */
  | "head-dim"
  /** A whole group of a grouped Conv / GroupNorm. */
  | "conv-group"
  /** The same relative channel of every group of a grouped Conv / GroupNorm (strided indices). */
  | "group-channel";

/** A constant or attribute that changes when units are removed. Apply computes the new value from the
 * removed indices of the listed axes (merged over all groups). */
export type RewriteKind =
  /** A Reshape / Expand / Resize-sizes / ConstantOfShape shape entry: new = old − removed(axis). */
  | "shape-entry"
  /** Split sizes: entry k becomes the kept size of output k's axis. */
  | "split-sizes"
  /** Slice starts/ends on one axis, from the removed indices of the sliced input axis. */
  | "slice-bounds"
  /** Gather indices into a pruned axis: removed entries dropped, the others renumbered. */
  | "gather-indices"
  /** An integer attribute counting units: Conv/ConvTranspose `group`, `num_heads`, GroupNorm `num_groups`
   * (new = old − removed units); or, with `extra.float`, a float attribute set to that value when the axis
   * loses indices (a fused attention's default scale 1/√head_size, kept at its original value). */
  | "attribute"
  /** A channel shuffle (Reshape→Transpose→Reshape) replaced by a Gather of the kept channels in shuffled order. */
  | "shuffle"
  /** A float value computed from tensor shapes and read by arithmetic (torch's `q * (C // heads) ** -0.5`):
   * written as its original constant on any prune, so removing channels does not change it. No axes. */
  | "fold-value";

export interface Rewrite {
  id: number;
  kind: RewriteKind;
  node: string;
  op: string;
  /** Input slot holding the constant (shape-entry, split-sizes, slice-bounds, gather-indices). */
  slot?: number;
  /** Attribute name (attribute). */
  attribute?: string;
  /** Entry of the shape tensor (shape-entry), sliced axis of the data (slice-bounds). */
  entry?: number;
  /** Axes whose removed indices drive the new value (in a kind-specific order: e.g. split outputs). */
  axes: number[];
  /** The current value, for display ("[1,197,12,64] entry 2", "group=32"). */
  current: string;
  /** shape-entry: where the number is stored when it is not `node`'s own input (a constant fed through
   * Concat to a computed shape): that constant is input `slot` of node `node`, element `index`. */
  target?: { node: string; slot: number; index: number };
  /** Kind-specific data (shuffle: the three node names, the axis, and `source[j]` = input index of output j). */
  extra?: Record<string, unknown>;
}

export interface GroupFrozen {
  reason: string;
  /** Frozen units (absent: the whole group). */
  units?: number[];
}

export interface Group {
  id: number;
  /** Stable name: `<first producer tensor>:<dim>` plus a unit-kind suffix; used by plans. */
  key: string;
  units: number;
  unitKind: UnitKind;
  members: Member[];
  /** Rewrites this group drives, with the index map of each rewrite axis it touches. */
  rewrites: { rewrite: number; axis: number; indices: IndexMap }[];
  /** Activation axes the cost model reads (e.g. attention score heads) that are neither members nor
   * rewrite axes, so that removed indices are known for every axis of CostModel. */
  extraAxes?: { axis: number; indices: IndexMap }[];
  /** Parameters and MACs attributable to the group's members (all units), as if every unit were removed
   * on its own; overlaps with other groups (heads × head-dims) are counted in both. */
  params: number;
  macs: number;
  /** Params/MACs a single unit removes (same order as units). */
  unitParams: number[];
  unitMacs: number[];
  /** Set when some or all units cannot be pruned. */
  frozen?: GroupFrozen;
  /** Module path of the first producer (e.g. "layer1.0.conv1"); "" at the root. */
  scope: string;
  /** Facts a criterion or a user may want: "normalised axis (LayerNorm): removing even zero channels changes statistics". */
  notes?: string[];
}

/** Channels that could not join a prunable group, per producing axis, with the reason. */
export interface FrozenChannels {
  tensor: string;
  node: string;
  op: string;
  dim: number;
  channels: number;
  reason: string;
  /** The group they belong to, when they have one. */
  group?: number;
}

/** The parts of the cost model: exact params and MACs after any pruning, from the kept sizes of axes. */
export interface CostModel {
  /** Every float weight read by a linear/norm op: elements = Π over dims of kept size. `axes[d]` is the axis
   * id of dim d, or -1 when that dim is never pruned. */
  weights: { tensor: string; dims: number[]; axes: number[] }[];
  /** Every op with MACs: macs × Π over factors (kept/size). */
  ops: { node: string; macs: number; axes: number[] }[];
  /** Elements of the float constants apply writes whenever it removes anything (shape-derived values kept
   * at their original value, "fold-value" rewrites): the re-analysed model counts them as parameters. */
  foldedParams?: number;
}

export interface ModelFingerprint {
  /** File name (display only). */
  name: string;
  /** sha256 (hex, 16 chars) of the graph structure: node ops/inputs/outputs/attributes, initializer names,
   * types and dims — not the weight values, so a plan applies to a fine-tuned copy of the same model. */
  structure: string;
  nodes: number;
  params: number;
  macs: number;
}

export interface AnalysisSummary {
  groups: number;
  prunableGroups: number;
  frozenGroups: number;
  units: number;
  prunableUnits: number;
  frozenUnits: number;
  /** Params/MACs of the model and the part carried by prunable units. */
  params: number;
  macs: number;
  prunableParams: number;
  /** Operators no rule knows (they freeze what touches them). */
  unsupportedOps: string[];
  /** Frozen units per reason kind. */
  frozenReasons: Record<string, number>;
  /** Analysis time, ms. */
  millis: number;
}

export interface GroupAnalysis {
  version: 1;
  model: ModelFingerprint;
  axes: AxisRef[];
  rewrites: Rewrite[];
  groups: Group[];
  frozen: FrozenChannels[];
  cost: CostModel;
  summary: AnalysisSummary;
}

// ---- plans ----------------------------------------------------------------------------------------

export type CriterionName = "l1" | "l2" | "bn" | "fpgm" | "random" | "obspa" | "manual" | (string & {});
export type PruneTarget = "channels" | "params" | "macs";

/** Where OBSPA's Hessians come from (issue 4); recorded so a plan can be reproduced. */
export interface HessianSpec {
  source: "synthetic" | "bn" | "identity" | "calibration";
  seed?: number;
  samples?: number;
  /** Calibration folder (calibration source). */
  calib?: string;
  sequential?: boolean;
  /** Damping λ (relative to mean diag H). */
  damping?: number;
}

export interface PlanSettings {
  ratio?: number;
  target?: PruneTarget;
  scope?: "local" | "global";
  roundTo?: number;
  maxGroupRatio?: number;
  protect?: string[];
  reduction?: string;
  normalization?: string;
  /** Anything else a criterion wants to record. */
  [key: string]: unknown;
}

export interface PlanGroup {
  /** Group.key (stable); `id` is checked too when present. */
  key: string;
  id?: number;
  /** Units to remove. */
  prune: number[];
}

/** A pruning decision, as a file: what to remove, how it was chosen, for which model. Applying the same
 * plan to the same model gives the same bytes. */
export interface Plan {
  version: 1;
  model: ModelFingerprint;
  criterion: CriterionName;
  settings: PlanSettings;
  /** Seed of anything random (random criterion, synthetic inputs). */
  seed?: number;
  hessian?: HessianSpec;
  /** Weight compensation applied before slicing (OBSPA). */
  compensation?: { method: string; [key: string]: unknown };
  groups: PlanGroup[];
  /** Free text: who made it, when. */
  note?: string;
}

// ---- helpers on the types (pure) -----------------------------------------------------------------

export function indicesOf(map: IndexMap, unit: number): number[] {
  if (!map.offsets) return unit < map.flat.length ? [map.flat[unit]!] : [];
  return map.flat.slice(map.offsets[unit]!, map.offsets[unit + 1]!);
}

export function unitCount(map: IndexMap): number {
  return map.offsets ? map.offsets.length - 1 : map.flat.length;
}

// ---- compensation hook (OBSPA) -------------------------------------------------------------------

/**
 * Called by applyPlan on the copy being pruned, after the plan is resolved and before any tensor is
 * sliced: a compensator may rewrite surviving weights of consumers (e.g. W[:, kept] += ΔW). It must only
 * change tensor data (readTensor / setTensorData on `tensor(name)`), never shapes or the graph.
 */
export interface CompensationContext {
  /** The pruned copy's ModelProto wrapper (weights still at full size). */
  readonly model: import("../onnx/model.ts").Model;
  readonly analysis: GroupAnalysis;
  readonly plan: Plan;
  /** Removed indices of an axis (GroupAnalysis.axes id), merged over every group, sorted. */
  removed(axis: number): readonly number[];
  /** The stored tensor (initializer or Constant value) of the copy, by name. */
  tensor(name: string): import("onnx-buf").TensorProto | undefined;
}

export type Compensator = (ctx: CompensationContext) => void;
