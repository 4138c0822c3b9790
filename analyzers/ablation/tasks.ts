/**
 * Arithmetic tasks (the paper's templates) and their tokenization. A task is a template with operand slots
 * {A} {B} {C}; the answer is read at the last prompt position, so the target is the FIRST token of the
 * answer text (for a character tokenizer, its first character).
 */
import { ScalpelError } from "../onnx/errors.ts";
import { seededRandom } from "../runtime/ort.ts";
import type { TextTokenizer } from "./tokenizer.ts";

export interface TaskSpec {
  readonly name: string;
  /** Prompt template with {A}, {B} and optionally {C}. */
  readonly template: string;
  readonly operands: 2 | 3;
  readonly compute: (a: number, b: number, c: number) => number;
  /** Text put before the result in the answer (e.g. " " for tokenizers with leading-space words). */
  readonly answerPrefix: string;
}

const spec = (name: string, template: string, compute: TaskSpec["compute"], answerPrefix = ""): TaskSpec => ({
  name,
  template,
  operands: template.includes("{C}") ? 3 : 2,
  compute,
  answerPrefix,
});

/** The built-in tasks. `--template` makes a custom one (the operation is taken from the task name). */
export const TASKS: Readonly<Record<string, TaskSpec>> = {
  add: spec("add", "{A}+{B}=", (a, b) => a + b),
  sub: spec("sub", "{A}-{B}=", (a, b) => a - b),
  add3: spec("add3", "{A}+{B}+{C}=", (a, b, c) => a + b + c),
  addsub3: spec("addsub3", "{A}+{B}-{C}=", (a, b, c) => a + b - c),
  words: spec("words", "What is {A} plus {B}? ", (a, b) => a + b),
  "words-sub": spec("words-sub", "What is {A} minus {B}? ", (a, b) => a - b),
};

export function taskSpec(name: string, opts: { template?: string; answerPrefix?: string } = {}): TaskSpec {
  const base = TASKS[name];
  if (!base) throw new ScalpelError("--task", `unknown task '${name}'; known tasks: ${Object.keys(TASKS).join(", ")}`);
  if (!opts.template && opts.answerPrefix === undefined) return base;
  const template = opts.template ?? base.template;
  if (!template.includes("{A}") || !template.includes("{B}"))
    throw new ScalpelError("--template", `template "${template}" must contain {A} and {B}`);
  const t = spec(name, template, base.compute, opts.answerPrefix ?? base.answerPrefix);
  if (t.operands !== base.operands) throw new ScalpelError("--template", `task '${name}' takes ${base.operands} operands but the template has ${t.operands}`);
  return t;
}

export interface PromptItem {
  readonly text: string;
  /** The full answer text (prefix + result). */
  readonly answer: string;
  readonly operands: readonly number[];
}

export interface GenerateOptions {
  n: number;
  /** Inclusive operand range; the paper uses 1…99. */
  min?: number;
  max?: number;
  seed?: number;
}

/** n distinct prompts drawn uniformly (seeded) from all operand tuples in [min, max]. */
export function generatePrompts(task: TaskSpec, opts: GenerateOptions): PromptItem[] {
  const min = opts.min ?? 1, max = opts.max ?? 99;
  if (!(Number.isInteger(min) && Number.isInteger(max) && min <= max)) throw new ScalpelError("--min/--max", `bad operand range ${min}…${max}`);
  const span = max - min + 1;
  const total = span ** task.operands;
  const n = Math.min(opts.n, total);
  const rnd = seededRandom(opts.seed ?? 0);
  const chosen = new Set<number>();
  // Rejection sampling when sparse, a partial Fisher-Yates over all tuples when dense.
  if (n * 2 < total) {
    while (chosen.size < n) chosen.add(Math.floor(rnd() * total));
  } else {
    const all = Array.from({ length: total }, (_, i) => i);
    for (let i = 0; i < n; i++) {
      const j = i + Math.floor(rnd() * (total - i));
      [all[i], all[j]] = [all[j]!, all[i]!];
      chosen.add(all[i]!);
    }
  }
  return [...chosen].map((code) => {
    const ops: number[] = [];
    for (let k = 0; k < task.operands; k++) {
      ops.push(min + (code % span));
      code = Math.floor(code / span);
    }
    return makePrompt(task, ops);
  });
}

export function makePrompt(task: TaskSpec, ops: readonly number[]): PromptItem {
  const [a = 0, b = 0, c = 0] = ops;
  const text = task.template.replaceAll("{A}", String(a)).replaceAll("{B}", String(b)).replaceAll("{C}", String(c));
  return { text, answer: task.answerPrefix + String(task.compute(a, b, c)), operands: ops };
}

export type SinkChoice = "bos" | "first" | "none";

export interface TokenizedPrompt {
  readonly index: number;
  readonly item: PromptItem;
  /** Token ids fed to the model (BOS first when prepended). */
  readonly ids: readonly number[];
  /** The first token of the answer: the target at the last position. */
  readonly target: number;
}

export interface PromptSet {
  readonly prompts: readonly TokenizedPrompt[];
  /** Indices into `prompts`, grouped by token length (only equal lengths are batched together). */
  readonly groups: ReadonlyMap<number, readonly number[]>;
  /** Whether a BOS token was prepended. */
  readonly bosPrepended: boolean;
  /** Position of the attention sink (a key every query may always read), or undefined for none. */
  readonly sinkPosition: number | undefined;
  readonly sink: SinkChoice;
  /** One line saying which sink was chosen, for the CLI and the JSON. */
  readonly sinkDescription: string;
}

/**
 * Tokenizes prompts. A BOS token is prepended whenever the tokenizer has one (models are trained with it);
 * the sink is then the BOS (`bos`), the first prompt token (`first`), or none. Default: `bos` when there is
 * a BOS token, else `first`.
 */
export function tokenizePrompts(items: readonly PromptItem[], tok: TextTokenizer, sinkOpt?: SinkChoice): PromptSet {
  const sink: SinkChoice = sinkOpt ?? (tok.bos ? "bos" : "first");
  if (sink === "bos" && !tok.bos)
    throw new ScalpelError(tok.file, "this tokenizer has no BOS token; choose --sink first (the first prompt token) or --sink none");
  const bosPrepended = !!tok.bos;
  const prompts: TokenizedPrompt[] = items.map((item, index) => {
    const body = tok.encode(item.text);
    if (body.length === 0) throw new ScalpelError(tok.file, `prompt "${item.text}" has no tokens`);
    const ans = tok.encode(item.answer);
    if (ans.length === 0) throw new ScalpelError(tok.file, `answer "${item.answer}" has no tokens`);
    return { index, item, ids: bosPrepended ? [tok.bos!.id, ...body] : body, target: ans[0]! };
  });
  const groups = new Map<number, number[]>();
  for (const p of prompts) {
    const g = groups.get(p.ids.length);
    if (g) g.push(p.index);
    else groups.set(p.ids.length, [p.index]);
  }
  const sinkPosition = sink === "none" ? undefined : sink === "bos" ? 0 : bosPrepended ? 1 : 0;
  const sinkDescription =
    sink === "bos"
      ? `attention sink: BOS token '${tok.bos!.token}' (id ${tok.bos!.id}) at position 0`
      : sink === "first"
        ? `attention sink: the first prompt token, at position ${sinkPosition}${bosPrepended ? " (after the BOS)" : " (no BOS prepended)"}`
        : `attention sink: none${bosPrepended ? ` (BOS '${tok.bos!.token}' is prepended but treated like any other token)` : ""}`;
  return { prompts, groups: new Map([...groups].sort((a, b) => a[0] - b[0])), bosPrepended, sinkPosition, sink, sinkDescription };
}
