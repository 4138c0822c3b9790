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
  const h = createHash("sha256");
  const g = graph.proto;
  for (const t of g.initializer) h.update(`I${t.name}|${t.dataType}|${t.dims.join(",")}\n`);
  for (const i of g.input) h.update(`in${i.name}\n`);
  for (const o of g.output) h.update(`out${o.name}\n`);
  for (const n of g.node) {
    h.update(`N${n.domain}|${n.opType}|${n.input.join(",")}|${n.output.join(",")}`);
    for (const a of n.attribute) {
      h.update(`|${a.name}=${a.i}/${a.f}/${a.ints.join(",")}/${a.floats.join(",")}/${new TextDecoder().decode(a.s)}`);
      if (a.t) h.update(`/t${a.t.dataType}:${a.t.dims.join(",")}`);
    }
    h.update("\n");
  }
  return {
    name: path.basename(graph.model.name),
    structure: h.digest("hex").slice(0, 16),
    nodes: graph.nodes.length,
    params: metrics.params,
    macs: metrics.macs,
  };
}
