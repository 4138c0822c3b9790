/** Ablation requests spelled as `scalpel ablate` / `scalpel af1` command lines (logged with every run). Pure. */
import type { AblationRequest } from "./worker/ablationTypes.ts";

/** The same run as a CLI command line (logged). */
export function ablationCli(req: AblationRequest): string {
  const q = (s: string) => (/^[\w./:@%+=,-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`);
  const a = req.kind === "af1" ? ["scalpel", "af1", req.model] : ["scalpel", "ablate", req.model, "--method", req.kind === "knockout" ? "knockout" : (req.method ?? "cama")];
  if (req.kind === "ablate" && req.method === "abp") a.push("--abp", req.abp ?? "self");
  if (req.kind === "knockout") a.push("--window", String(req.window ?? 1), "--heatmap");
  if (req.kind === "af1") a.push("--tau", String(req.tau ?? 0.9));
  a.push("--task", req.task, "--n", String(req.samples), "--sink", req.sink);
  if (req.tokenizer) a.push("--tokenizer", req.tokenizer);
  return a.map(q).join(" ");
}
