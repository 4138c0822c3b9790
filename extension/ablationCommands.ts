/**
 * Command-palette ablations: "Run CAMA/ABP Ablation…", "Find AF1 Subgraph…", "Attention Knockout…".
 * Each asks for the model (active viewer or a file), the tokenizer when none lies next to the model, the
 * task, the number of prompts, the attention sink (always printed in the report), then runs the sweep in
 * a worker behind a cancellable progress notification and opens the report. The per-layer effect (and the
 * knockout heatmap) become overlays in the graph explorer of the model, now or when it is opened later
 * (`AblationOverlays` keeps the latest result per model).
 */
import fs from "node:fs";
import path from "node:path";
import * as vscode from "vscode";
import { ablationCli } from "./ablationCli.ts";
import type { AblationOverlays } from "./ablationOverlays.ts";
import { resolveModelUri } from "./commands.ts";
import type { ErrorReporter } from "./errors.ts";
import type { Log } from "./log.ts";
import type { ModelEditorProvider } from "./modelEditor.ts";
import { BACK, inputText, pickOne, type PickItem, type StepResult } from "./multiStep.ts";
import { runWithProgress } from "./progress.ts";
import { ablationCsv, ablationReportHtml, ablationTitle } from "./reports/ablationReport.ts";
import { ReportPanel } from "./reports/reportPanel.ts";
import type { AblationKind, AblationMethod, AblationReport, AblationRequest } from "./worker/ablationTypes.ts";
import type { EngineWorker } from "./worker/client.ts";

export interface AblationDeps {
  readonly log: Log;
  readonly errors: ErrorReporter;
  readonly editors: ModelEditorProvider;
  readonly engine: EngineWorker;
  readonly overlays: AblationOverlays;
  readonly extensionUri: vscode.Uri;
}

const METHODS: PickItem<{ method: AblationMethod; abp?: "self" | "transfer" }>[] = [
  { value: { method: "cama" }, label: "CAMA", description: "context-aware mean ablation of the residual stream at each layer L" },
  { value: { method: "abp", abp: "self" }, label: "ABP (self)", description: "attention-based peeking: every query sees only the sink and itself" },
  { value: { method: "abp", abp: "transfer" }, label: "ABP (transfer)", description: "non-last queries see the sink and themselves; the last sees all" },
  { value: { method: "mean" }, label: "Mean ablation", description: "plain mean of the residual stream at each layer L" },
  { value: { method: "zero" }, label: "Zero ablation", description: "residual stream set to zero at each layer L" },
  { value: { method: "resample" }, label: "Resample ablation", description: "residual stream of another prompt at each layer L" },
];

const SINKS: PickItem<"bos" | "first" | "none">[] = [
  { value: "bos", label: "BOS token", description: "the tokenizer's beginning-of-sequence token (prepended)" },
  { value: "first", label: "First prompt token", description: "for models without a BOS token" },
  { value: "none", label: "None", description: "no attention sink" },
];

const TITLES: Record<AblationKind, string> = { ablate: "Run CAMA/ABP Ablation", af1: "Find AF1 Subgraph", knockout: "Attention Knockout" };

/** tokenizer.json or vocab.json next to the model (what the engine looks for), else undefined. */
function tokenizerNextTo(model: string): string | undefined {
  for (const f of ["tokenizer.json", "vocab.json"]) {
    const p = path.join(path.dirname(model), f);
    if (fs.existsSync(p)) return p;
  }
  return undefined;
}

const intIn = (min: number, max: number) => (s: string) => (/^\d+$/.test(s.trim()) && +s >= min && +s <= max ? undefined : `A whole number from ${min} to ${max}`);

async function askRequest(kind: AblationKind, model: string, engine: EngineWorker): Promise<Omit<AblationRequest, "model" | "kind" | "tokenizer"> | undefined> {
  const tasks = await engine.run("ablationTasks", {});
  const taskItems: PickItem<string>[] = tasks.map((t) => ({ value: t.name, label: t.name, description: `"${t.template}"` }));
  const title = `${TITLES[kind]}: ${path.basename(model)}`;
  const steps = [...(kind === "ablate" ? ["method"] : []), "task", "samples", "sink", ...(kind === "af1" ? ["tau"] : kind === "knockout" ? ["window"] : [])];
  const r: { method?: AblationMethod; abp?: "self" | "transfer"; task: string; samples: number; sink: "bos" | "first" | "none"; tau?: number; window?: number } = {
    task: "add",
    samples: 200,
    sink: "bos",
  };
  let i = 0;
  while (i < steps.length) {
    const info = { title, step: i + 1, total: steps.length };
    let v: StepResult<unknown>;
    switch (steps[i]) {
      case "method":
        v = await pickOne(info, "Ablation method", METHODS, METHODS.find((m) => m.value.method === r.method && m.value.abp === r.abp)?.value);
        if (v && v !== BACK) Object.assign(r, v);
        break;
      case "task":
        v = await pickOne(info, "Task (prompt template)", taskItems, r.task);
        if (typeof v === "string") r.task = v;
        break;
      case "samples":
        v = await inputText(info, "Number of prompts", String(r.samples), intIn(10, 100_000));
        if (typeof v === "string") r.samples = Number(v);
        break;
      case "sink":
        v = await pickOne(info, "Attention sink", SINKS, r.sink);
        if (typeof v === "string") r.sink = v as typeof r.sink;
        break;
      case "tau":
        v = await inputText(info, "Faithfulness threshold τ (0 < τ ≤ 1)", String(r.tau ?? 0.9), (s) => (+s > 0 && +s <= 1 ? undefined : "A number in (0, 1]"));
        if (typeof v === "string") r.tau = Number(v);
        break;
      case "window":
        v = await inputText(info, "Blocks per knockout window", String(r.window ?? 1), intIn(1, 1000));
        if (typeof v === "string") r.window = Number(v);
        break;
    }
    if (v === undefined) return undefined;
    i = v === BACK ? Math.max(0, i - 1) : i + 1;
  }
  return r;
}

export function registerAblationCommands(ctx: vscode.ExtensionContext, deps: AblationDeps): void {
  const { log, errors, editors, engine, overlays, extensionUri } = deps;
  const command = (id: string, kind: AblationKind) =>
    ctx.subscriptions.push(
      vscode.commands.registerCommand(
        id,
        errors.guard(TITLES[kind], async (arg?: unknown, preset?: Partial<AblationRequest>): Promise<AblationReport | undefined> => {
          const uri = await resolveModelUri(arg, editors, TITLES[kind]);
          if (!uri) return undefined;
          if (!vscode.workspace.isTrusted) {
            void vscode.window.showWarningMessage(`${TITLES[kind]} runs the model in onnxruntime: it needs a trusted workspace.`);
            return undefined;
          }
          const model = uri.fsPath;
          let tokenizer = preset?.tokenizer ?? tokenizerNextTo(model);
          if (!tokenizer) {
            const picked = await vscode.window.showOpenDialog({ title: `Tokenizer for ${path.basename(model)}`, filters: { "Tokenizer (tokenizer.json, char vocab)": ["json"] }, canSelectMany: false });
            if (!picked?.[0]) return undefined;
            tokenizer = picked[0].fsPath;
          }
          const answers = preset ? { task: "add", samples: 200, sink: "bos" as const, ...preset } : await askRequest(kind, model, engine);
          if (!answers) return undefined;
          const threads = vscode.workspace.getConfiguration("scalpel", uri).get<number>("runtime.threads", 0);
          const req: AblationRequest = { ...answers, kind, model, tokenizer, threads: threads || undefined };
          log.info(`${TITLES[kind]}: ${ablationCli(req)}`);
          const report = await runWithProgress(engine, log, `${TITLES[kind]}: ${path.basename(model)}`, "ablation", req);
          log.info(`${TITLES[kind]}: ${report.sink}; baseline accuracy ${(report.baselineAccuracy * 100).toFixed(1)}% on ${report.prompts} prompts`);
          // The model's graph explorer shows the per-layer effect as an overlay: now if it is open, else once opened.
          const overlaid = await overlays.record(model, report);
          ReportPanel.show(extensionUri, log, {
            title: ablationTitle(report),
            body: ablationReportHtml(report),
            json: report,
            csv: ablationCsv(report),
            fileBase: `${path.basename(model, ".onnx")}.${kind === "ablate" ? (report.method ?? "cama") : kind}`,
            folder: path.dirname(model),
          }, overlaid && editors.openViews.some((v) => v.document.uri.fsPath === model && v.panel.visible));
          // Beside a visible viewer showing the overlay, so that both stay in sight.
          return report;
        }),
      ),
    );
  command("onnxScalpel.runAblation", "ablate");
  command("onnxScalpel.findAf1", "af1");
  command("onnxScalpel.attentionKnockout", "knockout");
}
