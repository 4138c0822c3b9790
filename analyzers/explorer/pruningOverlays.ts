/**
 * Explorer overlays from the pruning analysis: the dependency groups (members coloured per group, frozen
 * channels with their reason) and, after a prune, the per-node diff of channels, params and MACs.
 * Pure: plain data in, overlay inputs out.
 */
import type { GroupAnalysis, Plan } from "../pruning/types.ts";
import type { DiffEntryInput, DiffOverlayInput, GroupsOverlayInput } from "./types.ts";

export const GROUPS_OVERLAY_ID = "dependency-groups";
export const PRUNE_DIFF_OVERLAY_ID = "prune-diff";

export function groupsOverlay(a: GroupAnalysis): GroupsOverlayInput {
  const frozenByGroup = new Map<number, { node?: string; tensor?: string; reason: string }[]>();
  for (const f of a.frozen) {
    if (f.group === undefined) continue;
    const list = frozenByGroup.get(f.group) ?? [];
    list.push({ node: f.node, tensor: f.tensor, reason: `${f.channels} channels: ${f.reason}` });
    frozenByGroup.set(f.group, list);
  }
  return {
    kind: "groups",
    id: GROUPS_OVERLAY_ID,
    title: "Dependency groups",
    description: `${a.summary.groups} groups (${a.summary.prunableGroups} prunable, ${a.summary.frozenGroups} frozen); channels coupled across layers are pruned together`,
    groups: a.groups.map((g) => {
      const frozen = [...(frozenByGroup.get(g.id) ?? [])];
      if (g.frozen) frozen.unshift({ reason: g.frozen.units ? `${g.frozen.units.length} of ${g.units} units frozen: ${g.frozen.reason}` : `frozen: ${g.frozen.reason}` });
      return {
        id: `dg${g.id}`,
        label: g.scope ? `${g.key} (${g.scope})` : g.key,
        size: g.units,
        members: g.members.map((m) => ({ node: m.node, tensor: m.tensor, axis: m.dim, role: m.role })),
        frozen: frozen.length ? frozen : undefined,
        info: { units: `${g.units} ${g.unitKind}${g.units === 1 ? "" : "s"}`, params: g.params, macs: g.macs },
      };
    }),
  };
}

/**
 * The nodes a plan changes: for each member of a pruned group, the channels its axis loses (summed per
 * node when a node has several members). Params and MACs per node come from the caller (before/after).
 */
export function pruneDiffOverlay(
  a: GroupAnalysis,
  plan: Plan,
  perNode?: { before: Record<string, { params: number; macs: number }>; after: Record<string, { params: number; macs: number }> },
): DiffOverlayInput {
  const byKey = new Map(a.groups.map((g) => [g.key, g]));
  const nodes: Record<string, DiffEntryInput> = {};
  for (const pg of plan.groups) {
    if (!pg.prune.length) continue;
    const g = byKey.get(pg.key);
    if (!g) continue;
    for (const m of g.members) {
      if (m.role !== "out" && m.role !== "in") continue;
      const axis = a.axes[m.axis];
      const removed = pg.prune.reduce((n, u) => n + unitSize(m.indices, u), 0);
      const e = (nodes[m.node] ??= { status: "changed", before: { channels: 0 }, after: { channels: 0 }, note: "" });
      if (m.role === "out" && axis) {
        e.before!.channels = axis.size;
        e.after!.channels = axis.size - removed;
      }
      e.note = [e.note, `${m.role === "out" ? "outputs" : "inputs"} −${removed} (${g.key})`].filter(Boolean).join("; ");
    }
  }
  if (perNode)
    for (const [node, e] of Object.entries(nodes)) {
      const b = perNode.before[node], af = perNode.after[node];
      if (b) Object.assign(e.before!, b);
      if (af) Object.assign(e.after!, af);
      else e.status = "removed";
    }
  return { kind: "diff", id: PRUNE_DIFF_OVERLAY_ID, title: `Pruning diff (${plan.criterion})`, description: "channels, params and MACs each layer loses", nodes };
}

function unitSize(map: { flat: number[]; offsets?: number[] }, u: number): number {
  if (!map.offsets) return u < map.flat.length ? 1 : 0;
  return map.offsets[u + 1]! - map.offsets[u]!;
}
