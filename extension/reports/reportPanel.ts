/**
 * Report webviews (ablations now, prune reports next): static HTML and SVG rendered on the host, a small
 * script for the export buttons. Exports: JSON (the report data), CSV (the results table), PNG (the
 * charts, rasterised in the webview with their computed theme colours).
 */
import fs from "node:fs";
import path from "node:path";
import * as vscode from "vscode";
import type { Log } from "../log.ts";
import { makeNonce, renderPage, webviewOptions } from "../webview.ts";

export type ExportFormat = "json" | "csv" | "png";

export interface ReportContent {
  readonly title: string;
  /** Trusted HTML (every dynamic value escaped). */
  readonly body: string;
  readonly json: unknown;
  readonly csv: string;
  /** Base name for exported files (no extension). */
  readonly fileBase: string;
  /** Folder the save dialog starts in. */
  readonly folder: string;
}

type FromReport = { type: "ready" } | { type: "export"; format: ExportFormat } | { type: "png"; id: number; dataUrl: string } | { type: "error"; message: string };

export class ReportPanel implements vscode.Disposable {
  private static readonly all = new Set<ReportPanel>();
  private static readonly opened = new vscode.EventEmitter<ReportPanel>();
  /** Fires when a report opens (tests wait on it). */
  static readonly onDidOpen = ReportPanel.opened.event;
  private readonly pngWaiters = new Map<number, (dataUrl: string) => void>();
  private nextId = 1;
  private watchdog: NodeJS.Timeout | undefined;

  /** `beside`: open next to the active editor (e.g. the model viewer whose model the report is about). */
  static show(extensionUri: vscode.Uri, log: Log, content: ReportContent, beside = false): ReportPanel {
    const panel = vscode.window.createWebviewPanel("onnxScalpel.report", content.title, beside ? vscode.ViewColumn.Beside : vscode.ViewColumn.Active, {
      ...webviewOptions(extensionUri),
      retainContextWhenHidden: true,
    });
    const r = new ReportPanel(panel, extensionUri, log, content);
    ReportPanel.all.add(r);
    ReportPanel.opened.fire(r);
    return r;
  }

  static get open(): readonly ReportPanel[] {
    return [...ReportPanel.all];
  }

  private constructor(
    readonly panel: vscode.WebviewPanel,
    extensionUri: vscode.Uri,
    private readonly log: Log,
    readonly content: ReportContent,
  ) {
    const webview = panel.webview;
    const render = () => {
      webview.html = renderPage({
        webview,
        nonce: makeNonce(), // a new nonce also makes a re-render a different page, so it reloads
        title: content.title,
        styles: [vscode.Uri.joinPath(extensionUri, "media", "report.css")],
        scripts: [vscode.Uri.joinPath(extensionUri, "dist", "webviews", "report.js")],
        body: `<main class="report">${content.body}
<nav class="exports" aria-label="Export">
  <button data-export="json">Export JSON</button><button data-export="csv">Export CSV</button><button data-export="png">Export PNG</button>
</nav></main>`,
      });
    };
    render();
    // Watchdog, as for the graph explorer: in VS Code for the Web a fresh webview sometimes loads before its
    // resource service worker and stays blank. A report whose script never says "ready" is rendered again.
    let ready = false;
    let retries = 0;
    const watch = () => {
      this.watchdog = setTimeout(() => {
        if (ready || retries >= 3) return;
        if (!panel.visible) return watch();
        retries++;
        this.log.warn(`report "${content.title}" did not start; loading it again (${retries})`);
        render();
        watch();
      }, 8000);
    };
    watch();
    webview.onDidReceiveMessage((m: FromReport) => {
      if (m.type === "ready") {
        ready = true;
        clearTimeout(this.watchdog);
      } else if (m.type === "png") this.pngWaiters.get(m.id)?.(m.dataUrl);
      else if (m.type === "error") this.log.error(`report webview: ${m.message}`);
      else if (m.type === "export") void this.exportWithDialog(m.format);
    });
    panel.onDidDispose(() => {
      clearTimeout(this.watchdog);
      ReportPanel.all.delete(this);
    });
  }

  private async exportWithDialog(format: ExportFormat): Promise<void> {
    const target = await vscode.window.showSaveDialog({
      defaultUri: vscode.Uri.file(path.join(this.content.folder, `${this.content.fileBase}.${format}`)),
      filters: { [format.toUpperCase()]: [format] },
    });
    if (!target) return;
    try {
      await this.exportTo(format, target.fsPath);
      void vscode.window.showInformationMessage(`Saved ${path.basename(target.fsPath)}`);
    } catch (e) {
      void vscode.window.showErrorMessage(`Export failed: ${e instanceof Error ? e.message : e}`);
    }
  }

  /** Writes the report as JSON, CSV or PNG (temp file, then rename). */
  async exportTo(format: ExportFormat, file: string): Promise<void> {
    let bytes: Uint8Array | string;
    if (format === "json") bytes = JSON.stringify(this.content.json, null, 1) + "\n";
    else if (format === "csv") bytes = this.content.csv;
    else bytes = await this.renderPng();
    const tmp = `${file}.tmp-${process.pid}`;
    fs.writeFileSync(tmp, bytes);
    fs.renameSync(tmp, file);
    this.log.info(`Report "${this.content.title}" exported to ${file}`);
  }

  private renderPng(timeoutMs = 15_000): Promise<Uint8Array> {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pngWaiters.delete(id);
        reject(new Error("the report did not render its PNG in time"));
      }, timeoutMs);
      this.pngWaiters.set(id, (dataUrl) => {
        clearTimeout(timer);
        this.pngWaiters.delete(id);
        const m = /^data:image\/png;base64,(.*)$/.exec(dataUrl);
        if (!m) reject(new Error("the report sent no PNG"));
        else resolve(Buffer.from(m[1]!, "base64"));
      });
      void this.panel.webview.postMessage({ type: "renderPng", id });
    });
  }

  dispose(): void {
    this.panel.dispose();
  }
}
