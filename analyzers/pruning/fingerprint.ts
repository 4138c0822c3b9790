/**
 * A model's structural fingerprint: what a plan is checked against. It hashes the graph (ops, wiring,
 * attributes, weight names/types/dims) but not weight values, so a plan made on a model applies to a
 * fine-tuned copy of the same architecture and to nothing else.
 */
import { createHash } from "node:crypto";
import type { Graph } from "../graph/graph.ts";
import type { Metrics } from "../graph/metrics.ts";
import type { ModelFingerprint } from "./types.ts";
import path from "node:path";

export function fingerprint(graph: Graph, metrics: Metrics): ModelFingerprint {
  const g = graph.proto;
  const parts: string[] = [];
  for (const t of g.initializer) parts.push(`I${t.name}|${t.dataType}|${t.dims.join(",")}`);
  for (const i of g.input) parts.push(`in${i.name}`);
  for (const o of g.output) parts.push(`out${o.name}`);
  const dec = new TextDecoder();
  for (const n of g.node) {
    let line = `N${n.domain}|${n.opType}|${n.input.join(",")}|${n.output.join(",")}`;
    for (const a of n.attribute) {
      line += `|${a.name}=${a.i}/${a.f}`;
      if (a.ints.length) line += `/${a.ints.join(",")}`;
      if (a.floats.length) line += `/${a.floats.join(",")}`;
      if (a.s.length) line += `/${dec.decode(a.s)}`;
      if (a.t) line += `/t${a.t.dataType}:${a.t.dims.join(",")}`;
    }
    parts.push(line);
  }
  return {
    name: path.basename(graph.model.name),
    structure: createHash("sha256").update(parts.join("\n")).digest("hex").slice(0, 16),
    nodes: graph.nodes.length,
    params: metrics.params,
    macs: metrics.macs,
  };
}
