/**
 * Report webview script: export buttons, and the PNG rendering of the charts (the host asks with
 * `renderPng`; the SVGs are drawn into one canvas with their computed theme colours inlined).
 */
declare function acquireVsCodeApi(): { postMessage(message: unknown): void };

const vscode = acquireVsCodeApi();
vscode.postMessage({ type: "ready" }); // the host's watchdog re-renders a report that never says this

for (const button of document.querySelectorAll<HTMLButtonElement>("[data-export]")) {
  button.addEventListener("click", () => vscode.postMessage({ type: "export", format: button.dataset.export }));
}

window.addEventListener("message", (e: MessageEvent<{ type: string; id: number }>) => {
  if (e.data?.type !== "renderPng") return;
  renderPng().then(
    (dataUrl) => vscode.postMessage({ type: "png", id: e.data.id, dataUrl }),
    (err: unknown) => vscode.postMessage({ type: "error", message: `PNG export: ${err instanceof Error ? err.message : String(err)}` }),
  );
});

const STYLE_PROPS = ["fill", "stroke", "stroke-width", "stroke-dasharray", "opacity", "font-family", "font-size", "font-weight"];

/** A standalone copy of an SVG: computed styles inlined, since CSS variables do not survive rasterising. */
function standalone(svg: SVGSVGElement): string {
  const copy = svg.cloneNode(true) as SVGSVGElement;
  const src = [svg, ...svg.querySelectorAll("*")];
  const dst = [copy, ...copy.querySelectorAll("*")];
  src.forEach((el, i) => {
    const cs = getComputedStyle(el);
    const style = STYLE_PROPS.map((p) => `${p}:${cs.getPropertyValue(p)}`).join(";");
    (dst[i] as SVGElement).setAttribute("style", style);
  });
  return new XMLSerializer().serializeToString(copy);
}

function load(svgText: string): Promise<HTMLImageElement> {
  return new Promise((resolve, reject) => {
    const img = new Image();
    img.onload = () => resolve(img);
    img.onerror = () => reject(new Error("cannot rasterise a chart"));
    img.src = `data:image/svg+xml;charset=utf-8,${encodeURIComponent(svgText)}`;
  });
}

async function renderPng(): Promise<string> {
  const svgs = [...document.querySelectorAll<SVGSVGElement>("svg.chart")];
  if (!svgs.length) throw new Error("the report has no chart");
  const images = await Promise.all(svgs.map((s) => load(standalone(s))));
  const scale = 2, gap = 16;
  const width = Math.max(...svgs.map((s) => s.width.baseVal.value));
  const height = svgs.reduce((a, s) => a + s.height.baseVal.value, 0) + gap * (svgs.length - 1);
  const canvas = document.createElement("canvas");
  canvas.width = width * scale;
  canvas.height = height * scale;
  const ctx = canvas.getContext("2d")!;
  ctx.scale(scale, scale);
  ctx.fillStyle = getComputedStyle(document.body).backgroundColor || "#1e1e1e";
  ctx.fillRect(0, 0, width, height);
  let y = 0;
  images.forEach((img, i) => {
    ctx.drawImage(img, 0, y, svgs[i]!.width.baseVal.value, svgs[i]!.height.baseVal.value);
    y += svgs[i]!.height.baseVal.value + gap;
  });
  return canvas.toDataURL("image/png");
}
