/**
 * The summary header of the model viewer: file, producer, opsets, inputs/outputs, params, MACs, ops.
 * Static HTML rendered on the host from the engine's inspect report (every value escaped), so it needs no
 * script and shows instantly.
 */
import path from "node:path";
import type { InspectReport, IoSpec } from "../analyzers/report/inspect.ts";
import type { ErrorInfo } from "./errors.ts";
import { escapeHtml as h, formatBytes, formatCount, formatShape } from "./format.ts";

const STANDARD_DOMAINS = new Set(["", "ai.onnx", "ai.onnx.ml", "ai.onnx.training", "ai.onnx.preview.training"]);

/** Domains of ops outside the standard ones (their custom-op libraries are never loaded). */
export function customDomains(r: InspectReport): string[] {
  const out = new Set<string>();
  for (const key of Object.keys(r.opCounts)) {
    const i = key.indexOf("::");
    if (i > 0 && !STANDARD_DOMAINS.has(key.slice(0, i))) out.add(key.slice(0, i));
  }
  return [...out].sort();
}

export function summaryHeaderHtml(r: InspectReport): string {
  const opsets = Object.entries(r.opsets)
    .map(([d, v]) => `${d} ${v}`)
    .join(", ");
  const metric = (id: string, label: string, value: string, title?: string) =>
    `<div class="metric" data-metric="${id}"${title ? ` title="${h(title)}"` : ""}><span class="label">${h(label)}</span><span class="value">${h(value)}</span></div>`;
  const tensors = (kind: string, list: readonly IoSpec[]) =>
    list
      .map(
        (t) =>
          `<tr data-${kind}="${h(t.name)}"><td class="kind">${kind}</td><td class="name">${h(t.name)}</td><td class="dtype">${h(t.dtype)}</td><td class="shape">${h(formatShape(t.shape ?? undefined))}</td></tr>`,
      )
      .join("");
  const ops = Object.entries(r.opCounts)
    .map(([op, n]) => `<li class="op" data-op="${h(op)}"><span class="op-name">${h(op)}</span> <span class="op-count">×${n}</span></li>`)
    .join("");
  const paramsTitle =
    `${r.params.toLocaleString("en-US")} parameters` +
    (r.storedParams !== r.params ? ` (${r.storedParams.toLocaleString("en-US")} stored; shared weights counted once)` : "");
  const macsTitle = `${r.macs.toLocaleString("en-US")} multiply-accumulates per sample` + (r.macsApproximate ? " (approximate: symbolic or unknown dims count as 1)" : "");
  const custom = customDomains(r);
  const si = r.shapeInference;
  return `<header class="summary" id="summary" data-file="${h(r.file)}">
  <div class="title-row">
    <h1>${h(path.basename(r.file))}</h1>
    <span class="subtitle">${h([r.producer, `IR ${r.irVersion}`, `opset ${opsets}`].filter(Boolean).join(" · "))}</span>
  </div>
  <div class="metrics">
    ${metric("params", "Params", formatCount(r.params), paramsTitle)}
    ${metric("macs", "MACs", `${formatCount(r.macs)}${r.macsApproximate ? "*" : ""}`, macsTitle)}
    ${metric("nodes", "Nodes", r.nodes.toLocaleString("en-US"))}
    ${metric("file", "File", formatBytes(r.bytes), r.externalData.length ? `External data: ${r.externalData.join(", ")}` : undefined)}
  </div>
  <table class="io"><tbody>${tensors("input", r.inputs)}${tensors("output", r.outputs)}</tbody></table>
  <ul class="ops">${ops}</ul>
  ${si.incomplete ? `<p class="note" id="shape-note">${si.incomplete} tensor shape(s) unknown${si.unsupportedOps.length ? `; no shape rule for ${h(si.unsupportedOps.join(", "))}` : ""}: MACs of those nodes are not counted.</p>` : ""}
  ${custom.length ? `<p class="warning">Custom-op domains: ${h(custom.join(", "))}. Their libraries are never loaded; onnxruntime cannot run this model here.</p>` : ""}
</header>`;
}

export function errorHtml(file: string, info: ErrorInfo): string {
  const text = info.problem ?? info.message;
  return `<section class="load-error" id="load-error">
  <h1>${h(path.basename(file))} cannot be opened</h1>
  <p class="problem">${h(text)}</p>
  <p class="hint">Details are in the Output channel "ONNX Scalpel".</p>
</section>`;
}

export function loadingHtml(file: string): string {
  return `<section class="loading" id="loading"><h1>${h(path.basename(file))}</h1><p>Loading…</p></section>`;
}
