/**
 * Ablation jobs (run in the worker): open a study (model, tokenizer, prompts, baseline pass), then the
 * sweep a command asks for, reported as plain JSON for the report webview. The configurations are the
 * same as `scalpel ablate` / `scalpel af1` build.
 */
import { af1Search, knockoutHeatmap, LAYER_CONVENTION, openStudy, type AblationConfig, type ConfigResult, type OpenedStudy, type Progress } from "../../analyzers/ablation/index.ts";
import type { AblationReport, AblationRequest } from "./ablationTypes.ts";
import type { JobContext } from "./context.ts";

/** Maps the engine's per-sweep progress onto one bar: phase `i` of `n` phases. */
function phased(ctx: JobContext, phase: number, phases: number, what: string) {
  return (p: Progress) => {
    const f = (phase + (p.total ? p.done / p.total : 0)) / phases;
    ctx.progress({ fraction: f, message: `${what}: ${p.done}/${p.total}` });
  };
}

function header(kind: AblationReport["kind"], o: OpenedStudy, req: AblationRequest): Omit<AblationReport, "results"> {
  const s = o.study;
  return {
    kind,
    model: req.model,
    convention: LAYER_CONVENTION,
    task: { name: o.task.name, template: o.task.template },
    tokenizer: { file: o.tokenizer.file, kind: o.tokenizer.kind },
    sink: s.set.sinkDescription,
    prompts: s.set.prompts.length,
    blocks: s.numBlocks,
    baselineAccuracy: s.baseline.accuracy,
    correct: s.baseline.correct.reduce((a, b) => a + b, 0),
    method: req.method,
  };
}

const row = (r: ConfigResult, layer?: number) => ({ label: r.label, accuracy: r.accuracy, faithfulness: r.faithfulness, evaluated: r.evaluated, layer });

export async function runAblation(req: AblationRequest, ctx: JobContext): Promise<AblationReport> {
  const phases = req.kind === "af1" ? 3 : req.kind === "knockout" ? 3 : 2;
  ctx.progress({ fraction: 0, message: "Baseline pass" });
  const opened = await openStudy(
    {
      model: req.model,
      task: req.task,
      tokenizer: req.tokenizer,
      n: req.samples,
      prompts: req.prompts?.map((p) => ({ text: p.text, answer: p.answer, operands: [] })),
      sink: req.sink,
      seed: req.seed,
      threads: req.threads,
      keepResiduals: req.method === "resample",
    },
    { signal: ctx.signal, onProgress: phased(ctx, 0, phases, "Baseline pass") },
  );
  ctx.log(opened.study.set.sinkDescription);
  const N = opened.study.numBlocks;
  const opts = (phase: number, what: string) => ({ signal: ctx.signal, onProgress: phased(ctx, phase, phases, what) });
  const tokenText = (id: number) => opened.tokenizer.tokenText(id);

  if (req.kind === "af1") {
    const tau = req.tau ?? 0.9;
    const af1 = await af1Search(opened.study, tau, opts(1, "AF1 search"));
    const heatmap = await knockoutHeatmap(opened.study, tokenText, 1, opts(2, "Knockout heatmap"));
    ctx.progress({ fraction: 1 });
    return {
      ...header("af1", opened, req),
      results: af1.results.map((r) => row(r)),
      af1: { tau, lWait: af1.lWait, lTransfer: af1.lTransfer, lWaitCurve: [...af1.lWaitCurve], lTransferCurve: [...af1.lTransferCurve] },
      heatmap,
    };
  }
  if (req.kind === "knockout") {
    const window = Math.max(1, req.window ?? 1);
    const configs: AblationConfig[] = [];
    for (let l = 0; l + window <= N; l++)
      configs.push({
        label: `knockout last→others in blocks ${l}…${l + window - 1}`,
        attention: Array.from({ length: window }, (_, j) => ({ block: l + j, mask: { knockout: "others" as const } })),
      });
    const results = await opened.study.evaluate(configs, opts(1, "Knockout per block"));
    const heatmap = await knockoutHeatmap(opened.study, tokenText, window, opts(2, "Knockout heatmap"));
    ctx.progress({ fraction: 1 });
    return { ...header("knockout", opened, req), results: results.map((r, l) => row(r, l)), heatmap };
  }
  // ablate: one run per layer for the replacement methods, one ABP run over all blocks.
  const method = req.method ?? "cama";
  let configs: AblationConfig[];
  let layers: (number | undefined)[];
  if (method === "abp") {
    const mask = req.abp ?? "self";
    configs = [{ label: `ABP ${mask} in every block`, attention: Array.from({ length: N }, (_, b) => ({ block: b, mask })) }];
    layers = [undefined];
  } else {
    layers = Array.from({ length: N + 1 }, (_, L) => L);
    configs = layers.map((L) => ({ label: `${method} at L=${L}`, replace: { method, layer: L! } }));
  }
  const results = await opened.study.evaluate(configs, opts(1, `${method} sweep`));
  ctx.progress({ fraction: 1 });
  return { ...header("ablate", opened, req), results: results.map((r, i) => row(r, layers[i])) };
}
