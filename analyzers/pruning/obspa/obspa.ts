/**
 * OBSPA (Optimal Brain SPA): second-order scores for the units of dependency groups and the Optimal Brain
 * Surgeon weight compensation of their consumers, from a Hessian source that needs no training data.
 *
 *   score(unit) = Σ over the group's consumer layers of ½·tr(W_J · [(H⁻¹)_JJ]⁻¹ · W_Jᵀ)   (J: the unit's columns)
 *               + producerWeight · Σ over its producer layers of ½·w_r·H·w_rᵀ             (r: the unit's rows)
 *   The producer term is off by default (producerWeight 0): in BatchNorm models the producer's output energy
 *   is measured before the normalisation that rescales it, and on the Fashion-MNIST benchmark adding it
 *   made OBSPA-synthetic worse (39.9% → 23.1% at 50% of channels). A group with no consumer layer at all
 *   is scored by its producers' energy alone.
 *   compensation of a consumer losing input channels Q: ΔW = −W_Q·[(H⁻¹)_QQ]⁻¹·(H⁻¹)_{Q,:}, and with bias
 *   compensation Δb = −ΔW·μ (the optimum with a free bias).
 *
 * Usage: `const s = new ObspaSession(model, graph, groups, opts); await s.scores(); await s.compensation(removed)`.
 */
import { create } from "@bufbuild/protobuf";
import { GraphProtoSchema, ModelProtoSchema, type ModelProto, type TensorProto } from "onnx-buf";
import type { Graph, Node } from "../../graph/graph.ts";
import { DataType } from "../../onnx/dtypes.ts";
import type { Model } from "../../onnx/model.ts";
import { fromNumbers, makeTensor, readTensor, tensorDims, toFloat64 } from "../../onnx/tensor.ts";
import { checkCancelled, collectHessians, defaultMaxRows, newTiming, type LayerRequest, type ProgressEvent, type Timing } from "./collect.ts";
import { syntheticFeeds, type FeedSource } from "./feeds.ts";
import { groupLayers, unitIndices, type GroupLike } from "./groupView.ts";
import { DiagonalHessian, type HessianForm, type LayerHessian } from "./hessian.ts";
import { groupColumns, groupRows, joinWeight, splitWeight, storedValues, storedWeight, weightLayers, type WeightLayer } from "./layers.ts";
import { momentHessians, propagateMoments } from "./moments.ts";
import { untrainedStatistics, withBatchStatistics } from "./batchStats.ts";
import { inferShapes, type ShapeMap } from "../../graph/shapes/index.ts";
import { attrFloat } from "../../graph/attrs.ts";

export type HessianSource = "synthetic" | "bn" | "identity" | "calibration";

export interface ObspaOptions {
  source: HessianSource;
  /** The calibration data (required for source "calibration"). */
  feeds?: FeedSource;
  /** Synthetic samples (default 64). */
  samples?: number;
  /** Seed of synthetic inputs and row subsampling (default 1). */
  seed?: number;
  /** Synthetic samples per run (default 16; a fixed batch dimension wins). */
  batch?: number;
  /** Relative damping λ (default 0.01). */
  lambda?: number;
  /** Centre the Hessians and move the removed channels' mean into the bias (default true). */
  biasCompensation?: boolean;
  /**
   * Restore each compensated layer's output variance (per channel, as its Hessian predicts it before and after)
   * through the running variance of the BatchNormalization that alone reads it, so the layers after it see
   * the activation scale they were trained on. true: at every such BatchNorm; false: never; undefined (auto,
   * the default): for every source but identity (whose white-input guess of the variance made it worse; both
   * chosen on held-out training images, see bench/obspa-tune.ts), and only at BatchNorms whose running
   * statistics were trained (there is no trained scale to restore behind statistics that never saw data).
   * Plans record it ("auto" for undefined); plans without the record are reproduced without it.
   */
  varianceCorrection?: boolean;
  /** BN-moments source: also use moments propagated from N(0, 1) graph inputs where no BatchNorm precedes (default false: identity there). */
  momentsWithoutBatchNorm?: boolean;
  /** BN-moments source: follow the channels' covariance through the graph (default true; false: independent channels). */
  momentCovariance?: boolean;
  /**
   * Measure each layer's removal cost after the BatchNormalization that alone reads its output (rows weighted
   * by (γ/√(var+ε))²), so that a model scores the same with BatchNorm kept or folded (default false: on
   * held-out training images it lost to costs measured before the BN for the identity and BN-moments
   * sources: identity 23.3% → 17.8% at 30% of channels, and at the matching MACs identity 30.3% → 18.3%,
   * BN-moments 57.6% → 44.1%; see docs/obspa.md).
   */
  scoreAfterBatchNorm?: boolean;
  /** Weight of the producer rows' output energy in the score (default 0; see the header). */
  producerWeight?: number;
  /** Layers with at most this many columns (channels·taps) get the exact dense Hessian (default 576). */
  exactMaxColumns?: number;
  /** Rows of X per layer (default max(2048, 8·columns)). */
  maxRows?: (columns: number) => number;
  /** Compensate front to back, recollecting each layer's Hessian from the already-compensated prefix. */
  sequential?: boolean;
  /**
   * Synthetic source: BatchNorms normalise with the synthetic batch's statistics, so activations after each
   * BN have the training data's per-channel moments (default true; no effect without BatchNorm).
   */
  bnCalibration?: boolean;
  threads?: number;
  /** Bytes of Hessian statistics held at once (default 1 GiB). */
  memoryBudget?: number;
  onProgress?: (e: ProgressEvent) => void;
  signal?: AbortSignal;
}

export interface LayerReport {
  node: string;
  form: HessianForm | "identity-fallback";
  columns: number;
  groups: number;
  /** Rows of X the statistics came from (0: analytic). */
  samples: number;
  damping: number;
}

export interface ObspaScores {
  /** Per group id: the score of each unit (higher = more important). */
  readonly units: Map<number, Float64Array>;
  /** Per group id and member index: that member's share of each unit's score (consumers and producers). */
  readonly members: Map<number, Map<number, Float64Array>>;
  readonly layers: LayerReport[];
  readonly source: string;
  readonly timing: Timing;
}

export interface CompensationResult {
  /** New full-size values of weight tensors (the tensor's own layout), by stored tensor name. */
  readonly tensors: Map<string, { dataType: number; dims: number[]; values: Float64Array }>;
  /** Layers compensated, and why others were not. */
  readonly compensated: string[];
  /** BatchNormalization nodes whose running variance the variance correction rescaled. */
  readonly varianceCorrected: string[];
  readonly notes: string[];
  readonly timing: Timing;
}

/** A mutable view of a model whose weights can be swapped (for sequential compensation). */
interface WorkingModel {
  proto: ModelProto;
  name: string;
  baseDir: string | undefined;
}

export class ObspaSession {
  readonly layers: Map<string, WeightLayer>;
  readonly timing: Timing = newTiming();
  private readonly opts: Required<Pick<ObspaOptions, "samples" | "seed" | "lambda" | "biasCompensation" | "producerWeight" | "exactMaxColumns">> & ObspaOptions;
  private hessians: Map<string, LayerHessian[]> | undefined;
  private readonly reports = new Map<string, LayerReport>();
  private readonly weights = new Map<string, Float64Array[]>();
  private shapes: ShapeMap | undefined;
  private readonly beforeEnergies = new Map<string, Float64Array[]>();

  constructor(
    readonly model: Model,
    readonly graph: Graph,
    readonly groups: readonly GroupLike[],
    opts: ObspaOptions,
  ) {
    // Options given as undefined take the defaults.
    const given = Object.fromEntries(Object.entries(opts).filter(([, v]) => v !== undefined)) as ObspaOptions;
    this.opts = { samples: 64, seed: 1, lambda: 0.01, biasCompensation: true, producerWeight: 0, exactMaxColumns: 576, ...given };
    if (opts.source === "calibration" && !opts.feeds) throw new Error("OBSPA: the calibration source needs calibration data (feeds)");
    if (!(this.opts.lambda >= 0)) throw new RangeError(`OBSPA damping must be ≥ 0, got ${this.opts.lambda}`);
    if (!(this.opts.exactMaxColumns >= 0)) throw new RangeError(`exactMaxColumns must be ≥ 0, got ${this.opts.exactMaxColumns}`);
    this.layers = weightLayers(graph);
  }

  get centred(): boolean {
    return this.opts.biasCompensation && this.opts.source !== "identity";
  }

  /** The data the Hessians come from, in words. */
  get sourceDescription(): string {
    switch (this.opts.source) {
      case "identity":
        return "identity (H = I: magnitude)";
      case "bn":
        return "BatchNorm moments (closed form; propagated from N(0,1) inputs where no BatchNorm)";
      case "synthetic":
        return this.feedSource().description + (this.opts.bnCalibration !== false ? ", BatchNorm-calibrated" : "");
      case "calibration":
        return this.opts.feeds!.description;
    }
  }

  private feedSource(): FeedSource {
    if (this.opts.source === "calibration") return this.opts.feeds!;
    return syntheticFeeds(this.graph, { samples: this.opts.samples, seed: this.opts.seed, batch: this.opts.batch });
  }

  private formFor(layer: WeightLayer): "dense" | "kronecker" | "diagonal" {
    const cols = groupColumns(layer);
    if (cols <= this.opts.exactMaxColumns) return "dense";
    return layer.kind === "conv" && layer.taps > 1 ? "kronecker" : "diagonal";
  }

  /** Weight matrices per conv group, read once. */
  private matrices(layer: WeightLayer): Float64Array[] {
    let m = this.weights.get(layer.node.name);
    if (!m) {
      m = splitWeight(layer, toFloat64(readTensor(this.graph.model, this.graph.weight(layer.weight)!)));
      this.weights.set(layer.node.name, m);
    }
    return m;
  }

  /**
   * The matrices the scores read: the weights with each row scaled by the factor γ/√(var+ε) of the
   * BatchNormalization that alone reads the layer's output. At inference that BN is part of the layer's affine
   * map, so the reconstruction error that matters is the one after it; folding BN into the weights does the
   * same scaling, which keeps the scores (and the identity source's magnitude) the same for both forms of a model.
   * The compensation is row-wise and needs no such weighting.
   */
  private scoringMatrices(layer: WeightLayer): Float64Array[] {
    const mats = this.matrices(layer);
    const scale = this.opts.scoreAfterBatchNorm ? this.batchNormScale(layer) : undefined;
    if (!scale) return mats;
    const rows = groupRows(layer);
    return mats.map((w, g) => {
      const cols = w.length / rows;
      const out = new Float64Array(w.length);
      for (let r = 0; r < rows; r++) {
        const f = scale[g * rows + r]!;
        for (let j = 0; j < cols; j++) out[r * cols + j] = w[r * cols + j]! * f;
      }
      return out;
    });
  }

  /** The BatchNormalization that alone reads the layer's output, if any. */
  private batchNormAfter(layer: WeightLayer) {
    const uses = this.graph.consumers(layer.output);
    return uses.length === 1 && uses[0]!.node.opType === "BatchNormalization" && uses[0]!.slot === 0 ? uses[0]!.node : undefined;
  }

  /** γ/√(var+ε) per output channel of the BatchNormalization that alone reads the layer's output, if any. */
  private batchNormScale(layer: WeightLayer): Float64Array | undefined {
    const bn = this.batchNormAfter(layer);
    if (!bn) return undefined;
    const gamma = storedValues(this.graph, bn.inputs[1]), variance = storedValues(this.graph, bn.inputs[4]);
    if (!gamma || !variance || gamma.length !== layer.outChannels || variance.length !== layer.outChannels) return undefined;
    const eps = attrFloat(bn.proto, "epsilon", 1e-5);
    return gamma.map((g, i) => g / Math.sqrt(Math.max(variance[i]!, 0) + eps));
  }

  /** Whether a group's producers are scored: always when it has no consumer layer, else by producerWeight. */
  private scoresProducers(consumers: number): boolean {
    return consumers === 0 || this.opts.producerWeight !== 0;
  }

  /** The layers a set of groups needs Hessians for (consumers, and producers when their energy counts). */
  private neededLayers(groups: readonly GroupLike[]): WeightLayer[] {
    const set = new Set<WeightLayer>();
    for (const g of groups) {
      const gl = groupLayers(g, this.layers);
      for (const u of gl.consumers) set.add(u.layer);
      if (this.scoresProducers(gl.consumers.length)) for (const u of gl.producers) set.add(u.layer);
    }
    return [...set].sort((a, b) => a.node.index - b.node.index);
  }

  private identityHessians(layer: WeightLayer): LayerHessian[] {
    const cg = layer.inChannels / layer.groups;
    return Array.from({ length: layer.groups }, () => new DiagonalHessian(new Float64Array(groupColumns(layer)).fill(1), undefined, cg, layer.taps, undefined, 0, { lambda: 0 }));
  }

  /** Builds Hessians for `layers` on `model` (the original, or a compensated working copy). */
  private async buildHessians(model: WorkingModel, layers: readonly WeightLayer[]): Promise<Map<string, LayerHessian[]>> {
    const out = new Map<string, LayerHessian[]>();
    const damping = { lambda: this.opts.lambda };
    const report = (layer: WeightLayer, hs: LayerHessian[], fallback = false) =>
      this.reports.set(layer.node.name, {
        node: layer.node.name,
        form: fallback ? "identity-fallback" : hs[0]!.form,
        columns: groupColumns(layer),
        groups: layer.groups,
        samples: hs[0]!.samples,
        damping: hs[0]!.damping,
      });
    if (this.opts.source === "identity") {
      for (const l of layers) {
        const hs = this.identityHessians(l);
        out.set(l.node.name, hs);
        report(l, hs);
      }
      return out;
    }
    if (this.opts.source === "bn") {
      const t0 = performance.now();
      const moments = await propagateMoments(this.graph, this.layers, { covariance: this.opts.momentCovariance !== false });
      for (const l of layers) {
        // Moments that descend from no BatchNorm (a folded model, or the layer reading the graph input) are a
        // guess from N(0, 1) inputs, not statistics of the data: such layers get the identity (magnitude).
        const m = moments.get(l.input);
        const hs = m && (m.origin === "bn" || this.opts.momentsWithoutBatchNorm) ? momentHessians(l, m, this.centred, damping, this.opts.exactMaxColumns) : undefined;
        out.set(l.node.name, hs ?? this.identityHessians(l));
        report(l, hs ?? this.identityHessians(l), !hs);
      }
      this.timing.hessians += performance.now() - t0;
      return out;
    }
    const requests: LayerRequest[] = layers.map((layer) => ({ layer, form: this.formFor(layer) }));
    if (this.opts.source === "synthetic" && this.opts.bnCalibration !== false) {
      this.shapes ??= inferShapes(this.graph);
      model = { ...model, proto: withBatchStatistics(this.graph, this.shapes, model.proto).proto };
    }
    const hs = await collectHessians(model, requests, this.feedSource(), {
      centred: this.centred,
      damping,
      maxRows: this.opts.maxRows ?? defaultMaxRows,
      seed: this.opts.seed,
      memoryBudget: this.opts.memoryBudget,
      threads: this.opts.threads,
      timing: this.timing,
      onProgress: this.opts.onProgress,
      signal: this.opts.signal,
    });
    for (const l of layers) {
      const h = hs.get(l.node.name)!;
      out.set(l.node.name, h);
      report(l, h);
    }
    return out;
  }

  /** Scores every unit of every group that is not entirely frozen. */
  async scores(): Promise<ObspaScores> {
    const groups = this.groups.filter((g) => !(g.frozen && !g.frozen.units));
    this.hessians ??= await this.buildHessians(this.model, this.neededLayers(groups));
    const hessians = this.hessians;
    const t0 = performance.now();
    const energies = new Map<string, Float64Array>();
    const rowEnergies = async (layer: WeightLayer): Promise<Float64Array> => {
      let e = energies.get(layer.node.name);
      if (!e) {
        const hs = hessians.get(layer.node.name)!;
        const rows = groupRows(layer);
        e = new Float64Array(layer.outChannels);
        const mats = scoring(layer);
        for (let g = 0; g < mats.length; g++) e.set(await hs[g]!.rowEnergy(mats[g]!, rows), g * rows);
        energies.set(layer.node.name, e);
      }
      return e;
    };
    const scaled = new Map<string, Float64Array[]>();
    const scoring = (layer: WeightLayer): Float64Array[] => {
      let m = scaled.get(layer.node.name);
      if (!m) scaled.set(layer.node.name, (m = this.scoringMatrices(layer)));
      return m;
    };
    const units = new Map<number, Float64Array>();
    const members = new Map<number, Map<number, Float64Array>>();
    let done = 0;
    for (const group of groups) {
      checkCancelled(this.opts.signal);
      const gl = groupLayers(group, this.layers);
      const total = new Float64Array(group.units);
      const per = new Map<number, Float64Array>();
      for (const use of gl.consumers) {
        const hs = hessians.get(use.layer.node.name)!;
        const mats = scoring(use.layer);
        const rows = groupRows(use.layer);
        const m = group.members[use.member]!;
        const v = new Float64Array(group.units);
        for (let u = 0; u < group.units; u++) {
          const idx = unitIndices(m.indices, u);
          if (idx.length === 0) continue;
          let s = 0;
          for (let g = 0; g < mats.length; g++) s += hs[g]!.removalCost(mats[g]!, rows, idx);
          v[u] = s;
          total[u] += s;
        }
        per.set(use.member, v);
      }
      const producerWeight = gl.consumers.length === 0 ? 1 : this.opts.producerWeight;
      if (this.scoresProducers(gl.consumers.length))
        for (const use of gl.producers) {
          const e = await rowEnergies(use.layer);
          const m = group.members[use.member]!;
          const v = new Float64Array(group.units);
          for (let u = 0; u < group.units; u++) {
            let s = 0;
            for (const r of unitIndices(m.indices, u)) s += e[r]!;
            v[u] = s * producerWeight;
            total[u] += v[u]!;
          }
          per.set(use.member, v);
        }
      units.set(group.id, total);
      members.set(group.id, per);
      this.opts.onProgress?.({ phase: "scores", done: ++done, total: groups.length });
    }
    this.timing.solves += performance.now() - t0;
    return { units, members, layers: [...this.reports.values()], source: this.sourceDescription, timing: this.timing };
  }

  /**
   * The compensated weights for removing `removed` (group id → units). One-shot: every consumer's Hessian
   * from the original model. Sequential: consumers in waves, each wave's Hessians collected on the model
   * with every earlier wave's compensation (and removals) applied.
   */
  async compensation(removed: ReadonlyMap<number, readonly number[]>, override: { varianceCorrection?: boolean } = {}): Promise<CompensationResult> {
    const varianceMode = override.varianceCorrection ?? this.opts.varianceCorrection ?? "auto";
    const varianceCorrection = varianceMode === true || (varianceMode === "auto" && this.opts.source !== "identity");
    let untrained = 0;
    const varianceCorrected: string[] = [];
    // Removed input channels of every consumer layer, over all groups.
    const perLayer = new Map<WeightLayer, Set<number>>();
    for (const group of this.groups) {
      const units = removed.get(group.id);
      if (!units?.length) continue;
      for (const use of groupLayers(group, this.layers).consumers) {
        const set = perLayer.get(use.layer) ?? new Set<number>();
        for (const u of units) for (const i of unitIndices(group.members[use.member]!.indices, u)) set.add(i);
        perLayer.set(use.layer, set);
      }
    }
    const notes: string[] = [];
    const compensated: string[] = [];
    const tensors: CompensationResult["tensors"] = new Map();
    const layers = [...perLayer.keys()].sort((a, b) => a.node.index - b.node.index);
    // Tensors read by more than one node cannot take one node's compensation.
    const readers = new Map<string, number>();
    for (const l of this.layers.values()) readers.set(l.weight, (readers.get(l.weight) ?? 0) + 1);
    const eligible = layers.filter((l) => {
      const tp = this.graph.weight(l.weight)!;
      if ((readers.get(l.weight) ?? 0) > 1) notes.push(`${l.node.name}: weight '${l.weight}' is shared by several nodes; not compensated`);
      else if (![DataType.FLOAT, DataType.DOUBLE, DataType.FLOAT16, DataType.BFLOAT16].includes(tp.dataType))
        notes.push(`${l.node.name}: weight '${l.weight}' is not a float tensor; not compensated`);
      else return true;
      return false;
    });
    const sequential = !!this.opts.sequential && (this.opts.source === "synthetic" || this.opts.source === "calibration");
    const working: WorkingModel = { proto: this.model.proto, name: this.model.name, baseDir: this.model.baseDir };
    const replaced = new Map<string, TensorProto>();
    let done = 0;
    const waves = sequential ? this.waves(eligible) : [eligible];
    for (const wave of waves) {
      checkCancelled(this.opts.signal);
      let hessians: Map<string, LayerHessian[]>;
      if (sequential && replaced.size > 0) {
        working.proto = withInitializers(this.model.proto, replaced);
        hessians = await this.buildHessians(working, wave);
      } else {
        this.hessians ??= await this.buildHessians(this.model, this.neededLayers(this.groups));
        const missing = wave.filter((l) => !this.hessians!.has(l.node.name));
        if (missing.length) for (const [k, v] of await this.buildHessians(this.model, missing)) this.hessians.set(k, v);
        hessians = this.hessians;
      }
      const t0 = performance.now();
      for (const layer of wave) {
        const q = [...perLayer.get(layer)!].sort((a, b) => a - b);
        const hs = hessians.get(layer.node.name)!;
        const rows = groupRows(layer);
        const mats = await Promise.all(this.matrices(layer).map((w, g) => hs[g]!.compensate(w, rows, q)));
        const tp = this.graph.weight(layer.weight)!;
        const values = joinWeight(layer, mats.map((c) => c.weight));
        tensors.set(layer.weight, { dataType: tp.dataType, dims: tensorDims(tp), values });
        compensated.push(layer.node.name);
        const delta = mats.some((c) => c.biasDelta) ? new Float64Array(layer.outChannels) : undefined;
        if (delta) mats.forEach((c, g) => delta.set(c.biasDelta ?? new Float64Array(rows), g * rows));
        if (delta) {
          const note = this.absorbBias(layer, delta, tensors);
          if (note) notes.push(note);
        }
        // Ratios only for a BatchNorm the correction will write: without one the layer keeps the least-squares
        // optimum (the correction is BatchNorm's), and auto mode leaves untrained statistics alone.
        const bn = varianceCorrection ? this.batchNormAfter(layer) : undefined;
        if (bn && varianceMode === "auto" && untrainedStatistics(this.graph, bn)) untrained++;
        else if (bn) {
          const ratio = new Float64Array(layer.outChannels);
          const orig = this.matrices(layer);
          // The original rows' energies depend only on the Hessian: kept for later compensations (one-shot).
          const key = `${layer.node.name}:${hessians === this.hessians ? "original" : "sequential"}`;
          const befores = (!sequential && this.beforeEnergies.get(key)) || (await Promise.all(orig.map((w, g) => hs[g]!.rowEnergy(w, rows))));
          if (!sequential) this.beforeEnergies.set(key, befores);
          for (let g = 0; g < mats.length; g++) {
            const before = befores[g]!, after = await hs[g]!.rowEnergy(mats[g]!.weight, rows);
            for (let r = 0; r < rows; r++) ratio[g * rows + r] = before[r]! > 0 ? after[r]! / before[r]! : 1;
          }
          const note = this.absorbVariance(bn, layer, ratio, tensors);
          if (note) notes.push(note);
          else varianceCorrected.push(bn.name);
        }
        if (sequential) {
          replaced.set(layer.weight, makeTensor(layer.weight, { dataType: tp.dataType, dims: tensorDims(tp), data: fromNumbers(tp.dataType, values) }));
          for (const [name, t] of tensors) if (name !== layer.weight) replaced.set(name, makeTensor(name, { dataType: t.dataType, dims: t.dims, data: fromNumbers(t.dataType, t.values) }));
        }
        this.opts.onProgress?.({ phase: "compensation", done: ++done, total: eligible.length, detail: layer.node.name });
      }
      this.timing.solves += performance.now() - t0;
    }
    if (untrained) notes.push(`variance correction skipped at ${untrained} BatchNorm${untrained > 1 ? "s" : ""} whose running statistics were never trained (mean 0, variance 1)`);
    return { tensors, compensated, varianceCorrected, notes, timing: this.timing };
  }

  /**
   * Moves a bias change into the layer's bias, or into the running mean of the BatchNormalization that
   * alone reads its output (BN(y + δ) = BN(y) with mean − δ). Returns a note when neither exists.
   */
  private absorbBias(layer: WeightLayer, delta: Float64Array, tensors: CompensationResult["tensors"]): string | undefined {
    const add = (read: string, sign: number): boolean => {
      // The stored tensor (through Identity aliases), written only when this node is its one reader.
      const name = storedWeight(this.graph, read);
      const tp = name ? this.graph.weight(name) : undefined;
      if (!name || !tp) return false;
      const readers = this.graph.consumers(name);
      if (readers.length !== 1 || (name !== read && this.graph.consumers(read).length !== 1)) return false;
      const cur = tensors.get(name)?.values ?? toFloat64(readTensor(this.graph.model, tp));
      if (cur.length !== delta.length) return false;
      tensors.set(name, { dataType: tp.dataType, dims: tensorDims(tp), values: cur.map((v, i) => v + sign * delta[i]!) });
      return true;
    };
    if (layer.bias && add(layer.bias, 1)) return undefined;
    const uses = this.graph.consumers(layer.output);
    if (uses.length === 1 && uses[0]!.node.opType === "BatchNormalization" && uses[0]!.slot === 0 && add(uses[0]!.node.inputs[3]!, -1)) return undefined;
    return `${layer.node.name}: no bias or BatchNorm to absorb the mean compensation; skipped`;
  }

  /**
   * Scales the running variance of the BatchNormalization that alone reads the layer's output by the ratio of
   * the output's variance after and before compensation: (var' + ε) = (var + ε)·ratio, so the normalised output
   * keeps its variance. Returns a note when the BatchNorm's variance cannot be written.
   */
  private absorbVariance(bn: Node, layer: WeightLayer, ratio: Float64Array, tensors: CompensationResult["tensors"]): string | undefined {
    const name = storedWeight(this.graph, bn.inputs[4]);
    const tp = name ? this.graph.weight(name) : undefined;
    if (!name || !tp || this.graph.consumers(name).length !== 1 || (name !== bn.inputs[4] && this.graph.consumers(bn.inputs[4]!).length !== 1))
      return `${layer.node.name}: its BatchNorm's running variance is shared; variance correction skipped`;
    const cur = tensors.get(name)?.values ?? toFloat64(readTensor(this.graph.model, tp));
    if (cur.length !== ratio.length) return `${layer.node.name}: BatchNorm variance has ${cur.length} channels, not ${ratio.length}; variance correction skipped`;
    const eps = attrFloat(bn.proto, "epsilon", 1e-5);
    tensors.set(name, { dataType: tp.dataType, dims: tensorDims(tp), values: cur.map((v, i) => Math.max(0, (v + eps) * ratio[i]! - eps)) });
    return undefined;
  }

  /** Consumers in waves: each wave holds the layers none of whose inputs depends on a later-wave layer. */
  private waves(layers: readonly WeightLayer[]): WeightLayer[][] {
    const pending = new Set(layers);
    const byOutput = new Map<string, WeightLayer>();
    for (const l of layers) byOutput.set(l.output, l);
    // Ancestors among `layers`, by a walk back from each layer's input.
    const ancestors = new Map<WeightLayer, Set<WeightLayer>>();
    const memo = new Map<string, Set<WeightLayer>>();
    const upstream = (value: string): Set<WeightLayer> => {
      const hit = memo.get(value);
      if (hit) return hit;
      const out = new Set<WeightLayer>();
      memo.set(value, out);
      const p = this.graph.producer(value);
      if (!p) return out;
      const own = byOutput.get(value);
      if (own) out.add(own);
      for (const i of p.inputs) if (i) for (const a of upstream(i)) out.add(a);
      return out;
    };
    for (const l of layers) ancestors.set(l, upstream(l.input));
    const waves: WeightLayer[][] = [];
    while (pending.size) {
      const wave = [...pending].filter((l) => ![...ancestors.get(l)!].some((a) => pending.has(a)));
      for (const l of wave) pending.delete(l);
      waves.push(wave);
    }
    return waves;
  }
}

/** A shallow copy of the model with some initializers replaced. */
function withInitializers(proto: ModelProto, replaced: ReadonlyMap<string, TensorProto>): ModelProto {
  const g = proto.graph!;
  const graph = create(GraphProtoSchema, { ...g, initializer: g.initializer.map((t) => replaced.get(t.name) ?? t) });
  return create(ModelProtoSchema, { ...proto, graph });
}
