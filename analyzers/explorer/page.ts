/**
 * HTML pages hosting the explorer bundle (pure string functions, no Node or DOM):
 *  - `explorerWebviewHtml` for a VS Code webview (strict CSP with a nonce, assets by webview URIs);
 *  - `standalonePageHtml` for the report and the test server (assets inline or by URL, data embedded or
 *    served), with VS Code's theme variables defined by the page itself.
 */

export interface WebviewPageOptions {
  /** `webview.cspSource`. */
  cspSource: string;
  /** A fresh random nonce per page. */
  nonce: string;
  /** `webview.asWebviewUri(...)` of dist/webviews/explorer.js, explorer.css and codicon.css. */
  scriptUri: string;
  styleUri: string;
  codiconUri: string;
  title?: string;
  /** Extra CSP connect-src (the test server's origin); VS Code needs none. */
  connectSrc?: string;
  /** "vscode" (default) or "http" (test server). */
  transport?: "vscode" | "http";
  /** Leave worker-src out of the CSP (tests the explorer's main-thread fallback). */
  noWorkers?: boolean;
}

const esc = (s: string) => s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");

/** The CSP the explorer needs: scripts by nonce only, the layout worker from a Blob URL, no remote content. */
export function explorerCsp(cspSource: string, nonce: string, connectSrc?: string, noWorkers = false): string {
  return [
    "default-src 'none'",
    `img-src ${cspSource} data: blob:`,
    `style-src ${cspSource} 'nonce-${nonce}'`,
    `font-src ${cspSource} data:`,
    `script-src 'nonce-${nonce}'`,
    noWorkers ? "" : "worker-src blob:",
    connectSrc ? `connect-src ${connectSrc}` : "",
  ]
    .filter(Boolean)
    .join("; ");
}

export function explorerWebviewHtml(o: WebviewPageOptions): string {
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="${esc(explorerCsp(o.cspSource, o.nonce, o.connectSrc, o.noWorkers))}">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="scalpel-transport" content="${o.transport ?? "vscode"}">
<link rel="icon" href="data:,">
<link id="vscode-codicon-stylesheet" rel="stylesheet" href="${esc(o.codiconUri)}" nonce="${o.nonce}">
<link rel="stylesheet" href="${esc(o.styleUri)}" nonce="${o.nonce}">
${o.transport === "http" ? `<style nonce="${o.nonce}">${THEME_DEFAULTS}</style>` : ""}
<title>${esc(o.title ?? "Graph explorer")}</title>
</head>
<body${o.transport === "http" ? ' class="standalone"' : ""}>
<div id="app"></div>
<script nonce="${o.nonce}" src="${esc(o.scriptUri)}"></script>
</body>
</html>`;
}

export interface StandalonePageOptions {
  title: string;
  /** The bundle's text (inlined). */
  script: string;
  css: string;
  /** codicon.css with its font already inlined as a data: URL. */
  codiconCss: string;
  /** JSON text of the embedded data (EmbeddedData in webviews/explorer/transport.ts). */
  dataJson?: string;
  /** The same data gzipped and base64-encoded (a sixth of the size; decoded after the first paint). */
  dataGzipBase64?: string;
  /** JSON text of what the first paint needs (EmbeddedBoot: the model with its root view). */
  bootJson?: string;
  /** "dark", "light" or follow the system (default). */
  theme?: "dark" | "light" | "auto";
}

/** A single self-contained file: open it in any browser, no server, no network. */
export function standalonePageHtml(o: StandalonePageOptions): string {
  const codiconHref = `data:text/css;base64,${base64(o.codiconCss)}`;
  const themeClass = o.theme === "light" ? "vscode-light" : o.theme === "dark" ? "vscode-dark" : "";
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; img-src data: blob:; style-src 'unsafe-inline' data:; font-src data:; script-src 'unsafe-inline'; worker-src blob:">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="scalpel-transport" content="embedded">
<meta name="generator" content="onnx-scalpel">
<link rel="icon" href="data:,">
<title>${esc(o.title)}</title>
<link id="vscode-codicon-stylesheet" rel="stylesheet" href="${codiconHref}">
<style>${THEME_DEFAULTS}</style>
<style>${o.css}</style>
</head>
<body class="standalone ${themeClass}">
<div id="app"></div>
${o.bootJson !== undefined ? `<script type="application/json" id="scalpel-boot">${o.bootJson.replace(/</g, "\\u003c")}</script>` : ""}
${o.dataJson !== undefined ? `<script type="application/json" id="scalpel-data">${o.dataJson.replace(/</g, "\\u003c")}</script>` : ""}
<script>${o.script.replace(/<\/script/gi, "<\\/script")}</script>
${o.dataGzipBase64 !== undefined ? `<script type="application/octet-stream" id="scalpel-data" data-encoding="gzip-base64">${o.dataGzipBase64}</script>` : ""}
</body>
</html>`;
}

function base64(s: string): string {
  const bytes = new TextEncoder().encode(s);
  let bin = "";
  for (let i = 0; i < bytes.length; i += 0x8000) bin += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(bin);
}

/** VS Code's theme variables for pages outside VS Code (dark by default, light when the system is). */
const DARK = `
--vscode-font-family: system-ui, -apple-system, "Segoe UI", Ubuntu, sans-serif; --vscode-font-size: 13px; --vscode-font-weight: normal;
--vscode-editor-font-family: "DejaVu Sans Mono", Consolas, ui-monospace, monospace;
--vscode-foreground: #cccccc; --vscode-editor-background: #1e1e1e; --vscode-editor-foreground: #d4d4d4;
--vscode-descriptionForeground: #9d9d9d; --vscode-focusBorder: #007fd4; --vscode-panel-border: #80808059;
--vscode-editorWidget-background: #252526; --vscode-editorWidget-border: #454545; --vscode-widget-shadow: #0000005c;
--vscode-textLink-foreground: #3794ff; --vscode-badge-background: #4d4d4d; --vscode-badge-foreground: #ffffff;
--vscode-list-activeSelectionBackground: #04395e; --vscode-list-activeSelectionForeground: #ffffff; --vscode-list-hoverBackground: #2a2d2e;
--vscode-input-background: #3c3c3c; --vscode-input-foreground: #cccccc; --vscode-input-border: #3c3c3c; --vscode-input-placeholderForeground: #a6a6a6;
--vscode-settings-dropdownBackground: #3c3c3c; --vscode-settings-dropdownForeground: #f0f0f0; --vscode-settings-dropdownBorder: #3c3c3c; --vscode-settings-dropdownListBorder: #454545;
--vscode-button-background: #0e639c; --vscode-button-foreground: #ffffff; --vscode-button-hoverBackground: #1177bb;
--vscode-button-secondaryBackground: #3a3d41; --vscode-button-secondaryForeground: #ffffff; --vscode-button-secondaryHoverBackground: #45494e;
--vscode-toolbar-hoverBackground: #5a5d5e50; --vscode-toolbar-activeBackground: #63666750; --vscode-icon-foreground: #c5c5c5;
--vscode-charts-foreground: #cccccc; --vscode-charts-red: #f14c4c; --vscode-charts-blue: #3794ff; --vscode-charts-yellow: #cca700;
--vscode-charts-orange: #d18616; --vscode-charts-green: #89d185; --vscode-charts-purple: #b180d7; --vscode-terminal-ansiCyan: #11a8cd;
--vscode-editorSuggestWidget-background: #252526; --vscode-editorSuggestWidget-border: #454545;
--vscode-editorHoverWidget-background: #252526; --vscode-editorHoverWidget-border: #454545; --vscode-errorForeground: #f48771;
--vscode-sideBarSectionHeader-background: #00000000; --vscode-sideBarSectionHeader-foreground: #cccccc; --vscode-sideBarSectionHeader-border: #cccccc33; --vscode-sideBarTitle-foreground: #bbbbbb;
--vscode-settings-textInputBackground: #313131; --vscode-settings-textInputForeground: #cccccc; --vscode-settings-textInputBorder: #3c3c3c;
--vscode-settings-checkboxBackground: #313131; --vscode-progressBar-background: #0e70c0; --vscode-sideBar-background: #1e1e1e;`;
const LIGHT = `
--vscode-foreground: #3b3b3b; --vscode-editor-background: #ffffff; --vscode-editor-foreground: #3b3b3b;
--vscode-descriptionForeground: #717171; --vscode-focusBorder: #0090f1; --vscode-panel-border: #80808059;
--vscode-editorWidget-background: #f3f3f3; --vscode-editorWidget-border: #c8c8c8; --vscode-widget-shadow: #00000029;
--vscode-textLink-foreground: #006ab1; --vscode-badge-background: #c4c4c4; --vscode-badge-foreground: #333333;
--vscode-list-activeSelectionBackground: #0060c0; --vscode-list-activeSelectionForeground: #ffffff; --vscode-list-hoverBackground: #e8e8e8;
--vscode-input-background: #ffffff; --vscode-input-foreground: #3b3b3b; --vscode-input-border: #cecece; --vscode-input-placeholderForeground: #767676;
--vscode-settings-dropdownBackground: #ffffff; --vscode-settings-dropdownForeground: #3b3b3b; --vscode-settings-dropdownBorder: #cecece; --vscode-settings-dropdownListBorder: #c8c8c8;
--vscode-button-secondaryBackground: #e5e5e5; --vscode-button-secondaryForeground: #3b3b3b; --vscode-button-secondaryHoverBackground: #cccccc;
--vscode-toolbar-hoverBackground: #b8b8b850; --vscode-icon-foreground: #424242;
--vscode-charts-foreground: #616161; --vscode-charts-red: #e51400; --vscode-charts-blue: #1a85ff; --vscode-charts-yellow: #bf8803;
--vscode-charts-orange: #d18616; --vscode-charts-green: #388a34; --vscode-charts-purple: #652d90; --vscode-terminal-ansiCyan: #0598bc;
--vscode-editorSuggestWidget-background: #f3f3f3; --vscode-editorSuggestWidget-border: #c8c8c8;
--vscode-editorHoverWidget-background: #f3f3f3; --vscode-editorHoverWidget-border: #c8c8c8; --vscode-errorForeground: #a1260d;
--vscode-sideBarSectionHeader-background: #00000000; --vscode-sideBarSectionHeader-foreground: #3b3b3b; --vscode-sideBarSectionHeader-border: #61616130; --vscode-sideBarTitle-foreground: #6f6f6f;
--vscode-settings-textInputBackground: #ffffff; --vscode-settings-textInputForeground: #3b3b3b; --vscode-settings-textInputBorder: #cecece;
--vscode-settings-checkboxBackground: #ffffff; --vscode-progressBar-background: #0e70c0; --vscode-sideBar-background: #ffffff;`;
const HIGH_CONTRAST = `
--vscode-foreground: #ffffff; --vscode-editor-background: #000000; --vscode-editor-foreground: #ffffff;
--vscode-descriptionForeground: #ffffff; --vscode-focusBorder: #f38518; --vscode-contrastBorder: #6fc3df; --vscode-contrastActiveBorder: #f38518;
--vscode-panel-border: #6fc3df; --vscode-editorWidget-background: #0c141f; --vscode-editorWidget-border: #6fc3df;
--vscode-textLink-foreground: #21a6ff; --vscode-list-activeSelectionBackground: #000000; --vscode-list-hoverBackground: #000000;
--vscode-input-background: #000000; --vscode-input-border: #6fc3df; --vscode-settings-textInputBackground: #000000; --vscode-settings-textInputBorder: #6fc3df;
--vscode-settings-dropdownBackground: #000000; --vscode-settings-dropdownBorder: #6fc3df; --vscode-sideBar-background: #000000;`;
export const THEME_DEFAULTS = `:root{${DARK}}
@media (prefers-color-scheme: light){body.standalone:not(.vscode-dark):not(.vscode-high-contrast){${LIGHT}}}
body.standalone.vscode-light{${LIGHT}}
body.standalone.vscode-high-contrast{${HIGH_CONTRAST}}`;
