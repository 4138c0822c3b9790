/** Entry point of the explorer webview bundle. */
import layoutWorkerSource from "layout-worker-source";
import "@vscode-elements/elements/dist/vscode-toolbar-button/index.js";
import "@vscode-elements/elements/dist/vscode-toolbar-container/index.js";
import "@vscode-elements/elements/dist/vscode-textfield/index.js";
import "@vscode-elements/elements/dist/vscode-icon/index.js";
import "@vscode-elements/elements/dist/vscode-single-select/index.js";
import "@vscode-elements/elements/dist/vscode-option/index.js";
import "@vscode-elements/elements/dist/vscode-collapsible/index.js";
import "@vscode-elements/elements/dist/vscode-button/index.js";
import "@vscode-elements/elements/dist/vscode-progress-ring/index.js";
import { ExplorerApp } from "./app.ts";
import { pickTransport } from "./transport.ts";

declare global {
  interface Window {
    __scalpel?: { app: ExplorerApp; ready: Promise<void> };
  }
}

const root = document.getElementById("app") ?? document.body.appendChild(document.createElement("div"));
const nonce = (document.currentScript as HTMLScriptElement | null)?.nonce || document.querySelector<HTMLScriptElement>("script[nonce]")?.nonce || undefined;
const params = new URLSearchParams(location.search);
const transport = pickTransport();
const app = new ExplorerApp(root, transport, layoutWorkerSource, { prefetch: params.get("prefetch") !== "0", nonce });
window.__scalpel = { app, ready: app.start() };
