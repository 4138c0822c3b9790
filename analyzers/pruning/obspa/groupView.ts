/**
 * What OBSPA needs from a dependency group: for each unit, the input channels it removes from every
 * consuming weight layer (role "in") and the output rows it removes from every producing one (role
 * "out"). Read from the group analysis (analyzers/pruning/types.ts); the interfaces below are the subset
 * OBSPA reads, so any GroupAnalysis satisfies them.
 */
import { attrInt } from "../../graph/attrs.ts";
import type { WeightLayer } from "./layers.ts";

export interface IndexMapLike {
  flat: number[];
  offsets?: number[];
}

export interface MemberLike {
  tensor: string;
  node: string;
  op: string;
  dim: number;
  role: string;
  indices: IndexMapLike;
}

export interface GroupLike {
  id: number;
  key: string;
  units: number;
  members: MemberLike[];
  frozen?: { reason: string; units?: number[] };
}

export function unitIndices(map: IndexMapLike, unit: number): number[] {
  if (!map.offsets) return unit < map.flat.length ? [map.flat[unit]!] : [];
  return map.flat.slice(map.offsets[unit]!, map.offsets[unit + 1]!);
}

/** The weight axis holding a layer's input channels (Conv: 1; Gemm: 1 with transB else 0; MatMul: 0). */
export function inputAxis(layer: WeightLayer): number {
  if (layer.kind === "conv") return 1;
  if (layer.kind === "gemm") return attrInt(layer.node.proto, "transB", 0) === 1 ? 1 : 0;
  return 0;
}

/** The weight axis holding a layer's output channels (Conv: 0; Gemm: 0 with transB else 1; MatMul: 1). */
export function outputAxis(layer: WeightLayer): number {
  if (layer.kind === "conv") return 0;
  if (layer.kind === "gemm") return attrInt(layer.node.proto, "transB", 0) === 1 ? 0 : 1;
  return 1;
}

export interface LayerUse {
  readonly member: number;
  readonly layer: WeightLayer;
}

/** A group's members OBSPA scores: consumers (input side) and producers (output side) of weight layers. */
export interface GroupLayers {
  readonly consumers: LayerUse[];
  readonly producers: LayerUse[];
}

export function groupLayers(group: GroupLike, layers: ReadonlyMap<string, WeightLayer>): GroupLayers {
  const consumers: LayerUse[] = [];
  const producers: LayerUse[] = [];
  group.members.forEach((m, i) => {
    const layer = layers.get(m.node);
    // Bias, norm and other members of the same node name other tensors.
    if (!layer || layer.weight !== m.tensor) return;
    if (m.role === "in" && m.dim === inputAxis(layer)) consumers.push({ member: i, layer });
    else if (m.role === "out" && m.dim === outputAxis(layer)) producers.push({ member: i, layer });
  });
  return { consumers, producers };
}
