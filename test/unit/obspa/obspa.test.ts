/**
 * OBSPA end to end on the trained Fashion-MNIST classifier: scores in the criteria's shape, selection,
 * compensation through applyPlan's hook, the plan's record, reproducibility, cancellation, and the pieces
 * that make the data-free sources (BatchNorm-calibrated synthetic inputs, closed-form moments).
 */
import assert from "node:assert/strict";
import { relativeError } from "../../helpers/relativeError.ts";
import { buildGraph } from "../../../analyzers/graph/graph.ts";
import { inferShapes, withExtraOutputs } from "../../../analyzers/graph/shapes/index.ts";
import { encodeBytes, loadModel, readTensor, toFloat64 } from "../../../analyzers/onnx/index.ts";
import { ModelProtoSchema } from "onnx-buf";
import { applyPlan } from "../../../analyzers/pruning/apply/index.ts";
import { selectPlan } from "../../../analyzers/pruning/criteria/index.ts";
import { findGroups } from "../../../analyzers/pruning/groups/index.ts";
import {
  compensator,
  obspaCompensatorForPlan,
  obspaPlan,
  optionsFromPlan,
  plannedUnits,
  recordObspa,
  scoreObspa,
  ObspaSession,
} from "../../../analyzers/pruning/obspa/index.ts";
import { untrainedStatistics, withBatchStatistics } from "../../../analyzers/pruning/obspa/batchStats.ts";
import { gaussianRandom, syntheticFeeds } from "../../../analyzers/pruning/obspa/feeds.ts";
import { functionMoments, momentHessians, reluCrossMoment, reluMoments, propagateMoments } from "../../../analyzers/pruning/obspa/moments.ts";
import { dampedCholesky } from "../../../analyzers/pruning/obspa/linalg.ts";
import { splitWeight } from "../../../analyzers/pruning/obspa/layers.ts";
import { weightLayers } from "../../../analyzers/pruning/obspa/layers.ts";
import { imageBatch } from "../../../analyzers/data/evaluate.ts";
import { FASHION_MNIST_DIR, readMnistSplit } from "../../../analyzers/data/idx.ts";
import { createSession, createSessionFromBytes, ort } from "../../../analyzers/runtime/ort.ts";
import type { Model } from "../../../analyzers/onnx/model.ts";
import { fashionModelPath, fashionPreprocess, requireFashion } from "../../fixtures/fashion/index.ts";
import { withInitialBatchNormStatistics } from "../../fixtures/initialBatchNorm.ts";

describe("OBSPA on the Fashion-MNIST classifier", function () {
  this.timeout(600_000);
  requireFashion();
  const model = loadModel(fashionModelPath("bn"));
  const graph = buildGraph(model);
  const shapes = inferShapes(graph);
  const analysis = findGroups(graph, shapes);
  const test = readMnistSplit(FASHION_MNIST_DIR, "test");
  const N = 500;
  const images = new ort.Tensor("float32", imageBatch(test, 0, N, fashionPreprocess()), [N, 1, 28, 28]);

  async function logits(m: Model): Promise<Float32Array> {
    const s = await createSession(m);
    const out = await s.run({ input: images });
    await s.release();
    return out.logits!.data as Float32Array;
  }

  it("identity source: the score is half the squared norm of the consumers' input columns (magnitude)", async () => {
    const { scores } = await scoreObspa(model, graph, analysis, { source: "identity", normalization: "none" });
    const g = analysis.groups.find((x) => x.key.startsWith("layer1.conv1"))!;
    const consumer = g.members.find((m) => m.role === "in")!;
    const w = toFloat64(readTensor(model, graph.weight(consumer.tensor)!));
    const [, cin, kh, kw] = readTensor(model, graph.weight(consumer.tensor)!).dims;
    const gs = scores.groups.find((s) => s.key === g.key)!;
    assert.equal(gs.criterion, "obspa");
    for (let u = 0; u < g.units; u++) {
      const c = consumer.indices.flat[u]!;
      let sq = 0;
      for (let o = 0; o < w.length / (cin! * kh! * kw!); o++) for (let t = 0; t < kh! * kw!; t++) sq += w[(o * cin! + c) * kh! * kw! + t]! ** 2;
      assert.ok(Math.abs(gs.raw[u]! - sq / 2) <= 1e-9 * sq, `unit ${u}: ${gs.raw[u]} vs ${sq / 2}`);
    }
  });

  it("scoreAfterBatchNorm: costs measured after the BatchNorm that follows a layer; the BN-kept and the folded model score the same", async () => {
    // The folded export multiplies each conv's rows by its BatchNorm's γ/√(var+ε): the same affine map, so the
    // same reconstruction error and the same identity (magnitude) scores, group by group.
    const folded = loadModel(fashionModelPath("fold"));
    const fg = buildGraph(folded);
    const fa = findGroups(fg, inferShapes(fg));
    const kept = (await scoreObspa(model, graph, analysis, { source: "identity", normalization: "none", scoreAfterBatchNorm: true })).scores;
    const fold = (await scoreObspa(folded, fg, fa, { source: "identity", normalization: "none", scoreAfterBatchNorm: true })).scores;
    const before = (await scoreObspa(model, graph, analysis, { source: "identity", normalization: "none" })).scores;
    let compared = 0, differs = 0;
    for (const gs of kept.groups) {
      const other = fold.groups.find((x) => x.key === gs.key);
      assert.ok(other, `group ${gs.key} in the folded model`);
      const pre = before.groups.find((x) => x.key === gs.key)!;
      for (let u = 0; u < gs.raw.length; u++) {
        // Frozen groups (the logits) have no scores in either model.
        if (!Number.isFinite(other.raw[u]!)) {
          assert.ok(!Number.isFinite(gs.raw[u]!), `${gs.key} unit ${u} scored in one model only`);
          continue;
        }
        assert.ok(Math.abs(gs.raw[u]! - other.raw[u]!) <= 1e-5 * Math.abs(other.raw[u]!), `${gs.key} unit ${u}: ${gs.raw[u]} kept vs ${other.raw[u]} folded`);
        compared++;
        if (Math.abs(pre.raw[u]! - other.raw[u]!) > 1e-3 * Math.abs(other.raw[u]!)) differs++;
      }
    }
    assert.ok(compared > 200 && differs > compared / 2, `${compared} units compared; ${differs} differ when measured before the BatchNorm`);
  });

  it("BatchNorms whose statistics never saw data: left alone by the calibration, by the moments and by the automatic variance correction", async () => {
    // The same network with every BatchNorm's running statistics reset to their initial values (mean 0, var 1).
    const fresh = withInitialBatchNormStatistics(model);
    const fg = buildGraph(fresh);
    const bns = fg.nodes.filter((n) => n.opType === "BatchNormalization");
    const fa = findGroups(fg, inferShapes(fg));
    assert.ok(fg.nodes.filter((n) => n.opType === "BatchNormalization").every((n) => untrainedStatistics(fg, n)));
    assert.ok(!graph.nodes.some((n) => n.opType === "BatchNormalization" && untrainedStatistics(graph, n)), "the trained model's statistics are trained");
    assert.equal(withBatchStatistics(fg, inferShapes(fg)).rewritten, 0, "no BatchNorm calibrated");
    assert.ok(withBatchStatistics(graph, shapes).rewritten > 0);
    // Moments pass through such a BN as the affine map it is: the origin stays "propagated", so the BN-moments
    // source falls back to the identity wherever no trained BatchNorm precedes.
    const moments = await propagateMoments(fg, weightLayers(fg));
    const afterBn = fg.nodes.find((n) => n.opType === "BatchNormalization")!.outputs[0]!;
    assert.equal(moments.get(afterBn)?.origin, "propagated");
    assert.equal((await propagateMoments(graph, weightLayers(graph))).get(graph.nodes.find((n) => n.opType === "BatchNormalization")!.outputs[0]!)?.origin, "bn");
    // The automatic variance correction skips them (and says so); forced, it writes them.
    const plan = selectPlan(fa, (await scoreObspa(fresh, fg, fa, { source: "synthetic", samples: 16 })).scores, { ratio: 0.3 });
    const session = new ObspaSession(fresh, fg, fa.groups, { source: "synthetic", samples: 16 });
    const auto = await session.compensation(plannedUnits(fa, plan));
    const forced = await session.compensation(plannedUnits(fa, plan), { varianceCorrection: true });
    const varNames = new Set(bns.map((n) => n.inputs[4]!));
    assert.ok(![...auto.tensors.keys()].some((k) => varNames.has(k)), "no running variance written in auto mode");
    assert.ok([...forced.tensors.keys()].some((k) => varNames.has(k)), "running variances written when forced");
    assert.ok(auto.notes.some((n) => /variance correction skipped at \d+ BatchNorms? whose running statistics were never trained/.test(n)), auto.notes.join("; "));
    // The trained model's automatic correction writes them.
    const trained = new ObspaSession(model, graph, analysis.groups, { source: "bn" });
    const tplan = selectPlan(analysis, (await scoreObspa(model, graph, analysis, { source: "bn" })).scores, { ratio: 0.3 });
    const tcomp = await trained.compensation(plannedUnits(analysis, tplan));
    const tvars = new Set(graph.nodes.filter((n) => n.opType === "BatchNormalization").map((n) => n.inputs[4]!));
    assert.ok([...tcomp.tensors.keys()].some((k) => tvars.has(k)), "trained statistics corrected in auto mode");
    assert.equal(auto.varianceCorrected.length, 0);
    assert.ok(forced.varianceCorrected.length > 0 && tcomp.varianceCorrected.length > 0, "the BatchNorms corrected are reported");
  });

  it("synthetic source: compensation brings the pruned logits closer to the original than plain removal", async () => {
    const opts = { source: "synthetic" as const, samples: 32 };
    const { scores, session } = await scoreObspa(model, graph, analysis, opts);
    const plan = recordObspa(selectPlan(analysis, scores, { ratio: 0.3 }), opts);
    assert.deepEqual(plan.hessian, { source: "synthetic", seed: 1, samples: 32, damping: 0.01 });
    const comp = await session.compensation(plannedUnits(analysis, plan));
    assert.ok(comp.compensated.length > 0);
    assert.deepEqual(comp.notes, [], "every consumer compensated, biases absorbed by BatchNorm");
    const base = await logits(model);
    const plain = relativeError(await logits(applyPlan(model, analysis, plan)), base);
    const compensated = relativeError(await logits(applyPlan(model, analysis, plan, { compensate: compensator(comp) })), base);
    assert.ok(compensated < 0.8 * plain, `relative logit error ${compensated} with compensation vs ${plain} without`);

    // The plan alone reproduces the same compensation (same seed, same samples).
    const again = new ObspaSession(model, graph, analysis.groups, optionsFromPlan(plan));
    const comp2 = await again.compensation(plannedUnits(analysis, plan));
    for (const [name, t] of comp.tensors) assert.deepEqual(comp2.tensors.get(name)!.values, t.values, name);
  });

  it("sequential compensation runs wave by wave and gives a valid, closer model", async () => {
    const opts = { source: "synthetic" as const, samples: 32, sequential: true };
    const { scores, session } = await scoreObspa(model, graph, analysis, opts);
    const plan = selectPlan(analysis, scores, { ratio: 0.3 });
    const comp = await session.compensation(plannedUnits(analysis, plan));
    const base = await logits(model);
    const pruned = applyPlan(model, analysis, plan, { compensate: compensator(comp) });
    const err = relativeError(await logits(pruned), base);
    const plain = relativeError(await logits(applyPlan(model, analysis, plan)), base);
    assert.ok(err < 0.8 * plain, `sequential ${err} vs plain ${plain}`);
  });

  it("the prune job's entry points: a saved plan reapplies to the same bytes; calibration needs a folder", async () => {
    const { plan, compensate } = await obspaPlan(model, graph, analysis, { ratio: 0.25 }, { hessian: "bn" });
    assert.equal(plan.criterion, "obspa");
    assert.deepEqual(plan.hessian, { source: "bn", damping: 0.01 });
    const saved = JSON.parse(JSON.stringify(plan));
    const { compensate: again } = await obspaCompensatorForPlan(model, graph, analysis, saved);
    const a = encodeBytes(ModelProtoSchema, applyPlan(model, analysis, plan, { compensate }).proto);
    const b = encodeBytes(ModelProtoSchema, applyPlan(model, analysis, saved, { compensate: again }).proto);
    assert.ok(Buffer.from(a).equals(Buffer.from(b)), "same pruned bytes");
    await assert.rejects(obspaPlan(model, graph, analysis, { ratio: 0.25 }, { hessian: "calibration" }), /--calib DIR/);
  });

  it("reports progress and honours cancellation", async () => {
    const events: string[] = [];
    const ac = new AbortController();
    const s = new ObspaSession(model, graph, analysis.groups, {
      source: "synthetic",
      samples: 64,
      onProgress: (e) => {
        events.push(e.phase);
        if (e.phase === "activations" && e.done === 2) ac.abort(new Error("stop"));
      },
      signal: ac.signal,
    });
    await assert.rejects(s.scores(), /stop/);
    assert.deepEqual(events, ["activations", "activations"]);
  });

  it("BatchNorm calibration: after every BN, synthetic activations have the BN's β and γ² per channel", async () => {
    const bn = graph.nodes.find((n) => n.opType === "BatchNormalization")!;
    const { proto, rewritten } = withBatchStatistics(graph, shapes);
    assert.equal(rewritten, graph.nodes.filter((n) => n.opType === "BatchNormalization").length);
    const copy = withExtraOutputs(proto, [bn.outputs[0]!]);
    const s = await createSessionFromBytes(encodeBytes(ModelProtoSchema, copy), "copy", undefined);
    const feeds = syntheticFeeds(graph, { samples: 8, batch: 8 });
    for await (const f of feeds.batches()) {
      const y = (await s.run(f, [bn.outputs[0]!]))[bn.outputs[0]!]!;
      const [n, c, h, w] = y.dims as number[];
      const data = y.data as Float32Array;
      const gamma = toFloat64(readTensor(model, graph.weight(bn.inputs[1]!)!));
      const beta = toFloat64(readTensor(model, graph.weight(bn.inputs[2]!)!));
      for (let ch = 0; ch < c!; ch++) {
        let s1 = 0, s2 = 0;
        for (let i = 0; i < n!; i++) for (let p = 0; p < h! * w!; p++) s1 += data[(i * c! + ch) * h! * w! + p]!;
        const mean = s1 / (n! * h! * w!);
        for (let i = 0; i < n!; i++) for (let p = 0; p < h! * w!; p++) s2 += (data[(i * c! + ch) * h! * w! + p]! - mean) ** 2;
        assert.ok(Math.abs(mean - beta[ch]!) < 1e-4, `channel ${ch} mean ${mean} vs β ${beta[ch]}`);
        assert.ok(Math.abs(s2 / (n! * h! * w!) - gamma[ch]! ** 2) < 1e-3 * (1 + gamma[ch]! ** 2), `channel ${ch} variance`);
      }
    }
    await s.release();
  });

  it("closed-form moments: rectified Gaussian against quadrature and Monte Carlo; BN resets", async () => {
    const g = gaussianRandom(9);
    for (const [mu, v] of [[0, 1], [0.7, 2], [-1.5, 0.5]] as const) {
      const [m1, var1] = reluMoments(mu, v);
      let s1 = 0, s2 = 0;
      const n = 200_000;
      for (let i = 0; i < n; i++) {
        const x = Math.max(0, mu + Math.sqrt(v) * g());
        s1 += x;
        s2 += x * x;
      }
      assert.ok(Math.abs(m1 - s1 / n) < 0.01, `mean for N(${mu}, ${v})`);
      assert.ok(Math.abs(var1 - (s2 / n - (s1 / n) ** 2)) < 0.02, `variance for N(${mu}, ${v})`);
      const [q1, q2] = functionMoments(Math.tanh, mu, v);
      let t1 = 0, t2 = 0;
      for (let i = 0; i < n; i++) {
        const x = Math.tanh(mu + Math.sqrt(v) * g());
        t1 += x;
        t2 += x * x;
      }
      assert.ok(Math.abs(q1 - t1 / n) < 0.01 && Math.abs(q2 - (t2 / n - (t1 / n) ** 2)) < 0.01, `tanh moments for N(${mu}, ${v})`);
    }
    // In the BN model, the value after the first BN + ReLU has the rectified moments of N(β, γ²·var/(var+ε)).
    const moments = await propagateMoments(graph, weightLayers(graph));
    const bn = graph.nodes.find((n) => n.opType === "BatchNormalization")!;
    const relu = graph.consumers(bn.outputs[0]!)[0]!.node;
    assert.equal(relu.opType, "Relu");
    const m = moments.get(relu.outputs[0]!)!;
    assert.equal(m.origin, "bn");
    const gamma = toFloat64(readTensor(model, graph.weight(bn.inputs[1]!)!));
    const beta = toFloat64(readTensor(model, graph.weight(bn.inputs[2]!)!));
    const rv = toFloat64(readTensor(model, graph.weight(bn.inputs[4]!)!));
    const [e1] = reluMoments(beta[0]!, (gamma[0]! ** 2 * rv[0]!) / (rv[0]! + 1e-5));
    assert.ok(Math.abs(m.mean[0]! - e1) < 1e-12);
  });

  it("channel covariance: bivariate ReLU against Monte Carlo; a conv's propagated covariance against sampling; the Hessian's row energy is that variance", async () => {
    const g = gaussianRandom(11);
    for (const [ma, sa, mb, sb, rho] of [[0, 1, 0, 1, 0.6], [0.5, 1.2, -0.3, 0.7, -0.4], [1, 0.5, 0.2, 2, 0.95]] as const) {
      let s = 0;
      const n = 200_000;
      for (let i = 0; i < n; i++) {
        const z1 = g(), z2 = rho * z1 + Math.sqrt(1 - rho * rho) * g();
        s += Math.max(0, ma + sa * z1) * Math.max(0, mb + sb * z2);
      }
      const e = reluCrossMoment(ma, sa, mb, sb, rho);
      assert.ok(Math.abs(e - s / n) < 0.01 * (1 + Math.abs(e)), `E[relu·relu] ${e} vs ${s / n} for ρ ${rho}`);
    }
    // The first 3×3 conv reading a BN → ReLU output: Cov(y) = Σ_t W_t·Cov(x)·W_tᵀ for positions drawn independently.
    const layers = weightLayers(graph);
    const moments = await propagateMoments(graph, layers);
    const layer = [...layers.values()].find((l) => l.taps === 9 && l.groups === 1 && moments.get(l.input)?.origin === "bn")!;
    const x = moments.get(layer.input)!, y = moments.get(layer.output)!;
    assert.ok(x.covariance && y.covariance, "covariances followed");
    const C = layer.inChannels, M = layer.outChannels, T = layer.taps;
    for (let r = 0; r < M; r++) assert.ok(Math.abs(y.covariance![r * M + r]! - y.variance[r]!) <= 1e-12 * (1 + y.variance[r]!));
    const L = dampedCholesky(Float64Array.from(x.covariance!), C, { lambda: 0 }).L;
    const w = splitWeight(layer, toFloat64(readTensor(model, graph.weight(layer.weight)!)))[0]!;
    const n = 20_000;
    const sum = new Float64Array(M), sq = new Float64Array(M * M);
    const z = new Float64Array(C), xs = new Float64Array(C), out = new Float64Array(M);
    for (let k = 0; k < n; k++) {
      out.fill(0);
      for (let t = 0; t < T; t++) {
        for (let i = 0; i < C; i++) z[i] = g();
        for (let i = 0; i < C; i++) {
          let v = x.mean[i]!;
          for (let j = 0; j <= i; j++) v += L[i * C + j]! * z[j]!;
          xs[i] = v;
        }
        for (let r = 0; r < M; r++) for (let c = 0; c < C; c++) out[r] += w[(r * C + c) * T + t]! * xs[c]!;
      }
      for (let r = 0; r < M; r++) {
        sum[r] += out[r]!;
        for (let q = 0; q < M; q++) sq[r * M + q] += out[r]! * out[q]!;
      }
    }
    let err = 0, norm = 0;
    for (let r = 0; r < M; r++)
      for (let q = 0; q < M; q++) {
        const emp = sq[r * M + q]! / n - (sum[r]! / n) * (sum[q]! / n);
        err += (emp - y.covariance![r * M + q]!) ** 2;
        norm += y.covariance![r * M + q]! ** 2;
      }
    assert.ok(Math.sqrt(err / norm) < 0.05, `relative Frobenius error ${Math.sqrt(err / norm)}`);
    // Centred Hessian 2·Cov ⊗ I (dense, and Kronecker when forced): ½·w·H·wᵀ is the propagated output variance.
    for (const exact of [576, 0]) {
      const [h] = momentHessians(layer, x, true, { lambda: 0 }, exact)!;
      assert.equal(h!.form, exact ? "dense" : "kronecker");
      const e = await h!.rowEnergy(w, M);
      for (let r = 0; r < M; r++) assert.ok(Math.abs(e[r]! - y.variance[r]!) <= 1e-6 * y.variance[r]!, `${h!.form} row ${r}: ${e[r]} vs ${y.variance[r]}`);
    }
  });

  it("variance correction: the BatchNorm after a compensated layer keeps its output variance on real images", async () => {
    // Prune one group only, so the BatchNorm after its consumer keeps all its channels.
    const { scores } = await scoreObspa(model, graph, analysis, { source: "bn" });
    const full = selectPlan(analysis, scores, { ratio: 0.5 });
    const layers = weightLayers(graph);
    const bnAfter = (l: { output: string }) => graph.consumers(l.output).map((u) => u.node).find((n) => n.opType === "BatchNormalization");
    const pg = full.groups.find((p) => {
      const g = analysis.groups.find((x) => x.key === p.key)!;
      return p.prune.length && g.members.some((m) => m.role === "in" && [...layers.values()].some((l) => l.weight === m.tensor && l.taps === 9 && bnAfter(l)));
    })!;
    const plan = { ...full, groups: full.groups.map((p) => (p === pg ? p : { ...p, prune: [] })) };
    const g = analysis.groups.find((x) => x.key === pg.key)!;
    const consumer = [...layers.values()].find((l) => g.members.some((m) => m.role === "in" && m.tensor === l.weight) && l.taps === 9 && bnAfter(l))!;
    const bnOut = bnAfter(consumer)!.outputs[0]!;
    const variances = async (m: Model): Promise<Float64Array> => {
      const s = await createSessionFromBytes(encodeBytes(ModelProtoSchema, withExtraOutputs(m.proto, [bnOut])), "v", undefined);
      const y = (await s.run({ input: images }, [bnOut]))[bnOut]!;
      await s.release();
      const [n, c, h, w] = y.dims as number[];
      const d = y.data as Float32Array;
      const out = new Float64Array(c!);
      for (let ch = 0; ch < c!; ch++) {
        let s1 = 0, s2 = 0;
        for (let i = 0; i < n!; i++) for (let p = 0; p < h! * w!; p++) {
          const v = d[(i * c! + ch) * h! * w! + p]!;
          s1 += v;
          s2 += v * v;
        }
        const k = n! * h! * w!;
        out[ch] = s2 / k - (s1 / k) ** 2;
      }
      return out;
    };
    const base = await variances(model);
    const gap = async (varianceCorrection: boolean) => {
      const s = new ObspaSession(model, graph, analysis.groups, { source: "bn", varianceCorrection });
      const pruned = applyPlan(model, analysis, plan, { compensate: compensator(await s.compensation(plannedUnits(analysis, plan))) });
      const v = await variances(pruned);
      let e = 0;
      for (let i = 0; i < v.length; i++) e += Math.abs(Math.log(v[i]! / base[i]!));
      return e / v.length;
    };
    const without = await gap(false), withCorrection = await gap(true);
    assert.ok(withCorrection < 0.7 * without, `mean |log variance ratio| ${withCorrection} with the correction vs ${without} without`);
  });
});
