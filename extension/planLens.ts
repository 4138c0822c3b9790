/**
 * CodeLens on pruning plans (NAME.prune.json): "Apply plan" with the plan's total savings at the top, and
 * above each pruned group's entry its size, the units removed, what that group alone saves and the score of the
 * removed units relative to the group's mean (magnitude criteria, recomputed from the weights). The model is
 * NAME.onnx beside the plan. Figures come from the engine worker, cached by the two files' mtimes.
 */
import fs from "node:fs";
import path from "node:path";
import * as vscode from "vscode";
import { formatCount } from "./format.ts";
import type { Log } from "./log.ts";
import type { EngineWorker } from "./worker/client.ts";
import type { PlanFigures } from "./worker/planJob.ts";

export class PlanLensProvider implements vscode.CodeLensProvider {
  private readonly cache = new Map<string, { stamp: string; figures: Promise<PlanFigures | Error> }>();

  constructor(
    private readonly engine: EngineWorker,
    private readonly log: Log,
  ) {}

  async provideCodeLenses(doc: vscode.TextDocument, token: vscode.CancellationToken): Promise<vscode.CodeLens[]> {
    const planFile = doc.uri.fsPath;
    const model = planFile.replace(/\.prune\.json$/i, ".onnx");
    const top = new vscode.Range(0, 0, 0, 0);
    let tooltip = `Apply this plan to ${path.basename(model)}`;
    const apply = (title: string) => new vscode.CodeLens(top, { title, command: "onnxScalpel.applyPlan", arguments: [doc.uri], tooltip });
    if (!fs.existsSync(model)) return [apply("Apply plan…")];
    if (doc.isDirty) return [apply("Apply plan (save the plan first)")];
    const figures = await this.figures(model, planFile);
    if (token.isCancellationRequested) return [];
    if (figures instanceof Error) return [apply(`Apply plan · ${figures.message.replace(/^.*?: /, "")}`)];
    tooltip = `Apply this ${figures.criterion} plan to ${path.basename(model)}`;
    // OBSPA and random plans: the file records the units removed, not their scores, and a lens does not rerun OBSPA.
    const noScore = figures.scoredWith
      ? ""
      : figures.criterion === "random"
        ? "\nno score: the plan picked these units at random"
        : `\nno score: the plan file records the units ${figures.criterion} removes, not their scores, and lenses do not rerun ${figures.criterion}`;
    const out = [apply(`Apply plan to ${path.basename(model)} · params ${formatCount(figures.params.before)} → ${formatCount(figures.params.after)} · MACs ${formatCount(figures.macs.before)} → ${formatCount(figures.macs.after)}`)];
    const text = doc.getText();
    for (const g of figures.groups) {
      const at = text.indexOf(`"key": ${JSON.stringify(g.key)}`);
      if (at < 0) continue;
      const line = doc.positionAt(at).line;
      out.push(
        new vscode.CodeLens(doc.lineAt(line).range, {
          title:
            `${g.scope || g.key} · remove ${g.removed} of ${g.units} ${g.unitKind}s, keep ${g.units - g.removed} · −${formatCount(g.paramsSaved)} params · −${formatCount(g.macsSaved)} MACs` +
            (g.removedScore !== undefined ? ` · score ${Number(g.removedScore.toPrecision(2))}× mean` : ""),
          command: "",
          tooltip:
            `group ${g.key}: what removing these units alone saves` +
            (g.removedScore !== undefined ? `\nthe removed units' ${figures.scoredWith} importance is ${g.removedScore.toPrecision(3)}× the group's mean (lower: less important)` : noScore),
        }),
      );
    }
    return out;
  }

  private figures(model: string, planFile: string): Promise<PlanFigures | Error> {
    const stamp = `${fs.statSync(model).mtimeMs}:${fs.statSync(planFile).mtimeMs}`;
    const hit = this.cache.get(planFile);
    if (hit?.stamp === stamp) return hit.figures;
    const figures = this.engine.run("planFigures", { model, planFile }).catch((e: unknown) => {
      const msg = e instanceof Error ? e.message : typeof e === "object" && e && "message" in e ? String((e as { message: unknown }).message) : String(e);
      this.log.warn(`plan lenses for ${path.basename(planFile)}: ${msg}`);
      return new Error(msg);
    });
    this.cache.set(planFile, { stamp, figures });
    return figures;
  }
}
