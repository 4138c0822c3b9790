/**
 * Explorer overlays from ablation results: the per-layer effect (faithfulness and accuracy of replacing the
 * residual stream at L, for CAMA/mean/zero/resample sweeps and AF1's L_wait curve) and the attention-knockout
 * effect per block (with the block × key-position heatmap when there is one). Rows are tied to the graph by
 * the transformer structure the engine found: L = 0 is the embedding output, L ≥ 1 the output of block L−1
 * (its module scope when it has one, else the residual op); knockout rows are each block's attention.
 * Pure: structure and numbers in, overlay inputs out.
 */
import type { Graph } from "../graph/graph.ts";
import type { Structure } from "../ablation/structure.ts";
import type { MatrixOverlayInput, OverlayKey } from "./types.ts";

export const ABLATION_LAYERS_OVERLAY_ID = "ablation-layers";
export const ABLATION_KNOCKOUT_OVERLAY_ID = "ablation-knockout";

export interface LayerKeys {
  /** Overlay key of the residual stream after L blocks, L = 0…N. */
  readonly stream: readonly OverlayKey[];
  /** Overlay key of each block's attention. */
  readonly attention: readonly OverlayKey[];
}

/** The common module of some nodes ("" when they share none). */
function commonModule(modules: readonly string[]): string {
  if (!modules.length) return "";
  let parts = modules[0]!.split(".");
  for (const m of modules.slice(1)) {
    const p = m.split(".");
    let i = 0;
    while (i < parts.length && i < p.length && parts[i] === p[i]) i++;
    parts = parts.slice(0, i);
  }
  return parts.join(".");
}

export function layerKeys(s: Structure, g: Graph): LayerKeys {
  const producerOf = (L: number): string => {
    const p = s.stream[L]!;
    return p.fusedIn?.name ?? (p.tensor ? (g.producer(p.tensor)?.name ?? p.tensor) : "");
  };
  const stream = s.stream.map((_, L) => {
    if (L === 0) return producerOf(0);
    const block = s.blocks[L - 1]!;
    const scope = commonModule([...block.residualOps, block.attention.node].map((n) => n.scope.module));
    return scope ? `scope:${scope}` : producerOf(L);
  });
  const attention = s.blocks.map((b) => (b.attention.node.scope.module ? `scope:${b.attention.node.scope.module}` : b.attention.node.name));
  return { stream, attention };
}

export interface LayerEffect {
  /** L: blocks run before the replacement. */
  readonly L: number;
  readonly accuracy: number;
  readonly faithfulness: number;
}

/** Faithfulness (drawn) and accuracy of replacing the stream at each L. */
export function layerEffectOverlay(keys: LayerKeys, points: readonly LayerEffect[], what: string): MatrixOverlayInput | undefined {
  const rows = points.filter((p) => p.L >= 0 && p.L < keys.stream.length);
  if (!rows.length) return undefined;
  return {
    kind: "matrix",
    id: ABLATION_LAYERS_OVERLAY_ID,
    title: `Ablation: ${what}`,
    description: "faithfulness when the residual stream is replaced after L blocks (L = 0: embedding output); high = the answer no longer needs the context there",
    palette: "sequential",
    domain: [0, 1],
    rows: rows.map((p) => ({ label: `L=${p.L}`, key: keys.stream[p.L] })),
    cols: ["faithfulness", "accuracy"],
    values: rows.map((p) => [p.faithfulness, p.accuracy]),
    rowValues: rows.map((p) => p.faithfulness),
  };
}

export interface KnockoutEffect {
  /** First block of the window. */
  readonly block: number;
  readonly faithfulness: number;
}

/** Faithfulness with the last query blocked from the context in each block (window); the heatmap per key position when given. */
export function knockoutOverlay(
  keys: LayerKeys,
  effects: readonly KnockoutEffect[],
  heatmap?: { readonly positions: readonly string[]; readonly faithfulness: readonly (readonly number[])[] },
): MatrixOverlayInput | undefined {
  const byBlock = new Map(effects.filter((e) => e.block >= 0 && e.block < keys.attention.length).map((e) => [e.block, e.faithfulness]));
  const blocks = heatmap ? heatmap.faithfulness.map((_, l) => l).filter((l) => l < keys.attention.length) : [...byBlock.keys()];
  if (!blocks.length) return undefined;
  return {
    kind: "matrix",
    id: ABLATION_KNOCKOUT_OVERLAY_ID,
    title: "Ablation: attention knockout",
    description: heatmap
      ? "faithfulness with the last query blocked from one key position, per block (rows) and position (columns)"
      : "faithfulness with the last query blocked from the other positions, per block",
    palette: "sequential",
    domain: [0, 1],
    rows: blocks.map((l) => ({ label: `block ${l}`, key: keys.attention[l] })),
    cols: heatmap ? [...heatmap.positions.slice(0, heatmap.faithfulness[0]?.length ?? 0)] : ["faithfulness"],
    values: blocks.map((l) => (heatmap ? [...heatmap.faithfulness[l]!] : [byBlock.get(l)!])),
    rowValues: blocks.map((l) => byBlock.get(l) ?? lowest(heatmap?.faithfulness[l] ?? [])),
  };
}

/** Without a whole-context knockout per block, a block is drawn by its most harmful single-position knockout. */
function lowest(xs: readonly number[]): number {
  const f = xs.filter(Number.isFinite);
  return f.length ? Math.min(...f) : NaN;
}
