/**
 * Verification after a prune: the pruned model loads in onnxruntime, runs on the same dummy inputs as
 * the original, and gives outputs of the same shapes; params and MACs before/after from the metrics;
 * optionally ORT latency before/after (median of interleaved runs, so load drift hits both alike) and
 * the output fidelity (relative L2 error against the original).
 */
import { analyzeModel, type Analysis } from "../analysis.ts";
import type { Model } from "../onnx/model.ts";
import { createSession, dummyFeeds, ort } from "../runtime/ort.ts";

export interface VerifyOptions {
  /** Measure latency (default false). */
  latency?: boolean;
  repeats?: number;
  warmup?: number;
  /** Intra-op threads for both sessions (default 1: steadier on shared machines). */
  threads?: number;
  seed?: number;
  /** Values for symbolic input dims (default 1). */
  symbolic?: Record<string, number>;
  /** The original's analysis when the caller has it (saves a second one). */
  before?: Analysis;
}

export interface OutputCheck {
  name: string;
  before: readonly number[];
  after: readonly number[] | undefined;
  ok: boolean;
}

export interface VerifyReport {
  ok: boolean;
  problems: string[];
  outputs: OutputCheck[];
  params: { before: number; after: number };
  macs: { before: number; after: number };
  latencyMs?: { before: number; after: number; repeats: number; threads: number };
  /** ‖after − before‖₂ / ‖before‖₂ over all float outputs (how much pruning changed the function). */
  relativeError: number;
  maxAbsDiff: number;
}

function floatData(t: ort.Tensor): Float64Array | undefined {
  if (t.type !== "float32" && t.type !== "float64") return undefined;
  return Float64Array.from(t.data as Float32Array);
}

export function relativeL2(a: Record<string, ort.Tensor>, b: Record<string, ort.Tensor>): { rel: number; maxAbs: number } {
  let num = 0, den = 0, maxAbs = 0;
  for (const k of Object.keys(a)) {
    const x = floatData(a[k]!), y = b[k] ? floatData(b[k]!) : undefined;
    if (!x || !y || x.length !== y.length) continue;
    for (let i = 0; i < x.length; i++) {
      const d = y[i]! - x[i]!;
      num += d * d;
      den += x[i]! * x[i]!;
      maxAbs = Math.max(maxAbs, Math.abs(d));
    }
  }
  return { rel: den > 0 ? Math.sqrt(num / den) : Math.sqrt(num), maxAbs };
}

export async function verifyPruned(original: Model, pruned: Model, opts: VerifyOptions = {}): Promise<VerifyReport> {
  const problems: string[] = [];
  // Shapes with the onnxruntime fallback: MACs of models static inference cannot fully follow are exact too.
  const a0 = opts.before ?? (await analyzeModel(original));
  const a1 = await analyzeModel(pruned);
  const threads = opts.threads ?? 1;
  const s0 = await createSession(original, { threads });
  let s1: ort.InferenceSession | undefined;
  try {
    s1 = await createSession(pruned, { threads });
  } catch (e) {
    problems.push(`onnxruntime cannot load the pruned model: ${(e as Error).message}`);
  }
  const feeds = dummyFeeds(a0.graph, opts.symbolic, opts.seed ?? 1);
  const o0 = await s0.run(feeds);
  let o1: Record<string, ort.Tensor> = {};
  if (s1) {
    try {
      o1 = await s1.run(feeds);
    } catch (e) {
      problems.push(`the pruned model fails to run: ${(e as Error).message.split("\n")[0]}`);
    }
  }
  const outputs: OutputCheck[] = Object.keys(o0).map((name) => {
    const before = o0[name]!.dims, after = o1[name]?.dims;
    const ok = !!after && after.length === before.length && after.every((d, i) => d === before[i]);
    if (!ok) problems.push(`output '${name}' has shape [${after ?? "missing"}], expected [${before}]`);
    return { name, before, after, ok };
  });
  const { rel, maxAbs } = relativeL2(o0, o1);
  const report: VerifyReport = {
    ok: problems.length === 0,
    problems,
    outputs,
    params: { before: a0.metrics.params, after: a1.metrics.params },
    macs: { before: a0.metrics.macs, after: a1.metrics.macs },
    relativeError: rel,
    maxAbsDiff: maxAbs,
  };
  if (opts.latency && s1 && report.ok) {
    const warmup = opts.warmup ?? 3;
    const w = performance.now();
    for (let i = 0; i < warmup; i++) {
      await s0.run(feeds);
      await s1.run(feeds);
    }
    // Without a given count, at least 20 pairs and about 400 ms of runs (capped at 1,000 pairs): a model that
    // runs in a fraction of a millisecond needs hundreds of runs for a stable median.
    const pairMs = (performance.now() - w) / Math.max(1, warmup);
    const repeats = opts.repeats ?? Math.min(1000, Math.max(20, Math.ceil(400 / Math.max(pairMs, 1e-3))));
    const t0: number[] = [], t1: number[] = [];
    for (let i = 0; i < repeats; i++) {
      let t = performance.now();
      await s0.run(feeds);
      t0.push(performance.now() - t);
      t = performance.now();
      await s1.run(feeds);
      t1.push(performance.now() - t);
    }
    report.latencyMs = { before: median(t0), after: median(t1), repeats, threads };
  }
  await s0.release();
  await s1?.release();
  return report;
}

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const n = s.length;
  return n % 2 ? s[(n - 1) / 2]! : (s[n / 2 - 1]! + s[n / 2]!) / 2;
}
