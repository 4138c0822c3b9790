/** The `inspect` report: what a model is, as data (JSON) and as text. */
import path from "node:path";
import type { Analysis } from "../analysis.ts";
import { dataTypeName } from "../onnx/dtypes.ts";
import { externalRef, isExternal } from "../onnx/externalData.ts";
import { allTensors } from "../onnx/model.ts";
import type { Dim, TensorType } from "../graph/graph.ts";
import type { ScopeMetrics } from "../graph/metrics.ts";

export interface IoSpec {
  name: string;
  dtype: string;
  shape: (number | string | null)[] | null;
}

export interface LayerRow {
  node: string;
  op: string;
  module: string;
  params: number;
  macs: number;
  output: (number | string | null)[] | null;
}

export interface ModuleRow {
  module: string;
  name: string;
  nodes: number;
  params: number;
  macs: number;
  children: ModuleRow[];
}

export interface InspectReport {
  file: string;
  bytes: number;
  irVersion: number;
  producer: string;
  opsets: Record<string, number>;
  inputs: IoSpec[];
  outputs: IoSpec[];
  nodes: number;
  opCounts: Record<string, number>;
  params: number;
  storedParams: number;
  macs: number;
  macsApproximate: boolean;
  biggestByParams: LayerRow[];
  biggestByMacs: LayerRow[];
  modules: ModuleRow;
  externalData: string[];
  shapeInference: { incomplete: number; unsupportedOps: string[]; fromRuntime: number };
  functions: string[];
}

const shapeJson = (s: readonly Dim[] | undefined) => (s ? s.map((d) => (d === undefined ? null : d)) : null);
const ioSpec = (name: string, t: TensorType | undefined): IoSpec => ({ name, dtype: t ? dataTypeName(t.dataType) : "?", shape: shapeJson(t?.shape) });

export function inspectReport(a: Analysis, top = 10): InspectReport {
  const { model, graph, shapes, metrics } = a;
  const p = model.proto;
  const opsets: Record<string, number> = {};
  for (const o of p.opsetImport) opsets[o.domain || "ai.onnx"] = Number(o.version);
  const opCounts: Record<string, number> = {};
  for (const n of graph.nodes) {
    const k = n.domain ? `${n.domain}::${n.opType}` : n.opType;
    opCounts[k] = (opCounts[k] ?? 0) + 1;
  }
  const rows: LayerRow[] = graph.nodes.map((n) => ({
    node: n.name,
    op: n.opType,
    module: n.scope.module,
    params: metrics.perNode[n.index]!.params,
    macs: metrics.perNode[n.index]!.macs,
    output: shapeJson(shapes.types.get(n.outputs[0] ?? "")?.shape),
  }));
  const external = new Set<string>();
  for (const t of allTensors(p)) if (isExternal(t)) external.add(externalRef(t, model.name).location);
  const toRow = (s: ScopeMetrics): ModuleRow => ({ module: s.module, name: s.name, nodes: s.nodes, params: s.params, macs: s.macs, children: s.children.map(toRow) });
  return {
    file: model.name,
    bytes: model.byteLength,
    irVersion: Number(p.irVersion),
    producer: [p.producerName, p.producerVersion].filter(Boolean).join(" "),
    opsets,
    inputs: graph.inputs.map((n) => ioSpec(n, shapes.types.get(n))),
    outputs: graph.outputs.map((n) => ioSpec(n, shapes.types.get(n))),
    nodes: graph.nodes.length,
    opCounts: Object.fromEntries(Object.entries(opCounts).sort((x, y) => y[1] - x[1])),
    params: metrics.params,
    storedParams: metrics.storedParams,
    macs: metrics.macs,
    macsApproximate: metrics.approximate,
    biggestByParams: rows.filter((r) => r.params > 0).sort((x, y) => y.params - x.params).slice(0, top),
    biggestByMacs: rows.filter((r) => r.macs > 0).sort((x, y) => y.macs - x.macs).slice(0, top),
    modules: toRow(metrics.scopes),
    externalData: [...external],
    shapeInference: { incomplete: shapes.incomplete.length, unsupportedOps: [...shapes.unsupportedOps], fromRuntime: a.runtimeResolved.length },
    functions: p.functions.map((f) => `${f.domain}::${f.name}`),
  };
}

// ---- text ---------------------------------------------------------------------------------------

export function human(n: number, unit = ""): string {
  const abs = Math.abs(n);
  const [v, s] = abs >= 1e9 ? [n / 1e9, "G"] : abs >= 1e6 ? [n / 1e6, "M"] : abs >= 1e3 ? [n / 1e3, "K"] : [n, ""];
  return `${Number.isInteger(v) ? v : v.toFixed(2)}${s}${unit}`;
}

const fmtShape = (s: IoSpec["shape"]) => (s ? `[${s.map((d) => (d === null ? "?" : d)).join(", ")}]` : "[?]");

function table(rows: string[][]): string[] {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  return rows.map((r) => r.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join("  "));
}

export function formatInspect(r: InspectReport, moduleDepth = 2): string {
  const out: string[] = [];
  out.push(`${path.basename(r.file)}  (${human(r.bytes, "B")}, IR v${r.irVersion}${r.producer ? `, ${r.producer}` : ""})`);
  out.push(`opsets: ${Object.entries(r.opsets).map(([d, v]) => `${d} ${v}`).join(", ")}`);
  for (const i of r.inputs) out.push(`input   ${i.name}: ${i.dtype} ${fmtShape(i.shape)}`);
  for (const o of r.outputs) out.push(`output  ${o.name}: ${o.dtype} ${fmtShape(o.shape)}`);
  out.push(`params: ${human(r.params)} (${r.params.toLocaleString("en-US")}${r.storedParams !== r.params ? `; ${r.storedParams.toLocaleString("en-US")} stored, shared weights counted once` : ""})`);
  out.push(`MACs:   ${human(r.macs)} (${r.macs.toLocaleString("en-US")})${r.macsApproximate ? "  [approximate: symbolic or unknown dims]" : ""}`);
  if (r.externalData.length) out.push(`external data: ${r.externalData.join(", ")}`);
  if (r.functions.length) out.push(`model-local functions: ${r.functions.join(", ")}`);
  const si = r.shapeInference;
  if (si.incomplete || si.unsupportedOps.length || si.fromRuntime)
    out.push(`shapes: ${si.incomplete} incomplete${si.fromRuntime ? `, ${si.fromRuntime} from an onnxruntime run` : ""}${si.unsupportedOps.length ? `; no rule for ${si.unsupportedOps.join(", ")}` : ""}`);
  out.push("", `nodes: ${r.nodes}`);
  out.push(...table(Object.entries(r.opCounts).map(([k, v]) => [`  ${k}`, String(v)])));
  const layerTable = (title: string, rows: LayerRow[]) => {
    if (!rows.length) return;
    out.push("", title);
    out.push(...table([["  node", "op", "params", "MACs", "output"], ...rows.map((l) => [`  ${l.node}`, l.op, human(l.params), human(l.macs), fmtShape(l.output)])]));
  };
  layerTable("biggest layers by params", r.biggestByParams);
  layerTable("biggest layers by MACs", r.biggestByMacs);
  if (r.modules.children.length) {
    out.push("", "modules");
    const rows: string[][] = [["  module", "nodes", "params", "MACs"]];
    const walk = (m: ModuleRow, depth: number) => {
      for (const c of m.children) {
        rows.push([`  ${"  ".repeat(depth)}${c.name}`, String(c.nodes), human(c.params), human(c.macs)]);
        if (depth + 1 < moduleDepth) walk(c, depth + 1);
      }
    };
    walk(r.modules, 0);
    out.push(...table(rows));
  }
  return out.join("\n");
}
