/**
 * `scalpel accuracy`: top-1 accuracy of image classifiers on labelled images in the MNIST IDX layout,
 * several models side by side (an original and its pruned versions), each against the first. The
 * preprocessing is declared by the user, never guessed: x = (pixel / divisor − mean) / std.
 */
import path from "node:path";
import { evaluateClassifier, type Accuracy, type Preprocess } from "../data/evaluate.ts";
import { readMnistSplit, takeImages } from "../data/idx.ts";
import { closeModel, loadModel } from "../onnx/model.ts";
import { UsageError, type Command } from "./command.ts";

function numberFlag(v: unknown, name: string, fallback?: number): number {
  if (v === undefined) {
    if (fallback === undefined) throw new UsageError(`--${name} is required (the preprocessing is declared, not guessed)`);
    return fallback;
  }
  const n = Number(v);
  if (!Number.isFinite(n)) throw new UsageError(`--${name} must be a number, got '${v}'`);
  return n;
}

export const accuracyCommand: Command = {
  name: "accuracy",
  summary: "top-1 accuracy of classifiers on labelled IDX images (e.g. an original and its pruned versions)",
  usage: "scalpel accuracy MODEL [MODEL...] --images DIR --mean M --std S [--divisor 255] [--split test|train] [--limit N] [--json]",
  options: {
    images: { type: "string" },
    split: { type: "string" },
    mean: { type: "string" },
    std: { type: "string" },
    divisor: { type: "string" },
    limit: { type: "string" },
    json: { type: "boolean" },
  },
  async run(args, io) {
    if (args.positionals.length === 0) throw new UsageError(`missing MODEL\nusage: ${this.usage}`);
    const dir = args.values.images as string | undefined;
    if (!dir) throw new UsageError(`--images DIR is required\nusage: ${this.usage}`);
    const split = (args.values.split as string | undefined) ?? "test";
    if (split !== "test" && split !== "train") throw new UsageError(`--split must be test or train, got '${split}'`);
    const pre: Preprocess = {
      divisor: numberFlag(args.values.divisor, "divisor", 255),
      mean: numberFlag(args.values.mean, "mean"),
      std: numberFlag(args.values.std, "std"),
    };
    if (pre.std === 0 || pre.divisor === 0) throw new UsageError("--std and --divisor must not be 0");
    let images = readMnistSplit(dir, split);
    if (args.values.limit !== undefined) {
      const limit = numberFlag(args.values.limit, "limit");
      if (!Number.isInteger(limit) || limit < 1) throw new UsageError(`--limit must be a positive integer, got '${args.values.limit}'`);
      images = takeImages(images, limit);
    }
    const results: { model: string; accuracy: Accuracy }[] = [];
    for (const file of args.positionals) {
      const model = loadModel(file);
      try {
        results.push({ model: file, accuracy: await evaluateClassifier(model, images, pre) });
      } finally {
        closeModel(model);
      }
    }
    if (args.values.json) {
      const rows = results.map((r) => ({ model: r.model, correct: r.accuracy.correct, total: r.accuracy.total, accuracy: r.accuracy.accuracy }));
      io.out(JSON.stringify({ images: dir, split, preprocess: pre, results: rows }, null, 2));
      return 0;
    }
    io.out(`${images.count} ${split} images from ${dir}; x = (pixel / ${pre.divisor} − ${pre.mean}) / ${pre.std}`);
    const names = results.map((r) => path.basename(r.model));
    const w = Math.max(5, ...names.map((n) => n.length));
    io.out(`  ${"model".padEnd(w)}  accuracy   correct  vs first`);
    const first = results[0]!.accuracy.accuracy;
    results.forEach((r, i) => {
      const a = r.accuracy;
      const delta = i === 0 ? "" : `${((a.accuracy - first) * 100 >= 0 ? "+" : "")}${((a.accuracy - first) * 100).toFixed(1)} pts`;
      io.out(`  ${names[i]!.padEnd(w)}  ${(a.accuracy * 100).toFixed(1).padStart(7)}%  ${String(a.correct).padStart(8)}  ${delta}`);
    });
    return 0;
  },
};
