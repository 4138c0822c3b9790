/**
 * CAMA / ABP ablations and the all-for-one (AF1) search on transformer ONNX models.
 * Data flow: load model → discover structure → edit a copy (surgery) → tokenize task prompts → baseline pass
 * (predictions, residual statistics) → sweep configurations → JSON report.
 */
import path from "node:path";
import { loadModel } from "../onnx/model.ts";
import { ScalpelError } from "../onnx/errors.ts";
import type { GraphOptimizationLevel } from "../runtime/ort.ts";
import { AblationRunner } from "./runner.ts";
import { AblationStudy, type AblationConfig, type ConfigResult, type SweepOptions } from "./engine.ts";
import { findTokenizerNextTo, loadTokenizer, type TextTokenizer } from "./tokenizer.ts";
import { generatePrompts, taskSpec, tokenizePrompts, type PromptItem, type SinkChoice, type TaskSpec } from "./tasks.ts";

export * from "./engine.ts";
export * from "./af1.ts";
export * from "./tasks.ts";
export * from "./tokenizer.ts";
export { discoverStructure, type Structure, type Block, type AttentionSite, type StreamPoint } from "./structure.ts";
export { prepareAblationModel, type EditedModel, type AblationIO } from "./surgery.ts";
export { AblationRunner, type RunnerOptions, type RunPatch, type ResidualPatch } from "./runner.ts";

export interface StudyRequest {
  readonly model: string;
  readonly task: string;
  readonly template?: string;
  readonly answerPrefix?: string;
  /** tokenizer.json (Hugging Face) or char vocabulary JSON; default: one next to the model. */
  readonly tokenizer?: string;
  readonly bosToken?: string;
  readonly n?: number;
  readonly min?: number;
  readonly max?: number;
  readonly seed?: number;
  /** Explicit prompts instead of generated ones. */
  readonly prompts?: readonly PromptItem[];
  readonly sink?: SinkChoice;
  readonly threads?: number;
  readonly optimization?: GraphOptimizationLevel;
  readonly batchSize?: number;
  readonly keepResiduals?: boolean;
}

export interface OpenedStudy {
  readonly study: AblationStudy;
  readonly runner: AblationRunner;
  readonly tokenizer: TextTokenizer;
  readonly task: TaskSpec;
}

/** Loads the model and tokenizer, builds the prompts, and runs the baseline pass. */
export async function openStudy(req: StudyRequest, opts: SweepOptions = {}): Promise<OpenedStudy> {
  const modelPath = path.resolve(req.model);
  const tokFile = req.tokenizer ?? findTokenizerNextTo(modelPath);
  if (!tokFile)
    throw new ScalpelError(modelPath, "no tokenizer given and none found next to the model (tokenizer.json or vocab.json); pass --tokenizer FILE");
  const tokenizer = loadTokenizer(tokFile, { bosToken: req.bosToken });
  const task = taskSpec(req.task, { template: req.template, answerPrefix: req.answerPrefix });
  const items = req.prompts ?? generatePrompts(task, { n: req.n ?? 1000, min: req.min, max: req.max, seed: req.seed });
  const set = tokenizePrompts(items, tokenizer, req.sink);
  const runner = await AblationRunner.create(loadModel(modelPath), { threads: req.threads, optimization: req.optimization });
  const study = await AblationStudy.prepare(runner, set, { ...opts, batchSize: req.batchSize, keepResiduals: req.keepResiduals, seed: req.seed });
  return { study, runner, tokenizer, task };
}

/** Evaluates configurations (progress after each run, cancellation between runs). */
export function runSweep(study: AblationStudy, configs: readonly AblationConfig[], opts: SweepOptions = {}): Promise<ConfigResult[]> {
  return study.evaluate(configs, opts);
}
