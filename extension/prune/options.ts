/**
 * Prune options as the wizard collects them, mirroring the CLI's `scalpel prune` flags (issues 3 and 4),
 * so every run from the extension can be repeated headless. Pure: no `vscode` import.
 */
import path from "node:path";

export const CRITERIA = ["l1", "l2", "bn", "fpgm", "random", "obspa"] as const;
export const HESSIAN_SOURCES = ["synthetic", "bn", "identity", "calibration"] as const;
export const TARGETS = ["channels", "params", "macs"] as const;
export const SCOPES = ["local", "global"] as const;
export const VARIANCE_CORRECTIONS = ["auto", "on", "off"] as const;

export type Criterion = (typeof CRITERIA)[number];
export type HessianSource = (typeof HESSIAN_SOURCES)[number];
export type Target = (typeof TARGETS)[number];
export type Scope = (typeof SCOPES)[number];
/** OBSPA's BatchNorm variance correction: "auto" leaves it to the engine (its default for the Hessian source). */
export type VarianceCorrection = (typeof VARIANCE_CORRECTIONS)[number];

export interface PruneOptions {
  readonly criterion: Criterion;
  /** OBSPA only. */
  readonly hessian?: HessianSource;
  /** OBSPA with calibration Hessians only. */
  readonly calibrationFolder?: string;
  /** OBSPA only (not asked, and "auto", with the identity source). */
  readonly varianceCorrection?: VarianceCorrection;
  /** Fraction to remove, 0 < ratio < 1. */
  readonly ratio: number;
  readonly target: Target;
  readonly scope: Scope;
  readonly roundTo: number;
  /** Module scopes or tensor-name patterns never pruned. */
  readonly protect: readonly string[];
}

/** "0.3", "30%", "30" → 0.3; undefined for anything outside (0, 1). */
export function parseRatio(text: string): number | undefined {
  const t = text.trim();
  const m = /^(\d+(?:\.\d*)?|\.\d+)\s*(%?)$/.exec(t);
  if (!m) return undefined;
  let v = Number(m[1]);
  if (m[2] === "%" || v >= 1) v /= 100;
  return v > 0 && v < 1 ? v : undefined;
}

export function formatRatio(r: number): string {
  return `${Number((r * 100).toFixed(2))}%`;
}

/** Settings values as read from `scalpel.*`, checked and completed. */
export function optionsFromSettings(get: (key: string) => unknown): PruneOptions {
  const pick = <T extends string>(v: unknown, allowed: readonly T[], fallback: T): T => (allowed.includes(v as T) ? (v as T) : fallback);
  const ratio = typeof get("prune.ratio") === "number" ? (get("prune.ratio") as number) : 0.3;
  const roundTo = get("prune.roundTo");
  const protect = get("prune.protect");
  const criterion = pick(get("prune.criterion"), CRITERIA, "l1");
  const calibrationFolder = typeof get("obspa.calibrationFolder") === "string" ? (get("obspa.calibrationFolder") as string) : "";
  return {
    criterion,
    hessian: criterion === "obspa" ? pick(get("obspa.hessianSource"), HESSIAN_SOURCES, "synthetic") : undefined,
    calibrationFolder: calibrationFolder || undefined,
    // Read whatever the criterion: the wizard offers it as the default once OBSPA is picked.
    varianceCorrection: pick(get("obspa.varianceCorrection"), VARIANCE_CORRECTIONS, "auto"),
    ratio: ratio > 0 && ratio < 1 ? ratio : 0.3,
    target: pick(get("prune.target"), TARGETS, "channels"),
    scope: pick(get("prune.scope"), SCOPES, "local"),
    roundTo: Number.isInteger(roundTo) && (roundTo as number) >= 1 ? (roundTo as number) : 1,
    protect: Array.isArray(protect) ? protect.filter((p): p is string => typeof p === "string" && p !== "") : [],
  };
}

/** Whether OBSPA is asked about the variance correction: not for the identity source (a check of the magnitude limit). */
export function asksVarianceCorrection(o: Pick<PruneOptions, "criterion" | "hessian">): boolean {
  return o.criterion === "obspa" && (o.hessian ?? "synthetic") !== "identity";
}

/** The engine's `varianceCorrection` option: true/false when forced, undefined to let the engine decide. */
export function varianceCorrectionOption(o: PruneOptions): boolean | undefined {
  if (!asksVarianceCorrection(o)) return undefined;
  return o.varianceCorrection === "on" ? true : o.varianceCorrection === "off" ? false : undefined;
}

/** The files a prune writes beside the model: NAME.pruned.onnx and the plan NAME.prune.json. */
export function outputPaths(model: string): { pruned: string; plan: string } {
  const dir = path.dirname(model);
  const base = path.basename(model).replace(/\.onnx$/i, "");
  return { pruned: path.join(dir, `${base}.pruned.onnx`), plan: path.join(dir, `${base}.prune.json`) };
}

const quote = (s: string) => (/^[\w./:@%+=,-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`);

/** The same run as a CLI command line (logged with every prune, so it can be repeated headless). */
export function cliEquivalent(model: string, o: PruneOptions): string {
  const out = outputPaths(model);
  const args = ["scalpel", "prune", model, "--ratio", String(o.ratio), "--target", o.target, "--criterion", o.criterion];
  if (o.criterion === "obspa") {
    args.push("--hessian", o.hessian ?? "synthetic");
    if (o.hessian === "calibration" && o.calibrationFolder) args.push("--calib", o.calibrationFolder);
    const vc = varianceCorrectionOption(o);
    if (vc !== undefined) args.push(vc ? "--variance-correction" : "--no-variance-correction");
  }
  args.push("--scope", o.scope);
  if (o.roundTo > 1) args.push("--round-to", String(o.roundTo));
  for (const p of o.protect) args.push("--protect", p);
  args.push("--out", out.pruned, "--save-plan", out.plan);
  return args.map(quote).join(" ");
}
