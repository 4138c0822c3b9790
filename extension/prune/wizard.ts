/**
 * The Prune Model wizard: criterion (and OBSPA's Hessian source and variance correction), ratio, what the
 * ratio counts, and the modules to protect; scope and round_to come from settings and can be changed on the
 * last step.
 */
import * as vscode from "vscode";
import type { ModuleRow } from "../../analyzers/report/inspect.ts";
import { BACK, inputText, pickMany, pickOne, type PickItem, type StepResult } from "../multiStep.ts";
import { formatCount } from "../format.ts";
import { asksVarianceCorrection, formatRatio, parseRatio, type Criterion, type HessianSource, type PruneOptions, type Target, type VarianceCorrection } from "./options.ts";

const CRITERION_ITEMS: PickItem<Criterion>[] = [
  { value: "l1", label: "L1 norm", description: "magnitude of each channel's weights" },
  { value: "l2", label: "L2 norm", description: "magnitude of each channel's weights" },
  { value: "bn", label: "BatchNorm scale", description: "|γ| of the BatchNorm after each channel" },
  { value: "fpgm", label: "FPGM", description: "distance to the geometric median of the filters" },
  { value: "obspa", label: "OBSPA", description: "second-order scores with weight compensation, no fine-tuning" },
  { value: "random", label: "Random", description: "the baseline every criterion is judged against" },
];

const HESSIAN_ITEMS: PickItem<HessianSource>[] = [
  { value: "synthetic", label: "Synthetic inputs", description: "random inputs matching the model's input spec" },
  { value: "bn", label: "BatchNorm moments", description: "closed form from BatchNorm statistics, no forward pass" },
  { value: "identity", label: "Identity", description: "degenerates to magnitude (a check)" },
  { value: "calibration", label: "Calibration folder", description: "your inputs: .npy or TensorProto .pb files" },
];

const VARIANCE_ITEMS: PickItem<VarianceCorrection>[] = [
  { value: "auto", label: "Automatic", description: "the engine decides (by Hessian source and BatchNorm statistics; CLI: no flag)" },
  { value: "on", label: "On", description: "restore BatchNorm output variances after compensation (--variance-correction)" },
  { value: "off", label: "Off", description: "compensation only, e.g. when BatchNorm statistics do not describe your data (--no-variance-correction)" },
];

const TARGET_ITEMS: PickItem<Target>[] = [
  { value: "channels", label: "Channels", description: "the ratio of channels removed in each group" },
  { value: "params", label: "Parameters", description: "the ratio of the model's parameters removed" },
  { value: "macs", label: "MACs", description: "the ratio of the model's multiply-accumulates removed" },
];

/** Modules worth offering for protection: the top two levels of the module tree. */
function protectItems(modules: ModuleRow): PickItem<string>[] {
  const out: PickItem<string>[] = [];
  const walk = (m: ModuleRow, depth: number) => {
    for (const c of m.children) {
      out.push({ value: c.module, label: c.module, description: `${formatCount(c.params)} params · ${formatCount(c.macs)} MACs` });
      if (depth < 1) walk(c, depth + 1);
    }
  };
  walk(modules, 0);
  return out;
}

export async function askPruneOptions(modelName: string, defaults: PruneOptions, modules: ModuleRow | undefined): Promise<PruneOptions | undefined> {
  const title = `Prune ${modelName}`;
  let o: PruneOptions = defaults;
  type Step = "criterion" | "hessian" | "calibration" | "variance" | "ratio" | "target" | "protect";
  const sequence = (): Step[] => [
    "criterion",
    ...(o.criterion === "obspa" ? (["hessian", ...(o.hessian === "calibration" ? ["calibration" as const] : [])] as Step[]) : []),
    ...(asksVarianceCorrection(o) ? (["variance"] as Step[]) : []),
    "ratio",
    "target",
    ...(modules?.children.length ? (["protect"] as Step[]) : []),
  ];
  let i = 0;
  while (i < sequence().length) {
    const steps = sequence();
    const info = { title, step: i + 1, total: steps.length };
    let r: StepResult<unknown>;
    switch (steps[i]!) {
      case "criterion":
        r = await pickOne(info, "Importance criterion", CRITERION_ITEMS, o.criterion);
        if (typeof r === "string") o = { ...o, criterion: r as Criterion, hessian: r === "obspa" ? (o.hessian ?? "synthetic") : undefined };
        break;
      case "hessian":
        r = await pickOne(info, "Where OBSPA's Hessians come from", HESSIAN_ITEMS, o.hessian);
        if (typeof r === "string") o = { ...o, hessian: r as HessianSource };
        break;
      case "calibration":
        r = await inputText(info, "Folder of calibration inputs (.npy or TensorProto .pb)", o.calibrationFolder ?? "", (s) => (s.trim() ? undefined : "A folder is needed"));
        if (typeof r === "string") o = { ...o, calibrationFolder: r.trim() };
        break;
      case "variance":
        r = await pickOne(info, "BatchNorm variance correction after OBSPA's compensation", VARIANCE_ITEMS, o.varianceCorrection ?? "auto");
        if (typeof r === "string") o = { ...o, varianceCorrection: r as VarianceCorrection };
        break;
      case "ratio":
        r = await inputText(info, "How much to remove: a fraction (0.3) or a percentage (30%)", formatRatio(o.ratio), (s) =>
          parseRatio(s) === undefined ? "A ratio between 0 and 1, or a percentage between 0% and 100%" : undefined,
        );
        if (typeof r === "string") o = { ...o, ratio: parseRatio(r)! };
        break;
      case "target":
        r = await pickOne(info, `Remove ${formatRatio(o.ratio)} of…`, TARGET_ITEMS, o.target);
        if (typeof r === "string") o = { ...o, target: r as Target };
        break;
      case "protect":
        r = await pickMany(info, `Modules never pruned (scope ${o.scope}, round to ${o.roundTo}; change both in settings)`, protectItems(modules!), o.protect);
        if (Array.isArray(r)) o = { ...o, protect: r as string[] };
        break;
    }
    if (r === undefined) return undefined;
    i = r === BACK ? Math.max(0, i - 1) : i + 1;
  }
  return o;
}

/** Asks before replacing existing outputs; never for the original. Returns whether to go on. */
export async function confirmReplace(existing: readonly string[]): Promise<boolean> {
  if (!existing.length) return true;
  const names = existing.map((f) => f.split(/[\\/]/).pop()).join(" and ");
  const choice = await vscode.window.showWarningMessage(`${names} already exist${existing.length === 1 ? "s" : ""}. Replace?`, { modal: true }, "Replace");
  return choice === "Replace";
}
