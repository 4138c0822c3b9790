/**
 * What the operator rules record about a graph, before anything is solved: the axes ("spaces") they
 * talk about and how their indices are coupled.
 *
 * A space is one axis of one tensor: an activation value's axis, a weight's axis *as read by one
 * consumer* (so torch's deduplicated weights, fanned out through Identity nodes, do not couple unrelated
 * layers), or a node-internal virtual axis (the groups of a grouped Conv). Relations:
 *  - same(a, b): index i of a is index i of b (elementwise ops, norms, the kept axes of most ops);
 *  - link(a, b, ia, ib): index ia[k] of a is index ib[k] of b (concat offsets, splits, slices, gathers,
 *    exact permutations);
 *  - factor(flat, parts): index i of flat is the tuple of its mixed-radix digits in parts (a Reshape
 *    that splits a channel axis into heads × head-dims, Flatten to features, grouped Conv channels);
 *  - freeze(space, reason): these indices may never be removed;
 *  - producer(space): a layer's output channels, where groups are seeded.
 * solve.ts turns them into groups.
 */
import type { MemberRole, RewriteKind } from "../types.ts";

export type SpaceId = number;

export type SpaceKind = "weight" | "activation" | "virtual";

export interface SpaceInfo {
  readonly kind: SpaceKind;
  /** Weight: stored tensor name; activation: value name; virtual: a descriptive name. */
  readonly tensor: string;
  /** Weight read through an Identity chain: the name the consumer reads. */
  readonly alias?: string;
  readonly axis: number;
  /** Concrete size, NaN when symbolic or unknown. */
  readonly size: number;
  /** Consumer node (weight), producer node (activation, -1 for graph inputs) or owner node (virtual). */
  readonly node: number;
  readonly slot?: number;
  /** Weights: the full dims of the stored tensor (for the cost model). */
  readonly dims?: readonly number[];
  readonly dataType?: number;
}

/** Why channels are frozen. `kind` is a short key for the summary; `text` says what and where. */
export interface Reason {
  kind: string;
  text: string;
}

export interface LinkRel {
  a: SpaceId;
  b: SpaceId;
  ia: Int32Array;
  ib: Int32Array;
}

export interface FactorRel {
  flat: SpaceId;
  /** Outermost first; sizes multiply to the flat size. */
  parts: SpaceId[];
  /** Unit kind a part's units get when they form a group of their own (e.g. "head", "head-dim"). */
  labels: string[];
}

export interface FreezeRel {
  space: SpaceId;
  reason: Reason;
  /** Only these indices (default: all). */
  indices?: readonly number[];
}

/** A constant or attribute to rewrite when the listed spaces lose indices. */
export interface PendingRewrite {
  kind: RewriteKind;
  node: number;
  slot?: number;
  attribute?: string;
  entry?: number;
  spaces: SpaceId[];
  current: string;
  /** Where the number lives when it is not the node's own input (a constant reached through Concat…). */
  target?: { node: number; slot: number; index: number };
  /** Extra data a rewrite kind needs (shuffle: the nodes it replaces and the permutation). */
  extra?: Record<string, unknown>;
}

export interface MacOp {
  node: number;
  macs: number;
  /** Spaces whose kept fraction scales the MACs (each factor once). */
  spaces: SpaceId[];
}

export class Relations {
  readonly spaces: SpaceInfo[] = [];
  private readonly keys = new Map<string, SpaceId>();
  readonly sames: number[] = [];
  readonly links: LinkRel[] = [];
  readonly factors: FactorRel[] = [];
  readonly freezes: FreezeRel[] = [];
  readonly producers = new Set<SpaceId>();
  readonly roles = new Map<SpaceId, MemberRole>();
  readonly notes: { space: SpaceId; text: string }[] = [];
  readonly rewrites: PendingRewrite[] = [];
  readonly macOps: MacOp[] = [];
  /** Op types no rule knows, with the nodes. */
  readonly unsupported = new Map<string, string[]>();

  /** Activation spaces by (value id, axis), weight-use spaces by (node, slot, axis): numeric keys. */
  private readonly activation = new Map<number, SpaceId>();
  private readonly weightUse = new Map<number, SpaceId>();
  private readonly valueIds = new Map<string, number>();

  space(key: string, make: () => SpaceInfo): SpaceId {
    let id = this.keys.get(key);
    if (id === undefined) {
      id = this.spaces.length;
      this.spaces.push(make());
      this.keys.set(key, id);
    }
    return id;
  }

  /** The existing activation space, or undefined (then `addActivation`). Split so callers allocate nothing on a hit. */
  findActivation(value: string, axis: number): SpaceId | undefined {
    const v = this.valueIds.get(value);
    return v === undefined ? undefined : this.activation.get(v * 256 + axis);
  }

  addActivation(value: string, axis: number, info: SpaceInfo): SpaceId {
    let v = this.valueIds.get(value);
    if (v === undefined) this.valueIds.set(value, (v = this.valueIds.size));
    const id = this.spaces.push(info) - 1;
    this.activation.set(v * 256 + axis, id);
    return id;
  }

  findWeight(node: number, slot: number, axis: number): SpaceId | undefined {
    return this.weightUse.get((node * 4096 + slot) * 256 + axis);
  }

  addWeight(node: number, slot: number, axis: number, info: SpaceInfo): SpaceId {
    const id = this.spaces.push(info) - 1;
    this.weightUse.set((node * 4096 + slot) * 256 + axis, id);
    return id;
  }

  /** The space of a weight read by `node` at `slot`, when a rule created it. */
  lookupWeight(node: number, slot: number, axis: number): SpaceId | undefined {
    return this.findWeight(node, slot, axis);
  }

  same(a: SpaceId, b: SpaceId): void {
    if (a !== b) this.sames.push(a, b);
  }

  link(a: SpaceId, b: SpaceId, ia: ArrayLike<number>, ib: ArrayLike<number>): void {
    if (ia.length !== ib.length) throw new Error("link: index lists differ in length");
    if (ia.length) this.links.push({ a, b, ia: Int32Array.from(ia), ib: Int32Array.from(ib) });
  }

  /** a[aStart + k] ≡ b[bStart + k·bStep] for k < count. */
  linkRange(a: SpaceId, aStart: number, b: SpaceId, bStart: number, count: number, bStep = 1): void {
    const ia = new Int32Array(count), ib = new Int32Array(count);
    for (let k = 0; k < count; k++) {
      ia[k] = aStart + k;
      ib[k] = bStart + k * bStep;
    }
    if (count) this.links.push({ a, b, ia, ib });
  }

  factor(flat: SpaceId, parts: SpaceId[], labels: string[]): void {
    this.factors.push({ flat, parts, labels });
  }

  freeze(space: SpaceId, reason: Reason, indices?: readonly number[]): void {
    this.freezes.push({ space, reason, indices });
  }

  producer(space: SpaceId): void {
    this.producers.add(space);
  }

  role(space: SpaceId, role: MemberRole): void {
    if (!this.roles.has(space)) this.roles.set(space, role);
  }

  note(space: SpaceId, text: string): void {
    this.notes.push({ space, text });
  }
}
