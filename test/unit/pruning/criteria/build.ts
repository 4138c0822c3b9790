/** Hand-built GroupAnalysis objects for criteria tests: a few members, their weights and a cost model. */
import type { Group, GroupAnalysis, IndexMap, Member, MemberRole } from "../../../../analyzers/pruning/types.ts";

export interface MemberSpec {
  tensor: string;
  dims: number[];
  dim: number;
  role: MemberRole;
  op?: string;
  /** Unit → index map; default: unit u = index u. */
  indices?: IndexMap;
  values?: number[];
}

export interface GroupSpec {
  key: string;
  units: number;
  scope?: string;
  unitKind?: Group["unitKind"];
  members: MemberSpec[];
  frozen?: Group["frozen"];
}

/**
 * Builds an analysis where every member is its own weight axis and the cost model counts each member
 * tensor once (dims with the member axis pruned) plus `extraParams` of unprunable weights; each member
 * also gets an op of `macsPerElement` × its elements.
 */
export function buildAnalysis(specs: GroupSpec[], extraParams = 0, macsPerElement = 1): GroupAnalysis {
  const axes: GroupAnalysis["axes"] = [];
  const cost: GroupAnalysis["cost"] = { weights: [], ops: [] };
  const groups: Group[] = specs.map((s, id) => {
    const members: Member[] = s.members.map((m) => {
      const axis = axes.length;
      const node = m.tensor.replace(/\.[a-z]+$/, "");
      axes.push({ id: axis, kind: "weight", tensor: m.tensor, axis: m.dim, size: m.dims[m.dim]!, node });
      const elems = m.dims.reduce((a, b) => a * b, 1);
      cost.weights.push({ tensor: m.tensor, dims: m.dims, axes: m.dims.map((_, d) => (d === m.dim ? axis : -1)) });
      cost.ops.push({ node, macs: elems * macsPerElement, axes: [axis] });
      const indices = m.indices ?? { flat: Array.from({ length: s.units }, (_, u) => u) };
      return { axis, tensor: m.tensor, node, op: m.op ?? "Conv", dim: m.dim, role: m.role, indices };
    });
    const perIndex = s.members.map((m) => m.dims.reduce((a, b) => a * b, 1) / m.dims[m.dim]!);
    const unitParams = Array.from({ length: s.units }, (_, u) =>
      members.reduce((a, m, k) => a + perIndex[k]! * (m.indices.offsets ? m.indices.offsets[u + 1]! - m.indices.offsets[u]! : 1), 0),
    );
    const g: Group = {
      id,
      key: s.key,
      units: s.units,
      unitKind: s.unitKind ?? "channel",
      members,
      rewrites: [],
      params: unitParams.reduce((a, b) => a + b, 0),
      macs: 0,
      unitParams,
      unitMacs: unitParams.map((p) => p * macsPerElement),
      scope: s.scope ?? s.key,
    };
    if (s.frozen) g.frozen = s.frozen;
    return g;
  });
  if (extraParams) cost.weights.push({ tensor: "fixed", dims: [extraParams], axes: [-1] });
  const params = cost.weights.reduce((a, w) => a + w.dims.reduce((x, y) => x * y, 1), 0);
  const macs = cost.ops.reduce((a, o) => a + o.macs, 0);
  return {
    version: 1,
    model: { name: "hand.onnx", structure: "0123456789abcdef", nodes: axes.length, params, macs },
    axes,
    rewrites: [],
    groups,
    frozen: [],
    cost,
    summary: {
      groups: groups.length,
      prunableGroups: groups.length,
      frozenGroups: 0,
      units: groups.reduce((a, g) => a + g.units, 0),
      prunableUnits: groups.reduce((a, g) => a + g.units, 0),
      frozenUnits: 0,
      params,
      macs,
      prunableParams: params,
      unsupportedOps: [],
      frozenReasons: {},
      millis: 0,
    },
  };
}

/** The weight table of the specs (members with values). */
export function tableOf(specs: GroupSpec[]): Record<string, { dims: number[]; values: number[] }> {
  const t: Record<string, { dims: number[]; values: number[] }> = {};
  for (const s of specs) for (const m of s.members) if (m.values) t[m.tensor] = { dims: m.dims, values: m.values };
  return t;
}

/** Scores given by hand (normalisation none), in the shape scoreGroups returns. */
export function handScores(analysis: GroupAnalysis, per: number[][]): import("../../../../analyzers/pruning/criteria/index.ts").Scores {
  return {
    criterion: "l1",
    reduction: "mean",
    normalization: "none",
    groups: analysis.groups.map((g, i) => ({
      group: g.id,
      key: g.key,
      criterion: "l1",
      scores: Float64Array.from(per[i]!),
      raw: Float64Array.from(per[i]!),
      members: [],
      notes: [],
    })),
  };
}
