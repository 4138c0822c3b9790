/**
 * The arithmetic-transformer fixtures (trained weights, exports, PyTorch reference results), built on demand
 * by test/fixtures/arith/build.py into ${SCALPEL_CACHE:-~/.cache/onnx-scalpel}/arith/ (cached and locked, so
 * this is quick once built; the first build trains the model, see the script for its cost).
 */
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../..");
let dir: string | undefined;

export function arithDir(): string {
  if (dir) return dir;
  const script = path.join(ROOT, "test/fixtures/arith/build.py");
  const r = spawnSync("/usr/bin/python3", [script], { encoding: "utf8", stdio: ["ignore", "pipe", "inherit"], timeout: 3 * 3600 * 1000 });
  if (r.error) throw new Error(`cannot run ${script} with /usr/bin/python3 (Debian python3-torch and python3-onnx are needed): ${r.error.message}`);
  if (r.status !== 0) throw new Error(`${script} failed with exit code ${r.status}`);
  const last = r.stdout.trim().split("\n").pop()!;
  if (!fs.existsSync(path.join(last, "reference.json"))) throw new Error(`${script} did not produce ${last}/reference.json`);
  return (dir = last);
}

export function arithFile(name: string): string {
  return path.join(arithDir(), name);
}

export interface ReferenceConfig {
  label: string;
  replace?: { method: "cama" | "zero" | "mean" | "resample"; layer: number };
  attention?: { block: number; mask: "transfer" | "self" | { knockout: number[] | "others" } }[];
  length?: number;
  accuracy: number;
  faithfulness: number;
  evaluated: number;
  faithfulBase: number;
}

export interface ReferenceSink {
  baselineAccuracy: number;
  lWait: number;
  lTransfer: number | null;
  af1: ReferenceConfig[];
  others: ReferenceConfig[];
  means?: { length: number; L: number; t: number; token: number; mean: number[] }[];
}

export interface Reference {
  tau: number;
  prompts: { text: string; answer: string }[];
  sinks: { bos: ReferenceSink; none: ReferenceSink };
}

export function reference(): Reference {
  return JSON.parse(fs.readFileSync(arithFile("reference.json"), "utf8")) as Reference;
}
