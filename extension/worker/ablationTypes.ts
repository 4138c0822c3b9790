/** Ablation requests and reports as plain JSON (worker ↔ host ↔ report webview). */
import type { KnockoutHeatmap } from "../../analyzers/ablation/af1.ts";
import type { ReplaceMethod } from "../../analyzers/ablation/engine.ts";
import type { SinkChoice } from "../../analyzers/ablation/tasks.ts";

export type AblationKind = "ablate" | "af1" | "knockout";
export type AblationMethod = ReplaceMethod | "abp";

export interface AblationRequest {
  readonly kind: AblationKind;
  readonly model: string;
  readonly task: string;
  /** tokenizer.json or char vocabulary; undefined: the one next to the model. */
  readonly tokenizer?: string;
  readonly samples: number;
  /** Explicit prompts (text and expected answer) instead of `samples` generated ones. */
  readonly prompts?: readonly { readonly text: string; readonly answer: string }[];
  readonly sink: SinkChoice;
  readonly seed?: number;
  readonly threads?: number;
  /** ablate: the method (default cama). */
  readonly method?: AblationMethod;
  /** ablate with abp: the mask. */
  readonly abp?: "self" | "transfer";
  /** af1: faithfulness threshold τ (default 0.9). */
  readonly tau?: number;
  /** knockout: blocks per window (default 1). */
  readonly window?: number;
}

export interface AblationRow {
  readonly label: string;
  readonly accuracy: number;
  readonly faithfulness: number;
  readonly evaluated: number;
  /** L (replacement methods) or window start block (knockout). */
  readonly layer?: number;
}

export interface CurvePoint {
  readonly L: number;
  readonly accuracy: number;
  readonly faithfulness: number;
}

export interface AblationReport {
  readonly kind: AblationKind;
  readonly model: string;
  readonly convention: string;
  readonly task: { readonly name: string; readonly template: string };
  readonly tokenizer: { readonly file: string; readonly kind: string };
  /** The attention-sink choice, in words (always shown). */
  readonly sink: string;
  readonly prompts: number;
  readonly blocks: number;
  readonly baselineAccuracy: number;
  /** Prompts the unablated model answers right (the faithfulness denominator). */
  readonly correct: number;
  readonly method?: AblationMethod;
  readonly results: readonly AblationRow[];
  readonly af1?: {
    readonly tau: number;
    readonly lWait: number;
    readonly lTransfer: number | null;
    readonly lWaitCurve: readonly CurvePoint[];
    readonly lTransferCurve: readonly CurvePoint[];
  };
  readonly heatmap?: KnockoutHeatmap;
}
