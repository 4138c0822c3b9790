/**
 * bench/obspa-coverage.ts — OBSPA through the prune job (the CLI's and the extension's) on one torchvision
 * export of every family (op13, BatchNorm kept, random weights): each Hessian source that needs no data,
 * 30% of channels, the written model verified in onnxruntime against the original. Prints, per model, whether
 * it pruned to a valid model, the layers compensated, the relative error of the outputs against the random
 * baseline's, and the time; a failure prints its message.
 *
 * Usage: npm run bench:obspa-coverage [-- --sources bn,synthetic] [-- --models resnet18,vit_b_32]
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { runPruneJob } from "../analyzers/pruning/job.ts";
import type { HessianSource } from "../analyzers/pruning/obspa/index.ts";
import { requireTorchvisionModel } from "../test/fixtures/paths.ts";
import { printTable } from "./util.ts";

const args = process.argv.slice(2);
const opt = (k: string) => (args.includes(k) ? args[args.indexOf(k) + 1] : undefined);
// One per family, the smallest of each.
const FAMILIES = [
  "alexnet", "convnext_tiny", "densenet121", "efficientnet_b0", "efficientnet_v2_s", "googlenet", "inception_v3",
  "maxvit_t", "mnasnet0_5", "mobilenet_v2", "mobilenet_v3_small", "regnet_x_400mf", "regnet_y_400mf", "resnet18",
  "resnext50_32x4d", "shufflenet_v2_x0_5", "squeezenet1_0", "swin_t", "swin_v2_t", "vgg11_bn", "vit_b_32", "wide_resnet50_2",
];
const models = opt("--models")?.split(",") ?? FAMILIES;
const sources = (opt("--sources")?.split(",") ?? ["bn", "synthetic"]) as HessianSource[];
const dir = fs.mkdtempSync(path.join(os.tmpdir(), "obspa-coverage-"));
const rows: string[][] = [["model", ...sources.map((s) => `${s}: result`), ...sources.map((s) => `${s}: s`)]];
let failures = 0;
try {
  for (const name of models) {
    const file = requireTorchvisionModel(name, "op13-bn");
    const results: string[] = [], times: string[] = [];
    for (const hessian of sources) {
      const out = path.join(dir, `${name}-${hessian}.onnx`);
      const t0 = performance.now();
      try {
        const r = await runPruneJob(file, { out, criterion: "obspa", hessian, samples: hessian === "synthetic" ? 4 : undefined, ratio: 0.3, latency: false, baseline: true });
        const err = r.verify.relativeError, base = r.baseline?.relativeError;
        const ok = r.verify.ok;
        if (!ok) failures++;
        results.push(`${ok ? "ok" : "INVALID"} ${r.obspa?.compensated ?? 0} comp., err ${err?.toFixed(2) ?? "?"} (random ${base?.toFixed(2) ?? "?"})`);
      } catch (e) {
        failures++;
        results.push(`FAIL: ${(e as Error).message.slice(0, 120)}`);
      }
      times.push(((performance.now() - t0) / 1000).toFixed(1));
      fs.rmSync(out, { force: true });
      console.log(`${name} ${hessian}: ${results.at(-1)} (${times.at(-1)} s)`);
    }
    rows.push([name, ...results, ...times]);
  }
} finally {
  fs.rmSync(dir, { recursive: true, force: true });
}
console.log("");
printTable(rows);
console.log(`\n${models.length * sources.length - failures} of ${models.length * sources.length} prunes valid`);
