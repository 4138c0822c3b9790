import { runPruneJob } from "../pruning/job.ts";
import { formatPrune } from "../pruning/report.ts";
import { HESSIAN_SOURCES } from "../pruning/job.ts";
import type { HessianSource } from "../pruning/obspa/index.ts";
import type { PruneTarget } from "../pruning/types.ts";
import { EXIT_INPUT, requireModelArg, UsageError, type Command } from "./command.ts";

export const pruneCommand: Command = {
  name: "prune",
  summary: "structured pruning: select channels, write the smaller model, verify it in onnxruntime",
  usage:
    "scalpel prune MODEL --ratio R --out FILE [--target channels|params|macs] [--criterion l1|l2|bn|fpgm|random|obspa] [--hessian synthetic|bn|identity|calibration] [--calib DIR [--calib-mean M[,M,M] --calib-std S[,S,S]]] [--samples N] [--sequential] [--variance-correction | --no-variance-correction] [--scope local|global] [--round-to N] [--protect PATTERN]... [--plan FILE] [--save-plan FILE] [--force] [--no-latency] [--threads N] [--seed N] [--json]",
  options: {
    ratio: { type: "string" },
    out: { type: "string" },
    target: { type: "string" },
    criterion: { type: "string" },
    hessian: { type: "string" },
    calib: { type: "string" },
    "calib-mean": { type: "string" },
    "calib-std": { type: "string" },
    samples: { type: "string" },
    sequential: { type: "boolean" },
    "variance-correction": { type: "boolean" },
    "no-variance-correction": { type: "boolean" },
    scope: { type: "string" },
    "round-to": { type: "string" },
    protect: { type: "string", multiple: true },
    plan: { type: "string" },
    "save-plan": { type: "string" },
    force: { type: "boolean" },
    "no-latency": { type: "boolean" },
    threads: { type: "string" },
    seed: { type: "string" },
    json: { type: "boolean" },
  },
  async run(args, io) {
    const file = requireModelArg(args, this.usage);
    const v = args.values;
    const out = v.out as string | undefined;
    if (!out) throw new UsageError(`--out FILE is required\nusage: ${this.usage}`);
    const plan = v.plan as string | undefined;
    if (!plan && v.ratio === undefined) throw new UsageError(`--ratio R (or --plan FILE) is required\nusage: ${this.usage}`);
    const num = (name: string, x: unknown, ok: (n: number) => boolean) => {
      if (x === undefined) return undefined;
      const n = Number(x);
      if (!Number.isFinite(n) || !ok(n)) throw new UsageError(`--${name} got '${x}'`);
      return n;
    };
    const ratio = num("ratio", v.ratio, (n) => n >= 0 && n < 1) ?? 0;
    const target = (v.target as string | undefined) ?? "channels";
    if (!["channels", "params", "macs"].includes(target)) throw new UsageError(`--target must be channels, params or macs, got '${target}'`);
    const scope = (v.scope as string | undefined) ?? "local";
    if (!["local", "global"].includes(scope)) throw new UsageError(`--scope must be local or global, got '${scope}'`);
    const criterion = (v.criterion as string | undefined) ?? (plan ? undefined : "l1");
    const hessian = v.hessian as string | undefined;
    if (hessian !== undefined && !(HESSIAN_SOURCES as readonly string[]).includes(hessian))
      throw new UsageError(`--hessian must be ${HESSIAN_SOURCES.join(", ")}, got '${hessian}'`);
    const obspaFlags = ["hessian", "calib", "calib-mean", "calib-std", "samples", "sequential", "variance-correction", "no-variance-correction"].filter((f) => v[f] !== undefined);
    if (obspaFlags.length && criterion !== "obspa" && !plan) throw new UsageError(`--${obspaFlags[0]} applies to --criterion obspa`);
    if (v["variance-correction"] && v["no-variance-correction"]) throw new UsageError("--variance-correction and --no-variance-correction contradict each other");
    if (!plan && criterion === "obspa" && hessian === "calibration" && v.calib === undefined) throw new UsageError("--hessian calibration needs --calib DIR (a folder of .npy, .pb or image files)");
    if (v.calib !== undefined && !plan && hessian !== "calibration") throw new UsageError("--calib DIR applies to --hessian calibration");
    const list = (name: string) => {
      const x = v[name] as string | undefined;
      if (x === undefined) return undefined;
      const n = x.split(",").map(Number);
      if (!n.length || n.some((y) => !Number.isFinite(y))) throw new UsageError(`--${name} takes numbers separated by commas, got '${x}'`);
      return n;
    };
    const mean = list("calib-mean"), std = list("calib-std");
    if ((mean === undefined) !== (std === undefined)) throw new UsageError("--calib-mean and --calib-std go together (the preprocessing of calibration images)");
    if (std?.some((y) => y === 0)) throw new UsageError("--calib-std must not be 0");
    const report = await runPruneJob(file, {
      out,
      ratio,
      target: target as PruneTarget,
      criterion,
      hessian: hessian as HessianSource | undefined,
      calib: v.calib as string | undefined,
      image: mean && std ? { mean, std } : undefined,
      samples: num("samples", v.samples, (n) => Number.isInteger(n) && n >= 1),
      sequential: v.sequential ? true : undefined,
      // Neither flag: the engine decides (by Hessian source).
      varianceCorrection: v["variance-correction"] ? true : v["no-variance-correction"] ? false : undefined,
      scope: scope as "local" | "global",
      roundTo: num("round-to", v["round-to"], (n) => Number.isInteger(n) && n >= 1),
      protect: v.protect as string[] | undefined,
      planFile: plan,
      savePlan: v["save-plan"] as string | undefined,
      overwrite: !!v.force,
      latency: !v["no-latency"],
      threads: num("threads", v.threads, (n) => Number.isInteger(n) && n >= 0),
      seed: num("seed", v.seed, Number.isInteger),
    });
    io.out(v.json ? JSON.stringify(report, null, 1) : formatPrune(report));
    return report.verify.ok ? 0 : EXIT_INPUT;
  },
};
