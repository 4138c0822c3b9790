/**
 * Webview security in one place: a fresh nonce per page, a strict CSP (no remote content, scripts and
 * styles only with the nonce or from the extension's own files), and localResourceRoots limited to the
 * extension's media/bundled webviews and the model's folder.
 */
import crypto from "node:crypto";
import * as vscode from "vscode";
import { escapeHtml } from "./format.ts";

export function makeNonce(): string {
  return crypto.randomBytes(18).toString("base64url");
}

export function webviewOptions(extensionUri: vscode.Uri, modelFolder?: vscode.Uri): vscode.WebviewOptions {
  const roots = [vscode.Uri.joinPath(extensionUri, "media"), vscode.Uri.joinPath(extensionUri, "dist", "webviews")];
  if (modelFolder) roots.push(modelFolder);
  return { enableScripts: true, enableCommandUris: false, localResourceRoots: roots };
}

export function contentSecurityPolicy(webview: vscode.Webview, nonce: string): string {
  return [
    "default-src 'none'",
    `img-src ${webview.cspSource} data: blob:`,
    `style-src ${webview.cspSource} 'nonce-${nonce}'`,
    `font-src ${webview.cspSource} data:`,
    `script-src 'nonce-${nonce}'`,
    // Layout workers are started from Blob URLs by the explorer.
    "worker-src blob:",
  ].join("; ");
}

export interface PageParts {
  readonly webview: vscode.Webview;
  readonly nonce: string;
  readonly title: string;
  /** Stylesheets (extension files, under a localResourceRoot). */
  readonly styles?: readonly vscode.Uri[];
  /** Scripts (extension files), loaded as modules with the nonce. */
  readonly scripts?: readonly vscode.Uri[];
  /** Trusted HTML built with escapeHtml for every dynamic value. */
  readonly body: string;
  /** Element ids for some stylesheets, by index in `styles`. */
  readonly styleIds?: Record<number, string>;
  readonly bodyClass?: string;
}

export function renderPage(p: PageParts): string {
  const styles = (p.styles ?? [])
    .map((u, i) => `<link${p.styleIds?.[i] ? ` id="${p.styleIds[i]}"` : ""} rel="stylesheet" nonce="${p.nonce}" href="${p.webview.asWebviewUri(u)}">`)
    .join("\n");
  const scripts = (p.scripts ?? []).map((u) => `<script nonce="${p.nonce}" src="${p.webview.asWebviewUri(u)}"></script>`).join("\n");
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="UTF-8">
<meta http-equiv="Content-Security-Policy" content="${contentSecurityPolicy(p.webview, p.nonce)}">
<meta name="viewport" content="width=device-width, initial-scale=1.0">
<title>${escapeHtml(p.title)}</title>
${styles}
</head>
<body${p.bodyClass ? ` class="${p.bodyClass}"` : ""}>
${p.body}
${scripts}
</body>
</html>`;
}
