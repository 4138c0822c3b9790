/**
 * The all-for-one (AF1) search and the knockout heatmap, built on AblationStudy.
 *
 * AF1(L_wait, L_transfer) = CAMA at L_wait, then L_transfer "transfer" blocks (non-last queries see only the
 * sink and themselves, the last query sees everything), then "self" blocks to the end (every query sees only
 * the sink and itself). Search: sweep L_wait = 0…N with CAMA alone and keep the largest whose faithfulness
 * ≥ τ; then sweep L_transfer = 1…N − L_wait and keep the smallest that reaches τ.
 */
import type { AblationConfig, AblationStudy, ConfigResult, SweepOptions } from "./engine.ts";
import { LAYER_CONVENTION } from "./engine.ts";

export function camaConfig(L: number): AblationConfig {
  return { label: `CAMA at L=${L}`, replace: { method: "cama", layer: L } };
}

export function af1Config(lWait: number, lTransfer: number, numBlocks: number): AblationConfig {
  const attention: { block: number; mask: "transfer" | "self" }[] = [];
  for (let b = lWait; b < numBlocks; b++) attention.push({ block: b, mask: b < lWait + lTransfer ? "transfer" : "self" });
  return { label: `AF1 L_wait=${lWait} L_transfer=${lTransfer}`, replace: { method: "cama", layer: lWait }, attention };
}

export interface CurvePoint {
  readonly L: number;
  readonly accuracy: number;
  readonly faithfulness: number;
}

export interface Af1Result {
  readonly convention: string;
  readonly tau: number;
  readonly blocks: number;
  readonly prompts: number;
  readonly baselineAccuracy: number;
  /** Prompts the unablated model answers right (the faithfulness denominator). */
  readonly correctPrompts: number;
  readonly lWaitCurve: readonly CurvePoint[];
  readonly lWait: number;
  readonly lTransferCurve: readonly CurvePoint[];
  /** null when no L_transfer reaches τ. */
  readonly lTransfer: number | null;
  readonly results: readonly ConfigResult[];
}

/** The full sweep: every L_wait, then every L_transfer for the chosen L_wait (curves are complete). */
export async function af1Search(study: AblationStudy, tau = 0.9, opts: SweepOptions = {}): Promise<Af1Result> {
  const N = study.numBlocks;
  const waitConfigs = Array.from({ length: N + 1 }, (_, L) => camaConfig(L));
  const waitResults = await study.evaluate(waitConfigs, opts);
  const lWaitCurve = waitResults.map((r, L) => ({ L, accuracy: r.accuracy, faithfulness: r.faithfulness }));
  let lWait = 0;
  for (const p of lWaitCurve) if (p.faithfulness >= tau) lWait = p.L;
  const transferConfigs = Array.from({ length: N - lWait }, (_, i) => af1Config(lWait, i + 1, N));
  const transferResults = await study.evaluate(transferConfigs, opts);
  const lTransferCurve = transferResults.map((r, i) => ({ L: i + 1, accuracy: r.accuracy, faithfulness: r.faithfulness }));
  const lTransfer = lTransferCurve.find((p) => p.faithfulness >= tau)?.L ?? null;
  return {
    convention: LAYER_CONVENTION,
    tau,
    blocks: N,
    prompts: study.set.prompts.length,
    baselineAccuracy: study.baseline.accuracy,
    correctPrompts: study.baseline.correct.reduce((a, b) => a + b, 0),
    lWaitCurve,
    lWait,
    lTransferCurve,
    lTransfer,
    results: [...waitResults, ...transferResults],
  };
}

export interface KnockoutHeatmap {
  /** Token length of the prompts it was computed on (the most common length). */
  readonly length: number;
  readonly window: number;
  /** Labels of the key positions (tokens of the group's first prompt; '*' marks positions that vary). */
  readonly positions: readonly string[];
  /** rows: window start block; columns: key position; value: faithfulness with last → key blocked. */
  readonly faithfulness: readonly (readonly number[])[];
  readonly accuracy: readonly (readonly number[])[];
}

/** Layer × position knockout: block the last query from one key in blocks [l, l + window). */
export async function knockoutHeatmap(
  study: AblationStudy,
  tokenText: (id: number) => string,
  window = 1,
  opts: SweepOptions = {},
): Promise<KnockoutHeatmap> {
  const [n, members] = [...study.set.groups].sort((a, b) => b[1].length - a[1].length)[0]!;
  const N = study.numBlocks;
  const w = Math.max(1, Math.min(window, N));
  const first = study.set.prompts[members[0]!]!.ids;
  const varies = first.map((tok, t) => members.some((i) => study.set.prompts[i]!.ids[t] !== tok));
  const positions = first.map((tok, t) => `${t}:${tokenText(tok)}${varies[t] ? "*" : ""}`);
  const configs: AblationConfig[] = [];
  for (let l = 0; l + w <= N; l++)
    for (let k = 0; k < n - 1; k++)
      configs.push({
        label: `knockout last→${k} in blocks ${l}…${l + w - 1}`,
        attention: Array.from({ length: w }, (_, j) => ({ block: l + j, mask: { knockout: [k] } })),
        length: n,
      });
  const res = await study.evaluate(configs, opts);
  const rows = N - w + 1, cols = n - 1;
  const grid = (f: (r: ConfigResult) => number) => Array.from({ length: rows }, (_, l) => Array.from({ length: cols }, (_, k) => f(res[l * cols + k]!)));
  return { length: n, window: w, positions: positions.slice(0, cols), faithfulness: grid((r) => r.faithfulness), accuracy: grid((r) => r.accuracy) };
}
