/**
 * The summary header of the model viewer: file, producer, opsets, inputs/outputs, params, MACs, ops.
 * Static HTML rendered on the host (every value escaped), so it needs no script and shows instantly.
 */
import path from "node:path";
import type { ModelSummary, TensorSummary } from "../analyzers/graph/summary.ts";
import type { ErrorInfo } from "./errors.ts";
import { escapeHtml as h, formatBytes, formatCount, formatShape } from "./format.ts";

export function summaryHeaderHtml(s: ModelSummary): string {
  const opsets = s.opsets.map((o) => `${o.domain || "ai.onnx"} ${o.version}`).join(", ");
  const metric = (id: string, label: string, value: string, title?: string) =>
    `<div class="metric" data-metric="${id}"${title ? ` title="${h(title)}"` : ""}><span class="label">${h(label)}</span><span class="value">${h(value)}</span></div>`;
  const tensors = (kind: string, list: readonly TensorSummary[]) =>
    list
      .map(
        (t) =>
          `<tr data-${kind}="${h(t.name)}"><td class="kind">${kind}</td><td class="name">${h(t.name)}</td><td class="dtype">${h(t.dataType ?? "?")}</td><td class="shape">${h(formatShape(t.shape))}</td></tr>`,
      )
      .join("");
  const ops = s.ops
    .map((o) => `<li class="op" data-op="${h(o.opType)}"><span class="op-name">${h(o.domain ? `${o.domain}.${o.opType}` : o.opType)}</span> <span class="op-count">×${o.count}</span></li>`)
    .join("");
  return `<header class="summary" id="summary" data-file="${h(s.file)}">
  <div class="title-row">
    <h1>${h(path.basename(s.file))}</h1>
    <span class="subtitle">${h([s.producer, `IR ${s.irVersion}`, `opset ${opsets}`].filter(Boolean).join(" · "))}</span>
  </div>
  <div class="metrics">
    ${metric("params", "Params", formatCount(s.parameters), `${s.parameters.toLocaleString("en-US")} weight elements`)}
    ${metric("macs", "MACs", "—", "Needs shape inference (metrics module)")}
    ${metric("nodes", "Nodes", s.nodeCount.toLocaleString("en-US"))}
    ${metric("initializers", "Initializers", s.initializerCount.toLocaleString("en-US"))}
    ${metric("weights", "Weights", formatBytes(s.weightBytes), s.externalData ? "Some weights are in external-data files" : undefined)}
    ${metric("file", "File", formatBytes(s.fileBytes))}
  </div>
  <table class="io"><tbody>${tensors("input", s.inputs)}${tensors("output", s.outputs)}</tbody></table>
  <ul class="ops">${ops}</ul>
  ${s.customDomains.length ? `<p class="warning">Custom-op domains: ${h(s.customDomains.join(", "))}. Their libraries are never loaded; onnxruntime cannot run this model here.</p>` : ""}
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
