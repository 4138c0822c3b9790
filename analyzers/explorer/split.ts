/**
 * The automatic hierarchy: a group with too many children (a graph without scopes, a huge scope) is cut
 * into consecutive slices of its topological order. Cuts go where the fewest tensors are alive
 * (the "frontier"), which in practice falls between blocks: a residual block's skip tensor keeps the
 * frontier wide inside the block and narrow between blocks.
 */

export interface Chunk {
  /** First position (inclusive) and end (exclusive) in the sequence. */
  start: number;
  end: number;
  /** Sub-slices when the slice is itself too large. */
  children?: Chunk[];
}

export interface SplitOptions {
  /** Groups with more children than this are split (default 120). */
  maxChildren?: number;
  /** Preferred slice size (default 60). */
  target?: number;
  /** At most this many slices per level (default 24). */
  branch?: number;
}

/**
 * Plans slices for `n` items given the tensors between them: `spans[i] = [p, q]` means a tensor made
 * at position p is last read at position q (p < q). Returns undefined when no split is needed.
 */
export function planChunks(n: number, spans: readonly (readonly [number, number])[], opts: SplitOptions = {}): Chunk[] | undefined {
  const max = opts.maxChildren ?? 120;
  const target = Math.max(2, opts.target ?? 60);
  const branch = Math.max(2, opts.branch ?? 24);
  if (n <= max) return undefined;
  // width[c]: tensors alive across the cut before position c.
  const diff = new Int32Array(n + 1);
  for (const [p, q] of spans) {
    if (q <= p) continue;
    diff[p + 1]!++;
    diff[q + 1]!--;
  }
  const width = new Int32Array(n + 1);
  let acc = 0;
  for (let c = 0; c <= n; c++) width[c] = acc += diff[c]!;

  const plan = (s: number, e: number): Chunk[] => {
    const len = e - s;
    const k = Math.max(2, Math.min(branch, Math.ceil(len / target)));
    const window = Math.max(1, Math.floor(len / (4 * k)));
    const cuts: number[] = [s];
    for (let i = 1; i < k; i++) {
      const ideal = Math.round(s + (i * len) / k);
      const lo = Math.max(cuts[cuts.length - 1]! + 1, ideal - window);
      const hi = Math.min(e - 1, ideal + window);
      let best = -1;
      for (let c = lo; c <= hi; c++)
        if (best < 0 || width[c]! < width[best]! || (width[c] === width[best] && Math.abs(c - ideal) < Math.abs(best - ideal))) best = c;
      if (best > cuts[cuts.length - 1]!) cuts.push(best);
    }
    cuts.push(e);
    const out: Chunk[] = [];
    for (let i = 0; i + 1 < cuts.length; i++) {
      const a = cuts[i]!, b = cuts[i + 1]!;
      out.push(b - a > max ? { start: a, end: b, children: plan(a, b) } : { start: a, end: b });
    }
    return out;
  };
  return plan(0, n);
}
