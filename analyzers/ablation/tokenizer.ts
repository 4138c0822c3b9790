/**
 * The model's own tokenizer, from a local file: a Hugging Face `tokenizer.json` (through
 * @huggingface/tokenizers, a pure-JS, dependency-free implementation that runs offline in Node and in
 * webviews) or a small character-vocabulary JSON (`{"type": "char", "vocab": {"a": 0, …}, "bos_token": …}`).
 *
 * `encode` never adds special tokens: whether a BOS is prepended is the ablation's decision (the sink choice).
 */
import fs from "node:fs";
import path from "node:path";
import { Tokenizer as HfTokenizer } from "@huggingface/tokenizers";
import { describeError, ScalpelError } from "../onnx/errors.ts";

export interface TextTokenizer {
  readonly kind: "huggingface" | "char";
  /** The file it was read from. */
  readonly file: string;
  /** The BOS token and its id, when the tokenizer has one. */
  readonly bos: { token: string; id: number } | undefined;
  readonly vocabSize: number;
  /** Token ids of `text`, without special tokens. */
  encode(text: string): number[];
  /** The text of one token (for labels). */
  tokenText(id: number): string;
}

const BOS_NAMES = ["<bos>", "<s>", "<|begin_of_text|>", "<|startoftext|>", "[BOS]", "<|bos|>", "<|endoftext|>"];

/** Reads a tokenizer file; the format is recognised from its content. */
export function loadTokenizer(file: string, opts: { bosToken?: string } = {}): TextTokenizer {
  const abs = path.resolve(file);
  let json: unknown;
  try {
    json = JSON.parse(fs.readFileSync(abs, "utf8"));
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new ScalpelError(abs, code === "ENOENT" ? "tokenizer file not found" : `is not a readable JSON tokenizer (${describeError(e)})`);
  }
  if (!json || typeof json !== "object") throw new ScalpelError(abs, "is not a tokenizer: expected a JSON object");
  const o = json as Record<string, unknown>;
  if (o.type === "char") return charTokenizer(abs, o, opts.bosToken);
  if (o.model && typeof o.model === "object") return hfTokenizer(abs, o, opts.bosToken);
  throw new ScalpelError(abs, 'is neither a Hugging Face tokenizer.json (no "model" field) nor a char vocabulary ({"type": "char", "vocab": {...}})');
}

/** The tokenizer file next to a model: tokenizer.json, then vocab.json (char vocabulary). */
export function findTokenizerNextTo(modelPath: string): string | undefined {
  const dir = path.dirname(path.resolve(modelPath));
  for (const f of ["tokenizer.json", "vocab.json"]) {
    const p = path.join(dir, f);
    if (fs.existsSync(p)) return p;
  }
  return undefined;
}

function charTokenizer(file: string, o: Record<string, unknown>, bosOverride: string | undefined): TextTokenizer {
  const vocab = o.vocab as Record<string, number> | undefined;
  if (!vocab || typeof vocab !== "object") throw new ScalpelError(file, 'char vocabulary has no "vocab" object');
  const byId = new Map<number, string>();
  for (const [s, id] of Object.entries(vocab)) {
    if (!Number.isInteger(id)) throw new ScalpelError(file, `char vocabulary: id of '${s}' is not an integer`);
    byId.set(id, s);
  }
  const bosToken = bosOverride ?? (typeof o.bos_token === "string" ? o.bos_token : undefined);
  const bos = bosToken !== undefined && vocab[bosToken] !== undefined ? { token: bosToken, id: vocab[bosToken]! } : undefined;
  if (bosOverride !== undefined && !bos) throw new ScalpelError(file, `BOS token '${bosOverride}' is not in the vocabulary`);
  return {
    kind: "char",
    file,
    bos,
    vocabSize: byId.size,
    encode(text) {
      return Array.from(text, (c) => {
        const id = vocab[c];
        if (id === undefined) throw new ScalpelError(file, `character '${c}' (in "${text}") is not in the vocabulary`);
        return id;
      });
    },
    tokenText: (id) => byId.get(id) ?? `#${id}`,
  };
}

function hfTokenizer(file: string, o: Record<string, unknown>, bosOverride: string | undefined): TextTokenizer {
  // tokenizer_config.json beside it names the BOS token for most models.
  let config: Record<string, unknown> = {};
  const cfgPath = path.join(path.dirname(file), "tokenizer_config.json");
  if (fs.existsSync(cfgPath)) {
    try {
      config = JSON.parse(fs.readFileSync(cfgPath, "utf8"));
    } catch (e) {
      throw new ScalpelError(cfgPath, `is not valid JSON (${describeError(e)})`);
    }
  }
  let tok: HfTokenizer;
  try {
    tok = new HfTokenizer(o, config);
  } catch (e) {
    throw new ScalpelError(file, `cannot be read as a Hugging Face tokenizer (${describeError(e)})`);
  }
  const vocab = tok.get_vocab(true);
  const bosToken = bosOverride ?? configToken(config.bos_token) ?? templateBos(o) ?? BOS_NAMES.find((n) => vocab.has(n));
  const bosId = bosToken !== undefined ? tok.token_to_id(bosToken) : undefined;
  if (bosOverride !== undefined && bosId === undefined) throw new ScalpelError(file, `BOS token '${bosOverride}' is not in the vocabulary`);
  const bos = bosToken !== undefined && bosId !== undefined ? { token: bosToken, id: bosId } : undefined;
  return {
    kind: "huggingface",
    file,
    bos,
    vocabSize: vocab.size,
    encode(text) {
      try {
        return tok.encode(text, { add_special_tokens: false }).ids;
      } catch (e) {
        throw new ScalpelError(file, `cannot tokenize "${text}": ${describeError(e)}`);
      }
    },
    tokenText: (id) => tok.id_to_token(id) ?? `#${id}`,
  };
}

function configToken(v: unknown): string | undefined {
  if (typeof v === "string") return v;
  if (v && typeof v === "object" && typeof (v as { content?: unknown }).content === "string") return (v as { content: string }).content;
  return undefined;
}

/** The special token a TemplateProcessing post-processor puts before the sequence (Llama-style BOS). */
function templateBos(o: Record<string, unknown>): string | undefined {
  const pp = o.post_processor as { type?: string; single?: unknown[]; processors?: unknown[] } | null | undefined;
  const procs = pp?.type === "Sequence" ? (pp.processors ?? []) : pp ? [pp] : [];
  for (const p of procs as { type?: string; single?: unknown[] }[]) {
    if (p.type !== "TemplateProcessing" || !Array.isArray(p.single)) continue;
    const first = p.single[0] as { SpecialToken?: { id?: string } } | undefined;
    if (first?.SpecialToken?.id) return first.SpecialToken.id;
  }
  return undefined;
}
